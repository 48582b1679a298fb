package oauth_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/kith-dev/kith/internal/audit"
	"github.com/kith-dev/kith/internal/oauth"
	"github.com/kith-dev/kith/internal/oauth/oauthtest"
	"github.com/kith-dev/kith/internal/registry"
)

// watch is the suite's secret watch: every client secret a test of this
// package creates or sends, and every ledger event and log line the token
// services of the tests wrote. Each test's service is checked when the
// test ends; TestMain checks them all against all the secrets once every
// test has run, so that a secret of one test surfacing in another's
// ledger is caught too.
var watch leakWatch

// TestMain runs the tests, then the suite-wide secret check.
func TestMain(m *testing.M) {
	code := m.Run()
	if leaks := watch.leaks(); len(leaks) > 0 {
		fmt.Fprintln(os.Stderr, "secret watch: client secrets reached the ledger or the logs:")
		for _, l := range leaks {
			fmt.Fprintln(os.Stderr, "  "+l)
		}
		code = 1
	}
	os.Exit(code)
}

// leakWatch collects secrets and the sinks that must never hold them.
type leakWatch struct {
	mu      sync.Mutex
	secrets map[string]bool
	sinks   []*leakSink
}

// leakSink is what one token service wrote: its ledger events and its log.
type leakSink struct {
	name   string
	events *oauthtest.Events
	log    *lockedBuffer
}

// lockedBuffer is a log destination safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// secretInText finds client secrets, or what is left of one after a typo.
var secretInText = regexp.MustCompile(`(?i)kith_sk_[0-9a-z]+`)

// track adds a secret to the watch.
func (w *leakWatch) track(s string) {
	if len(s) < len(oauth.SecretPrefix)+20 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.secrets == nil {
		w.secrets = map[string]bool{}
	}
	w.secrets[s] = true
}

// trackSent adds every secret-looking value of a request to the watch:
// secrets are also what tests send on purpose in the wrong place, or with
// a typo.
func (w *leakWatch) trackSent(vals ...string) {
	for _, v := range vals {
		for _, s := range secretInText.FindAllString(v, -1) {
			w.track(s)
		}
	}
}

