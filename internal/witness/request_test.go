package witness

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testCheckpoint = "example.com/log\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n— example.com/log Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"

// proofLines returns n distinct base64 hash lines and their hashes.
func proofLines(n int) (string, [][]byte) {
	var s strings.Builder
	var hashes [][]byte
	for i := range n {
		h := bytes.Repeat([]byte{byte(i)}, hashSize)
		hashes = append(hashes, h)
		s.WriteString(base64.StdEncoding.EncodeToString(h) + "\n")
	}
	return s.String(), hashes
}

func TestParseAddCheckpoint(t *testing.T) {
	lines4, hashes4 := proofLines(4)
	lines63, hashes63 := proofLines(63)
	lines64, _ := proofLines(64)
	for _, tc := range []struct {
		name    string
		body    string
		want    addCheckpointRequest
		wantErr string
	}{
		{"no proof", "old 0\n\n" + testCheckpoint, addCheckpointRequest{Checkpoint: []byte(testCheckpoint)}, ""},
		{"spec example shape", "old 20852014\n" + lines4 + "\n" + testCheckpoint,
			addCheckpointRequest{OldSize: 20852014, Proof: hashes4, Checkpoint: []byte(testCheckpoint)}, ""},
		{"63 proof lines", "old 1\n" + lines63 + "\n" + testCheckpoint,
			addCheckpointRequest{OldSize: 1, Proof: hashes63, Checkpoint: []byte(testCheckpoint)}, ""},
		{"max uint64", "old 18446744073709551615\n\n" + testCheckpoint,
			addCheckpointRequest{OldSize: 1<<64 - 1, Checkpoint: []byte(testCheckpoint)}, ""},

		{"empty", "", addCheckpointRequest{}, "missing old size line"},
		{"garbage", "\x00\xff garbage", addCheckpointRequest{}, "missing old size line"},
		{"no old keyword", "size 1\n\n" + testCheckpoint, addCheckpointRequest{}, `does not start with "old "`},
		{"two spaces", "old  1\n\n" + testCheckpoint, addCheckpointRequest{}, "canonical decimal"},
		{"leading zero", "old 01\n\n" + testCheckpoint, addCheckpointRequest{}, "canonical decimal"},
		{"negative", "old -1\n\n" + testCheckpoint, addCheckpointRequest{}, "canonical decimal"},
		{"plus sign", "old +1\n\n" + testCheckpoint, addCheckpointRequest{}, "canonical decimal"},
		{"carriage return", "old 1\r\n\n" + testCheckpoint, addCheckpointRequest{}, "canonical decimal"},
		{"overflow", "old 18446744073709551616\n\n" + testCheckpoint, addCheckpointRequest{}, "out of range"},
		{"missing blank line", "old 0\n" + testCheckpoint, addCheckpointRequest{}, "consistency proof line 1"},
		{"no blank line at all", "old 0\n" + lines4, addCheckpointRequest{}, "missing empty line"},
		{"bad base64", "old 1\n!!!!\n\n" + testCheckpoint, addCheckpointRequest{}, "not a base64"},
		{"short hash", "old 1\n" + base64.StdEncoding.EncodeToString(make([]byte, 31)) + "\n\n" + testCheckpoint, addCheckpointRequest{}, "not a base64 32-byte hash"},
		{"unpadded base64", "old 1\n" + base64.RawStdEncoding.EncodeToString(make([]byte, 32)) + "\n\n" + testCheckpoint, addCheckpointRequest{}, "not a base64"},
		{"non-canonical padding bits", "old 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n\n" + testCheckpoint, addCheckpointRequest{}, "not a base64"},
		{"carriage return in hash", "old 1\nAAAAAAAAAAAAAAAAAAAAAAAA\rAAAAAAAAAAAAAAAAAAAA=\n\n" + testCheckpoint, addCheckpointRequest{}, "not a base64"},
		{"64 proof lines", "old 1\n" + lines64 + "\n" + testCheckpoint, addCheckpointRequest{}, "more than 63"},
		{"missing checkpoint", "old 0\n\n", addCheckpointRequest{}, "missing checkpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseAddCheckpoint([]byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
			body, err := formatAddCheckpoint(got.OldSize, got.Proof, got.Checkpoint)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != tc.body {
				t.Errorf("formatAddCheckpoint = %q, want the parsed body %q", body, tc.body)
			}
		})
	}
}

