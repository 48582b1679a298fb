// Package api holds the wire types of Kith's admin API: the JSON bodies that
// the server's /v1 routes accept and return and that the kith CLI sends.
//
// It is public so that other programs can speak the admin API, and it holds
// no logic: no validation, no I/O. Validation belongs to the server's
// packages, which answer bad input with a [Problem].
package api