// sink registers a service's ledger and log.
func (w *leakWatch) sink(name string, events *oauthtest.Events) (*leakSink, *slog.Logger) {
	s := &leakSink{name: name, events: events, log: &lockedBuffer{}}
	w.mu.Lock()
	w.sinks = append(w.sinks, s)
	w.mu.Unlock()
	return s, slog.New(slog.NewJSONHandler(s.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// marks are the parts of a secret whose presence gives it away: the whole
// of it, and any 20 characters of its random part.
func marks(secret string) []string {
	body := secret[len(oauth.SecretPrefix):]
	out := []string{secret}
	for i := 0; i+20 <= len(body); i += 10 {
		out = append(out, body[i:i+20])
	}
	return out
}

// leaksIn returns where the sinks hold one of the secrets.
func (w *leakWatch) leaksIn(sinks []*leakSink) []string {
	w.mu.Lock()
	secrets := make([]string, 0, len(w.secrets))
	for s := range w.secrets {
		secrets = append(secrets, s)
	}
	w.mu.Unlock()
	var out []string
	for _, sk := range sinks {
		texts := map[string]string{"log": sk.log.String()}
		for i, ev := range sk.events.All() {
			b, _ := audit.Marshal(ev)
			texts[fmt.Sprintf("event %d (%s)", i, ev.Type)] = string(b)
		}
		for where, text := range texts {
			for _, s := range secrets {
				for _, m := range marks(s) {
					if strings.Contains(text, m) {
						out = append(out, fmt.Sprintf("%s: %s holds %q…", sk.name, where, s[:12]))
						break
					}
				}
			}
		}
	}
	return out
}

// leaks checks every sink.
func (w *leakWatch) leaks() []string {
	w.mu.Lock()
	sinks := append([]*leakSink(nil), w.sinks...)
	w.mu.Unlock()
	return w.leaksIn(sinks)
}

// checkAtEnd flushes a service's audit queue when the test ends and fails
// the test if its ledger or log holds a secret the suite knows.
func (w *leakWatch) checkAtEnd(t testing.TB, svc *oauth.Service, sk *leakSink) {
	t.Cleanup(func() {
		_ = svc.FlushAudit(context.Background())
		for _, l := range w.leaksIn([]*leakSink{sk}) {
			t.Errorf("secret watch: %s", l)
		}
	})
}

// TestClaimedIdentifiersNeverRecordSecrets sends a client's secret where
// an identifier or another parameter belongs: as the client_id, in a
// swapped Basic pair, as an assertion's subject, kid or type, as a scope,
// a resource, a parameter name and a DPoP proof's htu. Each is refused,
// and neither the ledger nor the log holds the secret: the claimed
// identifier is recorded as a fingerprint.
func TestClaimedIdentifiersNeverRecordSecrets(t *testing.T) {
	e := newEnv(t)
	cl, sec := e.client(oauth.AuthSecretBasic, registry.Entry{}, []string{"orders:read"})
	post, postSec := e.client(oauth.AuthSecretPost, registry.Entry{}, []string{"orders:read"})
	pkj, _ := e.client(oauth.AuthPrivateKeyJWT, registry.Entry{}, []string{"orders:read"}, newKeyPair(t, "k1").jwk(t))
	s, ps := sec.Reveal(), postSec.Reveal()
	k := newKeyPair(t, s)
	dpopKey := newKeyPair(t, "dpop")
	tests := []struct {
		name string
		req  request
	}{
		{"secret as client_id", request{form: ccForm("client_id", ps, "client_secret", ps)}},
		{"swapped Basic pair", request{form: ccForm(), basic: [2]string{s, string(cl.ID)}}},
		{"secret as Basic user and password", request{form: ccForm(), basic: [2]string{s, s}}},
		{"secret as client_id beside Basic", request{form: ccForm("client_id", s), basic: [2]string{string(cl.ID), s}}},
		{"typo of a secret as client_id", request{form: ccForm("client_id", typo(ps), "client_secret", ps)}},
		{"secret as client_id of tls_client_auth", request{form: ccForm("client_id", s)}},
		{"secret as assertion subject", request{form: assertionForm(jwtBearer, k.assertion(t, oauth.ClientID(s), t0))}},
		{"secret as kid", request{form: assertionForm(jwtBearer, k.assertion(t, pkj.ID, t0))}},
		{"secret as assertion type", request{form: assertionForm(s, k.assertion(t, pkj.ID, t0))}},
		{"secret as client_id beside an assertion", request{form: assertionForm(jwtBearer, k.assertion(t, pkj.ID, t0), "client_id", s)}},
		{"secret as scope", request{form: ccForm("scope", s), basic: [2]string{string(cl.ID), s}}},
		{"secret as resource", request{form: ccForm("resource", "https://"+strings.ToLower(s)+".example/"+s), basic: [2]string{string(cl.ID), s}}},
		{"secret as a repeated parameter name", request{form: url.Values{"grant_type": {"client_credentials"}, s: {"a", "b"}}}},
		{"secret in a DPoP proof", request{form: ccForm(), basic: [2]string{string(cl.ID), s},
			dpop: proof(t, dpopKey, "POST", "https://kith.test/"+s, t0)}},
		{"secret as introspection client_id", request{path: oauth.PathIntrospect, form: url.Values{"token": {"x"}, "client_id": {s}, "client_secret": {s}}}},
		{"secret as revocation Basic user", request{path: oauth.PathRevoke, form: url.Values{"token": {"x"}}, basic: [2]string{ps, string(post.ID)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if w := e.do(tc.req); w.Code == http.StatusOK {
				t.Fatalf("accepted: %s", w.Body)
			}
		})
	}
	if err := e.svc.FlushAudit(t.Context()); err != nil {
		t.Fatal(err)
	}
	fingerprint := regexp.MustCompile(`^unknown:sha256:[0-9a-f]{16}$`)
	var fingerprinted int
	for _, ev := range e.audit.All() {
		if fingerprint.MatchString(ev.Actor.ID) {
			fingerprinted++
		}
	}
	if fingerprinted == 0 {
		t.Error("no refusal names its claimed client by a fingerprint")
	}
	for _, ev := range e.audit.All() {
		b, _ := audit.Marshal(ev)
		t.Log(string(b))
	}
}
