package witness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"golang.org/x/mod/sumdb/note"
)

const (
	// maxResponseSize bounds the add-checkpoint response a client reads.
	maxResponseSize = 64 << 10
	// defaultClientTimeout bounds a request when ClientConfig.HTTPClient
	// is nil.
	defaultClientTimeout = 30 * time.Second
)

// ClientConfig configures [NewClient].
type ClientConfig struct {
	// URL is the witness's submission prefix, such as
	// "https://witness.example.org"; requests go to URL+"/add-checkpoint".
	// Required; http or https.
	URL string
	// Verifier checks the witness's cosignatures, such as [NewVerifier]
	// makes from the witness's verifier key. Required.
	Verifier note.Verifier
	// HTTPClient sends the requests; nil means a client with a 30s
	// timeout.
	HTTPClient *http.Client
	// Name names the witness to the caller; Verifier.Name() if empty.
	Name string
}

// Client submits checkpoints to one tlog-witness and returns its verified
// cosignatures. It is safe for concurrent use.
type Client struct {
	endpoint string
	verifier note.Verifier
	hc       *http.Client
	name     string
}

// NewClient returns a Client for cfg. It returns an error if cfg.URL is not
// an absolute http or https URL or cfg.Verifier is nil.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("witness: client URL %q is not an http or https URL", cfg.URL)
	}
	if cfg.Verifier == nil {
		return nil, errors.New("witness: ClientConfig.Verifier is required")
	}
	c := &Client{
		endpoint: strings.TrimSuffix(cfg.URL, "/") + "/add-checkpoint",
		verifier: cfg.Verifier,
		hc:       cfg.HTTPClient,
		name:     cfg.Name,
	}
	if c.hc == nil {
		c.hc = &http.Client{Timeout: defaultClientTimeout}
	}
	if c.name == "" {
		c.name = cfg.Verifier.Name()
	}
	return c, nil
}

// Name returns the witness's name.
func (c *Client) Name() string { return c.name }

// Verifier returns the verifier of the witness's cosignatures, which
// [Client.AddCheckpoint] already checks them with.
func (c *Client) Verifier() note.Verifier { return c.verifier }

// AddCheckpoint submits signedCheckpoint, with the consistency proof from
// oldSize, the size the caller believes the witness last cosigned (0 if
// none), and returns the witness's cosignature line(s) on it, each
// "— <name> <base64>\n", after checking them with the configured Verifier;
// lines from other keys are dropped.
//
// It returns a *[ConflictError] when the witness answers 409 with the size
// it knows; a *[StatusError] with the code and the start of the body for
// any other status but 200, whose Err is the sentinel the protocol means
// by the code ([ErrMalformed] for 400, [ErrUnknownLog] 404,
// [ErrBadSignature] 403, [ErrFork] a 409 without a size, [ErrBadProof]
// 422, [ErrBusy] 503) or nil; an error wrapping [ErrInvalidCosignature] if
// the response holds no valid cosignature from the witness's key, and other
// errors if the arguments cannot be encoded (more than 63 proof hashes, a
// hash not of 32 bytes, a checkpoint that is not a signed note) or the
// request fails.
func (c *Client) AddCheckpoint(ctx context.Context, oldSize uint64, consistency [][]byte, signedCheckpoint []byte) ([]byte, error) {
	i := bytes.LastIndex(signedCheckpoint, []byte("\n\n"))
	if i < 0 {
		return nil, fmt.Errorf("witness %s: add-checkpoint: checkpoint is not a signed note", c.name)
	}
	text := signedCheckpoint[:i+1]
	body, err := formatAddCheckpoint(oldSize, consistency, signedCheckpoint)
	if err != nil {
		return nil, fmt.Errorf("witness %s: add-checkpoint: %w", c.name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("witness %s: add-checkpoint: %w", c.name, err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("witness %s: add-checkpoint: %w", c.name, err)
	}
	defer func() {
		// Drain what is left so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseSize))
		resp.Body.Close()
	}()
	respBody, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize+1))
	if err != nil {
		return nil, fmt.Errorf("witness %s: add-checkpoint: read response: %w", c.name, err)
	}
	if len(respBody) > maxResponseSize {
		return nil, fmt.Errorf("witness %s: add-checkpoint: response is larger than %d bytes", c.name, maxResponseSize)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return c.verifyCosignatures(text, respBody)
	case http.StatusConflict:
		if mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil && mt == "text/x.tlog.size" {
			size, err := parseSizeResponse(respBody)
			if err != nil {
				return nil, &StatusError{Code: resp.StatusCode, Msg: "malformed text/x.tlog.size body: " + publicText(respBody)}
			}
			return nil, &ConflictError{KnownSize: size}
		}
	}
	return nil, &StatusError{Code: resp.StatusCode, Msg: publicText(respBody), Err: statusCondition(resp.StatusCode)}
}

// statusCondition returns the refusal the tlog-witness protocol means by
// an HTTP status other than 200, or nil if it means none.
func statusCondition(code int) error {
	switch code {
	case http.StatusBadRequest:
		return ErrMalformed
	case http.StatusNotFound:
		return ErrUnknownLog
	case http.StatusForbidden:
		return ErrBadSignature
	case http.StatusConflict:
		// A 409 that is not text/x.tlog.size: the root differs at the
		// same size.
		return ErrFork
	case http.StatusUnprocessableEntity:
		return ErrBadProof
	case http.StatusServiceUnavailable:
		return ErrBusy
	}
	return nil
}

// verifyCosignatures returns the signature lines of the response body sigs
// that are valid cosignatures on text from the witness's key.
func (c *Client) verifyCosignatures(text, sigs []byte) ([]byte, error) {
	msg := make([]byte, 0, len(text)+1+len(sigs))
	msg = append(append(append(msg, text...), '\n'), sigs...)
	n, err := note.Open(msg, note.VerifierList(c.verifier))
	if err != nil {
		return nil, fmt.Errorf("witness %s: %w: %v", c.name, ErrInvalidCosignature, err)
	}
	if n.Text != string(text) {
		// The response held an empty line, shifting where the note splits.
		return nil, fmt.Errorf("witness %s: %w: malformed response", c.name, ErrInvalidCosignature)
	}
	var out []byte
	for _, s := range n.Sigs {
		out = fmt.Appendf(out, "— %s %s\n", s.Name, s.Base64)
	}
	return out, nil
}

// parseSizeResponse parses a text/x.tlog.size response body: a decimal
// tree size and a newline.
func parseSizeResponse(body []byte) (uint64, error) {
	line, ok := bytes.CutSuffix(body, []byte("\n"))
	if !ok {
		return 0, errors.New("no final newline")
	}
	return parseDecimal(string(line))
}

// publicText returns the start of a response body as one line of printable
// text, for an error message.
func publicText(body []byte) string {
	const limit = 200
	if len(body) > limit {
		body = body[:limit]
	}
	s := strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(string(body), "?"))
	return strings.TrimSpace(s)
}
