package format

import (
	"strings"
	"testing"
)

// benchContent is ~160 bytes of typical application output.
var benchContent = `level=info ts=2024-01-15T10:20:30.123Z caller=handler.go:142 msg="request served" method=GET path=/api/v1/items status=200 duration=1.234ms`

func benchLines(b *testing.B, d Decoder, lines [][]byte) {
	b.Helper()
	size := 0
	for _, l := range lines {
		size += len(l) + 1
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	n := 0
	emit := func(*Entry) { n++ }
	var off int64
	for _, l := range lines { // warm the buffers
		end := off + int64(len(l)) + 1
		if err := d.Line(l, off, end, false, emit); err != nil {
			b.Fatal(err)
		}
		off = end
	}
	b.ResetTimer()
	for b.Loop() {
		for _, l := range lines {
			end := off + int64(len(l)) + 1
			if err := d.Line(l, off, end, false, emit); err != nil {
				b.Fatal(err)
			}
			off = end
		}
	}
	if n == 0 {
		b.Fatal("no entries")
	}
}

// BenchmarkCRIDecode decodes ~200-byte full CRI lines (containerd dialect).
func BenchmarkCRIDecode(b *testing.B) {
	line := []byte(cri("2024-01-15T10:20:30.123456789Z", "stdout", "F", benchContent))
	benchLines(b, New(KindCRI, Options{}), [][]byte{line})
}

// BenchmarkCRIDecodeCRIO decodes the same lines in the CRI-O dialect.
func BenchmarkCRIDecodeCRIO(b *testing.B) {
	line := []byte(cri("2024-01-15T11:20:30.123456789+01:00", "stderr", "F", benchContent))
	benchLines(b, New(KindCRI, Options{}), [][]byte{line})
}

// BenchmarkCRIDecodePartial decodes a 64 KiB logical line split by containerd into four
// 16 KiB fragments (P P P F).
func BenchmarkCRIDecodePartial(b *testing.B) {
	piece := strings.Repeat("x", 16<<10)
	var lines [][]byte
	for _, tag := range []string{"P", "P", "P", "F"} {
		lines = append(lines, []byte(cri("2024-01-15T10:20:30.123456789Z", "stdout", tag, piece)))
	}
	benchLines(b, New(KindCRI, Options{}), lines)
}

// BenchmarkCRIDecodePartialSmall decodes ~200-byte fragments, four to a line.
func BenchmarkCRIDecodePartialSmall(b *testing.B) {
	var lines [][]byte
	for _, tag := range []string{"P", "P", "P", "F"} {
		lines = append(lines, []byte(cri("2024-01-15T10:20:30.123456789Z", "stdout", tag, benchContent)))
	}
	benchLines(b, New(KindCRI, Options{}), lines)
}

// BenchmarkDockerDecode decodes daemon-written json-file lines of ~160 bytes of content.
func BenchmarkDockerDecode(b *testing.B) {
	line := []byte(`{"log":"` + strings.ReplaceAll(benchContent, `"`, `\"`) + `\n","stream":"stdout","time":"2024-01-15T10:20:30.123456789Z"}`)
	benchLines(b, New(KindDocker, Options{}), [][]byte{line})
}

// BenchmarkDockerDecodeAttrs adds the attrs object a `labels`/`tag` log-opt produces.
func BenchmarkDockerDecodeAttrs(b *testing.B) {
	line := []byte(`{"log":"` + strings.ReplaceAll(benchContent, `"`, `\"`) + `\n","stream":"stdout","attrs":{"app":"web","tag":"web/1234"},"time":"2024-01-15T10:20:30.123456789Z"}`)
	benchLines(b, New(KindDocker, Options{}), [][]byte{line})
}

// BenchmarkDockerDecodePieces decodes a 64 KiB line split into four 16 KiB pieces.
func BenchmarkDockerDecodePieces(b *testing.B) {
	piece := strings.Repeat("x", 16<<10)
	var lines [][]byte
	for i := range 4 {
		nl := ""
		if i == 3 {
			nl = `\n`
		}
		lines = append(lines, []byte(`{"log":"`+piece+nl+`","stream":"stdout","time":"2024-01-15T10:20:30.123456789Z"}`))
	}
	benchLines(b, New(KindDocker, Options{}), lines)
}

// BenchmarkDockerDecodeFallback decodes lines the fast path does not take (encoding/json).
func BenchmarkDockerDecodeFallback(b *testing.B) {
	line := []byte(`{"Log":"` + strings.ReplaceAll(benchContent, `"`, `\"`) + `\n","stream":"stdout","time":"2024-01-15T10:20:30.123456789Z"}`)
	benchLines(b, New(KindDocker, Options{}), [][]byte{line})
}

func BenchmarkRawDecode(b *testing.B) {
	benchLines(b, New(KindRaw, Options{}), [][]byte{[]byte(benchContent)})
}

func BenchmarkParseTimestamp(b *testing.B) {
	for _, tc := range []struct{ name, ts string }{
		{"containerd", "2024-01-15T10:20:30.123456789Z"},
		{"containerd-trimmed", "2024-01-15T10:20:30.1234Z"},
		{"crio", "2024-01-15T11:20:30.123456789+01:00"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ts := []byte(tc.ts)
			b.SetBytes(int64(len(ts)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseTimestamp(ts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
