package agent

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/agentproto"
)

// ensureIdentity returns at once if the agent holds a valid SVID; otherwise
// it attests with the join token, retrying transport failures and server
// errors (5xx) with backoff until ctx is done. A refusal (4xx) is final.
func (a *Agent) ensureIdentity(ctx context.Context) error {
	if s := a.ident.get(); s != nil && a.clock().Before(s.Certificates[0].NotAfter) {
		return nil
	}
	if a.cfg.JoinToken.IsZero() {
		return fmt.Errorf("%w: the agent SVID expired", ErrNoIdentity)
	}
	bo := backoff{base: a.backoffBase, max: a.backoffMax}
	for {
		err := a.attest(ctx)
		if err == nil || errors.Is(err, ErrAttestationRefused) || ctx.Err() != nil {
			return err
		}
		d := bo.next()
		a.logger.Warn("attestation failed; retrying", "error", err, "retry_in", d)
		if !sleep(ctx.Done(), d) {
			return ctx.Err()
		}
	}
}

// attest exchanges the join token for an agent SVID and the trust bundle,
// and persists both.
func (a *Agent) attest(ctx context.Context) error {
	key, csr, err := newKey()
	if err != nil {
		return err
	}
	roots := a.roots
	if b := a.state.ownBundle(); b != nil {
		roots = append(roots[:len(roots):len(roots)], b.X509Authorities()...)
	}
	td := a.pinnedTD
	if td.IsZero() {
		td = a.state.trustDomain()
	}
	if td.IsZero() {
		td = trustDomainOfRoots(roots)
	}
	insecure := len(roots) == 0 && a.cfg.InsecureBootstrap
	if insecure {
		a.logger.Warn("INSECURE BOOTSTRAP: not verifying the server's certificate for attestation; " +
			"the trust bundle it returns will be trusted blindly. Use --trust-bundle instead.")
	}
	hc := bootstrapClient(roots, td, insecure)
	defer hc.CloseIdleConnections()
	var resp agentproto.AttestResponse
	err = postJSON(ctx, hc, a.serverURL, agentproto.AttestPath, agentproto.AttestRequest{JoinToken: a.cfg.JoinToken.v, CSR: csr}, &resp)
	if st := statusOf(err); st/100 == 4 {
		return fmt.Errorf("%w: %w", ErrAttestationRefused, err)
	} else if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	id, err := spiffeid.FromString(resp.SPIFFEID)
	if err != nil {
		return fmt.Errorf("attest: agent SPIFFE ID: %w", err)
	}
	if (!td.IsZero() && id.TrustDomain() != td) || !isAgentID(id, id.TrustDomain()) {
		return fmt.Errorf("attest: the server issued %s, not an agent ID of %s", id, td)
	}
	td = id.TrustDomain()
	bundle, err := spiffebundle.Parse(td, resp.Bundle)
	if err != nil {
		return fmt.Errorf("attest: bundle: %w", err)
	}
	svid, err := svidFromChain(resp.SVID, key, bundle, a.clock())
	if err != nil {
		return fmt.Errorf("attest: %w", err)
	}
	if svid.ID != id {
		return fmt.Errorf("attest: the SVID names %s, the answer %s", svid.ID, id)
	}
	if insecure {
		for _, c := range bundle.X509Authorities() {
			sum := sha256.Sum256(c.Raw)
			a.logger.Warn("INSECURE BOOTSTRAP: trusting root from the server", "subject", c.Subject.String(),
				"sha256", hex.EncodeToString(sum[:]))
		}
	}
	a.ident.set(svid)
	a.state.setTrust(td, bundle)
	if err := saveIdentity(a.cfg.DataDir, svid); err != nil {
		return err
	}
	if err := saveState(a.cfg.DataDir, a.state); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	a.logger.Info("agent attested", "spiffe_id", id.String(), "expires_at", svid.Certificates[0].NotAfter)
	return nil
}

// runRenewal renews the agent's SVID at half its lifetime (with ±10%
// jitter), retrying failures with backoff until the SVID expires.
func (a *Agent) runRenewal(ctx context.Context) error {
	bo := backoff{base: a.backoffBase, max: a.backoffMax}
	for {
		leaf := a.ident.get().Certificates[0]
		life := leaf.NotAfter.Sub(leaf.NotBefore)
		due := leaf.NotBefore.Add(jittered(life/2, 10))
		for wait := due.Sub(a.clock()); wait > 0; wait = due.Sub(a.clock()) {
			if !sleep(ctx.Done(), min(wait, a.tick)) {
				return nil
			}
		}
		err := a.renew(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			bo.reset()
			continue
		}
		d := bo.next()
		a.logger.Error("renew the agent SVID", "error", err, "retry_in", d, "expires_at", leaf.NotAfter)
		if !sleep(ctx.Done(), d) {
			return nil
		}
	}
}

// renew obtains a new agent SVID for a new key, persists it, and switches
// the connection to the server over to it.
func (a *Agent) renew(ctx context.Context) error {
	key, csr, err := newKey()
	if err != nil {
		return err
	}
	var resp agentproto.RenewResponse
	if err := postJSON(ctx, a.httpClient(), a.serverURL, agentproto.RenewPath, agentproto.RenewRequest{CSR: csr}, &resp); err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	svid, err := svidFromChain(resp.SVID, key, ownX509Source{a.state}, a.clock())
	if err != nil {
		return fmt.Errorf("renew: %w", err)
	}
	if old := a.ident.get(); svid.ID != old.ID {
		return fmt.Errorf("renew: the server issued %s, want %s", svid.ID, old.ID)
	}
	if err := saveIdentity(a.cfg.DataDir, svid); err != nil {
		return err
	}
	a.ident.set(svid)
	a.changed.notify()
	old := a.client.Swap(mtlsClient(&a.ident, ownX509Source{a.state}, a.state.trustDomain()))
	old.CloseIdleConnections()
	select { // move the stream to a connection authenticated with the new SVID
	case a.reconnect <- struct{}{}:
	default:
	}
	a.metrics.rotations.WithLabelValues("agent").Inc()
	a.logger.Info("agent SVID renewed", "expires_at", svid.Certificates[0].NotAfter)
	return nil
}
