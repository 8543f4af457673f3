package gen

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestMessage(t *testing.T) {
	specials := 0
	for _, tc := range []struct {
		ns, pod, c  string
		seq, length int
	}{
		{"prod", "web-0", "app", 0, 200},
		{"prod", "web-0", "app", 12, 57},
		{"kube-system", "coredns-7db6d8ff4d-x2k4p", "coredns", 999999, 1000},
		{"a", "b", "c", 7, 40960},
		{"a", "b", "c", 8, 16384},
	} {
		m := Message(tc.ns, tc.pod, tc.c, tc.seq, tc.length)
		if len(m) != tc.length {
			t.Errorf("%+v: length %d", tc, len(m))
		}
		if !bytes.Equal(m, Message(tc.ns, tc.pod, tc.c, tc.seq, tc.length)) {
			t.Errorf("%+v: not deterministic", tc)
		}
		if bytes.ContainsAny(m, "\r\n") || !utf8.Valid(m) {
			t.Errorf("%+v: newline or invalid UTF-8", tc)
		}
		k, ok := ParseKey(m)
		if !ok || k != (Key{tc.ns, tc.pod, tc.c, tc.seq, tc.length}) {
			t.Errorf("%+v: ParseKey = %+v, %v", tc, k, ok)
		}
		for b := splitBoundary; b < len(m); b += splitBoundary {
			if !utf8.RuneStart(m[b]) {
				t.Errorf("%+v: a UTF-8 sequence straddles offset %d", tc, b)
			}
		}
		for _, s := range fillerSpecials {
			specials += bytes.Count(m, []byte(s))
		}
	}
	if specials == 0 {
		t.Error("no filler specials in 58 KB of messages")
	}
	if bytes.Equal(Message("a", "b", "c", 1, 300), Message("a", "b", "c", 2, 300)[:0]) {
		t.Error("unexpected")
	}
	// too short: the prefix alone
	if m := Message("prod", "web-0", "app", 1, 5); string(m) != "lf prod/web-0/app seq=1 len=5 " {
		t.Errorf("short message %q", m)
	}
	if l := fitLength("prod", "web-0", "app", 1, 5); len(Message("prod", "web-0", "app", 1, l)) != l {
		t.Errorf("fitLength %d does not fit", l)
	}
}

// The text filler keeps every property of a message (exact length, parseable key,
// no newline, deterministic) and compresses like logs do, unlike the random one.
func TestTextFiller(t *testing.T) {
	var text, random bytes.Buffer
	for seq := range 200 {
		length := 60 + seq*7
		m := AppendMessageFiller(nil, FillerText, "prod", "web-0", "app", seq, length)
		if len(m) != length || bytes.ContainsAny(m, "\r\n") || !utf8.Valid(m) {
			t.Fatalf("seq %d: length %d (want %d) or bad bytes: %q", seq, len(m), length, m)
		}
		if k, ok := ParseKey(m); !ok || k.Seq != seq || k.Length != length {
			t.Fatalf("seq %d: key %+v %v", seq, k, ok)
		}
		if !bytes.Equal(m, AppendMessageFiller(nil, FillerText, "prod", "web-0", "app", seq, length)) {
			t.Fatalf("seq %d: not deterministic", seq)
		}
		text.Write(m)
		random.Write(Message("prod", "web-0", "app", seq, length))
	}
	ratio := func(b []byte) float64 {
		var z bytes.Buffer
		w := gzip.NewWriter(&z)
		w.Write(b)
		w.Close()
		return float64(len(b)) / float64(z.Len())
	}
	if rt, rr := ratio(text.Bytes()), ratio(random.Bytes()); rt < 2*rr {
		t.Errorf("gzip ratio: text %.2f, random %.2f; want text at least twice random", rt, rr)
	}
}

func TestParseKeyRejects(t *testing.T) {
	for _, s := range []string{
		"", "lf", "lf ", "lfjunk prod/a/b n=1 x", "lf prod/a seq=1 len=3 ", "lf prod/a/b/c seq=1 len=3 ",
		"lf prod/a/b seq=x len=3 ", "lf prod/a/b seq=1 len=3", "lf prod/a/b len=3 seq=1 ", "lf /a/b seq=1 len=3 ",
		"lf prod/a/ seq=1 len=3 ",
	} {
		if k, ok := ParseKey([]byte(s)); ok {
			t.Errorf("ParseKey(%q) = %+v, want failure", s, k)
		}
	}
}

