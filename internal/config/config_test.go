package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testEnv is the environment every test parse sees.
var testEnv = map[string]string{
	"NODE_NAME": "n1",
	"HOME_DIR":  "/home/x",
	"EMPTY":     "",
	"INJECT":    "${HOME_DIR}$$",
	"W":         "7",
}

func lookupTestEnv(k string) (string, bool) {
	v, ok := testEnv[k]
	return v, ok
}

// okSink makes a file valid when appended at its end.
const okSink = "sinks:\n  - name: out\n    type: stdout\n"

// parseCase is one file and the exact error Parse must return for it, as
// source "t.yaml"; "" means it must parse.
type parseCase struct {
	name string
	in   string
	want string
}

var validationCases = []parseCase{
	{"node_name empty", `node_name: ""` + "\n" + okSink,
		"t.yaml:1: node_name: must not be empty (the default is $NODE_NAME, else the hostname)"},
	{"data_dir empty", "data_dir: ''\n" + okSink, "t.yaml:1: data_dir: must not be empty"},
	{"no source", "sources:\n  pods_dir: ''\n" + okSink,
		"t.yaml:1: sources: no source enabled: set pods_dir or docker_dir"},
	{"docker only", "sources:\n  pods_dir: ''\n  docker_dir: /d\n" + okSink, ""},
	{"rescan_interval", "sources:\n  rescan_interval: 50ms\n" + okSink,
		"t.yaml:2: sources.rescan_interval: must be at least 100ms, got 50ms"},
	{"rescan_interval min", "sources:\n  rescan_interval: 100ms\n" + okSink, ""},
	{"poll_interval", "sources:\n  poll_interval: 5ms\n" + okSink,
		"t.yaml:2: sources.poll_interval: must be at least 10ms, got 5ms"},
	{"poll_interval min", "sources:\n  poll_interval: 10ms\n" + okSink, ""},
	{"read_from", "sources:\n  read_from: start\n" + okSink,
		`t.yaml:2: sources.read_from: want one of beginning, end; got "start"`},
	{"read_from end", "sources:\n  read_from: end\n" + okSink, ""},
	{"max_line_bytes low", "sources:\n  max_line_bytes: 512\n" + okSink,
		"t.yaml:2: sources.max_line_bytes: must be between 1KiB and 64MiB, got 512"},
	{"max_line_bytes high", "sources:\n  max_line_bytes: 65MiB\npipeline:\n  max_buffer_bytes: 1GiB\n  memory_limit: 0\n" + okSink,
		"t.yaml:2: sources.max_line_bytes: must be between 1KiB and 64MiB, got 65MiB"},
	{"max_line_bytes bounds", "sources:\n  max_line_bytes: 64MiB\n  max_merged_bytes: 1KiB\npipeline:\n  max_buffer_bytes: 64MiB\n  memory_limit: 128MiB\n" + okSink, ""},
	{"memory_limit below buffer", "pipeline:\n  memory_limit: 2MiB\n" + okSink,
		"t.yaml:2: pipeline.memory_limit: must be 0 or at least pipeline.max_buffer_bytes (8MiB), got 2MiB"},
	{"max_merged_bytes", "sources:\n  max_merged_bytes: 100\n" + okSink,
		"t.yaml:2: sources.max_merged_bytes: must be between 1KiB and 64MiB, got 100"},
	{"partial_flush_timeout", "sources:\n  partial_flush_timeout: 0s\n" + okSink,
		"t.yaml:2: sources.partial_flush_timeout: must be more than 0, got 0s"},
	{"deleted_budget zero", "sources:\n  deleted_budget: 0\n" + okSink, ""},
	{"exclude bad pattern", "sources:\n  exclude:\n    - '*.log'\n    - '[a'\n" + okSink,
		`t.yaml:4: sources.exclude[1]: invalid glob pattern "[a": syntax error in pattern`},
	{"exclude empty pattern", "sources:\n  exclude: ['']\n" + okSink,
		"t.yaml:2: sources.exclude[0]: empty pattern"},
	{"max_buffer_bytes", "pipeline:\n  max_buffer_bytes: 512KiB\n" + okSink,
		"t.yaml:2: pipeline.max_buffer_bytes: must be at least 1MiB, got 512KiB"},
	{"max_buffer_bytes below line", "sources:\n  max_merged_bytes: 4MiB\npipeline:\n  max_buffer_bytes: 2MiB\n" + okSink,
		"t.yaml:4: pipeline.max_buffer_bytes: must be at least sources.max_line_bytes and sources.max_merged_bytes (4MiB), got 2MiB"},
	{"read_quantum low", "pipeline:\n  read_quantum: 1KiB\n" + okSink,
		"t.yaml:2: pipeline.read_quantum: must be between 4KiB and 16MiB, got 1KiB"},
	{"read_quantum high", "pipeline:\n  read_quantum: 32MiB\n" + okSink,
		"t.yaml:2: pipeline.read_quantum: must be between 4KiB and 16MiB, got 32MiB"},
	{"parse_key a record field", "processors:\n  parse_key: kubernetes\n" + okSink,
		`t.yaml:2: processors.parse_key: "kubernetes" is a field of the record itself (@timestamp, message, stream, log, docker, kubernetes, container, logferry, event): choose another name`},
	{"workers negative", "pipeline:\n  workers: -1\n" + okSink,
		"t.yaml:2: pipeline.workers: must be between 0 and 256, got -1"},
	{"workers high", "pipeline:\n  workers: 257\n" + okSink,
		"t.yaml:2: pipeline.workers: must be between 0 and 256, got 257"},
	{"workers max", "pipeline:\n  workers: 256\n" + okSink, ""},
	{"checkpoint.interval", "checkpoint:\n  interval: 1ms\n" + okSink,
		"t.yaml:2: checkpoint.interval: must be at least 10ms, got 1ms"},
	{"no sinks", "sinks: []\n", "t.yaml:1: sinks: at least one sink is required"},
	{"empty file", "", "t.yaml: sinks: at least one sink is required"},
	{"comments only", "# nothing\n", "t.yaml: sinks: at least one sink is required"},
	{"sink name missing", "sinks:\n  - type: stdout\n", "t.yaml:2: sinks[0].name: required"},
	{"sink name bad", "sinks:\n  - name: Out\n    type: stdout\n",
		`t.yaml:2: sinks[0].name: invalid sink name "Out" (use lowercase letters, digits, _ and -)`},
	{"sink name duplicate", okSink + "  - name: x\n    type: discard\n  - name: out\n    type: discard\n",
		`t.yaml:6: sinks[2].name: duplicate sink name "out" (also sinks[0])`},
	{"sink type missing", "sinks:\n  - name: a\n", "t.yaml:2: sinks[0].type: required (one of: discard, elasticsearch, file, kafka, loki, stdout)"},
	{"sink type unknown", "sinks:\n  - name: a\n    type: kafak\n",
		`t.yaml:3: sinks[0].type: unknown sink type "kafak" (one of: discard, elasticsearch, file, kafka, loki, stdout)`},
	{"file sink path", "sinks:\n  - name: a\n    type: file\n", "t.yaml:2: sinks[0].path: required for sink type file"},
	{"file sink", "sinks:\n  - name: a\n    type: file\n    path: /x\n    max_size: 0\n    fsync: false\n", ""},
	{"max_files", okSink + "    max_files: 0\n", "t.yaml:4: sinks[0].max_files: must be at least 1, got 0"},
	{"batch.max_bytes", okSink + "    batch:\n      max_bytes: 0\n", "t.yaml:5: sinks[0].batch.max_bytes: must be at least 1, got 0"},
	{"batch.max_wait", okSink + "    batch:\n      max_wait: 0s\n", "t.yaml:5: sinks[0].batch.max_wait: must be more than 0, got 0s"},
	{"retry.probe_interval", okSink + "    retry:\n      probe_interval: -1s\n", "t.yaml:5: sinks[0].retry.probe_interval: must be at least 0s, got -1s"},
	{"shutdown.deadline", "shutdown:\n  deadline: 0s\n" + okSink, "t.yaml:2: shutdown.deadline: must be more than 0, got 0s"},
	{"log.level", "log:\n  level: verbose\n" + okSink, `t.yaml:2: log.level: want one of debug, info, warn, error; got "verbose"`},
	{"log.format", "log:\n  format: xml\n" + okSink, `t.yaml:2: log.format: want one of json, text; got "xml"`},
	{"every error, in line order", "sinks:\n  - name: A\n    type: kafak\n    max_size: 10XB\npipeline:\n  workers: many\nlog:\n  level: loud\n",
		"t.yaml:2: sinks[0].name: invalid sink name \"A\" (use lowercase letters, digits, _ and -)\n" +
			"t.yaml:3: sinks[0].type: unknown sink type \"kafak\" (one of: discard, elasticsearch, file, kafka, loki, stdout)\n" +
			"t.yaml:4: sinks[0].max_size: invalid size \"10XB\" (want e.g. 64MiB)\n" +
			"t.yaml:6: pipeline.workers: want an integer, got \"many\"\n" +
			"t.yaml:8: log.level: want one of debug, info, warn, error; got \"loud\""},
	{"nulls keep defaults", "sources:\npipeline: ~\nlog:\n  level:\n" + okSink, ""},
}

