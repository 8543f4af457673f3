package httpsink

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/pipeline"
)

// line is a dead-letter line as the sinks write them.
type line struct {
	Sink       string          `json:"sink"`
	Error      json.RawMessage `json:"error,omitempty"`
	Record     json.RawMessage `json:"record,omitempty"`
	RecordText string          `json:"record_text,omitempty"`
}

// TestDeadLinesVerbatim: a dead-letter line holds the record byte for byte, even
// with characters json.Marshal would escape (<, >, &, U+2028), and a record that
// is not JSON as text.
func TestDeadLinesVerbatim(t *testing.T) {
	for _, tc := range []struct {
		name, rec, want string
	}{
		{"json", `{"message":"if a<b && c>d {}` + "\u2028" + `","n":1}`,
			`{"sink":"s","record":{"message":"if a<b && c>d {}` + "\u2028" + `","n":1}}`},
		{"json with spaces", `{"a": 1}`, `{"sink":"s","record":{"a":1}}`},
		{"text", `not json <&>`, `{"sink":"s","record_text":"not json <&>"}`},
		{"invalid utf-8", "\xff<", `{"sink":"s","record_text":"\ufffd<"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d DeadLines
			l := line{Sink: "s"}
			l.Record, l.RecordText = Record([]byte(tc.rec))
			if err := d.Add(l); err != nil {
				t.Fatal(err)
			}
			if got := string(d.data); got != tc.want+"\n" || d.Len() != 1 {
				t.Fatalf("got %q\nwant %q", got, tc.want+"\n")
			}
		})
	}
	t.Run("bad raw message", func(t *testing.T) {
		var d DeadLines
		if err := d.Add(line{Error: json.RawMessage("{")}); err == nil || d.Len() != 0 || len(d.data) != 0 {
			t.Fatalf("err %v, %d lines %q", err, d.Len(), d.data)
		}
		d.AddLine([]byte(`{"a":1}`))
		d.AddLine([]byte(`{"b":2}` + "\n"))
		if string(d.data) != `{"a":1}`+"\n"+`{"b":2}`+"\n" || d.Len() != 2 {
			t.Fatalf("%q", d.data)
		}
	})
}

// flaky is a dead-letter sink whose first fail Consumes fail.
type flaky struct {
	fail  int
	lines []string
}

func (f *flaky) Name() string { return "flaky" }
func (f *flaky) Consume(_ context.Context, b *pipeline.Batch) error {
	if f.fail > 0 {
		f.fail--
		return errors.New("disk full")
	}
	for _, c := range b.Chunks {
		f.lines = append(f.lines, strings.Split(strings.TrimSuffix(string(c.Data), "\n"), "\n")...)
	}
	return nil
}
func (f *flaky) Close(context.Context) error { return nil }

// TestDeadLinesWrite: the lines go out in one Consume; a failure keeps them for the
// next Write; nothing to write does not call the sink.
func TestDeadLinesWrite(t *testing.T) {
	var d DeadLines
	if n, err := d.Write(t.Context(), nil); n != 0 || err != nil {
		t.Fatalf("empty: %d %v", n, err)
	}
	d.AddLine([]byte(`{"a":1}`))
	d.AddLine([]byte(`{"b":2}`))
	f := &flaky{fail: 1}
	if n, err := d.Write(t.Context(), f); n != 0 || err == nil ||
		err.Error() != "writing 2 records to the dead-letter file: disk full" || d.Len() != 2 {
		t.Fatalf("failing: %d %v, %d left", n, err, d.Len())
	}
	if n, err := d.Write(t.Context(), f); n != 2 || err != nil || d.Len() != 0 {
		t.Fatalf("retry: %d %v, %d left", n, err, d.Len())
	}
	if len(f.lines) != 2 || f.lines[0] != `{"a":1}` || f.lines[1] != `{"b":2}` {
		t.Fatalf("written %q", f.lines)
	}
}

func TestNewDeadLetter(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "dead.jsonl")
	dl, err := NewDeadLetter("es", config.DeadLetter{DeadLetterPath: path, DeadLetterMaxSize: 64, DeadLetterMaxFiles: 1}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer dl.Close(t.Context())
	if dl.Name() != "es-dead-letter" {
		t.Errorf("name %q", dl.Name())
	}
	var d DeadLines
	for range 3 {
		d.AddLine([]byte(`{"record":"` + strings.Repeat("x", 30) + `"}`))
	}
	if _, err := d.Write(t.Context(), dl); err != nil {
		t.Fatal(err)
	}
	// Rotated at 64 bytes, one rotated file kept.
	for _, p := range []string{path, path + ".1"} {
		if data, err := os.ReadFile(p); err != nil || strings.Count(string(data), "\n") != 1 {
			t.Errorf("%s: %q %v", p, data, err)
		}
	}
	if _, err := os.Stat(path + ".2"); err == nil {
		t.Error("more than max files kept")
	}

	// A path that cannot be a file fails at once, naming the key.
	bad := filepath.Join(dir, "file")
	if err := os.WriteFile(bad, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewDeadLetter("es", config.DeadLetter{DeadLetterPath: filepath.Join(bad, "dead.jsonl")}, nil); err == nil || !strings.HasPrefix(err.Error(), "dead_letter_path: ") {
		t.Fatalf("err %v", err)
	}
}
