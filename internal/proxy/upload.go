package proxy

import (
	"context"

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

// wire returns rec in its wire form, its free-text fields clipped so that
// the record passes dataplane.CallRecord.Validate: one long or oddly
// encoded path must not get a whole batch refused.
func (rec *Record) wire() dataplane.CallRecord {
	text := func(s string) string { return dataplane.ClipText(s, dataplane.MaxRecordTextLen) }
	id := func(s string) string { return dataplane.ClipText(s, dataplane.MaxRecordIDLen) }
	return dataplane.CallRecord{
		Time: rec.Time, Direction: rec.Direction, Caller: rec.Caller, ClientID: id(rec.ClientID),
		CredentialID: id(rec.CredentialID), CredentialType: text(rec.CredentialType), Target: rec.Target,
		Method: text(rec.Method), Route: text(rec.Route), Path: text(rec.Path), Status: rec.Status,
		BytesIn: rec.BytesIn, BytesOut: rec.BytesOut, LatencyMicros: rec.Latency.Microseconds(),
		Decision: rec.Decision, PolicyRevision: rec.PolicyRevision, Rule: text(rec.Rule), Reason: text(rec.Reason),
		TrustScore: rec.TrustScore,
	}
}
