package format

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"slices"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small, allocation-free JSON scanner for docker json-file lines. It
// accepts a strict subset of JSON (an object whose values are strings, or for "attrs"
// an object of strings) and reports anything else as "not handled", so that the caller
// falls back to encoding/json, which then decides between a valid line and bad_json.

// jsonString is the raw content of a JSON string value, between its quotes.
type jsonString struct {
	raw []byte
	esc int  // index in raw of the first '\\', or -1
	set bool // the key was present
}

// dockerRaw is a docker line as found by scanDocker, not yet decoded.
type dockerRaw struct {
	log, stream, time jsonString
	attrs             []byte // the raw attrs object, braces included
	hasAttrs          bool
}

// scanDocker scans a docker json-file line: an object with the keys log, stream, time
// and attrs in any order, any JSON whitespace, and no other or repeated key. It
// validates the JSON syntax of everything it accepts. ok is false when the line is not
// in that subset (which includes invalid JSON).
func scanDocker(s []byte, r *dockerRaw) (ok bool) {
	i := skipWS(s, 0)
	if i >= len(s) || s[i] != '{' {
		return false
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return skipWS(s, i+1) == len(s)
	}
	for {
		if i >= len(s) || s[i] != '"' {
			return false
		}
		j, esc, ok := scanString(s, i+1)
		if !ok || esc >= 0 {
			return false
		}
		key := s[i+1 : j]
		i = skipWS(s, j+1)
		if i >= len(s) || s[i] != ':' {
			return false
		}
		i = skipWS(s, i+1)
		var dst *jsonString
		switch string(key) {
		case "log":
			dst = &r.log
		case "stream":
			dst = &r.stream
		case "time":
			dst = &r.time
		case "attrs":
			if r.hasAttrs {
				return false
			}
			k, ok := scanAttrs(s, i)
			if !ok {
				return false
			}
			r.attrs, r.hasAttrs = s[i:k], true
			i = k
		default:
			return false
		}
		if dst != nil {
			if dst.set || i >= len(s) || s[i] != '"' {
				return false
			}
			j, esc, ok := scanString(s, i+1)
			if !ok {
				return false
			}
			if esc >= 0 {
				esc -= i + 1 // relative to raw
			}
			*dst = jsonString{raw: s[i+1 : j], esc: esc, set: true}
			i = j + 1
		}
		i = skipWS(s, i)
		if i >= len(s) {
			return false
		}
		switch s[i] {
		case ',':
			i = skipWS(s, i+1)
		case '}':
			return skipWS(s, i+1) == len(s)
		default:
			return false
		}
	}
}

// scanAttrs scans an object of string values starting at s[i] == '{' and returns the
// index just past its '}'.
func scanAttrs(s []byte, i int) (end int, ok bool) {
	if i >= len(s) || s[i] != '{' {
		return 0, false
	}
	i = skipWS(s, i+1)
	if i < len(s) && s[i] == '}' {
		return i + 1, true
	}
	for {
		for k := 0; k < 2; k++ { // key, then value
			if i >= len(s) || s[i] != '"' {
				return 0, false
			}
			j, _, ok := scanString(s, i+1)
			if !ok {
				return 0, false
			}
			i = skipWS(s, j+1)
			if k == 0 {
				if i >= len(s) || s[i] != ':' {
					return 0, false
				}
				i = skipWS(s, i+1)
			}
		}
		if i >= len(s) {
			return 0, false
		}
		switch s[i] {
		case ',':
			i = skipWS(s, i+1)
		case '}':
			return i + 1, true
		default:
			return 0, false
		}
	}
}

// skipWS returns the index of the first non-whitespace byte at or after i.
func skipWS(s []byte, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
		i++
	}
	return i
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// specialMask flags, with the high bit of each byte, the bytes of x (little endian) that
// are '"', '\\' or a control character, using the SWAR "has zero byte" / "has byte less
// than" tests. Bytes above a flagged byte may be flagged wrongly (borrows), but the
// lowest flagged byte is always a real one.
func specialMask(x uint64) uint64 {
	q := x ^ (lsb * '"')
	b := x ^ (lsb * '\\')
	return ((q-lsb)&^q | (b-lsb)&^b | (x-lsb*0x20)&^x) & msb
}

