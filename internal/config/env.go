package config

import (
	"fmt"
	"strings"
)

// expand replaces ${VAR} with the value of VAR, ${VAR:-default} with the
// value of VAR or, if VAR is unset or empty, with default taken literally, and
// $$ with $. Any other $ is kept as it is. The result is never expanded again,
// so a variable's value cannot inject references. A nil lookup means an empty
// environment.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '$')
		if i < 0 || i == len(s)-1 {
			b.WriteString(s)
			return b.String(), nil
		}
		b.WriteString(s[:i])
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			s = s[i+2:]
			continue
		case '{':
		default:
			b.WriteByte('$')
			s = s[i+1:]
			continue
		}
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", fmt.Errorf("unterminated %q", s[i:])
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validVarName(name) {
			return "", fmt.Errorf("invalid variable reference %q", "${"+ref+"}")
		}
		if hasDef && strings.Contains(def, "${") {
			return "", fmt.Errorf("nested ${...} in the default of %q is not supported", "${"+ref+"}")
		}
		var val string
		ok := false
		if lookup != nil {
			val, ok = lookup(name)
		}
		switch {
		case hasDef && val == "":
			val = def
		case !ok:
			return "", fmt.Errorf("environment variable %s is not set (write ${%s:-default} to give a default)", name, name)
		}
		b.WriteString(val)
	}
}

// validVarName reports whether name is a shell-style variable name.
func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		if c != '_' && !(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') && !(i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
