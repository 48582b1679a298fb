package simulate

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCallReader(t *testing.T) {
	in := `{"ts":"2026-12-08T10:00:00.123Z","caller":"spiffe://example.org/billing","credential":"c1","credential_type":"x509_svid","target":"spiffe://example.org/payments","method":"GET","route":"/v1/invoices/{id}","path":"/v1/invoices/42","status":200,"req_bytes":123,"resp_bytes":4567,"source":"10.1.2.3","node":"spiffe://example.org/kith/agent/n1","latency_ms":12.5,"decision":"allow"}

  {"extra":{"a":[1,2,{"b":null}],"c":"\u00e9"},"ts":"2026-12-08T10:00:01+01:00","caller":"spiffe://example.org/b\u00e9","status":404,"Path":"/x","route":null}
`
	cr := NewCallReader(strings.NewReader(in))
	var got []Call
	for {
		var c Call
		err := cr.Next(&c)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, c)
	}
	want := []Call{
		{Time: time.Date(2026, 12, 8, 10, 0, 0, 123e6, time.UTC), Caller: "spiffe://example.org/billing", Credential: "c1",
			CredentialType: "x509_svid", Target: "spiffe://example.org/payments", Method: "GET", Route: "/v1/invoices/{id}",
			Path: "/v1/invoices/42", Status: 200, ReqBytes: 123, RespBytes: 4567, Source: "10.1.2.3",
			Node: "spiffe://example.org/kith/agent/n1", LatencyMS: 12.5, Decision: "allow"},
		{Time: time.Date(2026, 12, 8, 10, 0, 1, 0, time.FixedZone("", 3600)), Caller: "spiffe://example.org/bé", Status: 404, Path: "/x"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if cr.Line() != 3 {
		t.Errorf("Line() = %d, want 3", cr.Line())
	}
}

func TestCallReaderErrors(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"not an object", `[1]`, "line 1: not a JSON object"},
		{"no ts", `{"caller":"x"}`, "line 1: ts is required"},
		{"bad ts", `{"ts":"yesterday"}`, "line 1: ts:"},
		{"status text", `{"ts":"2026-12-08T10:00:00Z","status":"200"}`, "status: want a number"},
		{"status float", `{"ts":"2026-12-08T10:00:00Z","status":200.5}`, "status: want an integer"},
		{"trailing", `{"ts":"2026-12-08T10:00:00Z"} x`, "not a JSON object"},
		{"second line", "{\"ts\":\"2026-12-08T10:00:00Z\"}\n{", "line 2:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cr := NewCallReader(strings.NewReader(tc.in))
			var err error
			for err == nil {
				err = cr.Next(new(Call))
			}
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrFormat with %q", err, tc.want)
			}
		})
	}
}

// FuzzCallReader holds the reader to encoding/json: a line decodes to the
// same Call with both, or fails with both (a line without ts fails with
// the reader only).
func FuzzCallReader(f *testing.F) {
	for _, s := range []string{
		`{"ts":"2026-12-08T10:00:00.123Z","caller":"spiffe://example.org/billing","status":200,"latency_ms":1.5}`,
		`{"TS":"2026-12-08T10:00:00Z","Caller":"a","CALLER":null,"x":[{"y":"\ud83d\ude00"}]}`,
		`{"ts":"2026-12-08T10:00:00Z","path":"/a\"b\\c\u0000","status":-0,"req_bytes":1e2}`,
		`{"ts":"2026\u002d12-08T10:00:00Z"}`,
		` { "ts" : "2026-12-08T10:00:00+02:00" , "resp_bytes" : 9223372036854775807 } `,
		`{"ts":"2026-12-08T10:00:00Z","latency_ms":1e400}`,
		"{\"ts\":\"2026-12-08T10:00:00Z\",\"node\":\"\xff\"}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\n") {
			return
		}
		var want Call
		jerr := json.Unmarshal([]byte(line), &want)
		var got Call
		cr := NewCallReader(strings.NewReader(line))
		rerr := cr.Next(&got)
		if len(bytes.TrimSpace([]byte(line))) == 0 {
			return
		}
		switch {
		case rerr == nil && jerr != nil:
			t.Fatalf("reader accepts what encoding/json refuses (%v): %+v", jerr, got)
		case rerr == nil:
			if !got.Time.Equal(want.Time) || got.Time.Location().String() != want.Time.Location().String() {
				t.Fatalf("time %v, encoding/json %v", got.Time, want.Time)
			}
			got.Time, want.Time = time.Time{}, time.Time{}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("reader and encoding/json differ (-json +reader):\n%s", diff)
			}
		case jerr == nil && !want.Time.IsZero() && strings.HasPrefix(strings.TrimLeft(line, " \t\r"), "{"):
			t.Fatalf("reader refuses (%v) what encoding/json accepts: %+v", rerr, want)
		}
	})
}