var unknownKeyCases = []parseCase{
	{"top", "sink: x\n" + okSink, "t.yaml:1: sink: unknown key (did you mean sinks?)"},
	{"top unrelated", "colour: red\n" + okSink,
		"t.yaml:1: colour: unknown key (known keys: checkpoint, data_dir, http, kubernetes, log, node_name, pipeline, pod_rules, processors, shutdown, sinks, sources)"},
	{"sources", "sources:\n  pod_dir: /x\n" + okSink, "t.yaml:2: sources.pod_dir: unknown key (did you mean pods_dir?)"},
	{"camel case", "sources:\n  podsDir: /x\n" + okSink, "t.yaml:2: sources.podsDir: unknown key (did you mean pods_dir?)"},
	{"pipeline", "pipeline:\n  worker: 2\n" + okSink, "t.yaml:2: pipeline.worker: unknown key (did you mean workers?)"},
	{"checkpoint", "checkpoint:\n  intervl: 2s\n" + okSink, "t.yaml:2: checkpoint.intervl: unknown key (did you mean interval?)"},
	{"sink", okSink + "    nmae: x\n", "t.yaml:4: sinks[0].nmae: unknown key (did you mean name?)"},
	{"batch", okSink + "    batch:\n      maxbytes: 1\n", "t.yaml:5: sinks[0].batch.maxbytes: unknown key (did you mean max_bytes?)"},
	{"shutdown", "shutdown:\n  timeout: 1s\n" + okSink, "t.yaml:2: shutdown.timeout: unknown key (known keys: deadline)"},
	{"log", "log:\n  lvl: info\n" + okSink, "t.yaml:2: log.lvl: unknown key (did you mean level?)"},
	{"odd key quoted", "\"a.b\": 1\n" + okSink,
		`t.yaml:1: "a.b": unknown key (known keys: checkpoint, data_dir, http, kubernetes, log, node_name, pipeline, pod_rules, processors, shutdown, sinks, sources)`},
	{"merge key", "sinks:\n  - <<: {name: a}\n    type: stdout\n",
		"t.yaml:2: sinks[0].\"<<\": merge keys (<<) are not supported\nt.yaml:2: sinks[0].name: required"},
}

