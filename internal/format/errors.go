package format

import (
	"strconv"
	"unicode/utf8"
)

// Reasons of malformed-line errors. They are short and stable, for use as metric labels.
const (
	ReasonShortLine    = "short_line"    // a CRI field separator is missing
	ReasonBadTimestamp = "bad_timestamp" // the timestamp is missing or invalid
	ReasonBadStream    = "bad_stream"    // the stream is not stdout or stderr
	ReasonBadTag       = "bad_tag"       // the first CRI tag is not P or F
	ReasonBadJSON      = "bad_json"      // the docker line is not a valid JSON object of the expected shape
	ReasonMissingField = "missing_field" // the docker stream is absent or empty
)

// Error is a malformed-line error, returned by Decoder.Line as *Error.
type Error struct {
	// Reason is one of the Reason* labels.
	Reason string
	// Offset is the file offset of the malformed line.
	Offset int64
	// Detail quotes the offending field (shortened) or describes the problem.
	Detail string
	// Kind is the format of the decoder that rejected the line.
	Kind Kind
}

// Error returns e.g. `malformed cri line at offset 1234: bad_stream: "stdxx"`.
func (e *Error) Error() string {
	b := make([]byte, 0, 64+len(e.Detail))
	b = append(b, "malformed "...)
	if e.Kind != KindUnknown {
		b = append(b, e.Kind.String()...)
		b = append(b, ' ')
	}
	b = append(b, "line at offset "...)
	b = strconv.AppendInt(b, e.Offset, 10)
	b = append(b, ": "...)
	b = append(b, e.Reason...)
	if e.Detail != "" {
		b = append(b, ": "...)
		b = append(b, e.Detail...)
	}
	return string(b)
}

// maxDetail bounds the bytes of a line quoted in Error.Detail.
const maxDetail = 64

// newError builds an *Error whose Detail quotes field, shortened to maxDetail bytes.
func newError(k Kind, reason string, off int64, field []byte) *Error {
	return &Error{Kind: k, Reason: reason, Offset: off, Detail: quote(field)}
}

// quote returns field as a Go-quoted string, cut at maxDetail bytes (on a rune boundary
// where possible) with "..." appended when it was cut.
func quote(field []byte) string {
	cut := false
	if len(field) > maxDetail {
		n := maxDetail
		for n > maxDetail-utf8.UTFMax && !utf8.RuneStart(field[n]) {
			n--
		}
		field, cut = field[:n], true
	}
	s := strconv.Quote(string(field))
	if cut {
		s += "..."
	}
	return s
}
