// Package federation owns SPIFFE federation between Kith's trust domain and
// foreign ones: the list of federation relationships, the trust bundle last
// fetched for each foreign trust domain, the schedule that keeps those
// bundles fresh from their bundle endpoints, and the HTTP handler that
// serves our own bundle to others.
//
// A [Manager] holds the relationships. [Manager.Add] fetches a foreign bundle
// once before anything is stored; [Manager.Run] then refreshes each bundle at
// its spiffe_refresh_hint, with exponential backoff after failures, and
// follows what other replicas wrote to the store ([Manager.Reload]). Both
// profiles of the SPIFFE federation specification are spoken, through
// go-spiffe's federation package: https_web (the endpoint is authenticated by
// Web PKI) and https_spiffe (the endpoint is authenticated by its X509-SVID,
// first against a bootstrap bundle given at setup, then against the latest
// bundle held for its trust domain). The Manager is a
// [spiffebundle.Source] of foreign bundles only. [NewBundleHandler] serves our
// own bundle.
//
// The package must not mint, sign or hold keys: our own bundle comes from the
// CA through [OwnBundleSource]. It never merges a foreign bundle with ours or
// with another foreign one, never accepts a bundle fetched for one trust
// domain as another's, and never lets a stored bundle go back to a lower
// sequence number. It knows neither SQL nor the admin API: persistence goes
// through [Store] and every change is recorded through [Auditor].
package federation