var wrongTypeCases = []parseCase{
	{"mapping wants list", "sources: [a]\n" + okSink, "t.yaml:1: sources: want a mapping, got a list"},
	{"mapping wants scalar", "sources: 5\n" + okSink, `t.yaml:1: sources: want a mapping, got "5"`},
	{"list wants mapping", "sinks: {name: a}\n", "t.yaml:1: sinks: want a list, got a mapping"},
	{"sink wants mapping", "sinks: [a]\n", `t.yaml:1: sinks[0]: want a mapping, got "a"`},
	{"integer", "pipeline:\n  workers: many\n" + okSink, `t.yaml:2: pipeline.workers: want an integer, got "many"`},
	{"integer fraction", "pipeline:\n  workers: 1.5\n" + okSink, `t.yaml:2: pipeline.workers: want an integer, got "1.5"`},
	{"integer list", "pipeline:\n  workers: [1]\n" + okSink, "t.yaml:2: pipeline.workers: want an integer, got a list"},
	{"duration", "sources:\n  rescan_interval: 10\n" + okSink,
		`t.yaml:2: sources.rescan_interval: invalid duration "10" (want e.g. 250ms, 10s, 1m)`},
	{"size", okSink + "    max_size: 10XB\n", `t.yaml:4: sinks[0].max_size: invalid size "10XB" (want e.g. 64MiB)`},
	{"size mapping", okSink + "    max_size: {a: 1}\n", "t.yaml:4: sinks[0].max_size: want a size, got a mapping"},
	{"bool", okSink + "    fsync: maybe\n", `t.yaml:4: sinks[0].fsync: want true or false, got "maybe"`},
	{"string mapping", "node_name: {a: 1}\n" + okSink, "t.yaml:1: node_name: want a string, got a mapping"},
	{"string list", "exclude_me: 1\nsources:\n  exclude: '*.gz'\n" + okSink,
		"t.yaml:1: exclude_me: unknown key (known keys: checkpoint, data_dir, http, kubernetes, log, node_name, pipeline, pod_rules, processors, shutdown, sinks, sources)\n" +
			`t.yaml:3: sources.exclude: want a list, got "*.gz"`},
	{"string list item", "sources:\n  exclude:\n    - [a]\n    - ~\n    - '[x'\n" + okSink,
		"t.yaml:3: sources.exclude[0]: want a string, got a list\n" +
			"t.yaml:4: sources.exclude[1]: want a string, got null\n" +
			`t.yaml:5: sources.exclude[2]: invalid glob pattern "[x": syntax error in pattern`},
	{"top list", "- a\n", "t.yaml:1: the file must be a mapping of keys, got a list"},
	{"top scalar", "hello\n", `t.yaml:1: the file must be a mapping of keys, got "hello"`},
	{"key not a string", "? [a]\n: 1\n" + okSink, "t.yaml:1: a key must be a string, got a list"},
	{"bad yaml", "sources: [\n", "t.yaml:1: invalid YAML: did not find expected node content"},
	{"two documents", okSink + "---\nlog: {}\n", "t.yaml:4: invalid YAML: a second YAML document (---) is not supported"},
	{"aliases", "sinks:\n  - &s {name: a, type: stdout}\n  - *s\n", `t.yaml:3: sinks[1].name: duplicate sink name "a" (also sinks[0])`},
	{"alias errors at the use", "x: &b {max_bytes: 1, max_wait: soon}\n" + okSink + "    batch: *b\n",
		"t.yaml:1: x: unknown key (known keys: checkpoint, data_dir, http, kubernetes, log, node_name, pipeline, pod_rules, processors, shutdown, sinks, sources)\n" +
			`t.yaml:5: sinks[0].batch.max_wait: invalid duration "soon" (want e.g. 250ms, 10s, 1m)`},
	{"aliased scalar", "d: &d 1s\ncheckpoint:\n  interval: *d\n" + okSink,
		"t.yaml:1: d: unknown key (known keys: checkpoint, data_dir, http, kubernetes, log, node_name, pipeline, pod_rules, processors, shutdown, sinks, sources)"},
}

