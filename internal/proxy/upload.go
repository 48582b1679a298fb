package proxy

import (
	"context"

	"github.com/kith-dev/kith/internal/callrecord"
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

// Upload implements [Uploader]: it sends the records clipped to their
// limits (callrecord.Record.Clipped), so that one long or oddly encoded
// path does not get a whole batch refused. It returns the error of
// dataplane.TelemetrySender.Send.
func (u *AgentUploader) Upload(ctx context.Context, batch []callrecord.Record) error {
	out := make([]callrecord.Record, len(batch))
	for i := range batch {
		out[i] = batch[i].Clipped()
	}
	return u.sender.Send(ctx, out)
}

// Close releases the uploader's idle connection.
func (u *AgentUploader) Close() { u.sender.Close() }
