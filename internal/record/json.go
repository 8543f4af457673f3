// Package record renders log entries as the ECS-aligned JSON documents logferry ships
// (DESIGN.md section 3). The encoder appends into caller-owned buffers and does not
// allocate per record once they are warm.
package record

import (
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"

// safe[b] is true for ASCII bytes that can be copied into a JSON string as they are.
var safe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// AppendString appends s as a quoted JSON string. Invalid UTF-8 is replaced by U+FFFD,
// one replacement per invalid byte, and the rest of the string is kept.
func AppendString(dst []byte, s []byte) []byte {
	dst, _ = appendQuoted(dst, s)
	return dst
}

// appendQuoted is AppendString that also reports whether invalid UTF-8 was replaced.
func appendQuoted(dst []byte, s []byte) ([]byte, bool) {
	dst = append(dst, '"')
	dst, repaired := appendEscaped(dst, s)
	return append(dst, '"'), repaired
}

// AppendStringS is AppendString for a string. It copies s, so it is meant for values
// rendered once (metadata), not for the per-line path.
func AppendStringS(dst []byte, s string) []byte { return AppendString(dst, []byte(s)) }

// appendEscaped appends the escaped s and reports whether invalid UTF-8 was
// replaced.
func appendEscaped(dst []byte, s []byte) ([]byte, bool) {
	start := 0
	repaired := false
	for i := 0; i < len(s); {
		// Skip eight plain bytes at a time: the common case is ASCII text that needs
		// no escaping at all.
		for i+8 <= len(s) && plain8(binary.LittleEndian.Uint64(s[i:])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if safe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			dst = appendEscapedByte(dst, b)
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
			repaired = true
			continue
		}
		i += size
	}
	return append(dst, s[start:]...), repaired
}

func appendEscapedByte(dst []byte, b byte) []byte {
	switch b {
	case '"':
		return append(dst, '\\', '"')
	case '\\':
		return append(dst, '\\', '\\')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// plain8 reports whether none of the eight bytes in x needs escaping or UTF-8 checking:
// no byte is below 0x20, at or above 0x80, '"' or '\\'.
func plain8(x uint64) bool {
	ctl := (x - 0x20*lsb) & ^x // high bit set where a byte is < 0x20
	quote := x ^ ('"' * lsb)   // zero bytes where '"'
	bslash := x ^ ('\\' * lsb) // zero bytes where '\\'
	q := (quote - lsb) & ^quote
	s := (bslash - lsb) & ^bslash
	return (x|ctl|q|s)&msb == 0
}

// appendUnescaped appends the text of the JSON string body s (between its quotes) to
// dst, as encoding/json decodes it: the escapes \" \\ \/ \b \f \n \r \t and \uXXXX
// (a surrogate pair as one rune, a lone surrogate as U+FFFD), and invalid UTF-8
// replaced by U+FFFD. ok is false for an invalid escape or a control character.
func appendUnescaped(dst, s []byte) (_ []byte, ok bool) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return dst, false
			}
			switch e := s[i+1]; e {
			case '"', '\\', '/':
				dst = append(dst, e)
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
				r, ok := hex4(s, i+2)
				if !ok {
					return dst, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if r2, ok := hex4(s, i+2); ok && i+1 < len(s) && s[i] == '\\' && s[i+1] == 'u' {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							dst = utf8.AppendRune(dst, d)
							i += 6
							continue
						}
					}
					r = utf8.RuneError
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default:
				return dst, false
			}
			i += 2
		case c < 0x20 || c == '"':
			return dst, false
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(s) && s[j] >= 0x20 && s[j] < utf8.RuneSelf && s[j] != '\\' && s[j] != '"' {
				j++
			}
			dst = append(dst, s[i:j]...)
			i = j
		default:
			r, size := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, s[i:i+size]...)
			}
			i += size
		}
	}
	return dst, true
}

// hex4 reads the four hex digits at s[i:].
func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	var r rune
	for _, c := range s[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