var duplicateCases = []parseCase{
	{"top", "log: {}\nlog: {}\n" + okSink, "t.yaml:2: log: duplicate key (first at line 1)"},
	{"nested", "sources:\n  pods_dir: /a\n  pods_dir: /b\n" + okSink, "t.yaml:3: sources.pods_dir: duplicate key (first at line 2)"},
	{"in sink", okSink + "    type: file\n", "t.yaml:4: sinks[0].type: duplicate key (first at line 3)"},
	{"sinks", okSink + okSink, "t.yaml:4: sinks: duplicate key (first at line 1)"},
}

var envCases = []parseCase{
	{"set", "data_dir: ${HOME_DIR}/data\n" + okSink, ""},
	{"unset", "data_dir: ${NOPE}/data\n" + okSink,
		"t.yaml:1: data_dir: environment variable NOPE is not set (write ${NOPE:-default} to give a default)"},
	{"unset in sink", okSink + "    path: ${NOPE}\n",
		"t.yaml:4: sinks[0].path: environment variable NOPE is not set (write ${NOPE:-default} to give a default)"},
	{"bad reference", "data_dir: ${1X}\n" + okSink, `t.yaml:1: data_dir: invalid variable reference "${1X}"`},
	{"unterminated", "data_dir: a${HOME\n" + okSink, `t.yaml:1: data_dir: unterminated "${HOME"`},
	{"nested default", "data_dir: ${NOPE:-${HOME_DIR}}\n" + okSink,
		`t.yaml:1: data_dir: nested ${...} in the default of "${NOPE:-${HOME_DIR}" is not supported`},
	{"integer", "pipeline:\n  workers: ${W}\n" + okSink, ""},
	{"not in keys", "${HOME_DIR}: 1\n" + okSink,
		`t.yaml:1: "${HOME_DIR}": unknown key (known keys: checkpoint, data_dir, http, kubernetes, log, node_name, pipeline, pod_rules, processors, shutdown, sinks, sources)`},
}

