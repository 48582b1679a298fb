package agentproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func TestMessageReader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		max     int
		want    []Message
		wantErr error // after the messages; nil means io.EOF
	}{
		{"two messages", `{"revision":1,"full":true}` + "\n" + `{"revision":2,"heartbeat":true}` + "\n", 0,
			[]Message{{Revision: 1, Full: true}, {Revision: 2, Heartbeat: true}}, nil},
		{"blank lines and CRLF", "\n\r\n" + `{"revision":3}` + "\r\n\n", 0, []Message{{Revision: 3}}, nil},
		{"last line without newline", `{"revision":4}`, 0, []Message{{Revision: 4}}, nil},
		{"unknown fields are ignored", `{"revision":5,"future_field":[1,2]}` + "\n", 0, []Message{{Revision: 5}}, nil},
		{"oversized line", `{"revision":6,"deleted":["` + strings.Repeat("x", 200) + `"]}` + "\n", 100, nil, ErrMessageTooLarge},
		{"garbage", "not json\n", 0, nil, errors.New("decode")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mr := NewMessageReader(strings.NewReader(tt.in))
			if tt.max > 0 {
				mr.max = tt.max
			}
			var got []Message
			var err error
			for {
				var m Message
				if m, err = mr.Next(); err != nil {
					break
				}
				got = append(got, m)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("messages (-want +got):\n%s", diff)
			}
			switch {
			case tt.wantErr == nil && !errors.Is(err, io.EOF):
				t.Errorf("end = %v, want EOF", err)
			case tt.wantErr == ErrMessageTooLarge && !errors.Is(err, ErrMessageTooLarge):
				t.Errorf("end = %v, want ErrMessageTooLarge", err)
			case tt.wantErr != nil && tt.wantErr != ErrMessageTooLarge && (err == nil || errors.Is(err, io.EOF)):
				t.Errorf("end = %v, want a decoding error", err)
			}
		})
	}
}

// FuzzMessageReader feeds arbitrary bytes to the sync stream decoder: it
// must not panic, and whatever it decodes must survive a round trip.
func FuzzMessageReader(f *testing.F) {
	f.Add([]byte(`{"revision":1,"full":true,"entries":[{"id":"e","spiffe_id":"spiffe://example.org/a","selectors":["unix:uid:1"],"status":"active","revision":1}]}` + "\n"))
	f.Add([]byte(`{"revision":2,"heartbeat":true}` + "\n\n" + `{"revision":3,"deleted":["e"],"federated_removed":["partner.org"]}`))
	f.Add([]byte(`{"revision":4,"evicted":true}` + "\r\n"))
	f.Add([]byte("\n\n\n"))
	f.Add([]byte(`{"revision":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		mr := NewMessageReader(bytes.NewReader(data))
		mr.max = 4096
		for range 64 {
			m, err := mr.Next()
			if err != nil {
				return
			}
			enc, err := json.Marshal(m)
			if err != nil {
				t.Fatalf("re-encode: %v", err)
			}
			back, err := NewMessageReader(bytes.NewReader(enc)).Next()
			if err != nil {
				t.Fatalf("decode re-encoded %s: %v", enc, err)
			}
			if diff := cmp.Diff(m, back, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("round trip (-first +second):\n%s", diff)
			}
		}
	})
}
