package record

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/format"
)

// TestEncoderProcessed covers what the processors (internal/process) add to an entry:
// parsed fields, which replace the message, and the multiline and parse_failed flags.
func TestEncoderProcessed(t *testing.T) {
	p := NewPrefix(Source{Path: "/p/0.log", RestartCount: -1, FileID: 1})
	ts := time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)
	const tail = `"log":{"file":{"path":"/p/0.log"},"offset":7`
	tests := []struct {
		name string
		e    format.Entry
		want string // the record up to and including the log object's offset
		rest string // what follows the offset inside "log"
	}{
		{"fields replace the message", format.Entry{Time: ts, Stream: format.Stdout, Offset: 7,
			Fields: []byte(`{"level":"info","n":1}`), FieldsKey: "fields"},
			`{"@timestamp":"2026-11-21T09:00:00Z","fields":{"level":"info","n":1},"stream":"stdout",` + tail, `}`},
		{"default key", format.Entry{Time: ts, Offset: 7, Fields: []byte(`{}`)},
			`{"@timestamp":"2026-11-21T09:00:00Z","fields":{},` + tail, `}`},
		{"key needing escapes", format.Entry{Time: ts, Offset: 7, Fields: []byte(`{}`), FieldsKey: "a\"b"},
			`{"@timestamp":"2026-11-21T09:00:00Z","a\"b":{},` + tail, `}`},
		{"fields with a message keep both", format.Entry{Time: ts, Offset: 7, Msg: []byte("m"), Fields: []byte(`{"a":"b"}`), FieldsKey: "app"},
			`{"@timestamp":"2026-11-21T09:00:00Z","message":"m","app":{"a":"b"},` + tail, `}`},
		{"parse failed", format.Entry{Time: ts, Offset: 7, Msg: []byte("not json"), ParseFailed: true},
			`{"@timestamp":"2026-11-21T09:00:00Z","message":"not json",` + tail, `,"flags":["parse_failed"]}`},
		{"multiline", format.Entry{Time: ts, Stream: format.Stderr, Offset: 7, Msg: []byte("a\n\tb"), Multiline: true},
			`{"@timestamp":"2026-11-21T09:00:00Z","message":"a\n\tb","stream":"stderr",` + tail, `,"flags":["multiline"]}`},
		{"every flag, sorted", format.Entry{Time: ts, Offset: 7, Msg: []byte("x"), Multiline: true, ParseFailed: true, Partial: true, Truncated: true},
			`{"@timestamp":"2026-11-21T09:00:00Z","message":"x",` + tail, `,"flags":["multiline","parse_failed","partial","truncated"]}`},
		{"multiline and truncated", format.Entry{Time: ts, Offset: 7, Msg: []byte("x"), Multiline: true, Truncated: true},
			`{"@timestamp":"2026-11-21T09:00:00Z","message":"x",` + tail, `,"flags":["multiline","truncated"]}`},
	}
	var enc Encoder
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(enc.Append(nil, p, &tt.e, ts))
			if want := tt.want + tt.rest; !strings.HasPrefix(got, want) {
				t.Fatalf("got\n%s\nwant prefix\n%s", got, want)
			}
			var doc map[string]any
			if err := json.Unmarshal([]byte(got), &doc); err != nil {
				t.Fatalf("not valid JSON: %v\n%s", err, got)
			}
		})
	}
}

func BenchmarkEncodeFields(b *testing.B) {
	p := NewPrefix(Source{Path: "/var/log/pods/prod_sms-7d9f-abcde_0b1c2d3e-1111-2222-3333-444455556666/app/0.log", Namespace: "prod", Pod: "sms-7d9f-abcde", PodUID: "0b1c2d3e-1111-2222-3333-444455556666", Container: "app", FileID: 42})
	fields := []byte(`{"time":"2026-11-21T09:00:00.123Z","level":"info","msg":"sent sms","to":"138****0000","status":"ok"}`)
	e := format.Entry{Time: time.Now(), Stream: format.Stdout, Fields: fields, FieldsKey: "fields", Offset: 1 << 20, Multiline: true}
	var enc Encoder
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(fields)))
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.Append(buf[:0], p, &e, e.Time)
	}
}
