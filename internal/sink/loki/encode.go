package loki

import (
	"bytes"
	"encoding/binary"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/record"
)

// Building push requests: records are scanned (record.Lookup), never decoded; the
// protobuf encoding of logproto.PushRequest is written by hand:
//
//	PushRequest{ repeated StreamAdapter streams = 1 }
//	StreamAdapter{ string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3 }
//	EntryAdapter{ Timestamp timestamp = 1; string line = 2; repeated LabelPairAdapter structuredMetadata = 3 }
//	Timestamp{ int64 seconds = 1; int32 nanos = 2 }
//	LabelPairAdapter{ string name = 1; string value = 2 }
//
// (hash is left out: it is optional, and Loki computes its own.)

// Protobuf wire types.
const (
	wireVarint = 0
	wireBytes  = 2
)

// fallbackLabels is the stream of records that have no label at all (Loki requires
// at least one).
const fallbackLabels = `{job="logferry"}`

// Field is a label or a structured metadata field taken from the record: Name (a
// valid label name) and the field paths tried in order.
type Field struct {
	Name  string
	Paths []string
}

// Label is a static label.
type Label struct{ Name, Value string }

// kv is one label or structured metadata pair of the record being built.
type kv struct {
	name  string
	value []byte
}

// slot is one label of the stream selector, in name order: a static value, or
// fields of the record.
type slot struct {
	name   string
	static string
	paths  []string
}

// extractor turns a record into its stream, line, timestamp and metadata.
type extractor struct {
	slots      []slot
	meta       []Field
	lineRecord bool
	now        func() time.Time
}

