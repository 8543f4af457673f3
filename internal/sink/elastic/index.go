package elastic

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/record"
)

// indexTemplate renders an index (or data stream) name from a record:
// "logs-{kubernetes.namespace}-%Y.%m.%d".
type indexTemplate struct {
	segs    []segment
	hasDate bool
}

type segment struct {
	lit  string // literal text (kind 0)
	path string // record field (kind 'f')
	kind byte   // 0, 'f', or a date directive letter
}

// missingField replaces a field the record lacks (or whose value is null, an object
// or an array).
const missingField = "unknown"

// timestampField is where the record's time is taken from.
const timestampField = "@timestamp"

func parseIndexTemplate(t string) (*indexTemplate, error) {
	if t == "" {
		return nil, fmt.Errorf("empty index")
	}
	if msg := config.CheckIndexTemplate(t); msg != "" {
		return nil, fmt.Errorf("index %q: %s", t, msg)
	}
	it := &indexTemplate{}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			it.segs = append(it.segs, segment{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '{':
			j := strings.IndexByte(t[i:], '}')
			flush()
			it.segs = append(it.segs, segment{kind: 'f', path: t[i+1 : i+j]})
			i += j
		case '%':
			if t[i+1] == '%' {
				lit.WriteByte('%')
			} else {
				flush()
				it.segs = append(it.segs, segment{kind: t[i+1]})
				it.hasDate = true
			}
			i++
		default:
			lit.WriteByte(t[i])
		}
	}
	flush()
	return it, nil
}

// fieldValues appends to dst the values of it's field segments in the record f
// reads, in order (nil for a missing or empty field).
func (it *indexTemplate) fieldValues(dst [][]byte, f *record.Fields) [][]byte {
	for _, s := range it.segs {
		if s.kind == 'f' {
			v, ok := f.Scalar(s.path)
			if !ok || len(v) == 0 {
				v = nil
			}
			dst = append(dst, v)
		}
	}
	return dst
}

// render appends the index name of rec to dst, vals being its field values
// (fieldValues); now is used when the record has no parseable @timestamp.
func (it *indexTemplate) render(dst, rec []byte, vals [][]byte, now func() time.Time) []byte {
	var d dateParts
	if it.hasDate {
		d = recordDate(rec, now)
	}
	for _, s := range it.segs {
		switch s.kind {
		case 0:
			dst = append(dst, s.lit...)
		case 'f':
			v := vals[0]
			vals = vals[1:]
			if v == nil {
				dst = append(dst, missingField...)
			} else {
				dst = appendIndexText(dst, v)
			}
		case 'Y':
			dst = appendPadded(dst, d.year, 4)
		case 'm':
			dst = appendPadded(dst, d.month, 2)
		case 'd':
			dst = appendPadded(dst, d.day, 2)
		case 'H':
			dst = appendPadded(dst, d.hour, 2)
		case 'G', 'V':
			y, w := time.Date(d.year, time.Month(d.month), d.day, 0, 0, 0, 0, time.UTC).ISOWeek()
			if s.kind == 'G' {
				dst = appendPadded(dst, y, 4)
			} else {
				dst = appendPadded(dst, w, 2)
			}
		}
	}
	return dst
}

// appendIndexText appends a field value made safe for an index name: ASCII letters
// lowercased, and the characters Elasticsearch forbids (\ / * ? " < > | space , # :)
// and control characters replaced by '_'.
func appendIndexText(dst, v []byte) []byte {
	for _, c := range v {
		switch {
		case c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		case c < 0x20, c == '\\', c == '/', c == '*', c == '?', c == '"', c == '<', c == '>', c == '|', c == ' ', c == ',', c == '#', c == ':':
			c = '_'
		}
		dst = append(dst, c)
	}
	return dst
}

func appendPadded(dst []byte, v, width int) []byte {
	var buf [8]byte
	s := strconv.AppendInt(buf[:0], int64(v), 10)
	for n := len(s); n < width; n++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

type dateParts struct{ year, month, day, hour int }

// recordDate is the UTC date of the record's @timestamp, or of now() when it has none.
func recordDate(rec []byte, now func() time.Time) dateParts {
	ts, ok := record.Scalar(record.Lookup(rec, timestampField))
	if ok {
		if d, ok := fastUTCDate(ts); ok {
			return d
		}
		if t, err := time.Parse(time.RFC3339Nano, string(ts)); err == nil {
			return partsOf(t.UTC())
		}
	}
	return partsOf(now().UTC())
}

func partsOf(t time.Time) dateParts {
	return dateParts{t.Year(), int(t.Month()), t.Day(), t.Hour()}
}

// fastUTCDate reads "YYYY-MM-DDTHH:..." of a timestamp that ends in Z (already UTC)
// without time.Parse.
func fastUTCDate(ts []byte) (dateParts, bool) {
	if len(ts) < 20 || ts[len(ts)-1] != 'Z' || ts[4] != '-' || ts[7] != '-' || (ts[10] != 'T' && ts[10] != 't') || ts[13] != ':' {
		return dateParts{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(ts[0:4])
	m, ok2 := num(ts[5:7])
	d, ok3 := num(ts[8:10])
	h, ok4 := num(ts[11:13])
	if !ok1 || !ok2 || !ok3 || !ok4 || m < 1 || m > 12 || d < 1 || d > 31 || h > 23 {
		return dateParts{}, false
	}
	return dateParts{y, m, d, h}, true
}
