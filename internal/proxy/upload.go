package proxy

import (
	"context"
	"strings"

	"github.com/kith-dev/kith/internal/dataplane"
)

// AgentUploader is the [Uploader] that hands records to the local agent
// over its data-plane socket; the agent buffers them and forwards them to
// the server, which records them in the ledger.
type AgentUploader struct {
	sender *dataplane.TelemetrySender
}

// NewAgentUploader returns an AgentUploader for the agent's data-plane
// socket at socketPath. It does no I/O.
func NewAgentUploader(socketPath string) *AgentUploader {
	return &AgentUploader{sender: dataplane.NewTelemetrySender(socketPath)}
}

// Upload implements [Uploader]. It returns the error of
// dataplane.TelemetrySender.Send.
func (u *AgentUploader) Upload(ctx context.Context, batch []Record) error {
	out := make([]dataplane.CallRecord, len(batch))
	for i := range batch {
		out[i] = batch[i].wire()
	}
	return u.sender.Send(ctx, out)
}

// Close releases the uploader's idle connection.
func (u *AgentUploader) Close() { u.sender.Close() }

// wire returns rec in its wire form.
func (rec *Record) wire() dataplane.CallRecord {
	return dataplane.CallRecord{
		Time: rec.Time, Direction: rec.Direction, Caller: rec.Caller, ClientID: rec.ClientID,
		CredentialID: rec.CredentialID, CredentialType: rec.CredentialType, Target: rec.Target,
		Method: clip(rec.Method), Route: clip(rec.Route), Path: clip(rec.Path), Status: rec.Status,
		BytesIn: rec.BytesIn, BytesOut: rec.BytesOut, LatencyMicros: rec.Latency.Microseconds(),
		Decision: rec.Decision, PolicyRevision: rec.PolicyRevision, Rule: clip(rec.Rule), Reason: clip(rec.Reason),
		TrustScore: rec.TrustScore,
	}
}

// clip shortens s to what a CallRecord's text fields may hold, so that one
// long path does not get a whole batch refused.
func clip(s string) string {
	if len(s) <= dataplane.MaxRecordTextLen {
		return s
	}
	return strings.ToValidUTF8(s[:dataplane.MaxRecordTextLen], "")
}