func allParseCases() [][]parseCase {
	return [][]parseCase{validationCases, unknownKeyCases, wrongTypeCases, duplicateCases, envCases}
}

func TestParseErrors(t *testing.T) {
	for _, table := range allParseCases() {
		for _, tc := range table {
			t.Run(tc.name, func(t *testing.T) {
				cfg, err := Parse([]byte(tc.in), "t.yaml", lookupTestEnv)
				got := ""
				if err != nil {
					got = err.Error()
				}
				if got != tc.want {
					t.Fatalf("input:\n%s\ngot error:\n%s\nwant:\n%s", tc.in, got, tc.want)
				}
				if (cfg == nil) != (err != nil) {
					t.Fatalf("cfg %v with err %v", cfg, err)
				}
				if err != nil {
					var e *Error
					if !errors.As(err, &e) || e.Source != "t.yaml" {
						t.Fatalf("error is not an *Error from t.yaml: %#v", err)
					}
				}
			})
		}
	}
}

func TestEnvValues(t *testing.T) {
	for _, tc := range []struct{ value, want string }{
		{"${HOME_DIR}", "/home/x"},
		{"${HOME_DIR}/a/${HOME_DIR}", "/home/x/a//home/x"},
		{"${NOPE:-/default}", "/default"},
		{"${HOME_DIR:-/default}", "/home/x"},
		{"${EMPTY:-/default}", "/default"},
		{"x${EMPTY}y", "xy"},
		{"${NOPE:-}x", "x"},
		{"a$$b", "a$b"},
		{"$${HOME_DIR}", "${HOME_DIR}"},
		{"$$$$", "$$"},
		{"${INJECT}", "${HOME_DIR}$$"}, // values are not expanded again
		{"${NOPE:-$$x}", "$$x"},        // nor are defaults
		{"^/a$", "^/a$"},
		{"$HOME_DIR", "$HOME_DIR"},
		{"a$", "a$"},
		{"'${HOME_DIR}'", "/home/x"}, // quoted scalars are expanded too
	} {
		in := "data_dir: " + tc.value + "\n" + okSink
		cfg, err := Parse([]byte(in), "t.yaml", lookupTestEnv)
		if err != nil {
			t.Errorf("%s: %v", tc.value, err)
			continue
		}
		if cfg.DataDir != tc.want {
			t.Errorf("%s: got %q, want %q", tc.value, cfg.DataDir, tc.want)
		}
	}
}

func TestEnvNilLookup(t *testing.T) {
	_, err := Parse([]byte("data_dir: ${HOME_DIR}\n"+okSink), "t.yaml", nil)
	if err == nil || !strings.Contains(err.Error(), "HOME_DIR is not set") {
		t.Fatalf("got %v", err)
	}
}

