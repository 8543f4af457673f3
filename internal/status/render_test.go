package status

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// sample is a busy agent: two sinks (one failing), three containers, five files.
func sample() *Status {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return &Status{
		Node:      "node-a",
		Version:   "1.4.0",
		StartedAt: t0.Add(-(2*time.Hour + 5*time.Minute)),
		Now:       t0,
		Ready:     false,
		Reasons:   []string{"sink es: unhealthy", "checkpoint: write failed"},
		Config: Config{
			Path: "/etc/logferry/agent.yaml", LoadedAt: t0.Add(-time.Hour), Reloads: 3,
			LastError: "sinks[0].type: unknown type \"s4\"", LastErrorAt: t0.Add(-90 * time.Second),
		},
		Buffer:     Buffer{UsedBytes: 3 << 20, LimitBytes: 64 << 20},
		Checkpoint: Checkpoint{Path: "/var/lib/logferry/checkpoints.json", Entries: 42, LastWriteAt: t0.Add(-time.Second), LastError: "disk full"},
		Sinks: []Sink{
			{Name: "out", Type: "file", Healthy: true, InFlight: 2, Records: 123456, Retries: 0, Failures: 0},
			{Name: "es", Type: "http", Healthy: false, InFlight: 17, Records: 99, Retries: 12, Failures: 3,
				LastError: "POST https://es.example:9200/_bulk: connection refused\nretrying", LastErrorAt: t0.Add(-3 * time.Second)},
		},
		Containers: []Container{
			{Namespace: "prod", Pod: "api-7d9f8c6b5d-x2x9q", Container: "app", LagBytes: 5 << 20, LagSeconds: 12.5, Files: []File{
				{Path: "/var/log/pods/prod_api-7d9f8c6b5d-x2x9q_0b1c/app/0.log.20250301-115900.gz", Size: 2 << 20, ReadOffset: 2 << 20, AckedOffset: 0, LagBytes: 2 << 20, State: "draining"},
				{Path: "/var/log/pods/prod_api-7d9f8c6b5d-x2x9q_0b1c/app/0.log", Size: 3 << 20, ReadOffset: 1 << 20, LagBytes: 3 << 20, State: "reading"},
			}},
			{Namespace: "default", Pod: "web-5f6d7c8b9a-abcde", Container: "proxy", Files: []File{
				{Path: "/var/log/pods/default_web-5f6d7c8b9a-abcde_9f9f/proxy/1.log", Size: 512, ReadOffset: 512, AckedOffset: 512, State: "idle"},
			}},
			{Namespace: "default", Pod: "web-5f6d7c8b9a-abcde", Container: "app", LagBytes: 1500, LagSeconds: 0.4, Files: []File{
				{Path: "/var/log/pods/default_web-5f6d7c8b9a-abcde_9f9f/app/0.log", Size: 1 << 10, ReadOffset: 1 << 10, AckedOffset: 1 << 10, State: "idle"},
				{Path: "/var/log/pods/default_web-5f6d7c8b9a-abcde_9f9f/app/1.log", Size: 4000, ReadOffset: 4000, AckedOffset: 2500, LagBytes: 1500, State: "waiting"},
			}},
		},
	}
}

// fileOrder is the order sample's files must appear in: lag descending, then
// namespace, pod, container, path. "\x00" separates a path from its namespace.
func fileOrder() []string {
	return []string{"app/0.log\x00prod", "app/0.log.20250301-115900.gz", "app/1.log", "app/0.log\x00default", "proxy/1.log"}
}

