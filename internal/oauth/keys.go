package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/ca"
	"github.com/kith-dev/kith/internal/store"
)

// keyJournalBlob names the journal of signing keys in the KeyStore.
const keyJournalBlob = "oauth/keys"

// keyJournalFormat is the version of the journal encoding.
const keyJournalFormat = 1

// Key statuses. A key is prepared (published in the JWKS, not signing),
// then active (signing), then retired (published until every token it
// signed has expired), then dropped.
const (
	keyPrepared = "prepared"
	keyActive   = "active"
	keyRetired  = "retired"
)

// keyDoc is the persisted journal. Private keys appear only sealed with
// the KEK.
type keyDoc struct {
	Format int `json:"format"`
	// SealedNonceKey is the HMAC key of DPoP nonces, shared by replicas.
	SealedNonceKey []byte      `json:"sealed_nonce_key"`
	Keys           []keyRecord `json:"keys"`
}

// keyRecord is the persisted form of one signing key.
type keyRecord struct {
	KID         string    `json:"kid"` // the RFC 7638 thumbprint
	Status      string    `json:"status"`
	SealedKey   []byte    `json:"sealed_key"` // PKCS#8, sealed
	PublicKey   []byte    `json:"public_key"` // PKIX
	CreatedAt   time.Time `json:"created_at"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	RetiredAt   time.Time `json:"retired_at,omitzero"`
}

// keyTimes are the rotation parameters: how long a key signs, how long it
// is published before, and how long after it stops (the longest token
// lifetime plus clock skew).
type keyTimes struct {
	rotation, lead, tail time.Duration
}

// signingKey is an unsealed key with its precomputed JWS header.
type signingKey struct {
	kid    string
	priv   *ecdsa.PrivateKey
	header string // base64url of {"alg":"ES256","kid":…,"typ":"at+jwt"}
}

// keySnapshot is an immutable view of the journal.
type keySnapshot struct {
	version  int64
	doc      keyDoc
	active   *signingKey
	public   map[string]*ecdsa.PublicKey // every published key by kid
	jwks     []byte
	nonceKey []byte
}

// keyring keeps the signing keys: it reads and writes the journal with
// compare-and-swap, so several replicas may rotate concurrently, and
// serves the current snapshot without locking.
type keyring struct {
	store  KeyStore
	kek    *ca.KEK
	audit  Auditor
	clock  func() time.Time
	logger *slog.Logger
	times  keyTimes

	mu  sync.Mutex // serialises step
	cur atomic.Pointer[keySnapshot]
}

func newKeyring(st KeyStore, kek *ca.KEK, audit Auditor, clock func() time.Time, logger *slog.Logger, times keyTimes) *keyring {
	return &keyring{store: st, kek: kek, audit: audit, clock: clock, logger: logger, times: times}
}

// start loads the journal and runs one step, so that an active key exists.
func (k *keyring) start(ctx context.Context) error {
	if err := k.step(ctx); err != nil {
		return err
	}
	if k.cur.Load().active == nil {
		return errors.New("oauth: no active signing key after start")
	}
	return nil
}

// step re-reads the journal, applies the rotation that is due and writes
// it back. On a concurrent write by another replica it starts over.
func (k *keyring) step(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	for attempt := 0; ; attempt++ {
		data, version, err := k.store.GetBlob(ctx, keyJournalBlob)
		var doc keyDoc
		switch {
		case errors.Is(err, store.ErrNotFound):
			doc = keyDoc{Format: keyJournalFormat}
		case err != nil:
			return fmt.Errorf("oauth: read key journal: %w", err)
		default:
			if err := json.Unmarshal(data, &doc); err != nil || doc.Format != keyJournalFormat {
				return fmt.Errorf("oauth: key journal is corrupt or of an unknown format (%v)", err)
			}
		}
		events, err := k.plan(&doc)
		if err != nil {
			return err
		}
		if len(events) > 0 {
			out, err := json.MarshalIndent(doc, "", "  ")
			if err != nil {
				return fmt.Errorf("oauth: encode key journal: %w", err)
			}
			version, err = k.store.PutBlob(ctx, keyJournalBlob, out, version)
			if errors.Is(err, store.ErrConflict) && attempt < 5 {
				continue // another replica wrote first: plan again on its journal
			}
			if err != nil {
				return fmt.Errorf("oauth: write key journal: %w", err)
			}
		}
		if cur := k.cur.Load(); cur == nil || cur.version != version {
			snap, err := k.snapshot(doc, version)
			if err != nil {
				return err
			}
			k.cur.Store(snap)
		}
		for _, ev := range events {
			if _, err := k.audit.Record(ctx, ev); err != nil {
				return fmt.Errorf("oauth: record %s: %w", ev.Type, err)
			}
		}
		return nil
	}
}

// plan changes doc as rotation requires at the current time and returns
// the audit events of the changes (none if nothing changed).
func (k *keyring) plan(doc *keyDoc) ([]audit.Event, error) {
	now := k.clock().UTC()
	var events []audit.Event
	event := func(typ, kid string) {
		events = append(events, audit.Event{Time: now, Type: typ, Actor: audit.SystemActor(),
			Target: kid, Action: "rotate", Outcome: audit.OutcomeSuccess})
	}
	if len(doc.SealedNonceKey) == 0 {
		nk := make([]byte, 32)
		if _, err := rand.Read(nk); err != nil {
			return nil, fmt.Errorf("oauth: nonce key: %w", err)
		}
		sealed, err := k.kek.Seal(nk, []byte(nonceKeyAAD))
		if err != nil {
			return nil, fmt.Errorf("oauth: seal nonce key: %w", err)
		}
		doc.SealedNonceKey = sealed
		event(audit.TypeOAuthNonceKeyCreated, "dpop-nonce")
	}
	doc.Keys = slices.DeleteFunc(doc.Keys, func(r keyRecord) bool {
		drop := r.Status == keyRetired && now.After(r.RetiredAt.Add(k.times.tail))
		if drop {
			event(audit.TypeOAuthKeyDropped, r.KID)
		}
		return drop
	})
	active := slices.IndexFunc(doc.Keys, func(r keyRecord) bool { return r.Status == keyActive })
	prepared := slices.IndexFunc(doc.Keys, func(r keyRecord) bool { return r.Status == keyPrepared })
	switch {
	case active < 0 && prepared >= 0:
		doc.Keys[prepared].Status, doc.Keys[prepared].ActivatedAt = keyActive, now
		event(audit.TypeOAuthKeyActivated, doc.Keys[prepared].KID)
	case active < 0:
		// The first key signs at once: nobody can hold an older JWKS.
		rec, err := k.newKey(now, keyActive)
		if err != nil {
			return nil, err
		}
		doc.Keys = append(doc.Keys, rec)
		event(audit.TypeOAuthKeyActivated, rec.KID)
	case prepared < 0 && !now.Before(doc.Keys[active].ActivatedAt.Add(k.times.rotation-k.times.lead)):
		rec, err := k.newKey(now, keyPrepared)
		if err != nil {
			return nil, err
		}
		doc.Keys = append(doc.Keys, rec)
		event(audit.TypeOAuthKeyPrepared, rec.KID)
	case prepared >= 0 && !now.Before(doc.Keys[prepared].CreatedAt.Add(k.times.lead)) &&
		!now.Before(doc.Keys[active].ActivatedAt.Add(k.times.rotation)):
		doc.Keys[active].Status, doc.Keys[active].RetiredAt = keyRetired, now
		doc.Keys[prepared].Status, doc.Keys[prepared].ActivatedAt = keyActive, now
		event(audit.TypeOAuthKeyRetired, doc.Keys[active].KID)
		event(audit.TypeOAuthKeyActivated, doc.Keys[prepared].KID)
	}
	return events, nil
}

// newKey generates a P-256 key and its record.
func (k *keyring) newKey(now time.Time, status string) (keyRecord, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return keyRecord{}, fmt.Errorf("oauth: generate signing key: %w", err)
	}
	kid, err := thumbprint(&priv.PublicKey)
	if err != nil {
		return keyRecord{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return keyRecord{}, fmt.Errorf("oauth: encode signing key: %w", err)
	}
	defer clear(der)
	sealed, err := k.kek.Seal(der, []byte(keyAAD+kid))
	if err != nil {
		return keyRecord{}, fmt.Errorf("oauth: seal signing key: %w", err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return keyRecord{}, fmt.Errorf("oauth: encode public key: %w", err)
	}
	rec := keyRecord{KID: kid, Status: status, SealedKey: sealed, PublicKey: pub, CreatedAt: now}
	if status == keyActive {
		rec.ActivatedAt = now
	}
	return rec, nil
}

// Additional data bound to sealed keys, so that one cannot be swapped for
// another.
const (
	keyAAD      = "kith/oauth/signing-key/"
	nonceKeyAAD = "kith/oauth/dpop-nonce-key"
)

// snapshot unseals what doc holds into a snapshot.
func (k *keyring) snapshot(doc keyDoc, version int64) (*keySnapshot, error) {
	snap := &keySnapshot{version: version, doc: doc, public: make(map[string]*ecdsa.PublicKey, len(doc.Keys))}
	var jwks jose.JSONWebKeySet
	for _, rec := range doc.Keys {
		pubAny, err := x509.ParsePKIXPublicKey(rec.PublicKey)
		pub, ok := pubAny.(*ecdsa.PublicKey)
		if err != nil || !ok {
			return nil, fmt.Errorf("oauth: key journal: key %s has a bad public key", rec.KID)
		}
		snap.public[rec.KID] = pub
		jwks.Keys = append(jwks.Keys, jose.JSONWebKey{Key: pub, KeyID: rec.KID, Algorithm: string(jose.ES256), Use: "sig"})
		if rec.Status != keyActive {
			continue
		}
		der, err := k.kek.Open(rec.SealedKey, []byte(keyAAD+rec.KID))
		if err != nil {
			return nil, fmt.Errorf("oauth: key journal: unseal key %s: %w", rec.KID, err)
		}
		privAny, err := x509.ParsePKCS8PrivateKey(der)
		clear(der)
		priv, ok := privAny.(*ecdsa.PrivateKey)
		if err != nil || !ok || !priv.PublicKey.Equal(pub) {
			return nil, fmt.Errorf("oauth: key journal: key %s does not match its public key", rec.KID)
		}
		header, _ := json.Marshal(struct {
			Alg string `json:"alg"`
			Kid string `json:"kid"`
			Typ string `json:"typ"`
		}{"ES256", rec.KID, accessTokenType})
		snap.active = &signingKey{kid: rec.KID, priv: priv, header: base64.RawURLEncoding.EncodeToString(header)}
	}
	var err error
	if snap.jwks, err = json.Marshal(jwks); err != nil {
		return nil, fmt.Errorf("oauth: encode JWKS: %w", err)
	}
	if len(doc.SealedNonceKey) > 0 {
		if snap.nonceKey, err = k.kek.Open(doc.SealedNonceKey, []byte(nonceKeyAAD)); err != nil {
			return nil, fmt.Errorf("oauth: key journal: unseal nonce key: %w", err)
		}
	}
	return snap, nil
}

// thumbprint returns the RFC 7638 SHA-256 thumbprint of pub, base64url.
func thumbprint(pub crypto.PublicKey) (string, error) {
	jwk := jose.JSONWebKey{Key: pub}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("oauth: key thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// signer returns the active key.
func (k *keyring) signer() *signingKey { return k.cur.Load().active }

// publicKey returns the published key with the given kid, or nil.
func (k *keyring) publicKey(kid string) *ecdsa.PublicKey { return k.cur.Load().public[kid] }

// jwks returns the JWKS document of every published key.
func (k *keyring) jwks() []byte { return k.cur.Load().jwks }

// nonceKey returns the HMAC key of DPoP nonces.
func (k *keyring) nonceKey() []byte { return k.cur.Load().nonceKey }
