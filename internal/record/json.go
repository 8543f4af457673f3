// Package record renders log entries as the ECS-aligned JSON documents logferry ships
// (DESIGN.md section 3). The encoder appends into caller-owned buffers and does not
// allocate per record once they are warm.
package record

import (
	"encoding/binary"
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
