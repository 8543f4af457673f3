package record

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logferry/logferry/internal/format"
)

// FuzzLookup checks Lookup against encoding/json on valid JSON objects: a top-level
// key (without dots, so paths are unambiguous) is found exactly when json finds it,
// with the same value.
func FuzzLookup(f *testing.F) {
	f.Add(`{"a":"x\"y\\","b":{"c":[1,"]\\\\"]},"k":"v"}`, "k")
	f.Add(`{"message":"a \\\\\" b","event":{"id":"1"}}`, "event")
	f.Add(`{"s":"\\\\","t":"\\\"","u":3}`, "u")
	f.Fuzz(func(t *testing.T, doc, key string) {
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(doc), &m) != nil || key == "" || strings.ContainsFunc(key, func(r rune) bool {
			return r == '.' || r == '\\' || r == '"' || r < 0x20 || r >= 0x7f
		}) {
			return // keys Lookup compares raw: only those JSON writes as they are
		}
		if !json.Valid([]byte(doc)) || strings.Count(doc, `"`+key+`"`) > 1 {
			return // duplicate keys: json keeps the last, Lookup the first
		}
		want, found := m[key]
		got := Lookup([]byte(doc), key)
		if !found {
			if got != nil {
				t.Fatalf("Lookup(%q, %q) = %q, json finds no such key", doc, key, got)
			}
			return
		}
		if !strings.Contains(doc, `"`+key+`"`) {
			return // present only in an escaped spelling, which Lookup does not match
		}
		var a, b bytes.Buffer
		if json.Compact(&a, want) != nil || json.Compact(&b, got) != nil || a.String() != b.String() {
			t.Fatalf("Lookup(%q, %q) = %q, json says %q", doc, key, got, want)
		}
	})
}

func BenchmarkLookup(b *testing.B) {
	rec := []byte(`{"@timestamp":"2026-11-22T15:19:10.014328837Z","stream":"stdout","message":"GET /api/v1/orders/12345 200 3ms \"curl/8.5\" ` +
		strings.Repeat("x", 120) + `","log":{"file":{"path":"/var/log/pods/shop_web-0_u1/app/0.log"},"offset":123456},` +
		`"kubernetes":{"namespace":"shop","pod":{"name":"web-0","uid":"0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"},"container":{"name":"app"}},` +
		`"event":{"id":"ffca41a9d5cbe1cc-1e240"}}`)
	for _, path := range []string{"kubernetes.pod.uid", "event.id"} {
		b.Run(path, func(b *testing.B) {
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				if Lookup(rec, path) == nil {
					b.Fatal("not found")
				}
			}
		})
	}
}

// FuzzEventIDOf checks that reading the event id from a record's end finds what
// scanning finds, for records Encoder.Append writes from any message, parsed fields
// and docker attributes, and for any other input.
func FuzzEventIDOf(f *testing.F) {
	f.Add("m", `{"event":{"id":"spoof"}}`, "k", `,"event":{"id":"x"}}`, uint64(7), int64(12))
	f.Add(`","event":{"id":"1-2"}}`, "", "", "", uint64(0), int64(0))
	f.Fuzz(func(t *testing.T, msg, fields, ak, av string, fileID uint64, off int64) {
		if off < 0 {
			off = -off
		}
		p := NewPrefix(Source{Path: "/p/0.log", Namespace: "ns", Pod: "p", PodUID: "u", Container: "c", RestartCount: -1, FileID: fileID})
		e := format.Entry{Msg: []byte(msg), Offset: off, Stream: format.Stdout}
		var m map[string]any
		if json.Unmarshal([]byte(fields), &m) == nil && m != nil && json.Valid([]byte(fields)) {
			e.Fields = []byte(fields)
		}
		if ak != "" {
			e.Attrs = []format.Attr{{Key: ak, Value: av}}
		}
		var enc Encoder
		rec := enc.Append(nil, p, &e, time.Unix(1, 0))
		want := `"` + EventID(fileID, off) + `"`
		if got := EventIDOf(rec); string(got) != want || string(Lookup(rec, "event.id")) != want {
			t.Fatalf("EventIDOf %q, Lookup %q, want %q: %s", got, Lookup(rec, "event.id"), want, rec)
		}
		// Any other input: the same as Lookup whenever that finds a string id and the
		// input is valid JSON without a second "event" key.
		other := []byte(msg)
		if json.Valid(other) && bytes.Count(other, []byte(`"event"`)) <= 1 {
			if l := Lookup(other, "event.id"); l != nil && l[0] == '"' {
				if got := EventIDOf(other); !bytes.Equal(got, l) {
					t.Fatalf("EventIDOf(%q) = %q, Lookup %q", other, got, l)
				}
			}
		}
	})
}

func TestScalarRefusesBadEscapes(t *testing.T) {
	for _, raw := range []string{`"bad \x"`, `"short \u12"`, `"end \"`, "\"ctl \\n\x01\""} {
		if v, ok := Scalar([]byte(raw)); ok {
			t.Errorf("Scalar(%q) = %q, want not ok", raw, v)
		}
	}
}

func TestEventIDOf(t *testing.T) {
	for _, tc := range []struct{ rec, want string }{
		{`{"m":"a","event":{"id":"00ff-1a"}}` + "\n", `"00ff-1a"`},
		{`{"m":"a","event":{"id":"00ff-1a"}}`, `"00ff-1a"`},
		{`{"event":{"id":"x y"}}`, `"x y"`},                      // not an encoder id: scanned
		{`{"a":{"event":{"id":"1"}},"b":2}`, ``},                 // nested only
		{`{"m":"\",\"event\":{\"id\":\"1\"}}"}`, ``},             // inside a string
		{`{"event":{"id":"1"},"x":{"event":{"id":"2"}}}`, `"1"`}, // not at the end
	} {
		if got := EventIDOf([]byte(tc.rec)); string(got) != tc.want {
			t.Errorf("EventIDOf(%s) = %q, want %q", tc.rec, got, tc.want)
		}
	}
}

// FuzzScalar checks Scalar's unescaping against encoding/json on any JSON string of
// valid UTF-8 (records are: the encoder repairs what is not).
func FuzzScalar(f *testing.F) {
	for _, s := range []string{`"plain"`, `"a\"b\\c\/d\b\f\n\r\t"`, `"\u00e9\ud83d\ude00"`, `"\ud800x"`, `"\udc00\ud800\u0041"`, `"\ud83d\u0041"`, `"bad \x"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if len(raw) < 2 || raw[0] != '"' || skipString([]byte(raw), 0) != len(raw) || !json.Valid([]byte(raw)) || !utf8.ValidString(raw) {
			return // Scalar is given what Lookup found in a record: one valid string
		}
		var want string
		if err := json.Unmarshal([]byte(raw), &want); err != nil {
			t.Fatal(err)
		}
		got, ok := Scalar([]byte(raw))
		if !ok || string(got) != want {
			t.Fatalf("Scalar(%q) = %q, encoding/json %q", raw, got, want)
		}
	})
}
