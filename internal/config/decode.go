package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/logferry/logferry/internal/suggest"
	"go.yaml.in/yaml/v3"
)

// Options control parsing. The zero value parses with the built-in sink
// types and an empty environment.
type Options struct {
	// SinkTypes are the accepted sink types; nil means DefaultSinkTypes().
	// The parsed Config keeps them for its Validate.
	SinkTypes map[string]bool
	// LookupEnv looks up environment variables, as os.LookupEnv does; nil
	// means none is set.
	LookupEnv func(string) (string, bool)
}

// Parse parses a configuration file's contents with the built-in sink types.
// source names the file in error messages; lookupEnv is os.LookupEnv in
// production. See Options.Parse.
func Parse(data []byte, source string, lookupEnv func(string) (string, bool)) (*Config, error) {
	return Options{LookupEnv: lookupEnv}.Parse(data, source)
}

// Load reads and parses the configuration file at path, with the built-in
// sink types and the process environment.
func Load(path string) (*Config, error) {
	return Options{LookupEnv: os.LookupEnv}.Load(path)
}

// Load reads and parses the configuration file at path; see Parse.
func (o Options) Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return o.Parse(data, path)
}

// Parse parses a configuration file's contents over the defaults and
// validates the result. An empty file gives the defaults (which have no
// sink, so it fails validation).
//
// Scalar values (not keys) are expanded: ${VAR} becomes the value of the
// environment variable VAR, which must be set; ${VAR:-default} becomes the
// value of VAR or, if it is unset or empty, default (taken literally); $$
// becomes $; any other $ stays as it is. Values of variables are never
// expanded again.
//
// On failure the Config is nil and the error is the errors.Join of one *Error
// per problem, each naming source, line and key path.
func (o Options) Parse(data []byte, source string) (*Config, error) {
	if source == "" {
		source = "config"
	}
	d := &decoder{source: source, lookupEnv: o.LookupEnv, lines: map[string]int{}, bad: map[string]bool{}}
	lookupEnv := o.LookupEnv
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	cfg := defaults(lookupEnv)
	if o.SinkTypes != nil {
		cfg.sinkTypes = maps.Clone(o.SinkTypes)
	}
	root, err := parseYAML(data)
	if err != nil {
		return nil, yamlError(source, err)
	}
	if root != nil {
		if r := resolve(root); r.Kind != yaml.MappingNode && !isNull(r) {
			return nil, &Error{Source: source, Line: root.Line, Msg: "the file must be a mapping of keys, got " + kindName(r)}
		}
		d.mapping(root, "", cfg.fields())
	}
	for _, e := range cfg.validate() {
		if d.reported(e.Key) {
			continue // the value was not decoded: its error says why
		}
		e.Source, e.Line = source, d.lineOf(e.Key)
		d.add(e)
	}
	if len(d.errs) > 0 {
		return nil, d.err()
	}
	return cfg, nil
}

