package format

import (
	"bytes"
	"encoding/json"
	"time"
)

// dockerLine is one decoded docker json-file object.
type dockerLine struct {
	time   time.Time
	stream Stream
	msg    []byte // log, without its final "\n"
	final  bool   // log ended with "\n"
	attrs  []Attr
}

// dockerDecoder decodes docker json-file logs. Consecutive objects of a stream are
// joined until a log value ends with "\n".
//
// Lines take an allocation-free path when they are objects whose values are strings
// (attrs: an object of strings) under the keys log, stream, time and attrs, in any
// order; anything else goes through encoding/json, as the kubelet reads these files.
type dockerDecoder struct {
	m merger

	scratch []byte // unescaped log
	small   uint8  // see recycle
	tmp     []byte // unescaped stream or time, rare

	// attrs of the last line, reused while the raw attrs object does not change
	// (docker writes the same attrs on every line of a container).
	attrsRaw []byte
	attrs    []Attr
	attrsSet bool
}

// Line implements Decoder.
func (d *dockerDecoder) Line(data []byte, off, end int64, truncated bool, emit func(*Entry)) error {
	l, reason, detail := d.decode(data)
	if reason != "" {
		if truncated && reason == ReasonBadJSON {
			detail = "line cut by the reader: " + detail
		}
		return &Error{Kind: KindDocker, Reason: reason, Offset: off, Detail: detail}
	}
	d.m.fragment(l.stream, l.time, l.msg, off, end, truncated, l.final, l.attrs, emit)
	return nil
}

// Flush implements Decoder.
func (d *dockerDecoder) Flush(emit func(*Entry)) { d.m.flush(emit) }

// Pending implements Decoder.
func (d *dockerDecoder) Pending() (int64, bool) { return d.m.pending() }

// Dropped implements Decoder.
func (d *dockerDecoder) Dropped() int64 { return d.m.takeDropped() }

// decode decodes one line. On failure it returns a Reason* label and a detail.
// l.msg may alias data or d.scratch.
func (d *dockerDecoder) decode(data []byte) (l dockerLine, reason, detail string) {
	d.scratch = recycle(d.scratch, len(d.scratch), &d.small)
	var r dockerRaw
	if !scanDocker(data, &r) {
		return d.decodeSlow(data)
	}

	if !r.stream.set || len(r.stream.raw) == 0 {
		return l, ReasonMissingField, "stream"
	}
	v := r.stream.raw
	if r.stream.esc >= 0 {
		d.tmp = appendUnescaped(d.tmp[:0], v)
		v = d.tmp
	}
	if l.stream = streamOf(v); l.stream == StreamUnknown {
		return l, ReasonBadStream, quote(v)
	}

	if !r.time.set {
		return l, ReasonBadTimestamp, "missing time"
	}
	v = r.time.raw
	if r.time.esc >= 0 {
		d.tmp = appendUnescaped(d.tmp[:0], v)
		v = d.tmp
	}
	var err error
	if l.time, err = ParseTimestamp(v); err != nil {
		return l, ReasonBadTimestamp, quote(v)
	}

	// A string without escapes cannot hold a newline, so it is an unterminated piece.
	// The usual line has one escape, its final \n, and needs no copy either.
	switch log := r.log.raw; {
	case !r.log.set:
		// moby omits an empty log: an empty piece.
	case r.log.esc < 0:
		l.msg = log
	case r.log.esc == len(log)-2 && log[len(log)-1] == 'n':
		l.msg, l.final = log[:len(log)-2], true
	default:
		d.scratch = appendUnescaped(d.scratch, log)
		l.msg, l.final = cutNewline(d.scratch)
	}

	if r.hasAttrs {
		if !d.attrsSet || !bytes.Equal(r.attrs, d.attrsRaw) {
			d.attrs = parseAttrs(r.attrs)
			d.attrsRaw = append(d.attrsRaw[:0], r.attrs...)
			d.attrsSet = true
		}
		l.attrs = d.attrs
	}
	return l, "", ""
}

// dockerJSON is the encoding/json view of a line, for the slow path. Pointers tell a
// missing key from an empty value.
type dockerJSON struct {
	Log    *string           `json:"log"`
	Stream *string           `json:"stream"`
	Time   *string           `json:"time"`
	Attrs  map[string]string `json:"attrs"`
}

// decodeSlow decodes a line with encoding/json. It allocates.
func (d *dockerDecoder) decodeSlow(data []byte) (l dockerLine, reason, detail string) {
	if i := skipWS(data, 0); i >= len(data) || data[i] != '{' {
		return l, ReasonBadJSON, "not a JSON object"
	}
	var v dockerJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return l, ReasonBadJSON, err.Error()
	}
	if v.Stream == nil || *v.Stream == "" {
		return l, ReasonMissingField, "stream"
	}
	if l.stream = streamOf([]byte(*v.Stream)); l.stream == StreamUnknown {
		return l, ReasonBadStream, quote([]byte(*v.Stream))
	}
	if v.Time == nil {
		return l, ReasonBadTimestamp, "missing time"
	}
	var err error
	if l.time, err = ParseTimestamp([]byte(*v.Time)); err != nil {
		return l, ReasonBadTimestamp, quote([]byte(*v.Time))
	}
	if v.Log != nil {
		d.scratch = append(d.scratch, *v.Log...)
		l.msg, l.final = cutNewline(d.scratch)
	}
	if len(v.Attrs) > 0 {
		attrs := make([]Attr, 0, len(v.Attrs))
		for k, val := range v.Attrs {
			attrs = append(attrs, Attr{Key: k, Value: val})
		}
		l.attrs = sortAttrs(attrs)
	}
	return l, "", ""
}

// streamOf maps "stdout" and "stderr" to their Stream, anything else to StreamUnknown.
func streamOf(b []byte) Stream {
	switch string(b) {
	case "stdout":
		return Stdout
	case "stderr":
		return Stderr
	}
	return StreamUnknown
}

// cutNewline strips a final '\n' and reports whether there was one.
func cutNewline(b []byte) ([]byte, bool) {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1], true
	}
	return b, false
}