func TestSplitLine(t *testing.T) {
	type p = piece
	for _, tc := range []struct {
		format string
		n      int
		want   []piece
	}{
		{FormatCRI, 100, []p{{0, 100, false}}},
		{FormatCRI, 16384, []p{{0, 16384, false}}},
		{FormatCRI, 16385, []p{{0, 16384, true}, {16384, 16385, false}}},
		{FormatCRI, 40960, []p{{0, 16384, true}, {16384, 32768, true}, {32768, 40960, false}}},
		{FormatCRIO, 8191, []p{{0, 8191, false}}},
		{FormatCRIO, 8192, []p{{0, 8192, true}, {8192, 8192, false}}}, // conmon: F with only the newline
		{FormatCRIO, 10000, []p{{0, 8192, true}, {8192, 10000, false}}},
		{FormatCRIO, 40960, []p{{0, 8192, true}, {8192, 16384, true}, {16384, 24576, true}, {24576, 32768, true}, {32768, 40960, true}, {40960, 40960, false}}},
		{FormatDocker, 16383, []p{{0, 16383, false}}},
		{FormatDocker, 16384, []p{{0, 16384, true}, {16384, 16384, false}}}, // moby: last piece is just "\n"
		{FormatDocker, 40960, []p{{0, 16384, true}, {16384, 32768, true}, {32768, 40960, false}}},
	} {
		if got := splitLine(tc.format, tc.n); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %d: got %v, want %v", tc.format, tc.n, got, tc.want)
		}
	}
}

// firstLines returns the first n raw records of the first container's live file.
func firstRecords(t *testing.T, m *Manifest, n int) [][]byte {
	t.Helper()
	files := containerFiles(t, m, &m.Containers[0])
	b := readMaybeGz(t, files[len(files)-1])
	recs := bytes.SplitAfter(b, []byte("\n"))
	if len(recs) < n {
		t.Fatalf("only %d records", len(recs))
	}
	return recs[:n]
}

func TestFormats(t *testing.T) {
	for _, tc := range []struct {
		name, format, tz string
		tsRe             *regexp.Regexp
	}{
		{"containerd", FormatCRI, "", regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z$`)},
		{"containerd+08", FormatCRI, "+08:00", regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?\+08:00$`)},
		{"crio", FormatCRIO, "", regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+00:00$`)},
		{"crio-0530", FormatCRIO, "-05:30", regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}-05:30$`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := runGen(t, Options{Format: tc.format, TZOffset: tc.tz, Pods: 1, Containers: 1, Lines: 50})
			ci := m.Containers[0]
			for i, r := range firstRecords(t, m, 10) {
				// parse by hand: "<ts> <stream> F <message>\n"
				if r[len(r)-1] != '\n' {
					t.Fatalf("record %d without newline", i)
				}
				f := strings.SplitN(string(r[:len(r)-1]), " ", 4)
				if len(f) != 4 {
					t.Fatalf("record %d: %q", i, r)
				}
				if !tc.tsRe.MatchString(f[0]) {
					t.Errorf("record %d: timestamp %q", i, f[0])
				}
				if _, err := time.Parse(time.RFC3339Nano, f[0]); err != nil {
					t.Errorf("record %d: %v", i, err)
				}
				wantStream := "stdout"
				if i%7 == 6 {
					wantStream = "stderr"
				}
				if f[1] != wantStream || f[2] != "F" {
					t.Errorf("record %d: stream %q tag %q", i, f[1], f[2])
				}
				k, ok := ParseKey([]byte(f[3]))
				if !ok || k.Seq != i || f[3] != string(Message(ci.Namespace, ci.Pod, ci.Container, i, k.Length)) {
					t.Errorf("record %d: message %q", i, clipS(f[3], 60))
				}
				if k.Length < DefaultLineSize/2 || k.Length > DefaultLineSize*3/2 {
					t.Errorf("record %d: length %d outside [100, 300]", i, k.Length)
				}
			}
		})
	}
	t.Run("docker", func(t *testing.T) {
		m := runGen(t, Options{Format: FormatDocker, Pods: 1, Containers: 1, Lines: 300})
		ci := m.Containers[0]
		if len(ci.DockerIDs) != 1 || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(ci.DockerIDs[0]) {
			t.Fatalf("docker ids %v", ci.DockerIDs)
		}
		recRe := regexp.MustCompile(`^\{"log":"(.*)","stream":"(stdout|stderr)","time":"([^"]+)"\}\n$`)
		escapes := 0
		for i, r := range firstRecords(t, m, 300) {
			sm := recRe.FindSubmatch(r)
			if sm == nil {
				t.Fatalf("record %d: %q", i, r)
			}
			if ts := string(sm[3]); !strings.HasSuffix(ts, "Z") {
				t.Errorf("record %d: time %q not UTC", i, ts)
			} else if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
				t.Error(err)
			}
			var d dockerRec
			if err := json.Unmarshal(r, &d); err != nil {
				t.Fatal(err)
			}
			k, _ := ParseKey([]byte(d.Log))
			if want := string(Message(ci.Namespace, ci.Pod, ci.Container, i, k.Length)) + "\n"; d.Log != want {
				t.Errorf("record %d: log %q", i, clipS(d.Log, 60))
			}
			// moby's escaping: no raw tab, '<', '>' or '&'
			if bytes.ContainsAny(sm[1], "\t<>&") {
				t.Errorf("record %d: unescaped character: %q", i, sm[1])
			}
			escapes += bytes.Count(sm[1], []byte(`\u00`))
		}
		if escapes == 0 {
			t.Error("no \\u00XX escapes in 300 records")
		}
		cfg, err := os.ReadFile(filepath.Join(m.Dir, "docker", ci.DockerIDs[0], "config.v2.json"))
		if err != nil || !bytes.Contains(cfg, []byte(`"io.kubernetes.pod.uid":"`+ci.UID+`"`)) {
			t.Errorf("config.v2.json: %v %s", err, cfg)
		}
	})
}