func mustParse(t *testing.T, in string) *Config {
	t.Helper()
	cfg, err := Parse([]byte(in), "t.yaml", lookupTestEnv)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestDefaults(t *testing.T) {
	cfg := mustParse(t, okSink+"  - name: f\n    type: file\n    path: /f\n")
	stdout, file := cfg.Sinks[0], cfg.Sinks[1]
	for _, tc := range []struct {
		key       string
		got, want any
	}{
		{"node_name", cfg.NodeName, "n1"},
		{"data_dir", cfg.DataDir, "/var/lib/logferry"},
		{"sources.pods_dir", cfg.Sources.PodsDir, "/var/log/pods"},
		{"sources.docker_dir", cfg.Sources.DockerDir, ""},
		{"sources.rescan_interval", cfg.Sources.RescanInterval, 10 * time.Second},
		{"sources.poll_interval", cfg.Sources.PollInterval, 250 * time.Millisecond},
		{"sources.read_from", cfg.Sources.ReadFrom, "beginning"},
		{"sources.max_line_bytes", cfg.Sources.MaxLineBytes, MiB},
		{"sources.max_merged_bytes", cfg.Sources.MaxMergedBytes, MiB},
		{"sources.partial_flush_timeout", cfg.Sources.PartialFlushTimeout, 5 * time.Second},
		{"sources.deleted_budget", cfg.Sources.DeletedBudget, GiB},
		{"sources.exclude", cfg.Sources.Exclude, []string(nil)},
		{"pipeline.max_buffer_bytes", cfg.Pipeline.MaxBufferBytes, 8 * MiB},
		{"pipeline.read_quantum", cfg.Pipeline.ReadQuantum, 256 * KiB},
		{"pipeline.workers", cfg.Pipeline.Workers, 0},
		{"pipeline.memory_limit", cfg.Pipeline.MemoryLimit, 40 * MiB},
		{"checkpoint.interval", cfg.Checkpoint.Interval, time.Second},
		{"sinks[0].path", stdout.Path, ""},
		{"sinks[0].max_size", stdout.MaxSize, 100 * MiB},
		{"sinks[0].max_files", stdout.MaxFiles, 5},
		{"sinks[0].fsync", stdout.Fsync, (*bool)(nil)},
		{"sinks[0].batch.max_bytes", stdout.Batch.MaxBytes, 4 * MiB},
		{"sinks[0].batch.max_wait", stdout.Batch.MaxWait, 200 * time.Millisecond},
		{"sinks[0].retry.probe_interval", stdout.Retry.ProbeInterval, time.Second},
		{"sinks[0] line", stdout.Line, 2},
		{"sinks[1].fsync", *file.Fsync, true},
		{"sinks[1].max_size", file.MaxSize, 100 * MiB},
		{"sinks[1].max_files", file.MaxFiles, 5},
		{"sinks[1] line", file.Line, 4},
		{"shutdown.deadline", cfg.Shutdown.Deadline, 25 * time.Second},
		{"log.level", cfg.Log.Level, "info"},
		{"log.format", cfg.Log.Format, "json"},
	} {
		if !reflect.DeepEqual(tc.got, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.key, tc.got, tc.want)
		}
	}

	// Parse over nothing but sinks gives exactly Default.
	cfg.Sinks = nil
	if def := defaults(lookupTestEnv); !reflect.DeepEqual(cfg, def) {
		t.Errorf("parsed defaults differ from defaults():\n%+v\n%+v", cfg, def)
	}
}

func TestDefaultNodeName(t *testing.T) {
	t.Setenv("NODE_NAME", "from-env")
	if got := Default().NodeName; got != "from-env" {
		t.Errorf("Default().NodeName = %q", got)
	}
	host, _ := os.Hostname()
	if got := defaults(func(string) (string, bool) { return "", false }).NodeName; got != host {
		t.Errorf("without NODE_NAME: %q, want hostname %q", got, host)
	}
	if err := Default().Validate(); err == nil || err.Error() != "sinks: at least one sink is required" {
		t.Errorf("Default().Validate() = %v", err)
	}
}

func TestValidateAfterOverrides(t *testing.T) {
	cfg := mustParse(t, "log:\n  level: debug\n"+okSink)
	cfg.Log.Level = "loud" // as a flag would
	cfg.Sources.DeletedBudget = -1
	cfg.Sinks[0].Type = "splunk"
	want := `sources.deleted_budget: must be at least 0, got -1` + "\n" +
		`sinks[0].type: unknown sink type "splunk" (one of: discard, elasticsearch, file, kafka, loki, stdout)` + "\n" +
		`log.level: want one of debug, info, warn, error; got "loud"`
	if err := cfg.Validate(); err == nil || err.Error() != want {
		t.Fatalf("got:\n%v\nwant:\n%s", err, want)
	}
	var e *Error
	if err := cfg.Validate(); !errors.As(err, &e) || e.Line != 0 || e.Source != "" {
		t.Fatalf("Validate error has a position: %#v", e)
	}
}

