package dataplane

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/kith-dev/kith/internal/callrecord"
)

// TelemetryPath is the path on the agent's data-plane socket that takes
// call records from proxies: POST TelemetryPath with a batch of
// callrecord.Record (a JSON array of at most callrecord.MaxBatch valid
// records, at most [MaxTelemetryBody] bytes) is answered 202, or 400
// (malformed or an invalid record), 413 (too large) or 503 (the agent's
// buffer is shut).
const TelemetryPath = "/v1/telemetry"

// MaxTelemetryBody caps the body of one telemetry batch.
const MaxTelemetryBody = 2 << 20

// TelemetrySender posts batches of callrecord.Record to the agent's
// data-plane socket (POST [TelemetryPath]). It is safe for concurrent use.
type TelemetrySender struct {
	client *http.Client
}

// NewTelemetrySender returns a TelemetrySender for the agent's data-plane
// socket at socketPath. It does no I/O.
func NewTelemetrySender(socketPath string) *TelemetrySender {
	return &TelemetrySender{client: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", socketPath)
			},
			DisableCompression: true,
			MaxIdleConns:       1,
			IdleConnTimeout:    time.Minute,
		},
	}}
}

// Send posts batch, in pieces of at most callrecord.MaxBatch records. It
// returns the transport's error, or an error naming the agent's status
// when the agent refuses a piece (the rest are then not sent).
func (s *TelemetrySender) Send(ctx context.Context, batch []callrecord.Record) error {
	for len(batch) > 0 {
		n := min(len(batch), callrecord.MaxBatch)
		if err := s.post(ctx, batch[:n]); err != nil {
			return err
		}
		batch = batch[n:]
	}
	return nil
}

func (s *TelemetrySender) post(ctx context.Context, batch []callrecord.Record) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return fmt.Errorf("telemetry: encode: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://agent"+TelemetryPath, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("telemetry: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("telemetry: agent answered %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// Close releases the sender's idle connection.
func (s *TelemetrySender) Close() { s.client.CloseIdleConnections() }
