package podconfig

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

// FuzzResolve feeds random annotation keys and values (two pairs; a key without the
// prefix is given it half of the time) and checks: no panic; every Problem names a key
// that was given; the resulting regexes are compiled; every limit is positive.
func FuzzResolve(f *testing.F) {
	seeds := [][5]string{
		{"multiline", "java; max_lines=200; max_bytes=64KiB; timeout=3s", "rate-limit", "2MiB/s burst=4MiB", "app"},
		{"multiline.app", `regex:^\d+;a=b`, "include", "a\n(b", "app"},
		{"files", "app:/var/log/*.log,sidecar:../x", "files.app", "/a/b", "app"},
		{"rate-limit", "1e3/s", "silence-after", "9s", ""},
		{"mutliline", "go", "exclude.App", "true", "App"},
		{"logferry.io/parse", "logfmt", "drop", "", "x"},
		{"rate-limit", "0.0000001b/s", "rate-limit.app", "99999999999999999999/s burst=.", "app"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], s[4], true)
	}
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, container string, prefix bool) {
		ann := map[string]string{}
		for _, kv := range [][2]string{{k1, v1}, {k2, v2}} {
			k := kv[0]
			if prefix && !strings.HasPrefix(k, Prefix) {
				k = Prefix + k
			}
			ann[k] = kv[1]
		}
		pod := PodInfo{Namespace: "ns", Name: "p", Containers: []string{"app", container}}
		s, probs := Resolve(ann, nil, pod, container, Options{})
		for _, p := range probs {
			if _, ok := ann[p.Key]; !ok {
				t.Fatalf("problem names key %q, which was not given (%v)", p.Key, ann)
			}
			if p.Reason == "" {
				t.Fatalf("problem without a reason: %+v", p)
			}
		}
		for _, re := range append(append([]*regexp.Regexp(nil), s.Include...), s.Drop...) {
			if re == nil {
				t.Fatal("nil regex")
			}
			regexp.MustCompile(re.String())
		}
		if m := s.Multiline; m != nil {
			if (m.Start == nil) == (m.Preset == "") {
				t.Fatalf("multiline wants exactly one of Start, Preset: %+v", m)
			}
			if m.MaxLines <= 0 || m.MaxBytes <= 0 || m.Timeout <= 0 {
				t.Fatalf("multiline limits not positive: %+v", m)
			}
		}
		if r := s.RateLimit; r != nil {
			pos := func(x float64) bool { return x > 0 && !math.IsInf(x, 0) && !math.IsNaN(x) }
			if (r.Lines > 0) == (r.Bytes > 0) || !pos(r.Lines+r.Bytes) || !pos(r.Burst) {
				t.Fatalf("bad rate limit %+v", r)
			}
		}
		if s.SilenceAfter != 0 && s.SilenceAfter < MinSilenceAfter {
			t.Fatalf("SilenceAfter %v", s.SilenceAfter)
		}
		if s.Route != "" && !ValidRoute(s.Route) {
			t.Fatalf("Route %q", s.Route)
		}
		for _, fs := range s.Files {
			if fs.Container != container || checkPath(fs.Path) != "" {
				t.Fatalf("file spec %+v for container %q", fs, container)
			}
		}
		if s.Parse != "" && s.ParseKey == "" {
			t.Fatal("Parse without ParseKey")
		}
	})
}