// parseYAML parses the one YAML document in data and returns its root node,
// or nil for an empty document.
func parseYAML(data []byte) (root *yaml.Node, err error) {
	defer func() { // the YAML library must not take the agent down
		if r := recover(); r != nil {
			root, err = nil, fmt.Errorf("yaml: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err == io.EOF {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err != io.EOF {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("yaml: line %d: a second YAML document (---) is not supported", extra.Line)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError turns an error of the YAML library into an *Error.
func yamlError(source string, err error) error {
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	e := &Error{Source: source}
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		e.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
	}
	e.Msg = "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")
	return e
}

// Error is one configuration problem.
type Error struct {
	Source string // file name; "" when the value did not come from a file
	Line   int    // 1-based line in Source; 0 when unknown
	Key    string // key path, e.g. sinks[1].max_size; "" for syntax errors
	Msg    string // what is wrong
}

// Error formats the problem as "source:line: key: msg", leaving out the
// parts that are unknown.
func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// maxErrors bounds the problems reported for one file.
const maxErrors = 100

// decoder walks a YAML node tree into Go values, collecting errors.
type decoder struct {
	source    string
	lookupEnv func(string) (string, bool)
	errs      []*Error
	lines     map[string]int  // key path -> line of the key
	bad       map[string]bool // key paths with a decoding error
	aliasLine int             // line of the alias being decoded, or 0
}

// field is one key of a YAML mapping and how to decode its value.
type field struct {
	key    string
	decode decodeFunc
}

// decodeFunc decodes node n found at key path into its Go field.
type decodeFunc func(d *decoder, n *yaml.Node, path string)

func (d *decoder) add(e *Error) {
	if len(d.errs) < maxErrors {
		d.errs = append(d.errs, e)
	} else if len(d.errs) == maxErrors {
		d.errs = append(d.errs, &Error{Source: d.source, Msg: "too many errors"})
	}
}

// errorf reports a problem at line for key path.
func (d *decoder) errorf(line int, path, format string, args ...any) {
	d.bad[path] = true
	d.add(&Error{Source: d.source, Line: line, Key: path, Msg: fmt.Sprintf(format, args...)})
}

// err returns the collected errors sorted by line, those without a line last.
func (d *decoder) err() error {
	sort.SliceStable(d.errs, func(i, j int) bool {
		a, b := d.errs[i].Line, d.errs[j].Line
		return a != 0 && (b == 0 || a < b)
	})
	errs := make([]error, len(d.errs))
	for i, e := range d.errs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// lineOf returns the line of key path, or of its nearest ancestor present in
// the file, or 0.
func (d *decoder) lineOf(path string) int {
	for ; path != ""; path = parent(path) {
		if l, ok := d.lines[path]; ok {
			return l
		}
	}
	return 0
}

// reported reports whether decoding key path or one of its ancestors failed.
func (d *decoder) reported(path string) bool {
	for ; path != ""; path = parent(path) {
		if d.bad[path] {
			return true
		}
	}
	return false
}

// parent returns the key path of the mapping or list holding path:
// "sinks[0]" for "sinks[0].name", "sinks" for "sinks[0]", "" for "sinks".
func parent(path string) string {
	return path[:max(strings.LastIndexByte(path, '.'), strings.LastIndexByte(path, '['), 0)]
}

// follow resolves aliases in n, returning the node, the line to report for
// it, and a function to call when done with it. Inside an alias every line
// reported is that of the outermost alias, where the value is used.
func (d *decoder) follow(n *yaml.Node) (r *yaml.Node, line int, leave func()) {
	line = d.line(n)
	if n.Kind != yaml.AliasNode {
		return n, line, func() {}
	}
	outer := d.aliasLine
	d.aliasLine = line
	return resolve(n), line, func() { d.aliasLine = outer }
}

// line returns the line to report for n.
func (d *decoder) line(n *yaml.Node) int {
	if d.aliasLine != 0 {
		return d.aliasLine
	}
	return n.Line
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// kindName describes what a node is, for "want X, got Y" messages.
func kindName(n *yaml.Node) string {
	switch {
	case n.Kind == yaml.MappingNode:
		return "a mapping"
	case n.Kind == yaml.SequenceNode:
		return "a list"
	case isNull(n):
		return "null"
	case n.Kind == yaml.ScalarNode:
		if len(n.Value) > 40 {
			return strconv.Quote(n.Value[:40] + "...")
		}
		return strconv.Quote(n.Value)
	}
	return "an unresolved alias"
}

// keyPath appends key to the path of its parent mapping, quoting keys that
// are not plain words.
func keyPath(parent, key string) string {
	if !plainKey.MatchString(key) {
		key = strconv.Quote(key)
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

var plainKey = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// mapping decodes a mapping node with the given fields. Null keeps the
// defaults.
func (d *decoder) mapping(n *yaml.Node, path string, fields []field) {
	n, at, leave := d.follow(n)
	defer leave()
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(at, path, "want a mapping, got %s", kindName(n))
		return
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if len(d.errs) > maxErrors {
			return
		}
		k, v, line := resolve(n.Content[i]), n.Content[i+1], d.line(n.Content[i])
		if k.Kind != yaml.ScalarNode {
			d.errorf(line, path, "a key must be a string, got %s", kindName(k))
			continue
		}
		kp := keyPath(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			d.errorf(line, kp, "duplicate key (first at line %d)", first)
			continue
		}
		seen[k.Value] = line
		if k.ShortTag() == "!!merge" {
			d.errorf(line, kp, "merge keys (<<) are not supported")
			continue
		}
		f := findField(fields, k.Value)
		if f == nil {
			d.errorf(line, kp, "unknown key %s", suggestKey(k.Value, fields))
			continue
		}
		d.lines[kp] = line
		f.decode(d, v, kp)
	}
}

func findField(fields []field, key string) *field {
	for i := range fields {
		if fields[i].key == key {
			return &fields[i]
		}
	}
	return nil
}

// suggestKey returns "(did you mean X?)" for the known key closest to key by
// edit distance when it is close, or else the list of known keys.
func suggestKey(key string, fields []field) string {
	best, bestDist := "", len(key)/3+2
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = f.key
		if dist := suggest.Distance(strings.ToLower(key), f.key); dist < bestDist {
			best, bestDist = f.key, dist
		}
	}
	if best != "" {
		return "(did you mean " + best + "?)"
	}
	sort.Strings(names)
	return "(known keys: " + strings.Join(names, ", ") + ")"
}

// scalar returns the expanded text of a scalar node. It returns false for
// null (keep the default) and, after reporting it, for a node of another kind
// (want describes the expected value) or a failed expansion.
func (d *decoder) scalar(n *yaml.Node, path, want string) (string, bool) {
	n, at, leave := d.follow(n)
	defer leave()
	if isNull(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(at, path, "want %s, got %s", want, kindName(n))
		return "", false
	}
	v, err := expand(n.Value, d.lookupEnv)
	if err != nil {
		d.errorf(at, path, "%v", err)
		return "", false
	}
	return v, true
}

// object decodes a mapping with fields.
func object(fields []field) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) { d.mapping(n, path, fields) }
}

// str decodes a string; any scalar is taken as its text.
func str(p *string) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		if v, ok := d.scalar(n, path, "a string"); ok {
			*p = v
		}
	}
}