func TestRender(t *testing.T) {
	tests := []struct {
		name     string
		status   func() *Status
		opts     RenderOptions
		contains []string
		lacks    []string
		rows     int // file rows expected (-1: don't check)
		more     int // "… N more files" expected (0: none)
		order    bool
	}{
		{
			name:   "full",
			status: sample,
			contains: []string{
				"node node-a  version 1.4.0  up 2h05m  at 2025-03-01 12:00:00 UTC",
				"ready:      NO: sink es: unhealthy; checkpoint: write failed",
				"buffer:     3.0MiB used of 64.0MiB (4%)",
				"checkpoint: 42 entries, last write 1.0s ago, last error: disk full (/var/lib/logferry/checkpoints.json)",
				`config:     /etc/logferry/agent.yaml, loaded 1h00m ago, 3 reloads, last error 1m30s ago: sinks[0].type: unknown type "s4"`,
				"NAME  TYPE  HEALTH     IN-FLIGHT  RECORDS  RETRIES  FAILURES  LAST-ERROR",
				"es    http  UNHEALTHY         17       99       12         3  3.0s ago: POST https://es.example:9200/_bulk: connection refused retrying",
				"out   file  healthy            2   123456        0         0  -",
				"NAMESPACE  POD                   CONTAINER  FILE",
				"prod       api-7d9f8c6b5d-x2x9q  app        /var/log/pods/prod_api-7d9f8c6b5d-x2x9q_0b1c/app/0.log                     reading   1.0MiB  3.0MiB  3.0MiB      12s\n",
				"app/1.log                  waiting   3.9KiB  3.9KiB  1.5KiB    400ms\n",
				"proxy/1.log                idle        512B    512B      0B        -\n",
			},
			rows: 5, order: true,
		},
		{
			name: "ready, no errors, flags only",
			status: func() *Status {
				s := sample()
				s.Ready, s.Reasons = true, nil
				s.Config = Config{Reloads: 0}
				s.Checkpoint = Checkpoint{Entries: 0}
				return s
			},
			contains: []string{"ready:      yes\n", "checkpoint: 0 entries, no errors\n", "config:     flags only, 0 reloads, no errors\n"},
			lacks:    []string{"NO", "last error"},
			rows:     5,
		},
		{
			name:     "max rows",
			status:   sample,
			opts:     RenderOptions{MaxRows: 2},
			contains: []string{"… 3 more files\n"},
			lacks:    []string{"proxy/1.log"},
			rows:     2, more: 3, order: true,
		},
		{
			name:   "max rows not reached",
			status: sample,
			opts:   RenderOptions{MaxRows: 5},
			lacks:  []string{"more file"},
			rows:   5, order: true,
		},
		{
			name:     "one more file",
			status:   sample,
			opts:     RenderOptions{MaxRows: 4},
			contains: []string{"… 1 more file\n"},
			rows:     4, more: 1, order: true,
		},
		{
			// 5 header + blank + 3 sink lines + blank + title = 11 lines before the rows.
			name:   "height fits all",
			status: sample,
			opts:   RenderOptions{Height: 16},
			rows:   5, order: true,
		},
		{
			name:   "height cuts rows, keeping a line for the count",
			status: sample,
			opts:   RenderOptions{Height: 15},
			rows:   3, more: 2, order: true,
		},
		{
			name:   "height and max rows: the tighter wins",
			status: sample,
			opts:   RenderOptions{Height: 15, MaxRows: 1},
			rows:   1, more: 4,
		},
		{
			name:   "height too small for any row",
			status: sample,
			opts:   RenderOptions{Height: 3},
			rows:   0, more: 5,
		},
		{
			name:   "width 120: paths shortened to their last two elements",
			status: sample,
			opts:   RenderOptions{Width: 120},
			contains: []string{
				"prod       api-7d9f8c6b5d-x2x9q  app        app/0.log                     reading",
				"app/0.log.20250301-115900.gz",
				"es    http  UNHEALTHY         17       99       12         3  3.0s ago: POST https://es.example:9200/_bulk: connection…\n",
			},
			lacks: []string{"/var/log/pods"},
			rows:  5, order: true,
		},
		{
			name:   "width 80: paths cut from the left, errors from the right",
			status: sample,
			opts:   RenderOptions{Width: 80},
			contains: []string{
				"NAMES…  POD          CONTA…  FILE      STATE     OFFSET    SIZE     LAG  LAG-AGE\n",
				"prod    api-7…x2x9q  app     …/0.log   reading   1.0MiB  3.0MiB  3.0MiB      12s\n",
				"prod    api-7…x2x9q  app     …5900.gz  draining",
				"ready:      NO: sink es: unhealthy; checkpoint: write failed\n",
				"3.0s ago: POST ht…\n",
			},
			rows: 5, order: true,
		},
		{
			name:   "width 40: every line still fits",
			status: sample,
			opts:   RenderOptions{Width: 40, MaxRows: 3},
			rows:   3, more: 2,
		},
		{
			name:   "width 1",
			status: sample,
			opts:   RenderOptions{Width: 1},
			rows:   -1,
		},
		{
			name:     "empty agent",
			status:   func() *Status { return &Status{Ready: true} },
			contains: []string{"node -\n", "ready:      yes\n", "buffer:     0B used of 0B\n", "no sinks\n", "no files\n"},
			lacks:    []string{"up ", "NAMESPACE"},
			rows:     0,
		},
		{
			name: "control characters are neutralised",
			status: func() *Status {
				s := sample()
				s.Node = "evil\x1b[2Jnode"
				s.Sinks[0].LastError = "a\tb\rc"
				return s
			},
			contains: []string{"node evil [2Jnode", "a b c"},
			lacks:    []string{"\x1b", "\t", "\r"},
			rows:     5,
		},
		{
			name: "a file with no path or state",
			status: func() *Status {
				return &Status{Containers: []Container{{Namespace: "ns", Pod: "p", Container: "c", Files: []File{{}}}}}
			},
			contains: []string{"ns         p    c          -     -          0B    0B   0B        -\n"},
			rows:     1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.status()
			var b strings.Builder
			if err := Render(&b, s, tt.opts); err != nil {
				t.Fatal(err)
			}
			out := b.String()
			for _, want := range tt.contains {
				if !strings.Contains(out, want) {
					t.Errorf("output lacks %q:\n%s", want, out)
				}
			}
			for _, bad := range tt.lacks {
				if strings.Contains(out, bad) {
					t.Errorf("output has %q:\n%s", bad, out)
				}
			}
			if !strings.HasSuffix(out, "\n") {
				t.Errorf("output does not end in a newline: %q", out)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			for i, l := range lines {
				if tt.opts.Width > 0 && utf8.RuneCountInString(l) > tt.opts.Width {
					t.Errorf("line %d is %d runes, wider than %d: %q", i+1, utf8.RuneCountInString(l), tt.opts.Width, l)
				}
				if strings.HasSuffix(l, " ") {
					t.Errorf("line %d has trailing spaces: %q", i+1, l)
				}
			}
			rows, more := fileSection(lines)
			if tt.rows >= 0 && len(rows) != tt.rows {
				t.Errorf("%d file rows, want %d:\n%s", len(rows), tt.rows, out)
			}
			if more != tt.more {
				t.Errorf("%d more files reported, want %d:\n%s", more, tt.more, out)
			}
			if tt.opts.Height > 0 && tt.rows > 0 && len(lines) > tt.opts.Height {
				t.Errorf("%d lines, more than the height %d:\n%s", len(lines), tt.opts.Height, out)
			}
			if tt.order {
				checkOrder(t, rows, tt.opts.Width == 0 || tt.opts.Width >= 120, out)
			}
		})
	}
}

