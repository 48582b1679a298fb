package federation

import (
	"context"
	"fmt"
	"strconv"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
)

// audit records one event about rel. bundle, when not nil, adds its
// sequence number and authority counts to the details; cause, when not
// nil, becomes the reason.
func (m *Manager) audit(ctx context.Context, typ, action string, actor audit.Actor, rel Relationship, outcome audit.Outcome, bundle *spiffebundle.Bundle, cause error, extra map[string]string) error {
	details := map[string]string{
		"endpoint_url": rel.BundleEndpointURL,
		"profile":      string(rel.Profile),
	}
	if id := rel.endpointIDString(); id != "" {
		details["endpoint_spiffe_id"] = id
	}
	if bundle != nil {
		details["sequence"] = strconv.FormatUint(bundleSequence(bundle), 10)
		details["x509_authorities"] = strconv.Itoa(len(bundle.X509Authorities()))
		details["jwt_authorities"] = strconv.Itoa(len(bundle.JWTAuthorities()))
	}
	for k, v := range extra {
		details[k] = v
	}
	ev := audit.Event{
		Time:    m.clock(),
		Type:    typ,
		Actor:   actor,
		Target:  rel.TrustDomain.String(),
		Action:  action,
		Outcome: outcome,
		Details: details,
	}
	if cause != nil {
		ev.Reason = cause.Error()
	}
	if _, err := m.auditor.Record(ctx, ev); err != nil {
		return fmt.Errorf("federation: record %s event: %w", typ, err)
	}
	return nil
}
