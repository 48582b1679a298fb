package agent

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// agentPathPrefix is the path of agent SPIFFE IDs: /kith/agent/<id>.
const agentPathPrefix = "/kith/agent/"

// serverPath is the path of the server's SPIFFE ID.
const serverPath = "/kith/server"

// identity holds the agent's own X509-SVID. It is an x509svid.Source, so
// TLS handshakes always present the current one.
type identity struct {
	cur atomic.Pointer[x509svid.SVID]
}

// GetX509SVID returns the agent's SVID, or an error before attestation.
func (i *identity) GetX509SVID() (*x509svid.SVID, error) {
	s := i.cur.Load()
	if s == nil {
		return nil, errors.New("agent has no identity")
	}
	return s, nil
}

// get returns the current SVID, nil before attestation.
func (i *identity) get() *x509svid.SVID { return i.cur.Load() }

// set replaces the SVID.
func (i *identity) set(s *x509svid.SVID) { i.cur.Store(s) }

// newKey generates a P-256 key and a CSR for it. The CSR carries no
// subject: the server decides the identity.
func newKey() (*ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		return nil, nil, fmt.Errorf("create CSR: %w", err)
	}
	return key, csr, nil
}

// svidFromChain builds an SVID from a DER chain (leaf first) and the key it
// was issued for, and checks it: the leaf certifies key, names a SPIFFE ID
// of bundle's trust domain, and verifies against bundle at now.
func svidFromChain(chain [][]byte, key *ecdsa.PrivateKey, bundle x509bundle.Source, now time.Time) (*x509svid.SVID, error) {
	if len(chain) == 0 {
		return nil, errors.New("empty certificate chain")
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	svid, err := x509svid.ParseRaw(bytes.Join(chain, nil), keyDER)
	if err != nil {
		return nil, fmt.Errorf("parse SVID: %w", err)
	}
	if _, _, err := x509svid.Verify(svid.Certificates, bundle, x509svid.WithTime(now)); err != nil {
		return nil, fmt.Errorf("verify SVID: %w", err)
	}
	return svid, nil
}

// isAgentID reports whether id is an agent ID of td.
func isAgentID(id spiffeid.ID, td spiffeid.TrustDomain) bool {
	return id.TrustDomain() == td && strings.HasPrefix(id.Path(), agentPathPrefix) && len(id.Path()) > len(agentPathPrefix)
}

// loadIdentity reads the agent's key and SVID from dir. It returns nil
// without error when they are absent.
func loadIdentity(dir string) (*x509svid.SVID, error) {
	certFile, keyFile := filepath.Join(dir, svidFileName), filepath.Join(dir, keyFileName)
	if _, err := os.Stat(keyFile); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	svid, err := x509svid.Load(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load agent SVID: %w", err)
	}
	return svid, nil
}

// saveIdentity writes the agent's key (0600) and SVID to dir, each
// atomically; the key first, so that a crash between the two leaves a key
// that does not match the SVID, which loadIdentity refuses.
func saveIdentity(dir string, svid *x509svid.SVID) error {
	certPEM, keyPEM, err := svid.Marshal()
	if err != nil {
		return fmt.Errorf("marshal agent SVID: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, keyFileName), keyPEM, 0o600); err != nil {
		return fmt.Errorf("write agent key: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, svidFileName), certPEM, 0o600); err != nil {
		return fmt.Errorf("write agent SVID: %w", err)
	}
	return nil
}

// removeIdentity deletes the agent's key, SVID and cache, and the
// workload SVIDs and their seal key, from dir.
func removeIdentity(dir string) error {
	var errs []error
	for _, name := range []string{keyFileName, svidFileName, stateFileName, svidsFileName, sealKeyFileName} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// halfLife returns the middle of the validity of c.
func halfLife(c *x509.Certificate) time.Time {
	return c.NotBefore.Add(c.NotAfter.Sub(c.NotBefore) / 2)
}