// integer decodes a decimal integer.
func integer(p *int) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		if v, ok := d.scalar(n, path, "an integer"); ok {
			i, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				d.errorf(d.line(n), path, "want an integer, got %q", v)
				return
			}
			*p = i
		}
	}
}

// boolean decodes true or false (any case).
func boolean(p **bool) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		if v, ok := d.scalar(n, path, "true or false"); ok {
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "true":
				t := true
				*p = &t
			case "false":
				f := false
				*p = &f
			default:
				d.errorf(d.line(n), path, "want true or false, got %q", v)
			}
		}
	}
}

// duration decodes a Go duration such as 250ms or 1m30s.
func duration(p *time.Duration) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		if v, ok := d.scalar(n, path, "a duration"); ok {
			t, err := time.ParseDuration(strings.TrimSpace(v))
			if err != nil {
				d.errorf(d.line(n), path, "invalid duration %q (want e.g. 250ms, 10s, 1m)", v)
				return
			}
			*p = t
		}
	}
}

// size decodes a Size.
func size(p *Size) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		if v, ok := d.scalar(n, path, "a size"); ok {
			s, err := ParseSize(v)
			if err != nil {
				d.errorf(d.line(n), path, "invalid size %q (want e.g. 64MiB)", v)
				return
			}
			*p = s
		}
	}
}

// list calls item for each element of a list node, with the element's key
// path. Null is an empty list.
func (d *decoder) list(n *yaml.Node, path string, item func(n *yaml.Node, path string)) {
	n, at, leave := d.follow(n)
	defer leave()
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(at, path, "want a list, got %s", kindName(n))
		return
	}
	for i, e := range n.Content {
		if len(d.errs) > maxErrors {
			return
		}
		ip := path + "[" + strconv.Itoa(i) + "]"
		d.lines[ip] = d.line(e)
		item(e, ip)
	}
}

// strList decodes a list of strings.
func strList(p *[]string) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		var out []string
		d.list(n, path, func(n *yaml.Node, path string) {
			v := "" // a bad item stays in place so that later indexes are right
			if isNull(resolve(n)) {
				d.errorf(d.line(n), path, "want a string, got null")
			} else {
				v, _ = d.scalar(n, path, "a string")
			}
			out = append(out, v)
		})
		*p = out
	}
}

// sinkList decodes the list of sinks, each over the sink defaults.
func sinkList(p *[]Sink) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		var out []Sink
		d.list(n, path, func(n *yaml.Node, path string) {
			s := defaultSink()
			s.Line = d.line(n)
			d.mapping(n, path, s.fields())
			finishSink(&s)
			out = append(out, s)
		})
		*p = out
	}
}

// podRuleList decodes pod_rules.
func podRuleList(p *[]PodRule) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		var out []PodRule
		d.list(n, path, func(n *yaml.Node, path string) {
			r := PodRule{Line: d.line(n)}
			d.mapping(n, path, r.fields())
			out = append(out, r)
		})
		*p = out
	}
}

// stringMap decodes a mapping of free-form keys to string values.
func stringMap(p *map[string]string) decodeFunc {
	return func(d *decoder, n *yaml.Node, path string) {
		n, _, leave := d.follow(n)
		defer leave()
		if isNull(n) {
			return
		}
		if n.Kind != yaml.MappingNode {
			d.errorf(d.line(n), path, "want a mapping of keys to values")
			return
		}
		m := map[string]string{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := path + "." + k.Value
			if val, ok := d.scalar(v, key, "a string"); ok {
				m[k.Value] = val
			}
		}
		*p = m
	}
}
