// Package adminclient is the Go client of Kith's admin API, used by the kith
// CLI and by tests. It has one method per route of the server's /v1 API and
// speaks the wire types of package [github.com/kith-dev/kith/api].
//
// The client authenticates the server the SPIFFE way: the server's serving
// certificate is the X509-SVID spiffe://<trust domain>/kith/server, verified
// against [Config.Roots]; there is no host name to check. It authenticates
// itself with the admin token in [Config.Token], which never appears in logs,
// errors or formatted output.
//
// A failed call returns the server's [*api.Problem] (wrapped with the name of
// the operation, so use errors.As), or a [*StatusError] when the reply is not
// a problem document.
//
// The package holds no business logic: it does not validate entries,
// federations or SVID requests, which is the server's job.
package adminclient
