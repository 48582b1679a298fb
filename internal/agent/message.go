package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	wire "github.com/kith-dev/kith/internal/sync"
)

// maxMessageSize caps one line of the sync stream. A full state of a busy
// node (thousands of entries, a large revocation set) fits well within it.
const maxMessageSize = 32 << 20

// errMessageTooLarge is returned for a sync line over maxMessageSize.
var errMessageTooLarge = errors.New("sync message too large")

// messageReader reads the newline-delimited JSON messages of a sync
// stream.
type messageReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

func newMessageReader(r io.Reader) *messageReader {
	return &messageReader{r: bufio.NewReaderSize(r, 64<<10), max: maxMessageSize}
}

// next returns the next message, skipping blank lines. It returns io.EOF at
// the end of the stream, errMessageTooLarge for an oversized line, and a
// decoding error for a line that is not a JSON message.
func (m *messageReader) next() (wire.Message, error) {
	for {
		line, err := m.line()
		if err != nil {
			return wire.Message{}, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var msg wire.Message
		if err := json.Unmarshal(line, &msg); err != nil {
			return wire.Message{}, fmt.Errorf("decode sync message: %w", err)
		}
		return msg, nil
	}
}

// line reads one line without its newline; a last line without a newline
// counts.
func (m *messageReader) line() ([]byte, error) {
	m.buf = m.buf[:0]
	for {
		chunk, err := m.r.ReadSlice('\n')
		if len(m.buf)+len(chunk) > m.max {
			return nil, errMessageTooLarge
		}
		m.buf = append(m.buf, chunk...)
		switch {
		case err == nil:
			return m.buf[:len(m.buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(m.buf) > 0:
			return m.buf, nil
		default:
			return nil, err
		}
	}
}

// update is a sync message checked and parsed, ready to apply.
type update struct {
	revision  int64
	heartbeat bool
	evicted   bool
	full      bool
	entries   []wire.Entry
	deleted   []string
	bundle    *spiffebundle.Bundle // nil: unchanged
	federated map[spiffeid.TrustDomain]*spiffebundle.Bundle
	removed   []spiffeid.TrustDomain
	revs      *wire.RevocationBatch // nil: unchanged
	skipped   []string              // why entries or bundles were skipped
	plane     planeUpdate           // what only the data-plane feed uses
}

// parseMessage checks msg for trust domain td: it parses the bundles
// (the own bundle must have X.509 authorities), verifies the revocation
// batch against the message's bundle or else held, and validates entries.
// Invalid entries and federated bundles are skipped and reported in
// skipped; an invalid own bundle or revocation batch fails the message.
func parseMessage(msg wire.Message, td spiffeid.TrustDomain, held *spiffebundle.Bundle) (*update, error) {
	u := &update{revision: msg.Revision, heartbeat: msg.Heartbeat, evicted: msg.Evicted, full: msg.Full, deleted: msg.Deleted}
	if msg.Revision < 0 {
		return nil, errors.New("negative revision")
	}
	if len(msg.Bundle) > 0 {
		b, err := spiffebundle.Parse(td, msg.Bundle)
		if err != nil {
			return nil, fmt.Errorf("bundle: %w", err)
		}
		if len(b.X509Authorities()) == 0 {
			return nil, errors.New("bundle has no X.509 authority")
		}
		u.bundle = b
		held = b
	}
	for name, raw := range msg.Federated {
		ftd, err := spiffeid.TrustDomainFromString(name)
		if err != nil || ftd == td {
			u.skipped = append(u.skipped, fmt.Sprintf("federated bundle %q: not a foreign trust domain", name))
			continue
		}
		b, err := spiffebundle.Parse(ftd, raw)
		if err != nil {
			u.skipped = append(u.skipped, fmt.Sprintf("federated bundle %q: %v", name, err))
			continue
		}
		if u.federated == nil {
			u.federated = make(map[spiffeid.TrustDomain]*spiffebundle.Bundle)
		}
		u.federated[ftd] = b
	}
	for _, name := range msg.FederatedRemoved {
		if ftd, err := spiffeid.TrustDomainFromString(name); err == nil {
			u.removed = append(u.removed, ftd)
		}
	}
	if msg.Revocations != "" {
		if held == nil {
			return nil, errors.New("revocations before any bundle")
		}
		batch, err := verifyRevocations(msg.Revocations, held.JWTBundle())
		if err != nil {
			return nil, err
		}
		u.revs = batch
	}
	u.plane = planeUpdate{policies: msg.Policies, tokenKeys: msg.TokenKeys, issuer: msg.TokenIssuer, revocationJWS: msg.Revocations}
	for _, e := range msg.Entries {
		if err := checkEntry(e, td); err != nil {
			u.skipped = append(u.skipped, err.Error())
			continue
		}
		u.entries = append(u.entries, e)
	}
	return u, nil
}

// checkEntry checks the fields of an entry the agent relies on.
func checkEntry(e wire.Entry, td spiffeid.TrustDomain) error {
	if e.ID == "" {
		return errors.New("entry without ID")
	}
	id, err := spiffeid.FromString(e.SPIFFEID)
	if err != nil {
		return fmt.Errorf("entry %s: SPIFFE ID: %v", e.ID, err)
	}
	if id.TrustDomain() != td || id.Path() == "" {
		return fmt.Errorf("entry %s: %s is not a workload ID of %s", e.ID, id, td)
	}
	if len(e.Selectors) == 0 {
		return fmt.Errorf("entry %s: no selectors", e.ID)
	}
	if e.X509SVIDTTL < 0 || e.JWTSVIDTTL < 0 {
		return fmt.Errorf("entry %s: negative TTL", e.ID)
	}
	return nil
}
