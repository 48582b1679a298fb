package server

// The remediation ladder (package remediation) in the server: the
// Actions and Fleet it acts through, and its Remediator and webhook.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/registry"
	"github.com/kith-dev/kith/internal/remediation"
	"github.com/kith-dev/kith/internal/trust"
)

// remediationActions carries out the ladder's server-side steps with the
// server's own services; each records its own ledger event, with the
// ladder (remediation.Actor) as actor.
type remediationActions struct{ s *Server }

func (a remediationActions) Quarantine(ctx context.Context, entryID, reason string) error {
	_, err := a.s.agents.nodes.QuarantineEntry(ctx, remediation.Actor(), entryID)
	return err
}

// RevokeCredentials revokes the identity's SVIDs (one entry's revocation
// covers its SPIFFE ID) and every token of its entries' clients.
func (a remediationActions) RevokeCredentials(ctx context.Context, identity, reason string) error {
	entries, err := a.entries(ctx, identity)
	if err != nil || len(entries) == 0 {
		return err
	}
	if _, err := a.s.agents.nodes.RevokeEntry(ctx, remediation.Actor(), entries[0].ID); err != nil {
		return err
	}
	return a.eachClient(ctx, entries, func(c oauth.Client) error {
		return a.s.oauth.svc.RevokeTokens(ctx, remediation.Actor(), c.ID, reason)
	})
}

// rotationGrace is how long a secret keeps working once the ladder
// required its rotation.
const rotationGrace = time.Hour

// RequireRotation rotates the secrets of the identity's secret clients
// with a grace period, discarding the new secret: the owner must get one
// with `kith client rotate-secret`. Keys (private_key_jwt) are left to
// people: removing one cuts the client off at once.
func (a remediationActions) RequireRotation(ctx context.Context, identity, reason string) error {
	entries, err := a.entries(ctx, identity)
	if err != nil {
		return err
	}
	return a.eachClient(ctx, entries, func(c oauth.Client) error {
		if c.AuthMethod != oauth.AuthSecretBasic && c.AuthMethod != oauth.AuthSecretPost {
			return nil
		}
		_, _, err := a.s.oauth.svc.RotateSecret(ctx, remediation.Actor(), c.ID, rotationGrace)
		return err
	})
}

func (a remediationActions) entries(ctx context.Context, identity string) ([]registry.Entry, error) {
	id, err := spiffeid.FromString(identity)
	if err != nil {
		return nil, nil // a client ID: no entries of its own
	}
	return a.s.registry.FindBySPIFFEID(ctx, id)
}

func (a remediationActions) eachClient(ctx context.Context, entries []registry.Entry, fn func(oauth.Client) error) error {
	var errs []error
	for _, e := range entries {
		for after := ""; ; {
			cs, next, err := a.s.oauth.svc.ListClients(ctx, oauth.ClientFilter{EntryID: e.ID, After: after, Limit: 1000})
			if err != nil {
				return err
			}
			for _, c := range cs {
				errs = append(errs, fn(c))
			}
			if after = next; after == "" {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// remediationFleet lists an identity's entries as its instances.
// Implicated is left false until the store can find the entry an SVID
// serial was issued for (store.AgentSVID is indexed by agent).
type remediationFleet struct{ s *Server }

func (f remediationFleet) Instances(ctx context.Context, identity string, creds []string) ([]remediation.Instance, error) {
	id, err := spiffeid.FromString(identity)
	if err != nil {
		return nil, nil
	}
	entries, err := f.s.registry.FindBySPIFFEID(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]remediation.Instance, len(entries))
	for i, e := range entries {
		out[i] = remediation.Instance{ID: e.ID, Quarantined: e.Status == registry.StatusQuarantined}
	}
	return out, nil
}

// remediationPart is the ladder and its webhook; nil without a ladder
// file.
type remediationPart struct {
	rem *remediation.Remediator
	wh  *remediation.Webhook // nil without a webhook
}

// buildRemediation reads Config.Remediation, the ladder file, and builds
// the Remediator (fed the trust host's changes, active on its leader)
// and its webhook. It must run after the trust host, the agent plane,
// the policies and the token service. It warns of data-plane rungs no
// policy enforces.
func (s *Server) buildRemediation(ctx context.Context) error {
	path := s.cfg.Remediation
	if path == "" {
		return nil
	}
	if s.trust == nil {
		return errors.New("remediation: a ladder file needs the trust engine")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("remediation: %w", err)
	}
	f, err := remediation.Parse(path, data)
	if err != nil {
		return err
	}
	if snap, err := s.policies.Current(ctx); err == nil {
		for _, w := range remediation.CheckPolicies(f, snap.Documents) {
			s.logger.Warn("remediation: " + w)
		}
	}
	p := &remediationPart{}
	var notifier remediation.Notifier
	if f.Webhook != nil {
		cfg, err := remediation.WebhookFrom(f.Webhook)
		if err != nil {
			return err
		}
		cfg.Auditor, cfg.Logger = s.ledger, s.logger
		if p.wh, err = remediation.NewWebhook(cfg); err != nil {
			return err
		}
		notifier = p.wh
	}
	p.rem, err = remediation.New(remediation.Config{
		Ladders: f.Ladders, Auditor: s.ledger, Actions: remediationActions{s}, Fleet: remediationFleet{s},
		States: s.trust.host, Notifier: notifier, Active: s.trust.host.Leader, Clock: s.clock, Logger: s.logger,
	})
	if err != nil {
		return err
	}
	s.remediation = p
	return nil
}

// remediationTasks are the ladder's and the webhook's goroutines.
func (s *Server) remediationTasks() []task {
	if s.remediation == nil {
		return nil
	}
	ts := []task{{"remediation", s.remediation.rem.Run}}
	if s.remediation.wh != nil {
		ts = append(ts, task{"remediation-webhook", s.remediation.wh.Run})
	}
	return ts
}

// trustChanged hands the trust host's changes to the ladder.
func (s *Server) trustChanged(changes []trust.Change) {
	if s.remediation == nil {
		return
	}
	for _, c := range changes {
		s.remediation.rem.Change(c)
	}
}
