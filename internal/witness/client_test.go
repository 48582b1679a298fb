package witness

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/mod/sumdb/note"
)

// newTestClient returns a client for the witness served at url that trusts v.
func newTestClient(t testing.TB, url string, v note.Verifier) *Client {
	t.Helper()
	c, err := NewClient(ClientConfig{URL: url, Verifier: v})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cosignatureLines returns the signature lines signers make on the signed
// checkpoint cp.
func cosignatureLines(t testing.TB, cp []byte, signers ...note.Signer) string {
	t.Helper()
	text := string(cp[:strings.LastIndex(string(cp), "\n\n")+1])
	return strings.TrimPrefix(string(signText(t, text, signers...)), text+"\n")
}

func TestClientEndToEnd(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.w.Handler())
	t.Cleanup(srv.Close)
	c := newTestClient(t, srv.URL+"/", e.key.verifier)
	if c.Name() != "witness.example/w1" || c.Verifier() != e.key.verifier {
		t.Errorf("Name() = %q, Verifier() = %v; want the configured verifier and its name", c.Name(), c.Verifier())
	}

	cp := e.log.checkpoint(t, 100)
	cosig, err := c.AddCheckpoint(t.Context(), 0, nil, cp)
	if err != nil {
		t.Fatalf("first checkpoint: %v", err)
	}
	verifyCosignature(t, cp, cosig, e.key.verifier)

	// A client that lost track of the witness learns its size from the 409.
	cp = e.log.checkpoint(t, 250)
	_, err = c.AddCheckpoint(t.Context(), 0, nil, cp)
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.KnownSize != 100 || !errors.Is(err, ErrStaleSize) {
		t.Fatalf("stale old size: error = %v, want *ConflictError{KnownSize: 100}", err)
	}
	cosig, err = c.AddCheckpoint(t.Context(), ce.KnownSize, e.log.proof(t, ce.KnownSize, 250), cp)
	if err != nil {
		t.Fatalf("retry from the known size: %v", err)
	}
	verifyCosignature(t, cp, cosig, e.key.verifier)

	// A fork is a 409 too, but not one with a size to retry from.
	_, err = c.AddCheckpoint(t.Context(), 250, nil, e.log.fork(t, 10, 250).checkpoint(t, 250))
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusConflict || !errors.Is(err, ErrFork) || errors.As(err, new(*ConflictError)) {
		t.Errorf("fork: error = %v, want a *StatusError 409 wrapping ErrFork, and no *ConflictError", err)
	}

	p := e.log.proof(t, 250, 300)
	p[1][0] ^= 1
	_, err = c.AddCheckpoint(t.Context(), 250, p, e.log.checkpoint(t, 300))
	if !errors.As(err, &se) || se.Code != http.StatusUnprocessableEntity || !errors.Is(err, ErrBadProof) || !strings.Contains(se.Msg, "consistency proof") {
		t.Errorf("bad proof: error = %v, want a *StatusError 422 about the proof", err)
	}

	// A client that trusts another key refuses what the witness returns.
	c2 := newTestClient(t, srv.URL, newWitnessKey(t, "witness.example/w1").verifier)
	_, err = c2.AddCheckpoint(t.Context(), 250, e.log.proof(t, 250, 300), e.log.checkpoint(t, 300))
	if !errors.Is(err, ErrInvalidCosignature) {
		t.Errorf("cosignature by an untrusted key: error = %v, want ErrInvalidCosignature", err)
	}
}

