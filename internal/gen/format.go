package gen

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Split sizes of the runtimes.
const (
	containerdMaxLen = 16384     // containerd max_container_log_line_size default
	conmonBufSize    = 8192      // conmon STDIO_BUF_SIZE
	dockerBufSize    = 16 * 1024 // moby copier defaultBufSize
)

// Timestamp layouts of the writers.
const (
	layoutContainerd = time.RFC3339Nano                      // trims trailing zeros; "Z" in UTC
	layoutConmon     = "2006-01-02T15:04:05.000000000-07:00" // 9 digits, numeric offset always
)

// piece is one record's share of a logical line: msg[off:end].
// partial is the P tag (CRI) or a non-last piece (docker).
type piece struct {
	off, end int
	partial  bool
}

// splitLine returns how a runtime cuts a message of n bytes into records.
//
//   - containerd (redirectLogs): a record is written with P once more than
//     16384 bytes are buffered, carrying the first 16384; the rest ends in F
//     (1..16384 bytes, or 0 for an empty line).
//   - conmon (write_k8s_log): the line and its '\n' are read in 8192-byte
//     buffers; a buffer without '\n' is P, the buffer holding '\n' is F, so a
//     line of k*8192 bytes ends with an empty F.
//   - moby (copier): a full 16 KiB buffer without '\n' is sent as a partial
//     message; the rest, with '\n' (possibly nothing but '\n'), is the last.
func splitLine(format string, n int) []piece {
	return appendSplit(nil, format, n)
}

// appendCRI appends one CRI record: "<ts> <stream> <P|F> <content>\n".
func appendCRI(dst []byte, format string, ts time.Time, stream string, partial bool, content []byte) []byte {
	if format == FormatCRIO {
		dst = ts.AppendFormat(dst, layoutConmon)
	} else {
		dst = ts.AppendFormat(dst, layoutContainerd)
	}
	dst = append(dst, ' ')
	dst = append(dst, stream...)
	if partial {
		dst = append(dst, " P "...)
	} else {
		dst = append(dst, " F "...)
	}
	dst = append(dst, content...)
	return append(dst, '\n')
}

// appendDocker appends one json-file record the way moby's JSONLogs.MarshalJSONBuf
// does: keys log (omitted when empty), stream, time; then '\n'. newline adds
// "\n" to log (complete messages and last pieces).
func appendDocker(dst []byte, ts time.Time, stream string, content []byte, newline bool) []byte {
	dst = append(dst, '{')
	if len(content) > 0 || newline {
		dst = append(dst, `"log":`...)
		dst = appendMobyString(dst, content, newline)
		dst = append(dst, ',')
	}
	dst = append(dst, `"stream":"`...)
	dst = append(dst, stream...)
	dst = append(dst, `","time":"`...)
	dst = ts.UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, "\"}\n"...)
}

// appendMobyString escapes s like moby's ffjsonWriteJSONBytesAsString: '"' and
// '\' backslashed, \n and \r as such, other control bytes and '<', '>', '&' as
// \u00XX, invalid UTF-8 bytes as \ufffd, U+2028/2029 escaped.
func appendMobyString(dst, s []byte, newline bool) []byte {
	const hexd = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '\\' && b != '"' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexd[b>>4], hexd[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\u202`...)
			dst = append(dst, hexd[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	if newline {
		dst = append(dst, '\\', 'n')
	}
	return append(dst, '"')
}

// junkKinds is the number of distinct garbage lines per format.
const junkKinds = 6

// appendJunk appends garbage line number n of a container: a line that a
// compliant reader must reject (the kubelet's parser fails on every one), and
// whose text, if shipped anyway, starts with JunkPrefix and never with
// KeyPrefix.
func appendJunk(dst []byte, format string, ts time.Time, id string, n int64) []byte {
	text := func(kind string) []byte {
		b := append([]byte(JunkPrefix+" "), id...)
		b = append(b, " n="...)
		b = strconv.AppendInt(b, n, 10)
		b = append(b, ' ')
		return append(b, kind...)
	}
	kind := int(n % junkKinds)
	if format == FormatDocker {
		switch kind {
		case 0: // unterminated JSON
			dst = append(dst, `{"log":`...)
			dst = appendMobyString(dst, text("broken-json"), true)
			dst = append(dst, `,"stream":"stdout","time":"`...)
			dst = ts.UTC().AppendFormat(dst, time.RFC3339Nano)
			return append(dst, '\n')
		case 1: // not JSON at all
			return append(append(dst, text("not-json")...), '\n')
		case 2: // unknown stream
			dst = append(dst, `{"log":`...)
			dst = appendMobyString(dst, text("bad-stream"), true)
			dst = append(dst, `,"stream":"stdlog","time":"`...)
			dst = ts.UTC().AppendFormat(dst, time.RFC3339Nano)
			return append(dst, "\"}\n"...)
		case 3: // time that is not RFC3339
			dst = append(dst, `{"log":`...)
			dst = appendMobyString(dst, text("bad-time"), true)
			return append(dst, `,"stream":"stdout","time":"yesterday"}`+"\n"...)
		case 4: // empty line
			return append(dst, '\n')
		default: // binary
			dst = append(dst, 0xff, 0xfe, 0x00, '{')
			return append(append(dst, text("binary")...), 0x01, '\n')
		}
	}
	layout := layoutContainerd
	if format == FormatCRIO {
		layout = layoutConmon
	}
	switch kind {
	case 0: // unknown stream
		dst = ts.AppendFormat(dst, layout)
		dst = append(dst, " stdlog F "...)
		return append(append(dst, text("bad-stream")...), '\n')
	case 1: // impossible timestamp
		dst = append(dst, "2023-13-45T25:61:61.123456789Z stdout F "...)
		return append(append(dst, text("bad-timestamp")...), '\n')
	case 2: // no tag field: only two delimiters
		dst = ts.AppendFormat(dst, layout)
		dst = append(dst, " stdout "...)
		t := text("missing-tag")
		for i := range t {
			if t[i] == ' ' {
				t[i] = '_'
			}
		}
		return append(append(dst, t...), '\n')
	case 3: // empty line
		return append(dst, '\n')
	case 4: // timestamp missing
		dst = append(dst, "stdout F "...)
		return append(append(dst, text("no-timestamp")...), '\n')
	default: // binary
		dst = append(dst, 0xff, 0xfe, 0x00, ' ')
		return append(append(dst, text("binary")...), 0x01, '\n')
	}
}
