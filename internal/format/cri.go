package format

import (
	"bytes"
	"time"
)

// criLine is one parsed CRI record.
type criLine struct {
	time    time.Time
	stream  Stream
	partial bool
	content []byte
}

// parseCRI parses "<timestamp> SP <stream> SP <tag>[:more] SP <content>" as the kubelet
// does: the first three spaces split the fields, and the content (possibly empty, or
// absent together with its separator) is the rest. Only the first ':'-separated tag
// counts, and it must be P or F. On failure it returns a Reason* label and the
// offending field; it never allocates.
func parseCRI(data []byte, l *criLine) (reason string, field []byte) {
	sp := bytes.IndexByte(data, ' ')
	if sp < 0 {
		return ReasonShortLine, data
	}
	t, err := ParseTimestamp(data[:sp])
	if err != nil {
		return ReasonBadTimestamp, data[:sp]
	}
	rest := data[sp+1:]

	// Stream: the common case is checked without searching.
	var stream Stream
	if len(rest) > 6 && rest[6] == ' ' && string(rest[:3]) == "std" {
		switch string(rest[3:6]) {
		case "out":
			stream = Stdout
		case "err":
			stream = Stderr
		}
	}
	if stream != StreamUnknown {
		rest = rest[7:]
	} else {
		sp = bytes.IndexByte(rest, ' ')
		if sp < 0 {
			return ReasonShortLine, data
		}
		return ReasonBadStream, rest[:sp]
	}

	// Tag, then content.
	var tag []byte
	switch {
	case len(rest) >= 2 && rest[1] == ' ':
		tag, rest = rest[:1], rest[2:]
	default:
		sp = bytes.IndexByte(rest, ' ')
		if sp < 0 {
			tag, rest = rest, rest[len(rest):]
		} else {
			tag, rest = rest[:sp], rest[sp+1:]
		}
	}
	first := tag
	if i := bytes.IndexByte(tag, ':'); i >= 0 {
		first = tag[:i]
	}
	if len(first) != 1 || (first[0] != 'P' && first[0] != 'F') {
		return ReasonBadTag, tag
	}
	*l = criLine{time: t, stream: stream, partial: first[0] == 'P', content: rest}
	return "", nil
}

// criDecoder decodes CRI log files. P...F runs are joined per stream.
type criDecoder struct {
	m merger
}

// Line implements Decoder.
func (d *criDecoder) Line(data []byte, off, end int64, truncated bool, emit func(*Entry)) error {
	var l criLine
	if reason, field := parseCRI(data, &l); reason != "" {
		return newError(KindCRI, reason, off, field)
	}
	d.m.fragment(l.stream, l.time, l.content, off, end, truncated, !l.partial, nil, emit)
	return nil
}

// Flush implements Decoder.
func (d *criDecoder) Flush(emit func(*Entry)) { d.m.flush(emit) }

// Pending implements Decoder.
func (d *criDecoder) Pending() (int64, bool) { return d.m.pending() }

// Dropped implements Decoder.
func (d *criDecoder) Dropped() int64 { return d.m.takeDropped() }