// TestClientResponses runs the client against fake witnesses.
func TestClientResponses(t *testing.T) {
	log := newTestLog(t, testOrigin, 20)
	key := newWitnessKey(t, "witness.example/w1")
	other := newWitnessKey(t, "witness.example/w2")
	cp := log.checkpoint(t, 20)
	good := cosignatureLines(t, cp, key.signer)
	tampered := []byte(good)
	tampered[len(tampered)-10] ^= 1
	for _, tc := range []struct {
		name        string
		status      int
		contentType string
		body        string
		want        string // the cosignatures returned
		wantErr     error  // a sentinel, or a zero *ConflictError or *StatusError for the type
		wantCode    int
		wantKnown   uint64
		wantIs      error // for a *StatusError: the sentinel it wraps, if any
	}{
		{name: "one cosignature", status: 200, body: good, want: good},
		{name: "with one from an unknown key", status: 200, body: cosignatureLines(t, cp, other.signer, key.signer), want: good},
		{name: "tampered", status: 200, body: string(tampered), wantErr: ErrInvalidCosignature},
		{name: "on another checkpoint", status: 200, body: cosignatureLines(t, log.checkpoint(t, 19), key.signer), wantErr: ErrInvalidCosignature},
		{name: "by another key only", status: 200, body: cosignatureLines(t, cp, other.signer), wantErr: ErrInvalidCosignature},
		{name: "empty", status: 200, body: "", wantErr: ErrInvalidCosignature},
		{name: "not signature lines", status: 200, body: "hello\n", wantErr: ErrInvalidCosignature},
		{name: "empty line injected", status: 200, body: "\n" + good, wantErr: ErrInvalidCosignature},
		{name: "too large", status: 200, body: good + strings.Repeat("x", maxResponseSize), wantErr: errAny},

		{name: "conflict", status: 409, contentType: "text/x.tlog.size", body: "1234\n", wantErr: &ConflictError{}, wantKnown: 1234},
		{name: "conflict with parameters", status: 409, contentType: "text/x.tlog.size; charset=utf-8", body: "7\n", wantErr: &ConflictError{}, wantKnown: 7},
		{name: "conflict without a size type", status: 409, contentType: "text/plain", body: "5\n", wantErr: &StatusError{}, wantCode: 409, wantIs: ErrFork},
		{name: "conflict with a bad size", status: 409, contentType: "text/x.tlog.size", body: "05\n", wantErr: &StatusError{}, wantCode: 409},
		{name: "conflict without newline", status: 409, contentType: "text/x.tlog.size", body: "5", wantErr: &StatusError{}, wantCode: 409},
		{name: "server error", status: 500, body: "oops", wantErr: &StatusError{}, wantCode: 500},
		{name: "bad request", status: 400, body: "bad", wantErr: &StatusError{}, wantCode: 400, wantIs: ErrMalformed},
		{name: "not found", status: 404, body: "unknown log", wantErr: &StatusError{}, wantCode: 404, wantIs: ErrUnknownLog},
		{name: "forbidden", status: 403, body: "no", wantErr: &StatusError{}, wantCode: 403, wantIs: ErrBadSignature},
		{name: "bad proof", status: 422, body: "no", wantErr: &StatusError{}, wantCode: 422, wantIs: ErrBadProof},
		{name: "busy", status: 503, body: "later", wantErr: &StatusError{}, wantCode: 503, wantIs: ErrBusy},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/prefix/add-checkpoint" {
					t.Errorf("request %s %s, want POST /prefix/add-checkpoint", r.Method, r.URL.Path)
				}
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			c := newTestClient(t, srv.URL+"/prefix", key.verifier)
			got, err := c.AddCheckpoint(t.Context(), 0, nil, cp)
			switch want := tc.wantErr.(type) {
			case nil:
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, string(got)); diff != "" {
					t.Errorf("cosignatures (-want +got):\n%s", diff)
				}
				return
			case *ConflictError:
				var ce *ConflictError
				if !errors.As(err, &ce) || ce.KnownSize != tc.wantKnown {
					t.Fatalf("error = %v, want *ConflictError{KnownSize: %d}", err, tc.wantKnown)
				}
			case *StatusError:
				var se *StatusError
				if !errors.As(err, &se) || se.Code != tc.wantCode || se.Err != tc.wantIs {
					t.Fatalf("error = %v (condition %v), want *StatusError with code %d and condition %v", err, se.Err, tc.wantCode, tc.wantIs)
				}
			default:
				if err == nil || (want != errAny && !errors.Is(err, want)) {
					t.Fatalf("error = %v, want %v", err, want)
				}
			}
			if got != nil {
				t.Errorf("cosignatures %q returned with an error", got)
			}
		})
	}
}

// errAny stands for any error in test tables.
var errAny = errors.New("any error")

func TestClientStatusErrorText(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("bad\x1b[31m gateway\n" + strings.Repeat("y", 1000)))
	}))
	t.Cleanup(srv.Close)
	log := newTestLog(t, testOrigin, 3)
	c := newTestClient(t, srv.URL, newWitnessKey(t, "w").verifier)
	_, err := c.AddCheckpoint(t.Context(), 0, nil, log.checkpoint(t, 3))
	var se *StatusError
	if !errors.As(err, &se) || se.Code != http.StatusBadGateway {
		t.Fatalf("error = %v, want a *StatusError 502", err)
	}
	if strings.ContainsAny(se.Msg, "\x1b\n") || len(se.Msg) > 200 || !strings.HasPrefix(se.Msg, "bad [31m gateway") {
		t.Errorf("Msg = %q, want the start of the body on one printable line", se.Msg)
	}
}

func TestClientArguments(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls++ }))
	t.Cleanup(srv.Close)
	log := newTestLog(t, testOrigin, 3)
	c := newTestClient(t, srv.URL, newWitnessKey(t, "w").verifier)
	_, p64 := proofLines(64)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	for _, tc := range []struct {
		name  string
		ctx   context.Context
		proof [][]byte
		cp    []byte
	}{
		{"64 proof hashes", t.Context(), p64, log.checkpoint(t, 3)},
		{"short proof hash", t.Context(), [][]byte{make([]byte, 31)}, log.checkpoint(t, 3)},
		{"not a signed note", t.Context(), nil, []byte(testOrigin + "\n3\nAAAA\n")},
		{"empty checkpoint", t.Context(), nil, nil},
		{"canceled", canceled, nil, log.checkpoint(t, 3)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := c.AddCheckpoint(tc.ctx, 0, tc.proof, tc.cp); err == nil {
				t.Errorf("AddCheckpoint = %q, want an error", got)
			}
		})
	}
	if calls != 0 {
		t.Errorf("%d requests reached the server, want none", calls)
	}
}

func TestNewClient(t *testing.T) {
	v := newWitnessKey(t, "witness.example/w1").verifier
	for _, tc := range []struct {
		name     string
		cfg      ClientConfig
		wantName string
		wantErr  bool
	}{
		{"defaults", ClientConfig{URL: "https://witness.example", Verifier: v}, "witness.example/w1", false},
		{"named", ClientConfig{URL: "http://127.0.0.1:8444/w", Verifier: v, Name: "w1"}, "w1", false},
		{"no URL", ClientConfig{Verifier: v}, "", true},
		{"relative URL", ClientConfig{URL: "/add", Verifier: v}, "", true},
		{"other scheme", ClientConfig{URL: "ftp://witness.example", Verifier: v}, "", true},
		{"bad URL", ClientConfig{URL: "http://[::1", Verifier: v}, "", true},
		{"no verifier", ClientConfig{URL: "https://witness.example"}, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewClient(tc.cfg)
			if tc.wantErr {
				if err == nil {
					t.Fatal("NewClient succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.Name() != tc.wantName {
				t.Errorf("Name() = %q, want %q", c.Name(), tc.wantName)
			}
		})
	}
}