// fileSection returns the rows under the file table's title and the count of the
// "… N more files" line.
func fileSection(lines []string) (rows []string, more int) {
	in := false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "NAMES"):
			in = true
		case strings.HasPrefix(l, "… "):
			fmt.Sscanf(strings.TrimPrefix(l, "… "), "%d", &more)
		case in && l != "" && l != "no files":
			rows = append(rows, l)
		}
	}
	return rows, more
}

// checkOrder checks that the rows' LAG column never grows and, when the paths are
// shown in full or in their short form, that the rows follow fileOrder.
func checkOrder(t *testing.T, rows []string, identify bool, out string) {
	t.Helper()
	prev := int64(-1)
	for i, r := range rows {
		f := strings.Fields(r)
		if len(f) != 9 {
			t.Fatalf("row %d has %d fields, want 9: %q", i+1, len(f), r)
		}
		lag, err := parseSize(f[7])
		if err != nil {
			t.Fatalf("row %d: LAG: %v", i+1, err)
		}
		if prev >= 0 && lag > prev {
			t.Errorf("row %d: LAG %s is larger than the row above's:\n%s", i+1, f[7], out)
		}
		prev = lag
		if !identify {
			continue
		}
		want := fileOrder()[i]
		path, ns, _ := strings.Cut(want, "\x00")
		if !strings.Contains(r, path) || (ns != "" && !strings.HasPrefix(r, ns+" ")) {
			t.Errorf("row %d is %q, want the file %q:\n%s", i+1, r, want, out)
		}
	}
}