func TestSinkTypesOption(t *testing.T) {
	in := []byte("sinks:\n  - name: k\n    type: splunk\n")
	if _, err := Parse(in, "t.yaml", nil); err == nil {
		t.Fatal("splunk accepted by default")
	}
	types := DefaultSinkTypes()
	types["splunk"] = true
	opts := Options{SinkTypes: types, LookupEnv: lookupTestEnv}
	cfg, err := opts.Parse(in, "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate forgot the parse's sink types: %v", err)
	}
	if DefaultSinkTypes()["splunk"] {
		t.Fatal("DefaultSinkTypes shares its map")
	}
	_, err = opts.Parse([]byte("sinks:\n  - name: k\n    type: kafak\n"), "t.yaml")
	want := `t.yaml:3: sinks[0].type: unknown sink type "kafak" (one of: discard, elasticsearch, file, kafka, loki, splunk, stdout)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestEmptySource(t *testing.T) {
	_, err := Parse([]byte("x: 1\n"+okSink), "", nil)
	if err == nil || !strings.HasPrefix(err.Error(), "config:1: x: unknown key") {
		t.Fatalf("got %v", err)
	}
}

func TestLoadFull(t *testing.T) {
	t.Setenv("NODE_NAME", "worker-7")
	cfg, err := Load(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NodeName != "worker-7" || len(cfg.Sinks) < 2 || cfg.Sinks[0].Path != "/var/log/logferry/archive.log" ||
		cfg.Sources.DockerDir != "/var/lib/docker/containers" || len(cfg.Sources.Exclude) != 2 ||
		cfg.Sinks[1].Batch.MaxBytes != 64*KiB {
		t.Fatalf("unexpected config: %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestFullCoversEveryKey keeps testdata/full.yaml, the documented example,
// complete: every known key must appear in it.
func TestFullCoversEveryKey(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	root, err := parseYAML(data)
	if err != nil {
		t.Fatal(err)
	}
	d := &decoder{source: "full.yaml", lookupEnv: lookupTestEnv, lines: map[string]int{}, bad: map[string]bool{}}
	c := defaults(lookupTestEnv)
	d.mapping(root, "", c.fields())
	if len(d.errs) > 0 {
		t.Fatal(d.err())
	}
	var s Sink
	for prefix, fields := range map[string][]field{
		"":               c.fields(),
		"sources":        c.Sources.fields(),
		"pipeline":       c.Pipeline.fields(),
		"checkpoint":     c.Checkpoint.fields(),
		"sinks[0]":       s.fields(),
		"sinks[0].batch": s.Batch.fields(),
		"shutdown":       c.Shutdown.fields(),
		"log":            c.Log.fields(),
	} {
		for _, f := range fields {
			// a sink key may appear in any of the example sinks
			found := false
			for i := 0; i < 10 && !found; i++ {
				_, found = d.lines[keyPath(strings.Replace(prefix, "sinks[0]", "sinks["+strconv.Itoa(i)+"]", 1), f.key)]
			}
			if !found {
				t.Errorf("testdata/full.yaml lacks %s", keyPath(prefix, f.key))
			}
		}
	}
}

func TestLoadMissing(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
}

func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	for i := range 300 {
		b.WriteString("k" + strings.Repeat("x", i) + ": 1\n")
	}
	_, err := Parse([]byte(b.String()), "t.yaml", nil)
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != maxErrors+1 || lines[maxErrors] != "t.yaml: too many errors" {
		t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

// TestDocEmbedsFull keeps the example in docs/configuration.md identical to
// testdata/full.yaml, which the tests load.
func TestDocEmbedsFull(t *testing.T) {
	full, err := os.ReadFile(filepath.Join("testdata", "full.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "```yaml\n"+string(full)+"```\n") {
		t.Fatal("docs/configuration.md does not embed testdata/full.yaml verbatim; copy it into the yaml block")
	}
}
