package api

import (
	"fmt"
	"io"
	"log/slog"
)

// SecretCheck is the body of POST /v1/clients/secret-check: a Kith client
// secret found where it should not be (by `kith scan`), to learn which
// client holds it and whether it still works, to record it as leaked
// and, with Revoke, to revoke it. It carries the secret itself, so it
// never prints it: fmt verbs and slog show a redacted form.
type SecretCheck struct {
	// Secret is the kith_sk_… secret found.
	Secret string `json:"secret"`
	// Location is where it was found, "path:line", for the ledger.
	Location string `json:"location,omitempty"`
	// Commit is the git commit it was found in, when it was found in the
	// history rather than in a file.
	Commit string `json:"commit,omitempty"`
	// Places is how many places the scan found it in (at least one; the
	// Location is the first).
	Places int `json:"places,omitempty"`
	// Revoke asks the server to revoke the secret at once if a client
	// holds it: the secret stops authenticating and the client's tokens
	// are revoked.
	Revoke bool `json:"revoke,omitempty"`
}

const redactedSecretCheck = "api.SecretCheck{Secret:kith_sk_…(redacted)}"

// Format prints a redacted form whatever the verb.
func (c SecretCheck) Format(f fmt.State, _ rune) { io.WriteString(f, redactedSecretCheck) }

// LogValue logs everything but the secret.
func (c SecretCheck) LogValue() slog.Value {
	return slog.GroupValue(slog.String("location", c.Location), slog.String("commit", c.Commit), slog.Bool("revoke", c.Revoke))
}

// SecretCheckResult answers a [SecretCheck]. A secret no client holds
// (never issued, or removed at a rotation) is answered with Known false,
// not an error.
type SecretCheckResult struct {
	// Known is whether a client holds the secret, live or expired.
	Known bool `json:"known"`
	// ClientID, EntryID and SPIFFEID name the client that holds it and
	// the workload it acts for; SecretID names the secret among the
	// client's (as `kith client show` lists them).
	ClientID string `json:"client_id,omitempty"`
	EntryID  string `json:"entry_id,omitempty"`
	SPIFFEID string `json:"spiffe_id,omitempty"`
	SecretID string `json:"secret_id,omitempty"`
	// Live is whether the secret authenticated its client when it was
	// checked (before any revocation this call made).
	Live bool `json:"live"`
	// Revoked is whether this call revoked it: the secret was removed
	// from the client and every token issued to the client revoked.
	Revoked bool `json:"revoked"`
}
