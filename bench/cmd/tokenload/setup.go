package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/kith-dev/kith/api"
	"github.com/kith-dev/kith/internal/adminclient"
)

// client is one OAuth client of the run.
type client struct {
	id     string
	secret string
	key    *ecdsa.PrivateKey
	token  string // for -mode introspect

	mu         sync.Mutex
	assertions []string // pre-signed, used once each
}

// target is the server under load and the clients registered on it.
type target struct {
	base    string // https://host:port
	roots   *x509.CertPool
	clients []*client
	body    string // the token request form, without credentials
}

// setup registers an entry and cfg.clients clients through the admin API.
func setup(ctx context.Context, cfg config) (*target, error) {
	acfg, err := adminclient.FromEnvironment(adminclient.Overrides{DataDir: cfg.dataDir, Addr: cfg.addr})
	if err != nil {
		return nil, err
	}
	admin, err := adminclient.New(acfg)
	if err != nil {
		return nil, err
	}
	t := &target{base: "https://" + acfg.Addr, roots: x509.NewCertPool(), body: "grant_type=client_credentials"}
	for _, c := range acfg.Roots {
		t.roots.AddCert(c)
	}
	var suffix [6]byte
	rand.Read(suffix[:])
	td := acfg.TrustDomain
	if td == "" {
		return nil, fmt.Errorf("the data folder's server.json names no trust domain")
	}
	entry, err := admin.CreateEntry(ctx, api.Entry{
		SPIFFEID:  "spiffe://" + td + "/bench/" + hex.EncodeToString(suffix[:]),
		Selectors: []string{"unix:uid:4242"}, MaxScopes: []string{"bench"},
	})
	if err != nil {
		return nil, fmt.Errorf("create entry: %w", err)
	}
	// Tokens for the client itself, so that -mode introspect may ask.
	audience := entry.SPIFFEID
	for range cfg.clients {
		c := &client{}
		in := api.ClientCreate{EntryID: entry.ID, AuthMethod: cfg.auth, Scopes: []string{"bench"}, Audiences: []string{audience}}
		if cfg.auth == "private_key_jwt" {
			c.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			jwk, err := json.Marshal(jose.JSONWebKey{Key: c.key.Public(), KeyID: "k1", Algorithm: "ES256"})
			if err != nil {
				return nil, err
			}
			in.Keys = []json.RawMessage{jwk}
		}
		out, err := admin.CreateClient(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("create client: %w", err)
		}
		c.id, c.secret = out.Client.ID, out.Secret
		t.clients = append(t.clients, c)
	}
	return t, nil
}

// transport returns a keep-alive HTTP/1.1 transport with one connection.
func (t *target) transport() *http.Transport {
	return &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: t.roots, ServerName: "localhost", MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 1,
		MaxConnsPerHost:     1,
		IdleConnTimeout:     time.Minute,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1
	}
}

// presign signs the private_key_jwt assertions of the run, enough for
// cfg.presignRate requests a second, spread over the CPUs.
func (t *target) presign(cfg config) error {
	per := int(float64(cfg.presignRate)*(cfg.duration+cfg.warmup).Seconds())/len(t.clients) + 1
	tokenURL := t.base + "/oauth2/token"
	now := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(t.clients))
	for _, c := range t.clients {
		wg.Go(func() {
			s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: c.key},
				(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
			if err != nil {
				errs <- err
				return
			}
			c.assertions = make([]string, 0, per)
			for range per {
				var id [12]byte
				rand.Read(id[:])
				a, err := jwt.Signed(s).Claims(jwt.Claims{
					Issuer: c.id, Subject: c.id, Audience: jwt.Audience{tokenURL},
					Expiry: jwt.NewNumericDate(now.Add(9 * time.Minute)), IssuedAt: jwt.NewNumericDate(now),
					ID: base64.RawURLEncoding.EncodeToString(id[:]),
				}).Serialize()
				if err != nil {
					errs <- err
					return
				}
				c.assertions = append(c.assertions, a)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func (t *target) assertionCount() int {
	n := 0
	for _, c := range t.clients {
		n += len(c.assertions)
	}
	return n
}

// fetchTokens obtains one token per client, for -mode introspect.
func (t *target) fetchTokens(ctx context.Context) error {
	hc := &http.Client{Transport: t.transport(), Timeout: 10 * time.Second}
	for _, c := range t.clients {
		req, err := t.tokenRequest(ctx, c)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("token for %s: %s %s", c.id, resp.Status, body)
		}
		var tr struct {
			AccessToken string `json:"access_token"`
		}
		if err := json.Unmarshal(body, &tr); err != nil {
			return err
		}
		c.token = tr.AccessToken
	}
	return nil
}

// tokenRequest builds a token request for client c.
func (t *target) tokenRequest(ctx context.Context, c *client) (*http.Request, error) {
	body := t.body
	if c.key != nil {
		c.mu.Lock()
		if len(c.assertions) == 0 {
			c.mu.Unlock()
			return nil, errOutOfAssertions
		}
		a := c.assertions[len(c.assertions)-1]
		c.assertions = c.assertions[:len(c.assertions)-1]
		c.mu.Unlock()
		body += "&client_assertion_type=" + url.QueryEscape("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") +
			"&client_assertion=" + a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+"/oauth2/token", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if c.secret != "" {
		req.SetBasicAuth(c.id, c.secret)
	}
	return req, nil
}

// introspectRequest builds an introspection of c's token, as c.
func (t *target) introspectRequest(ctx context.Context, c *client) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+"/oauth2/introspect",
		strings.NewReader("token="+c.token))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.id, c.secret)
	return req, nil
}