// scanString scans the body of a JSON string starting at s[i] (just past the opening
// quote). It returns the index in s of the closing quote and of the first backslash
// (-1 if none). ok is false for an unterminated string, a raw control character, or an
// invalid escape. Bytes >= 0x80 are passed through unchecked.
func scanString(s []byte, i int) (end, esc int, ok bool) {
	esc = -1
	for {
		// Skip 8 plain bytes at a time, then jump to the first special one.
		for ; i+8 <= len(s); i += 8 {
			if m := specialMask(binary.LittleEndian.Uint64(s[i:])); m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
		}
		if i+8 > len(s) {
			for i < len(s) && s[i] != '"' && s[i] != '\\' && s[i] >= 0x20 {
				i++
			}
			if i >= len(s) {
				return 0, 0, false
			}
		}
		switch c := s[i]; {
		case c == '"':
			return i, esc, true
		case c == '\\':
			if esc < 0 {
				esc = i
			}
			if i+1 >= len(s) {
				return 0, 0, false
			}
			switch s[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(s) || hex4(s[i+2:i+6]) < 0 {
					return 0, 0, false
				}
				i += 6
			default:
				return 0, 0, false
			}
		default: // a control character
			return 0, 0, false
		}
	}
}

// hex4 decodes four hex digits, or returns -1.
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendUnescaped appends the decoded form of a JSON string body that scanString
// accepted. \uXXXX escapes follow encoding/json: a valid surrogate pair becomes one
// rune, and a lone or mismatched surrogate becomes U+FFFD. Unlike encoding/json, raw
// bytes are copied as they are, even when they are not valid UTF-8.
func appendUnescaped(dst, s []byte) []byte {
	for {
		i := bytes.IndexByte(s, '\\')
		if i < 0 {
			return append(dst, s...)
		}
		dst = append(dst, s[:i]...)
		c := s[i+1]
		s = s[i+2:]
		switch c {
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
			r := hex4(s)
			s = s[4:]
			if utf16.IsSurrogate(r) {
				if len(s) >= 6 && s[0] == '\\' && s[1] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(s[2:])); dec != utf8.RuneError {
						dst = utf8.AppendRune(dst, dec)
						s = s[6:]
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
		default: // '"', '\\', '/'
			dst = append(dst, c)
		}
	}
}

// parseAttrs decodes an attrs object that scanAttrs accepted into Attrs sorted by key.
// A repeated key keeps its last value, as encoding/json does for a map. An empty
// object gives nil.
func parseAttrs(raw []byte) []Attr {
	var attrs []Attr
	var tmp []byte
	i := skipWS(raw, 1) // past '{'
	for i < len(raw) && raw[i] == '"' {
		j, _, _ := scanString(raw, i+1)
		tmp = appendUnescaped(tmp[:0], raw[i+1:j])
		key := string(tmp)
		i = skipWS(raw, skipWS(raw, j+1)+1) // past ':'
		k, _, _ := scanString(raw, i+1)
		tmp = appendUnescaped(tmp[:0], raw[i+1:k])
		attrs = append(attrs, Attr{Key: key, Value: string(tmp)})
		i = skipWS(raw, k+1)
		if i >= len(raw) || raw[i] != ',' {
			break
		}
		i = skipWS(raw, i+1)
	}
	return sortAttrs(attrs)
}

// sortAttrs sorts attrs by key and keeps the last of repeated keys.
func sortAttrs(attrs []Attr) []Attr {
	if len(attrs) == 0 {
		return nil
	}
	slices.SortStableFunc(attrs, func(a, b Attr) int {
		switch {
		case a.Key < b.Key:
			return -1
		case a.Key > b.Key:
			return 1
		}
		return 0
	})
	out := attrs[:0]
	for i, a := range attrs {
		if i+1 < len(attrs) && attrs[i+1].Key == a.Key {
			continue
		}
		out = append(out, a)
	}
	return slices.Clip(out)
}

// AppendJSONString appends the text of the quoted JSON string raw (quotes included) to
// dst, decoded as encoding/json decodes it for valid UTF-8 input (record fields are).
// ok is false when raw is not one whole, valid JSON string.
func AppendJSONString(dst, raw []byte) (_ []byte, ok bool) {
	if len(raw) < 2 || raw[0] != '"' {
		return dst, false
	}
	end, esc, ok := scanString(raw, 1)
	if !ok || end != len(raw)-1 {
		return dst, false
	}
	body := raw[1:end]
	if esc < 0 {
		return append(dst, body...), true
	}
	return appendUnescaped(dst, body), true
}
