package podconfig

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestResolveZero(t *testing.T) {
	p := newPod(map[string]string{"kubectl.kubernetes.io/restartedAt": "2026-11-21T09:00:00Z"})
	s, probs := resolvePod(p, "app")
	checkProblems(t, probs, nil, p.Annotations)
	if s.Exclude || s.Parse != "" || s.ParseKey != "" || s.Multiline != nil || s.Include != nil ||
		s.Drop != nil || s.Route != "" || s.Files != nil || s.RateLimit != nil || s.SilenceAfter != 0 {
		t.Fatalf("no logferry.io annotations: got %+v, want the zero Settings", s)
	}
}

func TestExclude(t *testing.T) {
	tests := []struct {
		name      string
		ann       map[string]string
		container string
		want      bool
		problems  []wantProblem
	}{
		{"true", map[string]string{"logferry.io/exclude": "true"}, "app", true, nil},
		{"case and spaces", map[string]string{"logferry.io/exclude": " TRUE "}, "app", true, nil},
		{"false", map[string]string{"logferry.io/exclude": "false"}, "app", false, nil},
		{"scoped to app only", map[string]string{"logferry.io/exclude.sidecar": "true"}, "app", false, nil},
		{"scoped applies", map[string]string{"logferry.io/exclude.sidecar": "true"}, "sidecar", true, nil},
		{"scoped wins over unscoped", map[string]string{"logferry.io/exclude": "true", "logferry.io/exclude.app": "false"}, "app", false, nil},
		{"invalid is ignored", map[string]string{"logferry.io/exclude": "yes"}, "app", false,
			[]wantProblem{{"logferry.io/exclude", `want "true" or "false"`}}},
		{"invalid scoped falls back to unscoped", map[string]string{"logferry.io/exclude": "true", "logferry.io/exclude.app": "1"}, "app", true,
			[]wantProblem{{"logferry.io/exclude.app", `want "true" or "false"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod(tt.ann)
			s, probs := resolvePod(p, tt.container)
			if s.Exclude != tt.want {
				t.Errorf("Exclude = %v, want %v", s.Exclude, tt.want)
			}
			checkProblems(t, probs, tt.problems, p.Annotations)
		})
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		name          string
		ann           map[string]string
		container     string
		opts          Options
		want, wantKey string
		problems      []wantProblem
	}{
		{"json", map[string]string{"logferry.io/parse": "json"}, "app", Options{}, "json", "fields", nil},
		{"logfmt with configured key", map[string]string{"logferry.io/parse": "logfmt"}, "app", Options{ParseKey: "app_fields"}, "logfmt", "app_fields", nil},
		{"scoped", map[string]string{"logferry.io/parse": "json", "logferry.io/parse.sidecar": "logfmt"}, "sidecar", Options{}, "logfmt", "fields", nil},
		{"none overrides", map[string]string{"logferry.io/parse": "json", "logferry.io/parse.app": "none"}, "app", Options{}, "", "", nil},
		{"invalid", map[string]string{"logferry.io/parse": "jsn"}, "app", Options{}, "", "",
			[]wantProblem{{"logferry.io/parse", `did you mean "json"`}}},
		{"invalid yaml", map[string]string{"logferry.io/parse": "yaml"}, "app", Options{}, "", "",
			[]wantProblem{{"logferry.io/parse", `want "json", "logfmt" or "none"`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod(tt.ann)
			s, probs := Resolve(p.Annotations, nil, podInfo(p), tt.container, tt.opts)
			if s.Parse != tt.want || s.ParseKey != tt.wantKey {
				t.Errorf("Parse, ParseKey = %q, %q; want %q, %q", s.Parse, s.ParseKey, tt.want, tt.wantKey)
			}
			checkProblems(t, probs, tt.problems, p.Annotations)
		})
	}
}

func TestMultiline(t *testing.T) {
	const def = "lines=500 bytes=262144 timeout=2s"
	tests := []struct {
		name      string
		ann       map[string]string
		container string
		opts      Options
		want      string
		problems  []wantProblem
	}{
		{"java", map[string]string{"logferry.io/multiline": "java"}, "app", Options{}, "preset=java start= " + def, nil},
		{"presets are case-insensitive", map[string]string{"logferry.io/multiline": "Python"}, "app", Options{}, "preset=python start= " + def, nil},
		{"params", map[string]string{"logferry.io/multiline": "java; max_lines=200; max_bytes=64KiB; timeout=3s"}, "app", Options{},
			"preset=java start= lines=200 bytes=65536 timeout=3s", nil},
		{"agent defaults", map[string]string{"logferry.io/multiline": "go"}, "app",
			Options{MultilineMaxLines: 50, MultilineMaxBytes: 4096, MultilineTimeout: time.Second},
			"preset=go start= lines=50 bytes=4096 timeout=1s", nil},
		{"custom regex", map[string]string{"logferry.io/multiline": `regex:^\d{4}-\d{2}-\d{2}`}, "app", Options{},
			`preset= start=^\d{4}-\d{2}-\d{2} ` + def, nil},
		{"custom regex with ; and params", map[string]string{"logferry.io/multiline": `regex:^(INFO|WARN);x; timeout=5s`}, "app", Options{},
			`preset= start=^(INFO|WARN);x lines=500 bytes=262144 timeout=5s`, nil},
		{"scoped", map[string]string{"logferry.io/multiline": "java", "logferry.io/multiline.sidecar": "go"}, "sidecar", Options{}, "preset=go start= " + def, nil},
		{"scoped none", map[string]string{"logferry.io/multiline": "java", "logferry.io/multiline.sidecar": "none"}, "sidecar", Options{}, "off", nil},
		{"unknown preset", map[string]string{"logferry.io/multiline": "jav"}, "app", Options{}, "off",
			[]wantProblem{{"logferry.io/multiline", `did you mean "java"`}}},
		{"bad regex", map[string]string{"logferry.io/multiline": `regex:^(unclosed`}, "app", Options{}, "off",
			[]wantProblem{{"logferry.io/multiline", "bad regex"}}},
		{"empty regex", map[string]string{"logferry.io/multiline": `regex: `}, "app", Options{}, "off",
			[]wantProblem{{"logferry.io/multiline", "empty regex"}}},
		{"bad params keep defaults", map[string]string{"logferry.io/multiline": "java; max_lines=0; max_bytes=lots; timeout=-1s; colour=red"}, "app", Options{},
			"preset=java start= " + def, []wantProblem{
				{"logferry.io/multiline", "max_lines"},
				{"logferry.io/multiline", "max_bytes"},
				{"logferry.io/multiline", "timeout"},
				{"logferry.io/multiline", `unknown parameter "colour"`},
			}},
		{"bad scoped falls back", map[string]string{"logferry.io/multiline": "ruby", "logferry.io/multiline.app": "cobol"}, "app", Options{}, "preset=ruby start= " + def,
			[]wantProblem{{"logferry.io/multiline.app", "unknown multiline mode"}}},
		{"trailing garbage", map[string]string{"logferry.io/multiline": "java; and more"}, "app", Options{}, "off",
			[]wantProblem{{"logferry.io/multiline", "unknown multiline mode"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod(tt.ann)
			s, probs := Resolve(p.Annotations, nil, podInfo(p), tt.container, tt.opts)
			if got := multilineString(s.Multiline); got != tt.want {
				t.Errorf("Multiline = %s, want %s", got, tt.want)
			}
			checkProblems(t, probs, tt.problems, p.Annotations)
		})
	}
}

func TestInclude(t *testing.T) { testPatterns(t, "include") }

func TestDrop(t *testing.T) { testPatterns(t, "drop") }

// testPatterns tests the include or drop key, which share their value syntax.
func testPatterns(t *testing.T, key string) {
	tests := []struct {
		name      string
		ann       map[string]string
		container string
		want      []string
		problems  []wantProblem
	}{
		{"one", map[string]string{"logferry.io/" + key: `GET /healthz`}, "app", []string{`GET /healthz`}, nil},
		{"several lines", map[string]string{"logferry.io/" + key: "^DEBUG\r\n\n  \nkube-probe/\n"}, "app", []string{`^DEBUG`, `kube-probe/`}, nil},
		{"scoped", map[string]string{"logferry.io/" + key: "a", "logferry.io/" + key + ".app": "b"}, "app", []string{"b"}, nil},
		{"other container's scope", map[string]string{"logferry.io/" + key + ".sidecar": "b"}, "app", nil, nil},
		{"one bad regex voids the value", map[string]string{"logferry.io/" + key: "ok\n(bad"}, "app", nil,
			[]wantProblem{{"logferry.io/" + key, "line 2: bad regex"}}},
		{"empty", map[string]string{"logferry.io/" + key: "\n"}, "app", nil,
			[]wantProblem{{"logferry.io/" + key, "no pattern"}}},
		{"too long", map[string]string{"logferry.io/" + key: strings.Repeat("a", maxPatternLen+1)}, "app", nil,
			[]wantProblem{{"logferry.io/" + key, "longer than"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod(tt.ann)
			s, probs := resolvePod(p, tt.container)
			got, other := s.Include, s.Drop
			if key == "drop" {
				got, other = s.Drop, s.Include
			}
			if g := regexStrings(got); !slices.Equal(g, tt.want) {
				t.Errorf("%s = %q, want %q", key, g, tt.want)
			}
			if other != nil {
				t.Errorf("the other list is set: %v", other)
			}
			checkProblems(t, probs, tt.problems, p.Annotations)
		})
	}
}

func TestRoute(t *testing.T) {
	tests := []struct {
		name      string
		ann       map[string]string
		container string
		want      string
		problems  []wantProblem
	}{
		{"name", map[string]string{"logferry.io/route": "payments.audit_v2-eu"}, "app", "payments.audit_v2-eu", nil},
		{"trimmed", map[string]string{"logferry.io/route": " team-a\n"}, "app", "team-a", nil},
		{"scoped", map[string]string{"logferry.io/route": "shop", "logferry.io/route.sidecar": "mesh"}, "sidecar", "mesh", nil},
		{"upper case", map[string]string{"logferry.io/route": "Payments"}, "app", "",
			[]wantProblem{{"logferry.io/route", "want a route name"}}},
		{"leading dot", map[string]string{"logferry.io/route": ".x"}, "app", "",
			[]wantProblem{{"logferry.io/route", "want a route name"}}},
		{"too long", map[string]string{"logferry.io/route": strings.Repeat("r", 64)}, "app", "",
			[]wantProblem{{"logferry.io/route", "want a route name"}}},
		{"63 is fine", map[string]string{"logferry.io/route": strings.Repeat("r", 63)}, "app", strings.Repeat("r", 63), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod(tt.ann)
			s, probs := resolvePod(p, tt.container)
			if s.Route != tt.want {
				t.Errorf("Route = %q, want %q", s.Route, tt.want)
			}
			checkProblems(t, probs, tt.problems, p.Annotations)
		})
	}
}

func TestFiles(t *testing.T) {
	tests := []struct {
		name      string
		ann       map[string]string
		container string
		want      []FileSpec
		problems  []wantProblem
	}{
		{"list", map[string]string{"logferry.io/files": "app:/var/log/app/*.log, sidecar:/var/log/envoy/access.log"}, "app",
			[]FileSpec{{"app", "/var/log/app/*.log"}}, nil},
		{"other container", map[string]string{"logferry.io/files": "app:/var/log/app/*.log, sidecar:/var/log/envoy/access.log"}, "sidecar",
			[]FileSpec{{"sidecar", "/var/log/envoy/access.log"}}, nil},
		{"scoped bare paths", map[string]string{"logferry.io/files.app": "/data/a.log,/data/b[0-9].log"}, "app",
			[]FileSpec{{"app", "/data/a.log"}, {"app", "/data/b[0-9].log"}}, nil},
		{"scoped wins", map[string]string{"logferry.io/files": "app:/x.log", "logferry.io/files.app": "app:/y.log"}, "app",
			[]FileSpec{{"app", "/y.log"}}, nil},
		{"relative path", map[string]string{"logferry.io/files": "app:logs/app.log"}, "app", nil,
			[]wantProblem{{"logferry.io/files", "is relative"}}},
		{"dot dot", map[string]string{"logferry.io/files": "app:/var/log/../../etc/shadow"}, "app", nil,
			[]wantProblem{{"logferry.io/files", "has a .. element"}}},
		{"unclean", map[string]string{"logferry.io/files": "app:/var//log/./a.log"}, "app", nil,
			[]wantProblem{{"logferry.io/files", "not a clean file path"}}},
		{"bad glob", map[string]string{"logferry.io/files": "app:/var/log/[a.log"}, "app", nil,
			[]wantProblem{{"logferry.io/files", "bad glob"}}},
		{"no container", map[string]string{"logferry.io/files": "/var/log/a.log"}, "app", nil,
			[]wantProblem{{"logferry.io/files", "want <container>:<absolute path>"}}},
		{"unknown container", map[string]string{"logferry.io/files": "ap:/var/log/a.log"}, "app", nil,
			[]wantProblem{{"logferry.io/files", `the pod has no container "ap"; did you mean "app"?`}}},
		{"scope mismatch", map[string]string{"logferry.io/files.app": "sidecar:/var/log/a.log"}, "app", nil,
			[]wantProblem{{"logferry.io/files.app", `but the key is scoped to "app"`}}},
		{"bad entries are dropped, good ones kept", map[string]string{"logferry.io/files": "app:rel.log,app:/ok.log"}, "app",
			[]FileSpec{{"app", "/ok.log"}}, []wantProblem{{"logferry.io/files", "is relative"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod(tt.ann)
			s, probs := resolvePod(p, tt.container)
			if !slices.Equal(s.Files, tt.want) {
				t.Errorf("Files = %v, want %v", s.Files, tt.want)
			}
			checkProblems(t, probs, tt.problems, p.Annotations)
		})
	}
}

func TestRateLimit(t *testing.T) {
	tests := []struct {
		name      string
		ann       map[string]string
		container string
		want      string
		problems  []wantProblem
	}{
		{"lines", map[string]string{"logferry.io/rate-limit": "1000/s"}, "app", "lines=1000 bytes=0 burst=1000", nil},
		{"lines spelt out", map[string]string{"logferry.io/rate-limit": "1000 lines/s"}, "app", "lines=1000 bytes=0 burst=1000", nil},
		{"fraction", map[string]string{"logferry.io/rate-limit": "0.5/s"}, "app", "lines=0.5 bytes=0 burst=1", nil},
		{"bytes", map[string]string{"logferry.io/rate-limit": "2MiB/s"}, "app", "lines=0 bytes=2.097152e+06 burst=2.097152e+06", nil},
		{"bytes with burst", map[string]string{"logferry.io/rate-limit": "500KB/s; burst=4MiB"}, "app", "lines=0 bytes=500000 burst=4.194304e+06", nil},
		{"lines with burst", map[string]string{"logferry.io/rate-limit": "100/s burst = 5000"}, "app", "lines=100 bytes=0 burst=5000", nil},
		{"scoped", map[string]string{"logferry.io/rate-limit": "100/s", "logferry.io/rate-limit.app": "none"}, "app", "off", nil},
		{"no unit", map[string]string{"logferry.io/rate-limit": "1000"}, "app", "off",
			[]wantProblem{{"logferry.io/rate-limit", "want <n>/s"}}},
		{"zero", map[string]string{"logferry.io/rate-limit": "0/s"}, "app", "off",
			[]wantProblem{{"logferry.io/rate-limit", "above 0"}}},
		{"negative", map[string]string{"logferry.io/rate-limit": "-5/s"}, "app", "off",
			[]wantProblem{{"logferry.io/rate-limit", "want <n>/s"}}},
		{"unknown unit", map[string]string{"logferry.io/rate-limit": "5 parsecs/s"}, "app", "off",
			[]wantProblem{{"logferry.io/rate-limit", `unknown unit "parsecs"`}}},
		{"bad burst keeps the limit", map[string]string{"logferry.io/rate-limit": "100/s burst=1MiB"}, "app", "lines=100 bytes=0 burst=100",
			[]wantProblem{{"logferry.io/rate-limit", "burst"}}},
		{"zero burst", map[string]string{"logferry.io/rate-limit": "100/s burst=0"}, "app", "lines=100 bytes=0 burst=100",
			[]wantProblem{{"logferry.io/rate-limit", "burst"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod(tt.ann)
			s, probs := resolvePod(p, tt.container)
			if got := rateString(s.RateLimit); got != tt.want {
				t.Errorf("RateLimit = %s, want %s", got, tt.want)
			}
			checkProblems(t, probs, tt.problems, p.Annotations)
		})
	}
}

func TestSilenceAfter(t *testing.T) {
	tests := []struct {
		name      string
		ann       map[string]string
		container string
		want      time.Duration
		problems  []wantProblem
	}{
		{"minutes", map[string]string{"logferry.io/silence-after": "15m"}, "app", 15 * time.Minute, nil},
		{"minimum", map[string]string{"logferry.io/silence-after": "10s"}, "app", 10 * time.Second, nil},
		{"scoped", map[string]string{"logferry.io/silence-after": "1h", "logferry.io/silence-after.sidecar": "none"}, "sidecar", 0, nil},
		{"too short", map[string]string{"logferry.io/silence-after": "9s"}, "app", 0,
			[]wantProblem{{"logferry.io/silence-after", "at least 10s"}}},
		{"not a duration", map[string]string{"logferry.io/silence-after": "10"}, "app", 0,
			[]wantProblem{{"logferry.io/silence-after", "Go duration"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod(tt.ann)
			s, probs := resolvePod(p, tt.container)
			if s.SilenceAfter != tt.want {
				t.Errorf("SilenceAfter = %v, want %v", s.SilenceAfter, tt.want)
			}
			checkProblems(t, probs, tt.problems, p.Annotations)
		})
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name     string
		ann      map[string]string
		problems []wantProblem
	}{
		{"typo", map[string]string{"logferry.io/mutliline": "java"}, []wantProblem{{"logferry.io/mutliline", `did you mean "logferry.io/multiline"?`}}},
		{"underscore", map[string]string{"logferry.io/rate_limit": "5/s"}, []wantProblem{{"logferry.io/rate_limit", `did you mean "logferry.io/rate-limit"?`}}},
		{"prefix of a key", map[string]string{"logferry.io/silence": "1m"}, []wantProblem{{"logferry.io/silence", `did you mean "logferry.io/silence-after"?`}}},
		{"wrong scope separator", map[string]string{"logferry.io/multiline-app": "java"}, []wantProblem{{"logferry.io/multiline-app", `did you mean "logferry.io/multiline.app"?`}}},
		{"typo with scope", map[string]string{"logferry.io/exclud.app": "true"}, []wantProblem{{"logferry.io/exclud.app", `did you mean "logferry.io/exclude.app"?`}}},
		{"no suggestion", map[string]string{"logferry.io/colour": "red"}, []wantProblem{{"logferry.io/colour", `unknown key "colour"`}}},
		{"empty key", map[string]string{"logferry.io/": "x"}, []wantProblem{{"logferry.io/", `unknown key ""`}}},
		{"unknown container", map[string]string{"logferry.io/parse.sidecr": "json"}, []wantProblem{{"logferry.io/parse.sidecr", `no container "sidecr"; did you mean "sidecar"?`}}},
		{"bad scope", map[string]string{"logferry.io/parse.App_1": "json"}, []wantProblem{{"logferry.io/parse.App_1", "not a container name"}}},
		{"sorted", map[string]string{"logferry.io/zz": "1", "logferry.io/aa": "2"}, []wantProblem{{"logferry.io/aa", "unknown key"}, {"logferry.io/zz", "unknown key"}}},
		{"other prefixes ignored", map[string]string{"example.com/logferry": "x", "sub.logferry.io/x": "y"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod(tt.ann)
			_, probs := resolvePod(p, "app")
			checkProblems(t, probs, tt.problems, p.Annotations)
		})
	}
}

func TestProblemsAreComparable(t *testing.T) {
	p := newPod(map[string]string{"logferry.io/parse": "yaml", "logferry.io/bogus": "1"})
	seen := map[Problem]bool{}
	for _, c := range podInfo(p).Containers {
		_, probs := resolvePod(p, c)
		for _, pr := range probs {
			seen[pr] = true
		}
	}
	if len(seen) != 2 {
		t.Fatalf("deduplicated problems = %v, want 2", seen)
	}
}