// parseSize reverses FormatBytes (approximately: the result is rounded).
func parseSize(s string) (int64, error) {
	for i, u := range []string{"TiB", "GiB", "MiB", "KiB", "B"} {
		if num, ok := strings.CutSuffix(s, u); ok {
			var v float64
			if _, err := fmt.Sscanf(num, "%g", &v); err != nil {
				return 0, fmt.Errorf("size %q: %v", s, err)
			}
			return int64(v * float64(int64(1)<<(10*(4-i)))), nil
		}
	}
	return 0, fmt.Errorf("size %q: no unit", s)
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name string
		s    *Status
		o    RenderOptions
		w    *failWriter
		want string
	}{
		{"nil status", nil, RenderOptions{}, &failWriter{}, "nil status"},
		{"negative width", sample(), RenderOptions{Width: -1}, &failWriter{}, "negative option"},
		{"write error", sample(), RenderOptions{}, &failWriter{err: errors.New("broken pipe")}, "broken pipe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Render(tt.w, tt.s, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Render error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

type failWriter struct{ err error }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

func TestRenderSingleWrite(t *testing.T) {
	var w countWriter
	if err := Render(&w, sample(), RenderOptions{Width: 100}); err != nil {
		t.Fatal(err)
	}
	if w.n != 1 {
		t.Fatalf("Render made %d writes, want 1 (a frame must not be torn)", w.n)
	}
}

type countWriter struct{ n int }

func (w *countWriter) Write(p []byte) (int, error) { w.n++; return len(p), nil }

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0B"}, {1023, "1023B"}, {1024, "1.0KiB"}, {1536, "1.5KiB"}, {1<<20 - 1, "1024.0KiB"},
		{1 << 20, "1.0MiB"}, {5<<30 + 1<<29, "5.5GiB"}, {3 << 40, "3.0TiB"}, {1 << 50, "1024.0TiB"}, {-2048, "-2.0KiB"},
	}
	for _, tt := range tests {
		if got := FormatBytes(tt.in); got != tt.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{-time.Second, "0ms"}, {0, "0ms"}, {850 * time.Millisecond, "850ms"}, {4200 * time.Millisecond, "4.2s"},
		{12 * time.Second, "12s"}, {3*time.Minute + 4*time.Second, "3m04s"}, {2*time.Hour + 5*time.Minute + 59*time.Second, "2h05m"},
		{76 * time.Hour, "3d04h"},
	}
	for _, tt := range tests {
		if got := FormatDuration(tt.in); got != tt.want {
			t.Errorf("FormatDuration(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCut(t *testing.T) {
	tests := []struct {
		s          string
		w          int
		left, righ string
	}{
		{"abcdef", 6, "abcdef", "abcdef"},
		{"abcdef", 4, "…def", "abc…"},
		{"abcdef", 1, "…", "…"},
		{"abcdef", 0, "", ""},
		{"äöüß", 3, "…üß", "äö…"},
	}
	for _, tt := range tests {
		if got := cutLeft(tt.s, tt.w); got != tt.left {
			t.Errorf("cutLeft(%q, %d) = %q, want %q", tt.s, tt.w, got, tt.left)
		}
		if got := cutRight(tt.s, tt.w); got != tt.righ {
			t.Errorf("cutRight(%q, %d) = %q, want %q", tt.s, tt.w, got, tt.righ)
		}
	}
}
