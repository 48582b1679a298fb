package main

import (
	"errors"
	"strings"

	"github.com/kith-dev/kith/api"
)

// apiFieldFlags maps the fields the admin API names in its problems to the
// flags of kith that set them, so that an error names what was typed.
var apiFieldFlags = map[string]string{
	"spiffe_id":           "--spiffe-id",
	"parent_id":           "--parent",
	"selectors":           "--selector",
	"owner":               "--owner",
	"business_function":   "--business-function",
	"description":         "--description",
	"max_scopes":          "--max-scope",
	"x509_svid_ttl":       "--x509-ttl",
	"jwt_svid_ttl":        "--jwt-ttl",
	"labels":              "--label",
	"status":              "--status",
	"bundle_endpoint_url": "--bundle-endpoint",
	"profile":             "--profile",
	"endpoint_spiffe_id":  "--endpoint-spiffe-id",
	"bootstrap_bundle":    "--bootstrap-bundle",
	"trust_domain":        "TRUST-DOMAIN",
	"entry_id":            "--entry",
	"scopes":              "--scopes",
	"audiences":           "--audience",
	"audience":            "--audience",
	"auth_method":         "--auth-method",
	"dns_names":           "--dns",
	"ttl":                 "--ttl",
}

// flagError is a problem the admin API reported about a field, told in
// terms of the flag that set it: "create entry: --selector: selector
// ..." for "create entry: 400 Invalid entry: selectors: selector ...".
type flagError struct {
	err  error // as the command returned it
	p    *api.Problem
	flag string
}

func (e flagError) Error() string {
	detail := strings.TrimPrefix(e.p.Detail, e.p.Field+": ")
	return strings.Replace(e.err.Error(), e.p.Error(), e.flag+": "+detail, 1)
}

func (e flagError) Unwrap() error { return e.err }

// inFlagTerms returns err as a flagError if it carries a problem about a
// field a flag sets, else err.
func inFlagTerms(err error) error {
	var p *api.Problem
	if !errors.As(err, &p) || p.Field == "" || apiFieldFlags[p.Field] == "" {
		return err
	}
	return flagError{err: err, p: p, flag: apiFieldFlags[p.Field]}
}
