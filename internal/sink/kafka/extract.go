package kafka

import (
	"strings"

	"github.com/logferry/logferry/internal/record"
)

// template is a compiled topic template: literal text and {field} references.
type template struct {
	parts []tpart
}

type tpart struct {
	lit   string
	field string // "" for a literal
}

func compileTemplate(s string, fields []string) template {
	var t template
	for _, f := range fields {
		i := strings.Index(s, "{"+f+"}")
		if i > 0 {
			t.parts = append(t.parts, tpart{lit: s[:i]})
		}
		t.parts = append(t.parts, tpart{field: f})
		s = s[i+len(f)+2:]
	}
	if s != "" {
		t.parts = append(t.parts, tpart{lit: s})
	}
	return t
}

// static reports whether the template has no field.
func (t template) static() bool {
	for _, p := range t.parts {
		if p.field != "" {
			return false
		}
	}
	return true
}

// render appends the topic of the record f reads to buf. It returns false when a
// field is missing or not a scalar, or the result is not a legal topic name.
// Characters a topic name cannot hold are replaced by '_'.
func (t template) render(buf []byte, f *record.Fields) ([]byte, bool) {
	for _, p := range t.parts {
		if p.field == "" {
			buf = append(buf, p.lit...)
			continue
		}
		v, ok := f.Scalar(p.field)
		if !ok || len(v) == 0 {
			return buf, false
		}
		for _, c := range v {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
				c = '_'
			}
			buf = append(buf, c)
		}
	}
	if len(buf) == 0 || len(buf) > 249 || string(buf) == "." || string(buf) == ".." {
		return buf, false
	}
	return buf, true
}