func newExtractor(labels []Field, static []Label, meta []Field, lineRecord bool, now func() time.Time) *extractor {
	e := &extractor{lineRecord: lineRecord, now: now}
	for _, f := range labels {
		e.slots = append(e.slots, slot{name: config.LokiLabelName(f.Name), paths: f.Paths})
	}
	for _, l := range static {
		if l.Value != "" {
			e.slots = append(e.slots, slot{name: config.LokiLabelName(l.Name), static: l.Value})
		}
	}
	// Sorted by name; a static label wins over a record label of the same name.
	slices.SortStableFunc(e.slots, func(a, b slot) int {
		if a.name != b.name {
			if a.name < b.name {
				return -1
			}
			return 1
		}
		if (a.paths == nil) != (b.paths == nil) {
			if a.paths == nil {
				return -1
			}
			return 1
		}
		return 0
	})
	e.slots = slices.CompactFunc(e.slots, func(a, b slot) bool { return a.name == b.name })
	for _, f := range meta {
		e.meta = append(e.meta, Field{Name: config.LokiLabelName(f.Name), Paths: f.Paths})
	}
	slices.SortFunc(e.meta, func(a, b Field) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	e.meta = slices.CompactFunc(e.meta, func(a, b Field) bool { return a.Name == b.Name })
	return e
}

// scalar returns the text of the first of paths that the record f reads has as a
// non-empty scalar.
func scalar(f *record.Fields, paths []string) []byte {
	for _, p := range paths {
		if v, ok := f.Scalar(p); ok && len(v) > 0 {
			return v
		}
	}
	return nil
}

// metaValue returns the text of a structured metadata field: a scalar's text, or
// an object's or array's JSON.
func metaValue(f *record.Fields, paths []string) []byte {
	for _, p := range paths {
		raw := f.Raw(p)
		if len(raw) == 0 {
			continue
		}
		switch raw[0] {
		case '{', '[':
			return raw
		}
		if v, ok := record.Scalar(raw); ok && len(v) > 0 {
			return v
		}
	}
	return nil
}

// labels appends the labels of the record f reads to dst, in name order.
func (e *extractor) labels(dst []kv, f *record.Fields) []kv {
	for i := range e.slots {
		sl := &e.slots[i]
		if sl.paths == nil {
			dst = append(dst, kv{name: sl.name, value: []byte(sl.static)})
		} else if v := scalar(f, sl.paths); v != nil {
			dst = append(dst, kv{name: sl.name, value: v})
		}
	}
	return dst
}

// metadata appends the structured metadata of the record f reads to dst, in name
// order. chunk, when not nil, holds the fields' values as far as the record's
// chunk decides them (chunkMetadata): only the others are read from the record.
func (e *extractor) metadata(dst []kv, f *record.Fields, chunk []chunkValue) []kv {
	for i, m := range e.meta {
		var v []byte
		if chunk != nil && chunk[i].decided {
			v = chunk[i].value
		} else {
			v = metaValue(f, m.Paths)
		}
		if v != nil {
			dst = append(dst, kv{name: m.Name, value: v})
		}
	}
	return dst
}

// chunkValue is a structured metadata field's value for every record of a chunk,
// when the chunk's Consts decide it.
type chunkValue struct {
	value   []byte
	decided bool
}

// chunkMetadata resolves, from a chunk's Consts, the metadata fields every record of
// the chunk shares (pod, node): one chunkValue per field, in e.meta's order.
func (e *extractor) chunkMetadata(dst []chunkValue, consts []byte) []chunkValue {
	dst = dst[:0]
	for _, m := range e.meta {
		f := record.Fields{Consts: consts}
		v := metaValue(&f, m.Paths)
		dst = append(dst, chunkValue{value: v, decided: !f.Undecided})
	}
	return dst
}

// appendSelector appends the stream selector of labels, {a="x", b="y"}, or
// fallbackLabels when there are none.
func appendSelector(dst []byte, labels []kv) []byte {
	if len(labels) == 0 {
		return append(dst, fallbackLabels...)
	}
	dst = append(dst, '{')
	for i, l := range labels {
		if i > 0 {
			dst = append(dst, ", "...)
		}
		dst = append(dst, l.name...)
		dst = append(dst, '=')
		dst = appendQuoted(dst, l.value)
	}
	return append(dst, '}')
}

// appendJSONLabels appends labels as a JSON object (the "stream" of a JSON push).
func appendJSONLabels(dst []byte, labels []kv) []byte {
	if len(labels) == 0 {
		return append(dst, `{"job":"logferry"}`...)
	}
	dst = append(dst, '{')
	for i, l := range labels {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = record.AppendStringS(dst, l.name)
		dst = append(dst, ':')
		dst = record.AppendString(dst, l.value)
	}
	return append(dst, '}')
}

// appendQuoted appends v as a double-quoted Go/PromQL string literal (what Loki's
// and VictoriaLogs' label parsers unquote); invalid UTF-8 becomes U+FFFD.
func appendQuoted(dst, v []byte) []byte {
	plain := utf8.Valid(v)
	for _, c := range v {
		if c < 0x20 || c == '"' || c == '\\' || c == 0x7f {
			plain = false
			break
		}
	}
	if plain {
		dst = append(dst, '"')
		dst = append(dst, v...)
		return append(dst, '"')
	}
	return strconv.AppendQuote(dst, string(bytes.ToValidUTF8(v, []byte("\uFFFD"))))
}

// timestamp returns the record's @timestamp, or the current time when it has none
// that parses.
func (e *extractor) timestamp(rec []byte) time.Time {
	if v, ok := record.Scalar(record.Lookup(rec, "@timestamp")); ok {
		if t, err := time.Parse(time.RFC3339Nano, string(v)); err == nil {
			return t
		}
	}
	return e.now()
}

// line returns the entry's line: the record's message, or the record itself (with
// line: record, or when it has no string message).
func (e *extractor) line(rec []byte) []byte {
	if !e.lineRecord {
		if r := record.Lookup(rec, "message"); len(r) > 0 && r[0] == '"' {
			if v, ok := record.Scalar(r); ok {
				return v
			}
		}
	}
	return rec
}

// Protobuf helpers: encoding/binary's uvarint is protobuf's varint.

func appendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

func appendTag(b []byte, num, typ int) []byte { return binary.AppendUvarint(b, uint64(num<<3|typ)) }

func appendBytesField(b []byte, num int, v []byte) []byte {
	b = appendTag(b, num, wireBytes)
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func sizeVarint(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// sizeBytesField is the size of a length-delimited field with a one-byte tag.
func sizeBytesField(n int) int { return 1 + sizeVarint(uint64(n)) + n }

// appendProtoEntry appends one EntryAdapter as field 2 of a StreamAdapter.
func appendProtoEntry(b []byte, ts time.Time, line []byte, meta []kv) []byte {
	sec, nsec := ts.Unix(), int64(ts.Nanosecond())
	tsSize := 0
	if sec != 0 {
		tsSize += 1 + sizeVarint(uint64(sec))
	}
	if nsec != 0 {
		tsSize += 1 + sizeVarint(uint64(nsec))
	}
	size := sizeBytesField(tsSize) + sizeBytesField(len(line))
	for _, m := range meta {
		size += sizeBytesField(sizeBytesField(len(m.name)) + sizeBytesField(len(m.value)))
	}
	b = appendTag(b, 2, wireBytes)
	b = binary.AppendUvarint(b, uint64(size))
	b = appendTag(b, 1, wireBytes)
	b = binary.AppendUvarint(b, uint64(tsSize))
	if sec != 0 {
		b = appendTag(b, 1, wireVarint)
		b = binary.AppendUvarint(b, uint64(sec)) // int64: negative values take 10 bytes
	}
	if nsec != 0 {
		b = appendTag(b, 2, wireVarint)
		b = binary.AppendUvarint(b, uint64(nsec))
	}
	b = appendBytesField(b, 2, line)
	for _, m := range meta {
		b = appendTag(b, 3, wireBytes)
		b = binary.AppendUvarint(b, uint64(sizeBytesField(len(m.name))+sizeBytesField(len(m.value))))
		b = appendTag(b, 1, wireBytes)
		b = binary.AppendUvarint(b, uint64(len(m.name)))
		b = append(b, m.name...)
		b = appendBytesField(b, 2, m.value)
	}
	return b
}

// appendJSONValue appends one element of a JSON stream's values:
// ["<unix nanoseconds>","<line>",{"name":"value",...}].
func appendJSONValue(b []byte, ts time.Time, line []byte, meta []kv) []byte {
	b = append(b, `["`...)
	b = strconv.AppendInt(b, ts.UnixNano(), 10)
	b = append(b, `",`...)
	b = record.AppendString(b, line)
	if len(meta) > 0 {
		b = append(b, ",{"...)
		for i, m := range meta {
			if i > 0 {
				b = append(b, ',')
			}
			b = record.AppendStringS(b, m.name)
			b = append(b, ':')
			b = record.AppendString(b, m.value)
		}
		b = append(b, '}')
	}
	return append(b, ']')
}
