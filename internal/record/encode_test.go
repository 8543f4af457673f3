package record

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/logferry/logferry/internal/format"
)

func TestAppendString(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "hello", `"hello"`},
		{"escapes", "a\"b\\c\n\r\t", `"a\"b\\c\n\r\t"`},
		{"control", "\x00\x1f\x7f", `"\u0000\u001f` + "\x7f" + `"`},
		{"utf8 kept", "日本é", `"日本é"`},
		{"invalid byte replaced, rest kept", "ab\xffcd", `"ab\ufffdcd"`},
		{"truncated rune", "x\xe6\x97", `"x\ufffd\ufffd"`},
		{"empty", "", `""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(AppendString(nil, []byte(tt.in)))
			if got != tt.want {
				t.Fatalf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
			}
			var back string
			if err := json.Unmarshal([]byte(got), &back); err != nil {
				t.Fatalf("not valid JSON: %v", err)
			}
			if utf8.ValidString(tt.in) && back != tt.in {
				t.Fatalf("round trip = %q, want %q", back, tt.in)
			}
		})
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\xff", "\"\\", "日本", "\x00\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		out := AppendString(nil, in)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("invalid JSON %q for %q: %v", out, in, err)
		}
		if want := strings.ToValidUTF8(string(in), "\ufffd"); utf8.Valid(in) && back != want {
			t.Fatalf("round trip %q != %q", back, want)
		}
	})
}

func TestEncoderRecord(t *testing.T) {
	p := NewPrefix(Source{Path: "/var/log/pods/ns_p_u/c/0.log", Namespace: "ns", Pod: "p", PodUID: "u", Container: "c", RestartCount: 0, FileID: 0xabc})
	var enc Encoder
	ts := time.Date(2026, 11, 21, 9, 0, 0, 123456789, time.FixedZone("x", 8*3600))
	tests := []struct {
		name string
		e    format.Entry
		want string
	}{
		{"cri line", format.Entry{Time: ts, Stream: format.Stdout, Msg: []byte("sent sms"), Offset: 123456},
			`{"@timestamp":"2026-11-21T01:00:00.123456789Z","message":"sent sms","stream":"stdout","log":{"file":{"path":"/var/log/pods/ns_p_u/c/0.log"},"offset":123456},"kubernetes":{"namespace":"ns","pod":{"name":"p","uid":"u"},"container":{"name":"c","restart_count":0}},"event":{"id":"0000000000000abc-1e240"}}`},
		{"trimmed fraction and flags", format.Entry{Time: ts.Truncate(time.Millisecond), Stream: format.Stderr, Msg: []byte("x"), Truncated: true, Partial: true},
			`{"@timestamp":"2026-11-21T01:00:00.123Z","message":"x","stream":"stderr","log":{"file":{"path":"/var/log/pods/ns_p_u/c/0.log"},"offset":0,"flags":["partial","truncated"]},"kubernetes":{"namespace":"ns","pod":{"name":"p","uid":"u"},"container":{"name":"c","restart_count":0}},"event":{"id":"0000000000000abc-0"}}`},
		{"raw line uses read time, attrs", format.Entry{Msg: []byte("r"), Attrs: []format.Attr{{Key: "k", Value: "v"}}, Offset: 16},
			`{"@timestamp":"2026-11-22T00:00:00Z","message":"r","log":{"file":{"path":"/var/log/pods/ns_p_u/c/0.log"},"offset":16},"docker":{"attrs":{"k":"v"}},"kubernetes":{"namespace":"ns","pod":{"name":"p","uid":"u"},"container":{"name":"c","restart_count":0}},"event":{"id":"0000000000000abc-10"}}`},
	}
	read := time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := string(enc.Append(nil, p, &tt.e, read))
			if got != tt.want+"\n" {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
			if !json.Valid([]byte(got)) {
				t.Fatal("not valid JSON")
			}
		})
	}
	if id := EventID(0xabc, 123456); id != "0000000000000abc-1e240" {
		t.Fatalf("EventID = %s", id)
	}
}

func TestDockerPrefix(t *testing.T) {
	p := NewPrefix(Source{Path: "/d/x-json.log", ContainerID: "x", Runtime: "docker", RestartCount: -1})
	var enc Encoder
	got := string(enc.Append(nil, p, &format.Entry{Msg: []byte("m"), Time: time.Unix(0, 0)}, time.Time{}))
	if !strings.Contains(got, `"container":{"id":"x","runtime":"docker"}`) || strings.Contains(got, "kubernetes") {
		t.Fatalf("got %s", got)
	}
}

func BenchmarkEncode(b *testing.B) {
	p := NewPrefix(Source{Path: "/var/log/pods/prod_sms-7d9f-abcde_0b1c2d3e-1111-2222-3333-444455556666/app/0.log", Namespace: "prod", Pod: "sms-7d9f-abcde", PodUID: "0b1c2d3e-1111-2222-3333-444455556666", Container: "app", FileID: 42})
	msg := []byte(strings.Repeat("sent sms to 138****0000 with status=ok, ", 5))
	e := format.Entry{Time: time.Now(), Stream: format.Stdout, Msg: msg, Offset: 1 << 20}
	var enc Encoder
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		buf = enc.Append(buf[:0], p, &e, e.Time)
	}
}

func TestInvalidUTF8Flagged(t *testing.T) {
	p := NewPrefix(Source{Path: "/p", RestartCount: -1})
	for _, tc := range []struct {
		msg   string
		flags []any
	}{
		{"valid é", nil},
		{"caf\xe9", []any{"invalid_utf8"}},
		{"fields repaired", []any{"invalid_utf8"}},
	} {
		var enc Encoder
		e := &format.Entry{Time: time.Unix(1, 0), Msg: []byte(tc.msg), Stream: format.Stdout, Multiline: true}
		if tc.msg == "fields repaired" {
			e.Msg, e.Fields, e.FieldsRepaired = nil, []byte(`{"a":"x\ufffd"}`), true
		}
		var rec struct {
			Log struct {
				Flags []any `json:"flags"`
			} `json:"log"`
		}
		out := enc.Append(nil, p, e, time.Time{})
		if err := json.Unmarshal(out, &rec); err != nil || !utf8.Valid(out) {
			t.Fatalf("%q: %v: %s", tc.msg, err, out)
		}
		want := append(tc.flags, "multiline")
		if !reflect.DeepEqual(rec.Log.Flags, want) || enc.InvalidUTF8 != int64(len(tc.flags)) {
			t.Errorf("%q: flags %v, counted %d; want %v", tc.msg, rec.Log.Flags, enc.InvalidUTF8, want)
		}
	}
}

func BenchmarkEncodeKube(b *testing.B) {
	k := &Kube{NodeName: "node-1", PodIP: "10.1.0.7", Labels: map[string]string{"app.kubernetes.io/name": "web-1", "app.kubernetes.io/instance": "prod",
		"app.kubernetes.io/version": "1.4.2", "pod-template-hash": "7d9f8c6b5", "team": "payments"},
		Annotations: map[string]string{"prometheus.io/scrape": "true", "prometheus.io/port": "9090"},
		Owners:      []Owner{{"replicaset", "web-1-7d9f8c6b5"}, {"deployment", "web-1"}}, Image: "registry.example.com/web:1.4.2",
		ContainerID: strings.Repeat("ab", 32), Runtime: "containerd"}
	for _, kube := range []*Kube{nil, k} {
		p := NewPrefix(Source{Path: "/var/log/pods/prod_sms-7d9f-abcde_0b1c2d3e-1111-2222-3333-444455556666/app/0.log", Namespace: "prod", Pod: "sms-7d9f-abcde", PodUID: "0b1c2d3e-1111-2222-3333-444455556666", Container: "app", FileID: 42, Kube: kube})
		b.Run(fmt.Sprint(kube != nil), func(b *testing.B) {
			msg := []byte(strings.Repeat("x", 150))
			e := format.Entry{Time: time.Now(), Stream: format.Stdout, Msg: msg, Offset: 1 << 20}
			var enc Encoder
			buf := make([]byte, 0, 4<<20)
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if len(buf) > 4<<20-2000 {
					buf = buf[:0]
				}
				buf = enc.Append(buf, p, &e, e.Time)
			}
			b.ReportMetric(float64(len(enc.Append(nil, p, &e, e.Time))), "record-bytes")
		})
	}
}