func TestMobyEscaping(t *testing.T) {
	got := string(appendMobyString(nil, []byte("a\"b\\c\td<e>&f\x01é\u2028\xff"), true))
	want := `"a\"b\\c\u0009d\u003ce\u003e\u0026f\u0001é\u2028\ufffd\n"`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestLongLines(t *testing.T) {
	for _, tc := range []struct {
		format   string
		pieceLen int // content of every non-final record
	}{
		{FormatCRI, 16384},
		{FormatCRIO, 8192},
		{FormatDocker, 16384},
	} {
		t.Run(tc.format, func(t *testing.T) {
			m := runGen(t, Options{Format: tc.format, Pods: 1, Containers: 1, Lines: 40, LongEvery: 4, LineSize: 100, RotateSize: 0})
			checkComplete(t, m)
			a := readBack(t, m)[m.Containers[0].Namespace+"/"+m.Containers[0].Pod+"/"+m.Containers[0].Container]
			for _, r := range a.recs {
				if r.partial && len(r.content) != tc.pieceLen {
					t.Fatalf("partial record of %d bytes, want %d", len(r.content), tc.pieceLen)
				}
			}
			interleaved := false
			for _, l := range a.lines {
				if len(l.msg) != DefaultLongSize {
					continue
				}
				switch tc.format {
				case FormatCRI:
					if l.records != 3 { // 16384 + 16384 + 8192
						t.Errorf("containerd: %d records for a 40 KiB line", l.records)
					}
				case FormatCRIO:
					if l.records != 6 { // 5 x 8192 + empty F
						t.Errorf("crio: %d records for a 40 KiB line", l.records)
					}
				case FormatDocker:
					if l.records != 3 {
						t.Errorf("docker: %d records for a 40 KiB line", l.records)
					}
					for _, ts := range l.ts {
						if ts != l.ts[0] {
							t.Errorf("docker: pieces with different timestamps %v", l.ts)
						}
					}
				}
			}
			// interleaving: a P record of one stream directly followed by a record of the other
			for i := 1; i < len(a.recs); i++ {
				if a.recs[i-1].partial && a.recs[i].stream != a.recs[i-1].stream {
					interleaved = true
				}
			}
			if interleaved != (tc.format != FormatDocker) {
				t.Errorf("interleaved partial runs: %v", interleaved)
			}
			// 10 long lines; with CRI 5 of them are paired with a (long) previous line
			want := int64(15)
			if tc.format == FormatDocker {
				want = 10
			}
			if got := m.Containers[0].LongLines; got != want {
				t.Errorf("long lines %d, want %d", got, want)
			}
		})
	}
}

func listDir(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func gzipBytes(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestKubeletRotateOld(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("0.log", "live")
	write("0.log.20240101-000001.gz", string(gzipBytes(t, []byte("one"))))
	write("0.log.20240101-000002.gz", string(gzipBytes(t, []byte("two"))))
	write("0.log.20240101-000002", "two")                                    // .gz exists: unused
	write("0.log.20240101-000003.gz", string(gzipBytes(t, []byte("three")))) //
	write("0.log.20240101-000004", "four")                                   // newest rotation, uncompressed
	write("0.log.20240101-000004.tmp", "half a gzip")                        // interrupted compression
	write("1.log", "other instance")
	if err := rotateOld(filepath.Join(dir, "0.log"), 5); err != nil {
		t.Fatal(err)
	}
	want := []string{"0.log", "0.log.20240101-000002.gz", "0.log.20240101-000003.gz", "0.log.20240101-000004.gz", "1.log"}
	if got := listDir(t, dir); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	if b := readMaybeGz(t, filepath.Join(dir, "0.log.20240101-000004.gz")); string(b) != "four" {
		t.Errorf("compressed content %q", b)
	}
	// max-files 2: no rotated file is kept before the rename
	if err := rotateOld(filepath.Join(dir, "0.log"), 2); err != nil {
		t.Fatal(err)
	}
	if got := listDir(t, dir); !reflect.DeepEqual(got, []string{"0.log", "1.log"}) {
		t.Fatalf("max-files 2: %v", got)
	}
}

var rotatedRe = regexp.MustCompile(`^0\.log\.(\d{8}-\d{6})(\.gz)?$`)

func TestKubeletRotationOnDisk(t *testing.T) {
	for _, late := range []int{0, 3} {
		t.Run("late="+string(rune('0'+late)), func(t *testing.T) {
			m := runGen(t, Options{Format: FormatCRI, Pods: 1, Containers: 2, Lines: 1500, Rate: 10000,
				RotateSize: 4000, MaxFiles: 4, RotateInterval: 2 * time.Millisecond, LateWrites: late, LongEvery: 200})
			for _, ci := range m.Containers {
				if ci.Rotations < 1 { // timing-dependent on a busy machine; the exact sequence is TestKubeletRotationSequence
					t.Errorf("%s: no rotation", ci.Container)
				}
				names := listDir(t, ci.LogDir)
				plain, gz := 0, 0
				var stamps []string
				for _, n := range names {
					if n == "0.log" {
						continue
					}
					sm := rotatedRe.FindStringSubmatch(n)
					if sm == nil {
						t.Fatalf("unexpected file %q in %v", n, names)
					}
					stamps = append(stamps, sm[1])
					if sm[2] == "" {
						plain++
					} else {
						gz++
					}
				}
				// steady state: 0.log + the newest rotation uncompressed + max-files-2 .gz.
				// A rotation that finds the container exited after compressing the
				// previous file renames nothing (or renames back, with late writes),
				// so at the very end the uncompressed one may be gone.
				if gz > 2 || plain > 1 || (ci.Rotations >= 4 && gz != 2) {
					t.Errorf("%s: files %v", ci.Container, names)
				}
				if !sort.StringsAreSorted(stamps) {
					t.Errorf("stamps out of order: %v", stamps)
				}
				if plain == 1 && strings.HasSuffix(names[len(names)-1], ".gz") {
					t.Errorf("the uncompressed file is not the newest: %v", names)
				}
				if _, err := os.Stat(filepath.Join(ci.LogDir, "0.log")); err != nil {
					t.Errorf("no live file: %v", err)
				}
			}
		})
	}
}

// TestKubeletManifestReadBack rotates a lot with nothing pruned, and reads every line back.
// TestKubeletRotationSequence drives the kubelet by hand: after rotation i the
// directory holds 0.log, the newest rotation uncompressed and min(i-1,
// max-files-2) .gz files, the oldest pruned first.
func TestKubeletRotationSequence(t *testing.T) {
	o := Options{Out: t.TempDir(), Format: FormatCRIO, Pods: 1, Containers: 1, LineSize: 100, MaxFiles: 4}.withDefaults()
	r := &runner{o: o, loc: time.UTC, plan: newPlan(o), root: filepath.Join(o.Out, "pods")}
	c := r.containers()[0]
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	defer c.stop()
	k := &kubelet{maxSize: 1000, maxFiles: 4}
	seq := int64(0)
	var history []string // rotated names, oldest first
	for i := 1; i <= 6; i++ {
		before := seq
		for c.size < 1000 {
			if err := c.writeUnit(seq, 1); err != nil {
				t.Fatal(err)
			}
			seq++
		}
		if err := k.check(c); err != nil {
			t.Fatal(err)
		}
		names := listDir(t, c.dir)
		if names[0] != "0.log" {
			t.Fatalf("rotation %d: %v", i, names)
		}
		newest := names[len(names)-1]
		if !rotatedRe.MatchString(newest) || strings.HasSuffix(newest, ".gz") {
			t.Fatalf("rotation %d: newest %q", i, newest)
		}
		history = append(history, newest)
		var want []string
		for j := max(0, len(history)-1-(o.MaxFiles-2)); j < len(history)-1; j++ {
			want = append(want, history[j]+".gz")
		}
		want = append(append([]string{"0.log"}, want...), newest)
		if !reflect.DeepEqual(names, want) {
			t.Fatalf("rotation %d: got %v\nwant %v", i, names, want)
		}
		// the newest rotation holds exactly the lines written since the last one
		a := newAssembler(FormatCRIO)
		a.feed(t, readMaybeGz(t, filepath.Join(c.dir, newest)))
		k0, _ := ParseKey([]byte(a.lines[0].msg))
		if int64(len(a.lines)) != seq-before || int64(k0.Seq) != before {
			t.Fatalf("rotation %d: %d lines from %d, want %d from %d", i, len(a.lines), k0.Seq, seq-before, before)
		}
		if st, err := os.Stat(filepath.Join(c.dir, "0.log")); err != nil || st.Size() != 0 {
			t.Fatalf("rotation %d: live file after reopen: %v", i, err)
		}
	}
	if c.rotations != 6 {
		t.Errorf("rotations %d", c.rotations)
	}
	// a live file below the size is left alone
	if err := c.writeUnit(seq, 1); err != nil {
		t.Fatal(err)
	}
	if err := k.check(c); err != nil || c.rotations != 6 {
		t.Errorf("rotated a small file: %v %d", err, c.rotations)
	}
}

func TestKubeletManifestReadBack(t *testing.T) {
	for _, format := range []string{FormatCRI, FormatCRIO} {
		t.Run(format, func(t *testing.T) {
			m := runGen(t, Options{Format: format, Pods: 2, Containers: 2, Namespaces: 2, Lines: 1200, Rate: 20000,
				RotateSize: 6000, MaxFiles: 1000, RotateInterval: 3 * time.Millisecond, LateWrites: 2,
				LongEvery: 97, LineSize: 150, MalformedEvery: 50, RestartEvery: 500, KeepRestarts: true})
			if m.Totals.Rotations < 1 || m.Totals.Restarts != 8 || m.Totals.Malformed != 4*24 {
				t.Errorf("totals %+v", m.Totals)
			}
			checkComplete(t, m)
		})
	}
}

func TestLateWritesLandInRenamedFile(t *testing.T) {
	o := Options{Out: t.TempDir(), Format: FormatCRI, Pods: 1, Containers: 1, LineSize: 100, RotateSize: 1, MaxFiles: 5, LateWrites: 3}.withDefaults()
	r := &runner{o: o, loc: time.UTC, plan: newPlan(o), root: filepath.Join(o.Out, "pods")}
	c := r.containers()[0]
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	k := &kubelet{maxSize: 1, maxFiles: 5, lateWrites: 3}
	write := func(seq int64) {
		if err := c.writeUnit(seq, 1); err != nil {
			t.Fatal(err)
		}
	}
	live := filepath.Join(c.dir, "0.log")
	write(0)
	write(1)
	if err := k.check(c); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(live); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("live file exists right after the rename: %v", err)
	}
	rotated := c.rotatedPath
	for seq := int64(2); seq < 5; seq++ {
		write(seq)
		_, err := os.Stat(live)
		if reopened := err == nil; reopened != (seq == 4) {
			t.Fatalf("after seq %d: live file exists = %v", seq, reopened)
		}
	}
	write(5)
	if err := k.check(c); err != nil { // rotates again: the first rotated file is compressed
		t.Fatal(err)
	}
	write(6)
	if err := c.stop(); err != nil { // exits while the reopen is pending: renamed back
		t.Fatal(err)
	}
	seqs := func(path string) []int {
		a := newAssembler(FormatCRI)
		a.feed(t, readMaybeGz(t, path))
		var s []int
		for _, l := range a.lines {
			k, _ := ParseKey([]byte(l.msg))
			s = append(s, k.Seq)
		}
		return s
	}
	if got := seqs(rotated + ".gz"); !reflect.DeepEqual(got, []int{0, 1, 2, 3, 4}) {
		t.Errorf("renamed file holds %v, want 0..4 (2 before the rename, 3 late)", got)
	}
	if got := seqs(live); !reflect.DeepEqual(got, []int{5, 6}) {
		t.Errorf("live file holds %v", got)
	}
	if c.rotations != 1 {
		t.Errorf("rotations %d, want 1 (the second one was undone)", c.rotations)
	}
}

func TestDockerRotation(t *testing.T) {
	for _, compress := range []bool{false, true} {
		name := "plain"
		if compress {
			name = "compress"
		}
		t.Run(name, func(t *testing.T) {
			m := runGen(t, Options{Format: FormatDocker, Pods: 1, Containers: 1, Lines: 400, RotateSize: 5000, MaxFiles: 4, Compress: compress})
			ci := m.Containers[0]
			id := ci.DockerIDs[0]
			ext := ""
			if compress {
				ext = ".gz"
			}
			want := []string{"config.v2.json", id + "-json.log", id + "-json.log.1" + ext, id + "-json.log.2" + ext, id + "-json.log.3" + ext}
			if got := listDir(t, filepath.Join(m.Dir, "docker", id)); !reflect.DeepEqual(got, want) {
				t.Errorf("got %v\nwant %v", got, want)
			}
			if ci.Rotations < 10 {
				t.Errorf("rotations %d", ci.Rotations)
			}
			if compress {
				f, err := os.Open(filepath.Join(m.Dir, "docker", id, id+"-json.log.1.gz"))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				zr, err := gzip.NewReader(f)
				if err != nil {
					t.Fatal(err)
				}
				var meta struct {
					LastTime time.Time `json:"lastTime"`
				}
				if err := json.Unmarshal(zr.Header.Extra, &meta); err != nil || meta.LastTime.IsZero() {
					t.Errorf("gzip Extra %q: %v", zr.Header.Extra, err)
				}
			}
		})
	}
	t.Run("readback", func(t *testing.T) {
		m := runGen(t, Options{Format: FormatDocker, Pods: 1, Containers: 2, Lines: 500, RotateSize: 20000, MaxFiles: 60,
			Compress: true, LongEvery: 50, LineSize: 120, MalformedEvery: 33, RestartEvery: 200, KeepRestarts: true})
		checkComplete(t, m)
	})
	t.Run("max-file=1", func(t *testing.T) {
		m := runGen(t, Options{Format: FormatDocker, Pods: 1, Containers: 1, Lines: 200, RotateSize: 3000, MaxFiles: 1})
		id := m.Containers[0].DockerIDs[0]
		if got := listDir(t, filepath.Join(m.Dir, "docker", id)); len(got) != 2 {
			t.Errorf("files %v", got)
		}
	})
}

func TestCompressDockerWindow(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "x-json.log.1")
	content := bytes.Repeat([]byte(`{"log":"x\n","stream":"stdout","time":"2024-01-01T00:00:00Z"}`+"\n"), 1000)
	if err := os.WriteFile(src, content, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := compressDocker(src, time.Unix(1700000000, 0)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); !errors.Is(err, os.ErrNotExist) {
		t.Error("plain file not removed")
	}
	if got := readMaybeGz(t, src+".gz"); !bytes.Equal(got, content) {
		t.Error("content differs")
	}
}

func TestRestarts(t *testing.T) {
	for _, keep := range []bool{false, true} {
		t.Run("cri keep="+map[bool]string{false: "no", true: "yes"}[keep], func(t *testing.T) {
			m := runGen(t, Options{Format: FormatCRI, Pods: 1, Containers: 1, Lines: 200, RestartEvery: 50, KeepRestarts: keep})
			ci := m.Containers[0]
			if ci.Restarts != 3 {
				t.Fatalf("restarts %d", ci.Restarts)
			}
			want := []string{"2.log", "3.log"}
			if keep {
				want = []string{"0.log", "1.log", "2.log", "3.log"}
			}
			if got := listDir(t, ci.LogDir); !reflect.DeepEqual(got, want) {
				t.Errorf("files %v, want %v", got, want)
			}
			a := newAssembler(FormatCRI)
			a.feed(t, readMaybeGz(t, filepath.Join(ci.LogDir, "3.log")))
			k, _ := ParseKey([]byte(a.lines[0].msg))
			if len(a.lines) != 50 || k.Seq != 150 {
				t.Errorf("3.log: %d lines from seq %d", len(a.lines), k.Seq)
			}
		})
	}
	t.Run("docker", func(t *testing.T) {
		m := runGen(t, Options{Format: FormatDocker, Pods: 1, Containers: 1, Lines: 200, RestartEvery: 50})
		ci := m.Containers[0]
		if ci.Restarts != 3 || len(ci.DockerIDs) != 4 {
			t.Fatalf("restarts %d ids %v", ci.Restarts, ci.DockerIDs)
		}
		seen := map[string]bool{}
		for _, id := range ci.DockerIDs {
			seen[id] = true
		}
		if len(seen) != 4 {
			t.Error("docker ids repeat")
		}
		want := []string{ci.DockerIDs[2], ci.DockerIDs[3]}
		sort.Strings(want)
		if got := listDir(t, filepath.Join(m.Dir, "docker")); !reflect.DeepEqual(got, want) {
			t.Errorf("dirs %v, want %v", got, want)
		}
	})
}

func TestMalformedLines(t *testing.T) {
	for _, format := range []string{FormatCRI, FormatCRIO, FormatDocker} {
		t.Run(format, func(t *testing.T) {
			m := runGen(t, Options{Format: format, Pods: 1, Containers: 1, Lines: 60, MalformedEvery: 5})
			if m.Totals.Malformed != 12 {
				t.Errorf("malformed %d", m.Totals.Malformed)
			}
			checkComplete(t, m) // every garbage line rejected by the strict reader, lines intact
			b := readMaybeGz(t, containerFiles(t, m, &m.Containers[0])[0])
			if n := bytes.Count(b, []byte(JunkPrefix)); n < 10 { // the empty lines carry no text
				t.Errorf("%d garbage texts", n)
			}
		})
	}
}

// strip removes timestamps so that two runs can be compared.
func strip(t *testing.T, m *Manifest) []string {
	var out []string
	for i := range m.Containers {
		ci := &m.Containers[i]
		out = append(out, ci.Namespace+"_"+ci.Pod+"_"+ci.UID+"/"+ci.Container+" "+strings.Join(ci.DockerIDs, ","))
		a := newAssembler(m.Format)
		for _, f := range containerFiles(t, m, ci) {
			a.feed(t, readMaybeGz(t, f))
		}
		for _, r := range a.recs {
			out = append(out, r.stream+" "+map[bool]string{true: "P", false: "F"}[r.partial]+" "+string(r.content))
		}
	}
	return out
}

func TestDeterminism(t *testing.T) {
	for _, format := range []string{FormatCRI, FormatDocker} {
		o := Options{Format: format, Pods: 3, Containers: 2, Lines: 100, LongEvery: 30, MalformedEvery: 40, Seed: 42}
		a, b := runGen(t, o), runGen(t, o)
		if !reflect.DeepEqual(strip(t, a), strip(t, b)) {
			t.Errorf("%s: two runs with seed 42 differ", format)
		}
		o.Seed = 43
		if c := runGen(t, o); c.Containers[0].UID == a.Containers[0].UID || reflect.DeepEqual(strip(t, a), strip(t, c)) {
			t.Errorf("%s: seeds 42 and 43 give the same node", format)
		}
	}
	uid := podUID(1, 0)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(uid) {
		t.Errorf("uid %q is not UUID-shaped", uid)
	}
}

func TestCancelAndDuration(t *testing.T) {
	t.Run("cancel", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(150*time.Millisecond, cancel)
		start := time.Now()
		m, err := Run(ctx, Options{Out: t.TempDir(), Format: FormatCRI, Pods: 2, Containers: 2, Lines: 0, Rate: 2000,
			RotateSize: 4000, MaxFiles: 1000, RotateInterval: 5 * time.Millisecond, LateWrites: 2, LongEvery: 50})
		if err != nil {
			t.Fatal(err)
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("took %v to stop", el)
		}
		if m.Stopped != "cancelled" || m.Totals.Lines < 50 {
			t.Errorf("stopped %q lines %d", m.Stopped, m.Totals.Lines)
		}
		if _, err := ReadManifest(filepath.Join(m.Dir, "manifest.json")); err != nil {
			t.Fatal(err)
		}
		checkComplete(t, m) // nothing pruned (max-files 1000): every line is on disk
	})
	t.Run("duration", func(t *testing.T) {
		m, err := Run(context.Background(), Options{Out: t.TempDir(), Pods: 1, Containers: 1, Lines: 0, Rate: 1000, Duration: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if m.Stopped != "duration" || m.Totals.Lines < 20 || m.Totals.Lines > 200 {
			t.Errorf("stopped %q lines %d", m.Stopped, m.Totals.Lines)
		}
		checkComplete(t, m)
	})
	t.Run("cancel-fast", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(50*time.Millisecond, cancel)
		m, err := Run(ctx, Options{Out: t.TempDir(), Format: FormatDocker, Pods: 2, Containers: 1, Lines: 0, Rate: 20000})
		if err != nil {
			t.Fatal(err)
		}
		if m.Stopped != "cancelled" {
			t.Errorf("stopped %q", m.Stopped)
		}
		checkComplete(t, m) // every unit is written whole
	})
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		bad  string
	}{
		{"ok", Options{Out: "x"}, ""},
		{"no out", Options{}, "out"},
		{"format", Options{Out: "x", Format: "json"}, "format"},
		{"tz", Options{Out: "x", TZOffset: "CET"}, "tz-offset"},
		{"tz ok", Options{Out: "x", TZOffset: "+05:30"}, ""},
		{"max-files cri", Options{Out: "x", MaxFiles: 1}, "max-files"},
		{"max-files docker", Options{Out: "x", Format: FormatDocker, MaxFiles: 1}, ""},
		{"compress cri", Options{Out: "x", Compress: true}, "compress"},
		{"compress docker max-file", Options{Out: "x", Format: FormatDocker, Compress: true, MaxFiles: 1, RotateSize: 10}, "compress"},
		{"compress docker", Options{Out: "x", Format: FormatDocker, Compress: true, RotateSize: 10}, ""},
		{"late docker", Options{Out: "x", Format: FormatDocker, LateWrites: 1}, "late-writes"},
		{"negative", Options{Out: "x", Lines: -1}, "lines"},
	} {
		err := tc.o.Validate()
		if (err == nil) != (tc.bad == "") || (err != nil && !strings.Contains(err.Error(), tc.bad)) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	for in, want := range map[string]int64{"20000": 20000, "10Mi": 10 << 20, "40Ki": 40 << 10, "1.5K": 1536, "2MB": 2e6, "0": 0} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v", in, got, err)
		}
	}
	if _, err := ParseSize("ten"); err == nil {
		t.Error("ParseSize(ten) succeeded")
	}
}

func TestRunRefusesUsedDir(t *testing.T) {
	dir := t.TempDir()
	runGen(t, Options{Out: dir, Pods: 1, Containers: 1, Lines: 5})
	if _, err := Run(context.Background(), Options{Out: dir, Pods: 1, Containers: 1, Lines: 5}); err == nil {
		t.Error("second run into the same directory succeeded")
	}
}
