package process

import (
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/logferry/logferry/internal/record"
)

// parseJSON returns msg as compact JSON when it is one JSON object, surrounded by
// JSON whitespace at most (a trailing "\r" included). The object is kept as the
// application wrote it, keys and number spellings included (duplicate keys too); only
// insignificant whitespace is removed, and invalid UTF-8 (which encoding/json lets
// through inside strings) is replaced by \ufffd escapes. The result aliases the chain's
// buffers.
func (c *Chain) parseJSON(msg []byte) ([]byte, bool) {
	b := trimJSONSpace(msg)
	if len(b) < 2 || b[0] != '{' {
		return nil, false
	}
	c.jbuf.Reset()
	if err := json.Compact(&c.jbuf, b); err != nil {
		return nil, false
	}
	out := c.jbuf.Bytes()
	if !utf8.Valid(out) {
		c.fields = repairUTF8(c.fields[:0], out)
		out = c.fields
	}
	return out, true
}

func trimJSONSpace(b []byte) []byte {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
	for len(b) > 0 && isSpace(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && isSpace(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return b
}

// repairUTF8 appends src to dst with every invalid UTF-8 byte replaced by the six
// bytes `\ufffd`. In valid JSON such bytes can only be inside strings, where the
// escape is valid.
func repairUTF8(dst, src []byte) []byte {
	start := 0
	for i := 0; i < len(src); {
		if src[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRune(src[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, src[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(dst, src[start:]...)
}

// logfmtScratch is the reusable state of parseLogfmt.
type logfmtScratch struct {
	pairs []pair
	vals  []byte         // unquoted values
	seen  map[string]int // key -> last pair index, for messages with many pairs
}

// pair locates one key=value: the key in the message, the value in the message or,
// when quoted, in logfmtScratch.vals.
type pair struct {
	k0, k1 int
	v0, v1 int
	quoted bool
}

// dedupLinear is the number of pairs up to which duplicate keys are found by
// comparing every pair with the later ones; above it a map is used.
const dedupLinear = 32

// parseLogfmt renders a logfmt message as a JSON object with string values.
//
// The accepted syntax: pairs separated by spaces or tabs (a trailing "\r" is ignored);
// a pair is key=value, where the key is one or more bytes above ' ' other than '=' and
// '"', and the value is empty, bare (bytes above ' ' other than '"'; '=' is allowed, as
// in url=/a?b=c), or double-quoted with the escapes \" \\ \/ \b \f \n \r \t and \uXXXX
// (surrogate pairs included). Anything else fails, including a bare word without '='
// (so plain text does not pass for logfmt) and a message with no pair. When a key
// repeats the last value wins: the object lists each key once, at the position of its
// last occurrence (JSON consumers such as Elasticsearch refuse duplicate keys). Invalid
// UTF-8 is replaced by U+FFFD. The result aliases the chain's buffers.
func (c *Chain) parseLogfmt(msg []byte) ([]byte, bool) {
	s := &c.lf
	b := msg
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	s.pairs, s.vals = s.pairs[:0], s.vals[:0]
	i := 0
	for {
		for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
			i++
		}
		if i == len(b) {
			break
		}
		p := pair{k0: i}
		for i < len(b) && b[i] > ' ' && b[i] != '=' && b[i] != '"' {
			i++
		}
		if i == p.k0 || i == len(b) || b[i] != '=' {
			return nil, false
		}
		p.k1 = i
		i++
		if i < len(b) && b[i] == '"' {
			var ok bool
			p.v0 = len(s.vals)
			if s.vals, i, ok = unquote(s.vals, b, i+1); !ok {
				return nil, false
			}
			p.v1, p.quoted = len(s.vals), true
			if i < len(b) && b[i] != ' ' && b[i] != '\t' {
				return nil, false
			}
		} else {
			p.v0 = i
			for i < len(b) && b[i] > ' ' && b[i] != '"' {
				i++
			}
			p.v1 = i
			if i < len(b) && b[i] != ' ' && b[i] != '\t' {
				return nil, false
			}
		}
		s.pairs = append(s.pairs, p)
	}
	if len(s.pairs) == 0 {
		return nil, false
	}
	if len(s.pairs) > dedupLinear {
		if s.seen == nil {
			s.seen = make(map[string]int)
		}
		clear(s.seen)
		for j, p := range s.pairs {
			s.seen[string(b[p.k0:p.k1])] = j
		}
	}
	out := append(c.fields[:0], '{')
	first := true
	for j, p := range s.pairs {
		key := b[p.k0:p.k1]
		if s.later(b, key, j) {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = record.AppendString(out, key)
		out = append(out, ':')
		if p.quoted {
			out = record.AppendString(out, s.vals[p.v0:p.v1])
		} else {
			out = record.AppendString(out, b[p.v0:p.v1])
		}
	}
	out = append(out, '}')
	c.fields = out
	return out, true
}

// later reports whether key, the key of pair j, occurs again after j.
func (s *logfmtScratch) later(b, key []byte, j int) bool {
	if len(s.pairs) > dedupLinear {
		return s.seen[string(key)] != j
	}
	for _, q := range s.pairs[j+1:] {
		if string(b[q.k0:q.k1]) == string(key) {
			return true
		}
	}
	return false
}

// unquote appends the unescaped content of the quoted string that starts at b[i] (just
// after the opening quote) to dst, and returns the index after the closing quote.
func unquote(dst, b []byte, i int) ([]byte, int, bool) {
	for i < len(b) {
		ch := b[i]
		switch ch {
		case '"':
			return dst, i + 1, true
		case '\\':
			if i+1 == len(b) {
				return dst, i, false
			}
			i++
			switch b[i] {
			case '"', '\\', '/':
				dst = append(dst, b[i])
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, ok := hex4(b, i+1)
				if !ok {
					return dst, i, false
				}
				i += 4
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(b, i+3); ok && b[i+1] == '\\' && b[i+2] == 'u' {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							r = d
							i += 6
						} else {
							r = utf8.RuneError
						}
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
			default:
				return dst, i, false
			}
			i++
		default:
			dst = append(dst, ch)
			i++
		}
	}
	return dst, i, false // unterminated
}

// hex4 decodes the four hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}
