package elastic

import (
	"bytes"
	"encoding/json"
	"strings"
)

// This file is a small, allocation-free extractor of dotted fields from one JSON
// record: it walks the record's bytes, skipping the values it does not need, instead
// of unmarshaling the record.

// splitPath splits a dotted field path ("kubernetes.namespace").
func splitPath(p string) []string { return strings.Split(p, ".") }

// lookup returns the raw JSON value at path in the JSON object rec, or nil when it is
// missing (or rec is not a well-formed object up to it). At every level a member is
// matched either by the next path element (and descended into) or by the rest of the
// path as one dotted key ({"kubernetes.namespace": ...}).
func lookup(rec []byte, path []string) []byte {
	i := skipWS(rec, 0)
	if i >= len(rec) || rec[i] != '{' {
		return nil
	}
	i++
	for {
		i = skipWS(rec, i)
		if i >= len(rec) || rec[i] != '"' {
			return nil // '}' (not found) or malformed
		}
		e := skipString(rec, i)
		if e < 0 {
			return nil
		}
		key := rec[i+1 : e-1]
		i = skipWS(rec, e)
		if i >= len(rec) || rec[i] != ':' {
			return nil
		}
		i = skipWS(rec, i+1)
		ve := skipValue(rec, i)
		if ve < 0 {
			return nil
		}
		val := rec[i:ve]
		if string(key) == path[0] {
			if len(path) == 1 {
				return val
			}
			if r := lookup(val, path[1:]); r != nil {
				return r
			}
		} else if len(path) > 1 && dottedEqual(key, path) {
			return val
		}
		i = skipWS(rec, ve)
		if i >= len(rec) || rec[i] != ',' {
			return nil
		}
		i++
	}
}

// dottedEqual reports whether key is the elements of path joined with dots.
func dottedEqual(key []byte, path []string) bool {
	for i, p := range path {
		if i > 0 {
			if len(key) == 0 || key[0] != '.' {
				return false
			}
			key = key[1:]
		}
		if len(key) < len(p) || string(key[:len(p)]) != p {
			return false
		}
		key = key[len(p):]
	}
	return len(key) == 0
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index just after the string starting at b[i] ('"'), or -1.
func skipString(b []byte, i int) int {
	i++
	for {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return -1
		}
		j += i
		// The quote is escaped when an odd number of backslashes precede it.
		n := 0
		for k := j - 1; k >= i && b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return j + 1
		}
		i = j + 1
	}
}

// skipValue returns the index just after the JSON value starting at b[i], or -1.
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
	default:
		s := i
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				if i == s {
					return -1
				}
				return i
			}
			i++
		}
		if i == s {
			return -1
		}
		return i
	}
}

// stringValue returns the text of a raw JSON value: a string's contents (unescaped),
// a number's or boolean's literal; ok is false for null, objects, arrays and
// malformed values.
func stringValue(raw []byte) (s []byte, ok bool) {
	if len(raw) == 0 {
		return nil, false
	}
	switch raw[0] {
	case '"':
		inner := raw[1 : len(raw)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			return inner, true
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			return nil, false
		}
		return []byte(v), true
	case '{', '[', 'n':
		return nil, false
	}
	return raw, true
}
