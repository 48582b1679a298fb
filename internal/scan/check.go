package scan

import (
	"context"
	"errors"
	"fmt"

	"github.com/kith-dev/kith/api"
)

// Checker asks the server about a Kith secret found: which client holds
// it, whether it is live, and, with Revoke, to revoke it and record the
// leak. *adminclient.Client is one (POST /v1/clients/secret-check).
type Checker interface {
	CheckSecret(ctx context.Context, in api.SecretCheck) (*api.SecretCheckResult, error)
}

// ErrCheck is wrapped by the error [Scan] returns when some Kith secrets
// could not be checked; their findings say why (StatusCheckFailed).
var ErrCheck = errors.New("scan: checking Kith secrets with the server failed")

// checkKith checks each distinct Kith secret among fs once with
// cfg.Checker, and sets what the server said on every finding of it. The
// location sent is the first place it was found, a file before a commit.
// Without a checker the secrets stay unchecked. It returns an error
// wrapping ErrCheck if some checks failed.
func checkKith(ctx context.Context, fs []Finding, cfg Config) error {
	if cfg.Checker == nil {
		return nil
	}
	groups := map[[32]byte][]int{}
	var order [][32]byte
	for i := range fs {
		if fs[i].Kith == nil {
			continue
		}
		h := fs[i].secret.Hash()
		if _, ok := groups[h]; !ok {
			order = append(order, h)
		}
		groups[h] = append(groups[h], i)
	}
	var failed int
	var first error
	for _, h := range order {
		idx := groups[h]
		at := idx[0]
		for _, i := range idx {
			if fs[i].Commit == "" {
				at = i
				break
			}
		}
		f := &fs[at]
		res, err := cfg.Checker.CheckSecret(ctx, api.SecretCheck{
			Secret: f.secret.Reveal(), Location: f.Location(), Commit: f.Commit, Places: len(idx), Revoke: cfg.Revoke,
		})
		st := KithStatus{Status: StatusCheckFailed}
		if err != nil {
			failed++
			if first == nil {
				first = err
			}
			st.Error = err.Error()
			cfg.Logger.Warn("checking a Kith secret failed", "location", f.Location(), "error", err)
		} else {
			st = statusOf(res)
		}
		for _, i := range idx {
			st := st
			fs[i].Kith = &st
		}
	}
	if failed > 0 {
		return fmt.Errorf("%w: %d of %d secrets: %w", ErrCheck, failed, len(order), first)
	}
	return nil
}

// statusOf is what a server's answer says of a secret.
func statusOf(res *api.SecretCheckResult) KithStatus {
	st := KithStatus{Status: StatusUnknown}
	if !res.Known {
		return st
	}
	st.Status = StatusExpired
	if res.Live {
		st.Status = StatusLive
	}
	st.ClientID, st.EntryID, st.SPIFFEID, st.SecretID, st.Revoked = res.ClientID, res.EntryID, res.SPIFFEID, res.SecretID, res.Revoked
	return st
}