func TestFormatAddCheckpointErrors(t *testing.T) {
	_, hashes64 := proofLines(64)
	for _, tc := range []struct {
		name       string
		proof      [][]byte
		checkpoint string
	}{
		{"64 hashes", hashes64, testCheckpoint},
		{"short hash", [][]byte{make([]byte, 31)}, testCheckpoint},
		{"no checkpoint", nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if b, err := formatAddCheckpoint(1, tc.proof, []byte(tc.checkpoint)); err == nil {
				t.Errorf("formatAddCheckpoint = %q, want an error", b)
			}
		})
	}
}

// FuzzParseAddCheckpoint checks that the parser never panics and that what
// it accepts formats back to the same bytes: the encoding is canonical.
func FuzzParseAddCheckpoint(f *testing.F) {
	lines4, _ := proofLines(4)
	for _, seed := range []string{
		"old 0\n\n" + testCheckpoint,
		"old 20852014\n" + lines4 + "\n" + testCheckpoint,
		"old 0\n" + testCheckpoint,
		"old 01\n\n" + testCheckpoint,
		"old 1\n!!!!\n\n" + testCheckpoint,
		"old 18446744073709551616\n\n",
		"old 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=\n\nx",
		"",
		"\n\n\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := parseAddCheckpoint(body)
		if err != nil {
			return
		}
		if len(req.Proof) > maxProofLines || len(req.Checkpoint) == 0 {
			t.Fatalf("accepted %d proof lines and a %d-byte checkpoint", len(req.Proof), len(req.Checkpoint))
		}
		out, err := formatAddCheckpoint(req.OldSize, req.Proof, req.Checkpoint)
		if err != nil {
			t.Fatalf("cannot format a parsed request: %v", err)
		}
		if !bytes.Equal(out, body) {
			t.Fatalf("round trip changed the body:\n%q\n%q", body, out)
		}
	})
}

func TestParseCheckpoint(t *testing.T) {
	root := "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
	rootBytes, _ := base64.StdEncoding.DecodeString(root)
	for _, tc := range []struct {
		name    string
		text    string
		want    checkpoint
		wantErr string
	}{
		{"plain", "example.com/log\n5\n" + root + "\n", checkpoint{"example.com/log", 5, rootBytes}, ""},
		{"extension lines", "o\n0\n" + root + "\next 1\next 2\n", checkpoint{"o", 0, rootBytes}, ""},
		{"origin with spaces", "my log\n5\n" + root + "\n", checkpoint{"my log", 5, rootBytes}, ""},

		{"no final newline", "o\n5\n" + root, checkpoint{}, "newline"},
		{"two lines", "o\n5\n", checkpoint{}, "fewer than three"},
		{"empty origin", "\n5\n" + root + "\n", checkpoint{}, "origin is empty"},
		{"leading zero", "o\n05\n" + root + "\n", checkpoint{}, "canonical decimal"},
		{"hex size", "o\n0x5\n" + root + "\n", checkpoint{}, "canonical decimal"},
		{"short root", "o\n5\n" + base64.StdEncoding.EncodeToString(make([]byte, 20)) + "\n", checkpoint{}, "32-byte hash"},
		{"empty extension", "o\n5\n" + root + "\n\nx\n", checkpoint{}, "empty extension"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseCheckpoint(tc.text)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("checkpoint (-want +got):\n%s", diff)
			}
		})
	}
}

func ExampleGenerateKey() {
	skey, vkey, err := GenerateKey("witness.example.org/w1")
	if err != nil {
		panic(err)
	}
	fmt.Println(strings.HasPrefix(skey, "PRIVATE+KEY+witness.example.org/w1+"), strings.HasPrefix(vkey, "witness.example.org/w1+"))
	// Output: true true
}
