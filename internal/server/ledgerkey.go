package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/ledger"
	"github.com/kith-dev/kith/internal/store"
)

// ledgerKeyBlob is where the ledger's checkpoint signing key is kept,
// sealed with the key-encryption key.
const ledgerKeyBlob = "ledger/signing-key"

// ledgerKeyAAD binds the sealed key to its purpose and origin.
func ledgerKeyAAD(origin string) []byte { return []byte("kith ledger signing key\x00" + origin) }

// loadLedgerSigner returns the ledger's signer, creating and storing the
// key on first start. With several replicas, the first to store the key
// wins and the others use it.
func loadLedgerSigner(ctx context.Context, st *store.Store, kek *ca.KEK, origin string) (*ledger.Signer, error) {
	for range 3 {
		sealed, _, err := st.GetBlob(ctx, ledgerKeyBlob)
		switch {
		case err == nil:
			skey, err := kek.Open(sealed, ledgerKeyAAD(origin))
			if err != nil {
				return nil, fmt.Errorf("open ledger signing key (was the origin or KEK changed?): %w", err)
			}
			signer, err := ledger.NewSigner(string(skey))
			if err != nil {
				return nil, fmt.Errorf("ledger signing key: %w", err)
			}
			return signer, nil
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("load ledger signing key: %w", err)
		}
		skey, _, err := ledger.GenerateKey(origin)
		if err != nil {
			return nil, err
		}
		sealed, err = kek.Seal([]byte(skey), ledgerKeyAAD(origin))
		if err != nil {
			return nil, err
		}
		if _, err := st.PutBlob(ctx, ledgerKeyBlob, sealed, 0); err != nil && !errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("store ledger signing key: %w", err)
		}
		// Loop to read back whichever key won.
	}
	return nil, errors.New("ledger signing key: could not settle on a key")
}
