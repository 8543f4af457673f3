package record

import (
	"bytes"
	"strings"

	"github.com/logferry/logferry/internal/format"
)

// Reading fields of encoded records, for sinks that route or key by them (a topic or an
// index per namespace, a message key per pod). The record is scanned, not decoded.

// Lookup returns the raw JSON text of the value at the dotted path in the JSON object
// rec (a string value with its quotes), or nil when there is none. It scans the
// record without decoding it: values not on the path are skipped, not parsed. A key
// may itself contain dots (label keys such as app.kubernetes.io/name): at each level
// every key that equals the rest of the path, or is followed in it by a dot, is
// tried. Keys are compared as written (a key with escapes never matches).
func Lookup(rec []byte, path string) []byte {
	i := skipWS(rec, 0)
	if i >= len(rec) || rec[i] != '{' {
		return nil
	}
	i++
	for {
		i = skipWS(rec, i)
		if i >= len(rec) || rec[i] != '"' {
			return nil // '}' (end of object) or malformed
		}
		kend := skipString(rec, i)
		if kend < 0 {
			return nil
		}
		key := rec[i+1 : kend-1]
		i = skipWS(rec, kend)
		if i >= len(rec) || rec[i] != ':' {
			return nil
		}
		i = skipWS(rec, i+1)
		vend := skipValue(rec, i)
		if vend < 0 {
			return nil
		}
		if len(key) <= len(path) && string(key) == path[:len(key)] {
			switch {
			case len(key) == len(path):
				return rec[i:vend]
			case path[len(key)] == '.' && rec[i] == '{':
				if v := Lookup(rec[i:vend], path[len(key)+1:]); v != nil {
					return v
				}
			}
		}
		i = skipWS(rec, vend)
		if i >= len(rec) || rec[i] != ',' {
			return nil
		}
		i++
	}
}

// Scalar returns the text of a raw JSON scalar from Lookup: a string's content
// (unescaped), or a number's or boolean's text. Null, objects, arrays and nil give
// false.
func Scalar(raw []byte) ([]byte, bool) {
	if len(raw) == 0 {
		return nil, false
	}
	switch raw[0] {
	case '"':
		s := raw[1 : len(raw)-1]
		if bytes.IndexByte(s, '\\') < 0 {
			return s, true
		}
		return format.AppendJSONString(make([]byte, 0, len(s)), raw)
	case '{', '[', 'n':
		return nil, false
	}
	return raw, true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"'), or -1.
func skipString(b []byte, i int) int {
	// Find the next quote (IndexByte is vectorised; IndexAny over two bytes is
	// not), then count the backslashes before it: an odd number escapes it.
	for i++; i < len(b); {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		q := i + j
		k := q
		for k > i && b[k-1] == '\\' {
			k--
		}
		if (q-k)%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
	return -1
}

// skipValue returns the index after the value starting at b[i], or -1.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				if i < 0 {
					return -1
				}
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return -1
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
		j++
	}
	if j == i {
		return -1
	}
	return j
}

// Fields reads scalar fields of the records of one chunk. With the chunk's Consts
// (Prefix.Consts) it answers from them where they decide the answer, so that a sink
// resolving a key, topic or index per record does not scan each record for it: a
// scalar found in Consts is the records' value, and a path under kubernetes,
// container or logferry that Consts lacks is absent from the records too (those
// objects come from the prefix alone). Other paths are looked up in the record.
type Fields struct {
	Consts []byte // the chunk's Consts, or nil
	Rec    []byte // the record, when reading one; nil to ask Consts alone
	// Undecided is set when a path had to be, or (Rec nil) would have to be, read
	// from the record.
	Undecided bool
}

// Scalar returns the scalar at path (Scalar(Lookup(...))).
func (f *Fields) Scalar(path string) ([]byte, bool) {
	if f.Consts != nil {
		if v, ok := Scalar(Lookup(f.Consts, path)); ok {
			return v, true
		}
		if constRoot(path) {
			return nil, false
		}
	}
	f.Undecided = true
	if f.Rec == nil {
		return nil, false
	}
	if path == "event.id" {
		return Scalar(EventIDOf(f.Rec))
	}
	return Scalar(Lookup(f.Rec, path))
}

// Raw returns the raw JSON value at path (Lookup), objects and arrays included.
// Consts answer for paths under kubernetes, container, logferry and log.file, whose
// objects are the records' own; "log" itself is not (records add the offset and
// flags to it).
func (f *Fields) Raw(path string) []byte {
	// Consts hold nothing else: other paths (stream, event.id, log.offset) go to the
	// record at once instead of after a scan of Consts that cannot find them (with
	// Loki's default metadata, that scan was half of building a push).
	if f.Consts != nil && (constRoot(path) || strings.HasPrefix(path, "log.file")) {
		if v := Lookup(f.Consts, path); v != nil {
			return v
		}
		if constRoot(path) {
			return nil
		}
	}
	f.Undecided = true
	if f.Rec == nil {
		return nil
	}
	if path == "event.id" {
		return EventIDOf(f.Rec)
	}
	return Lookup(f.Rec, path)
}

// constRoot reports whether path is under one of the objects that come from a
// record's prefix alone, so that Consts lacking it means the records lack it.
func constRoot(path string) bool {
	root, _, _ := strings.Cut(path, ".")
	return root == "kubernetes" || root == "container" || root == "logferry"
}

// eventIDKey is what Encoder.Append writes before the event id, the record's last field.
var eventIDKey = []byte(`,"event":{"id":"`)

// EventIDOf returns Lookup(rec, "event.id") for a record, reading it from the record's
// end where Encoder.Append puts it (`,"event":{"id":"<hex>-<hex>"}}`) instead of
// scanning the whole record; records of another shape are scanned.
func EventIDOf(rec []byte) []byte {
	r := rec
	for len(r) > 0 && (r[len(r)-1] == '\n' || r[len(r)-1] == '\r' || r[len(r)-1] == ' ' || r[len(r)-1] == '\t') {
		r = r[:len(r)-1]
	}
	if body, ok := bytes.CutSuffix(r, []byte(`"}}`)); ok {
		if q := bytes.LastIndexByte(body, '"'); q >= 0 && bytes.HasSuffix(body[:q+1], eventIDKey) && validID(body[q+1:]) {
			return r[q : len(body)+1]
		}
	}
	return Lookup(rec, "event.id")
}

// validID reports whether id is what Append writes as an event id: hex digits and '-'.
func validID(id []byte) bool {
	if len(id) == 0 {
		return false
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c == '-') {
			return false
		}
	}
	return true
}
