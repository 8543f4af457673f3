package process

import (
	"path/filepath"
	"testing"

	"github.com/logferry/logferry/internal/format"
	"github.com/logferry/logferry/internal/podconfig"
)

func benchLines(b *testing.B, c *Chain, lines [][]byte) {
	b.Helper()
	var n int64
	for _, l := range lines {
		n += int64(len(l)) + 1
	}
	b.SetBytes(n)
	b.ReportAllocs()
	emitted := 0
	emit := func(*format.Entry) { emitted++ }
	var e format.Entry
	var off int64
	for b.Loop() {
		for _, l := range lines {
			e = format.Entry{Time: t0, Stream: format.Stdout, Msg: l, Offset: off, End: off + int64(len(l)) + 1}
			off = e.End
			c.Entry(&e, t0, emit)
		}
	}
	c.Flush(emit)
	if emitted == 0 {
		b.Fatal("nothing emitted")
	}
}

// BenchmarkPassThrough: Settings that need no processing.
func BenchmarkPassThrough(b *testing.B) {
	c := New(podconfig.Settings{Route: "r"}, nil, Options{})
	benchLines(b, c, [][]byte{[]byte(`2026-11-21T09:00:00.123Z INFO sent sms to 138****0000 with status=ok`)})
}

// BenchmarkMultilineJava: the Java sample of testdata (logging lines and traces).
func BenchmarkMultilineJava(b *testing.B) {
	var lines [][]byte
	for _, r := range readRecords(b, filepath.Join("testdata", "java.txt")) {
		for _, l := range r {
			lines = append(lines, []byte(l))
		}
	}
	benchLines(b, New(multilineSettings("java", ""), nil, Options{}), lines)
}

// BenchmarkMultilineCustom: a custom start regex on lines that all start a group.
func BenchmarkMultilineCustom(b *testing.B) {
	benchLines(b, New(multilineSettings("", `^\d{4}-\d{2}-\d{2}`), nil, Options{}),
		[][]byte{[]byte(`2026-11-21T09:00:00.123Z INFO sent sms to 138****0000 with status=ok`), []byte("\tcontinued")})
}

func BenchmarkParseJSON(b *testing.B) {
	c := New(podconfig.Settings{Parse: "json"}, nil, Options{})
	benchLines(b, c, [][]byte{[]byte(`{"time":"2026-11-21T09:00:00.123Z","level":"info","msg":"sent sms","to":"138****0000","status":"ok","took_ms":12.5,"tags":["a","b"]}`)})
}

func BenchmarkParseLogfmt(b *testing.B) {
	c := New(podconfig.Settings{Parse: "logfmt"}, nil, Options{})
	benchLines(b, c, [][]byte{[]byte(`time=2026-11-21T09:00:00.123Z level=info msg="sent sms" to=138****0000 status=ok took=12.5ms`)})
}
