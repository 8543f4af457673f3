//go:build linux

package podfiles

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// secret is the content of the fake /etc/shadow of the fake host root: no test may
// ever read it through Resolve and Open.
const secret = "root:SECRET-FAKE-SHADOW:19000::::::\n"

const testUID = "4d5b2d8e-6f1c-4c3e-9d0a-2f1e8b7c6a59"

// env is a fake node: <root>/pods is the kubelet's pods directory, <root>/host the
// node's root filesystem as the agent sees it (with etc/shadow).
type env struct {
	t    *testing.T
	root string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, root: root}
	e.write("host/etc/shadow", secret)
	e.mkdir("host/var/log/app")
	e.mkdir("pods/" + testUID + "/volumes/" + emptyDirPlugin)
	return e
}

func (e *env) pods() string { return filepath.Join(e.root, "pods") }
func (e *env) host() string { return filepath.Join(e.root, "host") }

// vol is the path, relative to e.root, of an emptyDir volume's directory.
func vol(name string) string { return "pods/" + testUID + "/volumes/" + emptyDirPlugin + "/" + name }

func (e *env) abs(rel string) string { return filepath.Join(e.root, rel) }

func (e *env) mkdir(rel string) {
	e.t.Helper()
	if err := os.MkdirAll(e.abs(rel), 0o755); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) write(rel, content string) {
	e.t.Helper()
	e.mkdir(path.Dir(rel))
	if err := os.WriteFile(e.abs(rel), []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) symlink(target, rel string) {
	e.t.Helper()
	e.mkdir(path.Dir(rel))
	if err := os.Symlink(target, e.abs(rel)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) mkfifo(rel string) {
	e.t.Helper()
	e.mkdir(path.Dir(rel))
	if err := unix.Mkfifo(e.abs(rel), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func emptyDir(name string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}
}

func hostPathVol(name, p string) corev1.Volume {
	return corev1.Volume{Name: name, VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: p}}}
}

func mount(name, mountPath string) corev1.VolumeMount {
	return corev1.VolumeMount{Name: name, MountPath: mountPath}
}

func subMount(name, mountPath, sub string) corev1.VolumeMount {
	return corev1.VolumeMount{Name: name, MountPath: mountPath, SubPath: sub}
}

func exprMount(name, mountPath, expr string) corev1.VolumeMount {
	return corev1.VolumeMount{Name: name, MountPath: mountPath, SubPathExpr: expr}
}

// testPod is a pod with one container "app" (and an init container "sidecar" that
// mounts the same volumes at /sidecar/...).
func testPod(vols []corev1.Volume, mounts []corev1.VolumeMount, envs []corev1.EnvVar) *corev1.Pod {
	var side []corev1.VolumeMount
	for _, m := range mounts {
		m.MountPath = "/sidecar" + m.MountPath
		side = append(side, m)
	}
	always := corev1.ContainerRestartPolicyAlways
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-0", Namespace: "shop", UID: types.UID(testUID)},
		Spec: corev1.PodSpec{
			NodeName:       "node-1",
			Volumes:        vols,
			Containers:     []corev1.Container{{Name: "app", VolumeMounts: mounts, Env: envs}},
			InitContainers: []corev1.Container{{Name: "sidecar", VolumeMounts: side, RestartPolicy: &always}},
		},
	}
}

// mode is a way of resolving: with the kernel's openat2 check, or the walk alone; and
// Open reopening through /proc or without it.
type mode struct {
	name string
	set  func(*Options)
}

func modes(t testing.TB) []mode {
	ms := []mode{
		{"walk", func(o *Options) { o.noOpenat2 = true }},
		{"walk-noproc", func(o *Options) { o.noOpenat2, o.noProcReopen = true, true }},
	}
	fd, err := unix.Openat2(unix.AT_FDCWD, ".", &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_BENEATH})
	if err != nil {
		t.Logf("openat2 unavailable (%v): testing the user-space walk only", err)
		return ms
	}
	unix.Close(fd)
	return append(ms,
		mode{"openat2", func(*Options) {}},
		mode{"openat2-noproc", func(o *Options) { o.noProcReopen = true }},
	)
}

func TestModes(t *testing.T) {
	for _, m := range modes(t) {
		var o Options
		m.set(&o)
		if got, want := newResolver(o).hasOpenat2(), !o.noOpenat2; got != want {
			t.Errorf("%s: hasOpenat2 = %v, want %v", m.name, got, want)
		}
	}
}

func (e *env) options(m mode, allowHostPath bool) Options {
	o := Options{KubeletPodsDir: e.pods(), HostRoot: e.host(), AllowHostPath: allowHostPath}
	m.set(&o)
	return o
}

// readAll opens f with Open and returns its content.
func readAll(t *testing.T, f File, o Options) (string, error) {
	t.Helper()
	file, err := Open(f, o)
	if err != nil {
		return "", err
	}
	defer file.Close()
	b, err := io.ReadAll(file)
	return string(b), err
}

var logsVol = []corev1.Volume{emptyDir("logs")}
var logsMount = []corev1.VolumeMount{mount("logs", "/app/logs")}

func TestResolve(t *testing.T) {
	type want struct {
		container, containerPath string
		host                     string // relative to the env's root
		content                  string
	}
	specs := func(paths ...string) []Spec {
		var s []Spec
		for _, p := range paths {
			c, p, ok := strings.Cut(p, ":")
			if !ok {
				c, p = "app", c
			}
			s = append(s, Spec{c, p})
		}
		return s
	}
	f := func(cpath, host, content string) want { return want{"app", cpath, host, content} }
	tests := []struct {
		name      string
		setup     func(e *env)
		vols      []corev1.Volume
		mounts    []corev1.VolumeMount
		envs      []corev1.EnvVar
		allowHost bool
		uid       string // overrides the pod's UID
		specs     []Spec
		want      []want
		problems  []string // substrings, one per Problem, in order
	}{
		{
			name:  "emptyDir",
			setup: func(e *env) { e.write(vol("logs")+"/app.log", "hello\n") },
			specs: specs("/app/logs/app.log"),
			want:  []want{f("/app/logs/app.log", vol("logs")+"/app.log", "hello\n")},
		},
		{
			name:  "sidecar (restartable init container) with its own mount path",
			setup: func(e *env) { e.write(vol("logs")+"/app.log", "hello\n") },
			specs: specs("sidecar:/sidecar/app/logs/app.log"),
			want:  []want{{"sidecar", "/sidecar/app/logs/app.log", vol("logs") + "/app.log", "hello\n"}},
		},
		{
			name:  "a file that does not exist yet is neither a file nor a problem",
			setup: func(e *env) { e.mkdir(vol("logs")) },
			specs: specs("/app/logs/app.log", "/app/logs/later/*.log"),
		},
		{
			name:  "volume not set up on the node yet",
			specs: specs("/app/logs/app.log"),
		},
		{
			name:   "subPath directory",
			setup:  func(e *env) { e.write(vol("shared")+"/web/logs/a.log", "a"); e.write(vol("shared")+"/a.log", "wrong") },
			vols:   []corev1.Volume{emptyDir("shared")},
			mounts: []corev1.VolumeMount{subMount("shared", "/app/logs", "web/logs")},
			specs:  specs("/app/logs/a.log"),
			want:   []want{f("/app/logs/a.log", vol("shared")+"/web/logs/a.log", "a")},
		},
		{
			name:   "subPath file",
			setup:  func(e *env) { e.write(vol("shared")+"/app.log", "file") },
			vols:   []corev1.Volume{emptyDir("shared")},
			mounts: []corev1.VolumeMount{subMount("shared", "/var/log/app.log", "app.log")},
			specs:  specs("/var/log/app.log"),
			want:   []want{f("/var/log/app.log", vol("shared")+"/app.log", "file")},
		},
		{
			name:   "subPathExpr from literal env, with a reference to an earlier variable",
			setup:  func(e *env) { e.write(vol("shared")+"/web/logs/a.log", "a") },
			vols:   []corev1.Volume{emptyDir("shared")},
			mounts: []corev1.VolumeMount{exprMount("shared", "/app/logs", "$(SUB)")},
			envs:   []corev1.EnvVar{{Name: "DIR", Value: "web"}, {Name: "SUB", Value: "$(DIR)/logs"}},
			specs:  specs("/app/logs/a.log"),
			want:   []want{f("/app/logs/a.log", vol("shared")+"/web/logs/a.log", "a")},
		},
		{
			name:   "subPathExpr from the pod's name",
			setup:  func(e *env) { e.write(vol("shared")+"/web-0/a.log", "a") },
			vols:   []corev1.Volume{emptyDir("shared")},
			mounts: []corev1.VolumeMount{exprMount("shared", "/app/logs", "$(POD_NAME)")},
			envs: []corev1.EnvVar{{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{
				FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}},
			specs: specs("/app/logs/a.log"),
			want:  []want{f("/app/logs/a.log", vol("shared")+"/web-0/a.log", "a")},
		},
		{
			name:   "subPathExpr from a secret is refused",
			setup:  func(e *env) { e.write(vol("shared")+"/x/a.log", "a") },
			vols:   []corev1.Volume{emptyDir("shared")},
			mounts: []corev1.VolumeMount{exprMount("shared", "/app/logs", "$(DIR)")},
			envs: []corev1.EnvVar{{Name: "DIR", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{Key: "dir"}}}},
			specs:    specs("/app/logs/a.log"),
			problems: []string{"uses $(DIR), which has no literal value"},
		},
		{
			name:     "subPathExpr with an undefined variable is refused",
			vols:     []corev1.Volume{emptyDir("shared")},
			mounts:   []corev1.VolumeMount{exprMount("shared", "/app/logs", "logs/$(NOPE)")},
			envs:     []corev1.EnvVar{{Name: "OTHER", Value: "x"}},
			specs:    specs("/app/logs/a.log"),
			problems: []string{"$(NOPE)"},
		},
		{
			name:     "subPathExpr expanding to '..' is refused",
			vols:     []corev1.Volume{emptyDir("shared")},
			mounts:   []corev1.VolumeMount{exprMount("shared", "/app/logs", "$(UP)/x")},
			envs:     []corev1.EnvVar{{Name: "UP", Value: ".."}},
			specs:    specs("/app/logs/a.log"),
			problems: []string{`subPath "../x" contains '..'`},
		},
		{
			name:   "subPath escaping with '..' or absolute is refused",
			setup:  func(e *env) { e.write(vol("a.log"), "neighbour") },
			vols:   []corev1.Volume{emptyDir("shared"), emptyDir("abs")},
			mounts: []corev1.VolumeMount{subMount("shared", "/app/logs", "../a.log"), subMount("abs", "/app/abs", "/etc")},
			specs:  specs("/app/logs", "/app/abs/shadow"),
			problems: []string{
				`subPath "../a.log" contains '..'`,
				`subPath "/etc" is absolute`,
			},
		},
		{
			name: "subPath that is a symbolic link out of the volume is refused",
			setup: func(e *env) {
				e.symlink("/etc", vol("shared")+"/abs")
				e.symlink("../../../../../host/etc", vol("shared")+"/rel")
			},
			vols:   []corev1.Volume{emptyDir("shared")},
			mounts: []corev1.VolumeMount{subMount("shared", "/a", "abs"), subMount("shared", "/r", "rel")},
			specs:  specs("/a/shadow", "/r/shadow"),
			problems: []string{
				"subPath \"abs\" of volume \"shared\": refused: a symbolic link or '..' leads outside the volume",
				"subPath \"rel\" of volume \"shared\": refused: a symbolic link or '..' leads outside the volume",
			},
		},
		{
			name: "nested mounts: the longest mount path on element boundaries wins",
			setup: func(e *env) {
				e.write(vol("data")+"/app.log", "data")
				e.write(vol("data")+"/logsfoo.log", "logsfoo")
				e.write(vol("data")+"/logs/shadowed.log", "hidden by the logs mount")
				e.write(vol("logs")+"/x.log", "x")
			},
			vols:   []corev1.Volume{emptyDir("data"), emptyDir("logs")},
			mounts: []corev1.VolumeMount{mount("logs", "/app/logs"), mount("data", "/app")},
			specs:  specs("/app/logs/x.log", "/app/app.log", "/app/logsfoo.log", "/app/logs/shadowed.log", "/app/*/shadowed.log", "/app/*.log"),
			want: []want{
				f("/app/logs/x.log", vol("logs")+"/x.log", "x"),
				{"app", "/app/app.log", vol("data") + "/app.log", "data"},
				{"app", "/app/logsfoo.log", vol("data") + "/logsfoo.log", "logsfoo"},
			},
		},
		{
			name: "globs expand inside the volume",
			setup: func(e *env) {
				e.write(vol("logs")+"/a.log", "a")
				e.write(vol("logs")+"/b.log", "b")
				e.write(vol("logs")+"/c.txt", "c")
				e.write(vol("logs")+"/.hidden.log", "h")
				e.write(vol("logs")+"/one/d.log", "d")
				e.write(vol("logs")+"/two/e.log", "e")
				e.write(vol("logs")+"/two/ee.log", "ee")
			},
			specs: specs("/app/logs/*.log", "/app/logs/*/?.log", "/app/logs/*.txt", "/app/logs/*.none"),
			want: []want{
				f("/app/logs/.hidden.log", vol("logs")+"/.hidden.log", "h"),
				f("/app/logs/a.log", vol("logs")+"/a.log", "a"),
				f("/app/logs/b.log", vol("logs")+"/b.log", "b"),
				f("/app/logs/one/d.log", vol("logs")+"/one/d.log", "d"),
				f("/app/logs/two/e.log", vol("logs")+"/two/e.log", "e"),
				f("/app/logs/c.txt", vol("logs")+"/c.txt", "c"),
			},
		},
		{
			name:     "bad glob pattern",
			setup:    func(e *env) { e.mkdir(vol("logs")) },
			specs:    specs("/app/logs/[a.log"),
			problems: []string{"bad glob pattern"},
		},
		{
			name: "a glob reports the escaping match and keeps the others",
			setup: func(e *env) {
				e.write(vol("logs")+"/a.log", "a")
				e.symlink("/etc/shadow", vol("logs")+"/b.log")
				e.mkfifo(vol("logs") + "/c.log")
			},
			specs: specs("/app/logs/*.log"),
			want:  []want{f("/app/logs/a.log", vol("logs")+"/a.log", "a")},
			problems: []string{
				"/app/logs/b.log: refused: a symbolic link or '..' leads outside the volume",
				"/app/logs/c.log: refused: not a regular file (FIFO)",
			},
		},
		{
			name:      "hostPath allowed",
			setup:     func(e *env) { e.write("host/var/log/app/x.log", "host") },
			vols:      []corev1.Volume{hostPathVol("varlog", "/var/log/app")},
			mounts:    []corev1.VolumeMount{mount("varlog", "/var/log/app")},
			allowHost: true,
			specs:     specs("/var/log/app/x.log", "/var/log/app/*.log"),
			want:      []want{f("/var/log/app/x.log", "host/var/log/app/x.log", "host")},
		},
		{
			name:      "hostPath naming a file",
			setup:     func(e *env) { e.write("host/var/log/app/x.log", "host") },
			vols:      []corev1.Volume{hostPathVol("x", "/var/log/app/x.log")},
			mounts:    []corev1.VolumeMount{mount("x", "/x.log")},
			allowHost: true,
			specs:     specs("/x.log", "/x.log/y"),
			want:      []want{f("/x.log", "host/var/log/app/x.log", "host")},
			problems:  []string{"not a directory"},
		},
		{
			name:     "hostPath refused by default",
			setup:    func(e *env) { e.write("host/var/log/app/x.log", "host") },
			vols:     []corev1.Volume{hostPathVol("varlog", "/var/log/app")},
			mounts:   []corev1.VolumeMount{mount("varlog", "/var/log/app")},
			specs:    specs("/var/log/app/x.log"),
			problems: []string{"hostPath volume"},
		},
		{
			name:      "hostPath of /etc refused by default",
			vols:      []corev1.Volume{hostPathVol("etc", "/etc")},
			mounts:    []corev1.VolumeMount{mount("etc", "/host-etc")},
			allowHost: false,
			specs:     specs("/host-etc/shadow"),
			problems:  []string{"hostPath volume"},
		},
		{
			name: "allowed hostPath: symbolic links out of it and in its path are refused",
			setup: func(e *env) {
				e.symlink("../../etc/shadow", "host/var/log/app/up.log")
				e.symlink("/etc/shadow", "host/var/log/app/abs.log")
				e.symlink("app", "host/var/log/link")
				e.write("host/var/log/app/x.log", "x")
			},
			vols:      []corev1.Volume{hostPathVol("app", "/var/log/app"), hostPathVol("link", "/var/log/link")},
			mounts:    []corev1.VolumeMount{mount("app", "/logs"), mount("link", "/link")},
			allowHost: true,
			specs:     specs("/logs/up.log", "/logs/abs.log", "/link/x.log"),
			problems: []string{
				"leads outside the volume",
				"leads outside the volume",
				"the path contains a symbolic link",
			},
		},
		{
			name: "symbolic links to /etc/shadow: real absolute, fake absolute, fake relative",
			setup: func(e *env) {
				e.symlink("/etc/shadow", vol("logs")+"/real.log")
				e.symlink(e.abs("host/etc/shadow"), vol("logs")+"/fake.log")
				e.symlink("../../../../../host/etc/shadow", vol("logs")+"/rel.log")
				e.symlink("/proc/self/root/etc/shadow", vol("logs")+"/proc.log")
			},
			specs: specs("/app/logs/real.log", "/app/logs/fake.log", "/app/logs/rel.log", "/app/logs/proc.log"),
			problems: []string{
				"/app/logs/real.log: refused: a symbolic link or '..' leads outside the volume",
				"/app/logs/fake.log: refused: a symbolic link or '..' leads outside the volume",
				"/app/logs/rel.log: refused: a symbolic link or '..' leads outside the volume",
				"/app/logs/proc.log: refused: a symbolic link or '..' leads outside the volume",
			},
		},
		{
			name: "symbolic links to the volume's parents",
			setup: func(e *env) {
				e.write(vol("logs2")+"/neighbour.log", "other volume")
				e.symlink("../../", vol("logs")+"/up2")
				e.symlink("..", vol("logs")+"/up1.log")
				e.symlink("../logs2/neighbour.log", vol("logs")+"/neighbour.log")
				e.symlink("../logs/self.log", vol("logs")+"/back.log")
				e.write(vol("logs")+"/self.log", "self")
			},
			specs: specs("/app/logs/up2/logs/self.log", "/app/logs/up1.log", "/app/logs/neighbour.log", "/app/logs/back.log"),
			problems: []string{
				"leads outside the volume",
				"leads outside the volume",
				"leads outside the volume",
				"leads outside the volume", // even when it would come back: as RESOLVE_BENEATH
			},
		},
		{
			name: "directory symbolic links pointing outside",
			setup: func(e *env) {
				e.symlink("/etc", vol("logs")+"/abs")
				e.symlink("../../../../../host/etc", vol("logs")+"/rel")
				e.symlink(e.abs("host/etc"), vol("logs")+"/fake")
			},
			specs: specs("/app/logs/abs/shadow", "/app/logs/rel/shadow", "/app/logs/fake/shadow", "/app/logs/rel/*", "/app/logs/*/shadow"),
			problems: []string{
				"/app/logs/abs/shadow: refused: a symbolic link or '..' leads outside",
				"/app/logs/rel/shadow: refused: a symbolic link or '..' leads outside",
				"/app/logs/fake/shadow: refused: a symbolic link or '..' leads outside",
				"/app/logs/rel: refused: a symbolic link or '..' leads outside",
				"/app/logs/abs/shadow: refused",
				"/app/logs/fake/shadow: refused",
				"/app/logs/rel/shadow: refused",
			},
		},
		{
			name: "symbolic link chain inside the volume is followed",
			setup: func(e *env) {
				e.symlink("b.log", vol("logs")+"/a.log")
				e.symlink("sub/c.log", vol("logs")+"/b.log")
				e.symlink("../real.log", vol("logs")+"/sub/c.log")
				e.write(vol("logs")+"/real.log", "real")
				e.write(vol("logs")+"/2024/x.log", "x")
				e.symlink("2024/", vol("logs")+"/current")
				e.symlink("./current/../2024/./x.log", vol("logs")+"/twisty.log")
			},
			specs: specs("/app/logs/a.log", "/app/logs/current/x.log", "/app/logs/twisty.log", "/app/logs/sub/c.log"),
			want: []want{
				f("/app/logs/a.log", vol("logs")+"/real.log", "real"),
				f("/app/logs/current/x.log", vol("logs")+"/2024/x.log", "x"),
				// twisty.log and sub/c.log are the same files: returned once.
			},
		},
		{
			name: "symbolic link loops",
			setup: func(e *env) {
				e.symlink("b.log", vol("logs")+"/a.log")
				e.symlink("a.log", vol("logs")+"/b.log")
				e.symlink("self.log", vol("logs")+"/self.log")
				e.symlink("../d/x", vol("logs")+"/d/x")
			},
			specs: specs("/app/logs/a.log", "/app/logs/self.log", "/app/logs/d/x"),
			problems: []string{
				"too many levels of symbolic links",
				"too many levels of symbolic links",
				"too many levels of symbolic links",
			},
		},
		{
			name: "dangling link and trailing-slash link to a file",
			setup: func(e *env) {
				e.symlink("nowhere.log", vol("logs")+"/dangling.log")
				e.write(vol("logs")+"/f.log", "f")
				e.symlink("f.log/", vol("logs")+"/slash.log")
			},
			specs:    specs("/app/logs/dangling.log", "/app/logs/slash.log"),
			problems: []string{"not a directory"},
		},
		{
			name:  "unclean, relative and odd spec paths are refused",
			setup: func(e *env) { e.write(vol("logs")+"/a.log", "a") },
			specs: specs("/app/logs/../logs/a.log", "/app/logs/..", "app/logs/a.log", "./app/logs/a.log",
				"/app/./logs/a.log", "//app/logs/a.log", "/app/logs/a.log/", "", "/app/logs/a\x00.log", "../etc/shadow"),
			problems: []string{
				"must not contain '..'",
				"must not contain '..'",
				"must be absolute",
				"must be absolute",
				"must be clean",
				"must be clean",
				"must be clean",
				"empty path",
				"NUL",
				"must be absolute",
			},
		},
		{
			name:  "paths outside any mount are refused",
			setup: func(e *env) { e.write(vol("logs")+"/a.log", "a") },
			specs: specs("/etc/shadow", "/app/logsx/a.log", "/app", "/var/log/*.log"),
			problems: []string{
				"not on a volume: the container's root filesystem is not reachable from the node safely",
				"not on a volume", "not on a volume", "not on a volume",
			},
		},
		{
			name: "FIFOs, directories and sockets are not regular files",
			setup: func(e *env) {
				e.mkfifo(vol("logs") + "/fifo.log")
				e.mkdir(vol("logs") + "/dir.log")
				e.symlink("dir.log", vol("logs")+"/dirlink.log")
			},
			specs: specs("/app/logs/fifo.log", "/app/logs/dir.log", "/app/logs/dirlink.log", "/app/logs"),
			problems: []string{
				"not a regular file (FIFO)",
				"not a regular file (directory)",
				"not a regular file (directory)",
				"not a regular file (directory)",
			},
		},
		{
			name:     "unknown container",
			setup:    func(e *env) { e.write(vol("logs")+"/a.log", "a") },
			specs:    specs("nginx:/app/logs/a.log"),
			problems: []string{`the pod has no container named "nginx"`},
		},
		{
			name: "API data, claims and other volume types are refused",
			vols: []corev1.Volume{
				{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
				{Name: "sec", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "s"}}},
				{Name: "proj", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{}}},
				{Name: "down", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{}}},
				{Name: "pvc", VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "c"}}},
				{Name: "csi", VolumeSource: corev1.VolumeSource{CSI: &corev1.CSIVolumeSource{Driver: "d"}}},
				{Name: "nfs", VolumeSource: corev1.VolumeSource{NFS: &corev1.NFSVolumeSource{Server: "s", Path: "/"}}},
			},
			mounts: []corev1.VolumeMount{mount("cm", "/cm"), mount("sec", "/sec"), mount("proj", "/proj"),
				mount("down", "/down"), mount("pvc", "/pvc"), mount("csi", "/csi"), mount("nfs", "/nfs"), mount("gone", "/gone")},
			specs: specs("/cm/a.log", "/sec/token", "/proj/a", "/down/labels", "/pvc/a.log", "/csi/a.log", "/nfs/a.log", "/gone/a.log"),
			problems: []string{
				`"cm" is a configMap volume: it holds API data, not logs`,
				`"sec" is a secret volume`,
				`"proj" is a projected volume`,
				`"down" is a downwardAPI volume`,
				`"pvc" is a persistent volume claim`,
				`"csi" is a csi volume`,
				`"nfs" is a nfs volume`,
				`names volume "gone", which the pod does not have`,
			},
		},
		{
			name: "the volume directory must not be a symbolic link",
			setup: func(e *env) {
				e.mkdir("pods/" + testUID + "/volumes/" + emptyDirPlugin)
				e.symlink(e.abs("host/etc"), vol("logs"))
			},
			specs:    specs("/app/logs/shadow"),
			problems: []string{"the path contains a symbolic link"},
		},
		{
			name:     "a pod UID that is not a directory name",
			uid:      "../" + testUID,
			specs:    specs("/app/logs/a.log"),
			problems: []string{"the pod's UID"},
		},
		{
			name:  "a file named twice is returned once",
			setup: func(e *env) { e.write(vol("logs")+"/a.log", "a") },
			specs: specs("/app/logs/a.log", "/app/logs/*.log", "sidecar:/sidecar/app/logs/a.log"),
			want:  []want{f("/app/logs/a.log", vol("logs")+"/a.log", "a")},
		},
	}
	for _, tt := range tests {
		for _, m := range modes(t) {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				e := newEnv(t)
				if tt.setup != nil {
					tt.setup(e)
				}
				vols, mounts := tt.vols, tt.mounts
				if vols == nil {
					vols = logsVol
				}
				if mounts == nil {
					mounts = logsMount
				}
				pod := testPod(vols, mounts, tt.envs)
				if tt.uid != "" {
					pod.UID = types.UID(tt.uid)
				}
				o := e.options(m, tt.allowHost)
				files, probs := Resolve(pod, tt.specs, o)

				if len(files) != len(tt.want) {
					t.Errorf("got %d files, want %d: %+v", len(files), len(tt.want), files)
				}
				for i := 0; i < len(files) && i < len(tt.want); i++ {
					got, w := files[i], tt.want[i]
					if got.Container != w.container || got.ContainerPath != w.containerPath || got.HostPath != e.abs(w.host) {
						t.Errorf("file %d: got %s %s -> %s, want %s %s -> %s", i, got.Container, got.ContainerPath, got.HostPath,
							w.container, w.containerPath, e.abs(w.host))
					}
					if !hasPathPrefix(got.HostPath, got.VolumeRoot) {
						t.Errorf("file %d: %s is not inside its volume root %s", i, got.HostPath, got.VolumeRoot)
					}
					content, err := readAll(t, got, o)
					if err != nil || content != w.content {
						t.Errorf("file %d: Open: %q, %v; want %q", i, content, err, w.content)
					}
				}
				if len(probs) != len(tt.problems) {
					t.Errorf("got %d problems, want %d: %+v", len(probs), len(tt.problems), probs)
				}
				for i := 0; i < len(probs) && i < len(tt.problems); i++ {
					if !strings.Contains(probs[i].Reason, tt.problems[i]) {
						t.Errorf("problem %d: %q does not contain %q", i, probs[i].Reason, tt.problems[i])
					}
				}
				for _, p := range probs {
					found := false
					for _, s := range tt.specs {
						found = found || (s == Spec{p.Container, p.Path})
					}
					if !found {
						t.Errorf("problem %+v is about no spec", p)
					}
				}
				for _, f := range files {
					if c, _ := readAll(t, f, o); strings.Contains(c, "SECRET") {
						t.Fatalf("read the fake shadow through %+v", f)
					}
				}
			})
		}
	}
}

func TestResolveMirrorPod(t *testing.T) {
	e := newEnv(t)
	e.write(vol("logs")+"/a.log", "a")
	pod := testPod(logsVol, logsMount, nil)
	// A pod claiming to be the mirror of a static pod whose UID is the directory of
	// another pod's volumes must not read them.
	pod.UID = "someone-else"
	pod.Annotations = map[string]string{"kubernetes.io/config.mirror": testUID, "kubernetes.io/config.hash": testUID}
	files, probs := Resolve(pod, []Spec{{"app", "/app/logs/a.log"}}, e.options(modes(t)[0], false))
	if len(files) != 0 || len(probs) != 1 || !strings.Contains(probs[0].Reason, "static pod") {
		t.Fatalf("got %v, %v", files, probs)
	}
	if !strings.Contains(probs[0].Error(), `container "app", file "/app/logs/a.log": a static pod`) {
		t.Errorf("Error() = %q", probs[0].Error())
	}
}

// TestResolveLimits checks the bounds on what one pattern may match.
func TestResolveLimits(t *testing.T) {
	e := newEnv(t)
	for i := 0; i <= maxMatches; i++ {
		e.write(vol("logs")+"/"+strconv.Itoa(10000+i)+".log", "x")
	}
	files, probs := Resolve(testPod(logsVol, logsMount, nil), []Spec{{"app", "/app/logs/*.log"}}, e.options(modes(t)[0], false))
	if len(files) != maxMatches || len(probs) != 1 || !strings.Contains(probs[0].Reason, "only the first 1000") {
		t.Fatalf("got %d files, problems %v", len(files), probs)
	}
	if files[0].ContainerPath != "/app/logs/10000.log" || files[maxMatches-1].ContainerPath != "/app/logs/10999.log" {
		t.Errorf("first and last: %s, %s", files[0].ContainerPath, files[maxMatches-1].ContainerPath)
	}
}

// TestResolveDevicesAndSockets needs CAP_MKNOD for the device.
func TestResolveDevicesAndSockets(t *testing.T) {
	for _, m := range modes(t) {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t)
			e.mkdir(vol("logs"))
			if err := unix.Mknod(e.abs(vol("logs")+"/sock.log"), unix.S_IFSOCK|0o644, 0); err != nil {
				t.Fatal(err)
			}
			specs := []Spec{{"app", "/app/logs/sock.log"}}
			want := []string{"not a regular file (socket)"}
			if err := unix.Mknod(e.abs(vol("logs")+"/null.log"), unix.S_IFCHR|0o644, int(unix.Mkdev(1, 3))); err == nil {
				specs = append(specs, Spec{"app", "/app/logs/null.log"})
				want = append(want, "not a regular file (character device)")
			} else {
				t.Logf("no device test: mknod: %v", err)
			}
			o := e.options(m, false)
			files, probs := Resolve(testPod(logsVol, logsMount, nil), specs, o)
			if len(files) != 0 || len(probs) != len(want) {
				t.Fatalf("got %v, %v", files, probs)
			}
			for i, p := range probs {
				if !strings.Contains(p.Reason, want[i]) {
					t.Errorf("%q does not contain %q", p.Reason, want[i])
				}
			}
			for _, s := range specs {
				f := File{Container: "app", ContainerPath: s.Path, HostPath: e.abs(vol("logs") + "/" + path.Base(s.Path)),
					Volume: "logs", VolumeType: EmptyDir, VolumeRoot: e.abs(vol("logs"))}
				if _, err := readAll(t, f, o); err == nil || !strings.Contains(err.Error(), "not a regular file") {
					t.Errorf("Open %s: %v", s.Path, err)
				}
			}
		})
	}
}

func TestResolveOptions(t *testing.T) {
	pod := testPod(logsVol, logsMount, nil)
	for _, o := range []Options{{KubeletPodsDir: "pods"}, {HostRoot: "host"}} {
		files, probs := Resolve(pod, []Spec{{"app", "/app/logs/a.log"}}, o)
		if len(files) != 0 || len(probs) != 1 || !strings.Contains(probs[0].Reason, "not an absolute path") {
			t.Errorf("%+v: got %v, %v", o, files, probs)
		}
	}
	if _, probs := Resolve(nil, []Spec{{"app", "/a"}}, Options{}); len(probs) != 1 {
		t.Errorf("nil pod: got %v", probs)
	}
	// The default pods directory is the kubelet's: this pod's UID is not there.
	if files, probs := Resolve(pod, []Spec{{"app", "/app/logs/a.log"}}, Options{}); len(files) != 0 || len(probs) != 0 {
		t.Errorf("default options: got %v, %v", files, probs)
	}
}

func TestExpandVars(t *testing.T) {
	vars := map[string]string{"A": "a", "B": "b"}
	mapping := func(k string) string {
		if v, ok := vars[k]; ok {
			return v
		}
		return "$(" + k + ")"
	}
	tests := []struct{ in, want string }{
		{"", ""},
		{"$(A)", "a"},
		{"x/$(A)/$(B)", "x/a/b"},
		{"$$(A)", "$(A)"},
		{"$$", "$"},
		{"$", "$"},
		{"a$", "a$"},
		{"$(A", "$(A"},
		{"$x", "$x"},
		{"$(C)", "$(C)"},
		{"$($(A))", "$($(A))"},
		{"$()", "$()"},
	}
	for _, tt := range tests {
		if got := expandVars(tt.in, mapping); got != tt.want {
			t.Errorf("expandVars(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestOpenAfterSwap replaces the resolved file between Resolve and Open, as a pod
// racing the agent would.
func TestOpenAfterSwap(t *testing.T) {
	tests := []struct {
		name    string
		swap    func(e *env, file string) // file is relative to e.root
		content string                    // "" means Open must fail
		notExit bool                      // the error must match fs.ErrNotExist
	}{
		{name: "unchanged", swap: func(*env, string) {}, content: "log"},
		{name: "symbolic link to the real /etc/shadow", swap: func(e *env, file string) { replace(e, file, "/etc/shadow") }},
		{name: "symbolic link to the fake shadow, absolute", swap: func(e *env, file string) { replace(e, file, e.abs("host/etc/shadow")) }},
		{name: "symbolic link to the fake shadow, relative", swap: func(e *env, file string) {
			replace(e, file, "../../../../../../host/etc/shadow")
		}},
		{name: "symbolic link to the fake shadow through /proc", swap: func(e *env, file string) {
			replace(e, file, "/proc/self/root"+e.abs("host/etc/shadow"))
		}},
		{name: "parent directory replaced by a link outside", swap: func(e *env, file string) {
			e.write("host/etc/"+path.Base(file), secret)
			dir := e.abs(path.Dir(file))
			if err := os.Rename(dir, dir+".old"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink("../../../../../host/etc", dir); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "parent directory replaced by an absolute link outside", swap: func(e *env, file string) {
			e.write("host/etc/"+path.Base(file), secret)
			dir := e.abs(path.Dir(file))
			if err := os.Rename(dir, dir+".old"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(e.abs("host/etc"), dir); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "FIFO", swap: func(e *env, file string) {
			os.Remove(e.abs(file))
			e.mkfifo(file)
		}},
		{name: "directory", swap: func(e *env, file string) {
			os.Remove(e.abs(file))
			e.mkdir(file)
		}},
		{name: "removed", swap: func(e *env, file string) { os.Remove(e.abs(file)) }, notExit: true},
		{name: "symbolic link inside the volume", swap: func(e *env, file string) {
			e.write(vol("logs")+"/other.log", "other")
			replace(e, file, "../other.log")
		}, content: "other"},
	}
	for _, tt := range tests {
		for _, m := range modes(t) {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				e := newEnv(t)
				file := vol("logs") + "/sub/app.log"
				e.write(file, "log")
				o := e.options(m, false)
				files, probs := Resolve(testPod(logsVol, logsMount, nil), []Spec{{"app", "/app/logs/sub/app.log"}}, o)
				if len(files) != 1 || len(probs) != 0 {
					t.Fatalf("Resolve: %v, %v", files, probs)
				}
				tt.swap(e, file)
				done := make(chan struct{})
				var content string
				var err error
				go func() {
					defer close(done)
					content, err = readAll(t, files[0], o)
				}()
				select {
				case <-done:
				case <-time.After(10 * time.Second):
					t.Fatal("Open blocked")
				}
				if tt.content != "" {
					if err != nil || content != tt.content {
						t.Fatalf("got %q, %v; want %q", content, err, tt.content)
					}
					return
				}
				if err == nil {
					t.Fatalf("Open succeeded after the swap and read %q", content)
				}
				if tt.notExit && !errors.Is(err, fs.ErrNotExist) {
					t.Errorf("error %v does not match fs.ErrNotExist", err)
				}
				t.Logf("refused: %v", err)
			})
		}
	}
}

// replace replaces file (relative to e.root) with a symbolic link to target.
func replace(e *env, file, target string) {
	e.t.Helper()
	tmp := e.abs(file) + ".tmp"
	if err := os.Symlink(target, tmp); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Rename(tmp, e.abs(file)); err != nil {
		e.t.Fatal(err)
	}
}

// TestOpenForged checks that Open accepts only Files shaped as Resolve makes them.
func TestOpenForged(t *testing.T) {
	e := newEnv(t)
	e.write(vol("logs")+"/a.log", "a")
	e.symlink("/etc/shadow", vol("logs")+"/shadow.log")
	e.write("host/var/log/app/x.log", "x")
	good := File{Container: "app", ContainerPath: "/app/logs/a.log", HostPath: e.abs(vol("logs") + "/a.log"),
		Volume: "logs", VolumeType: EmptyDir, VolumeRoot: e.abs(vol("logs"))}
	hostFile := File{Container: "app", ContainerPath: "/x.log", HostPath: e.abs("host/var/log/app/x.log"),
		Volume: "h", VolumeType: HostPath, VolumeRoot: e.abs("host/var/log/app")}
	tests := []struct {
		name  string
		edit  func(f *File)
		allow bool
		ok    bool
	}{
		{name: "as Resolve makes it", edit: func(*File) {}, ok: true},
		{name: "the link to /etc/shadow", edit: func(f *File) { f.HostPath = e.abs(vol("logs") + "/shadow.log") }},
		{name: "dot-dot in HostPath", edit: func(f *File) { f.HostPath = e.abs(vol("logs")) + "/../../../../../host/etc/shadow" }},
		{name: "HostPath outside VolumeRoot", edit: func(f *File) { f.HostPath = e.abs("host/etc/shadow") }},
		{name: "VolumeRoot not a volume directory", edit: func(f *File) {
			f.VolumeRoot, f.HostPath = e.abs("host/etc"), e.abs("host/etc/shadow")
		}},
		{name: "VolumeRoot of another volume name", edit: func(f *File) { f.Volume = "other" }},
		{name: "relative VolumeRoot", edit: func(f *File) { f.VolumeRoot = "pods/x" }},
		{name: "unknown volume type", edit: func(f *File) { f.VolumeType = "secret" }},
		{name: "hostPath not allowed", edit: func(f *File) { *f = hostFile }},
		{name: "hostPath allowed", edit: func(f *File) { *f = hostFile }, allow: true, ok: true},
		{name: "hostPath outside the host root", edit: func(f *File) {
			*f = hostFile
			f.VolumeRoot, f.HostPath = "/etc", "/etc/shadow"
		}, allow: true},
	}
	for _, tt := range tests {
		for _, m := range modes(t) {
			t.Run(tt.name+"/"+m.name, func(t *testing.T) {
				f := good
				tt.edit(&f)
				content, err := readAll(t, f, e.options(m, tt.allow))
				if tt.ok != (err == nil) {
					t.Fatalf("got %q, %v; want success %v", content, err, tt.ok)
				}
				if strings.Contains(content, "SECRET") || strings.Contains(content, "root:") {
					t.Fatalf("read a shadow file: %q", content)
				}
			})
		}
	}
}

// FuzzResolvePath resolves random spec paths in a volume holding symbolic links with
// random targets: every File must be a regular file inside its volume root, with no
// symbolic link left in its HostPath, that Open opens, and that is never the shadow.
func FuzzResolvePath(f *testing.F) {
	seeds := [][3]string{
		{"/app/logs/x", "/etc/shadow", "a.log"},
		{"/app/logs/x", "../../../../../host/etc/shadow", "a.log"},
		{"/app/logs/sub/y", "../x", "../../a.log"},
		{"/app/logs/*/*", "..", "sub"},
		{"/app/logs/x/shadow", "../../../../../host/etc", "x"},
		{"/app/data/y", "../../../logs/a.log", "b.log"},
		{"/app/data/*", "y", "../y"},
		{"/app/logs/sub/y/../a.log", "a.log", "."},
		{"/app/logs/[", "[", "/"},
		{"/app/logs/x", "sub/y", "../x"},
		{"/app/logs/fifo", "fifo", "a.log/"},
		{"/app/logs/x", "/proc/self/root/etc/shadow", "x"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2])
	}
	ms := modes(f)
	f.Fuzz(func(t *testing.T, spec, target1, target2 string) {
		if strings.IndexByte(target1, 0) >= 0 || strings.IndexByte(target2, 0) >= 0 || len(target1) > 512 || len(target2) > 512 || target1 == "" || target2 == "" {
			t.Skip()
		}
		e := newEnv(t)
		e.write(vol("logs")+"/a.log", "a")
		e.write(vol("logs")+"/sub/b.log", "b")
		e.mkfifo(vol("logs") + "/fifo")
		e.write(vol("shared")+"/inner/c.log", "c")
		e.write(vol("shared")+"/outer.log", "outer")
		e.symlink(target1, vol("logs")+"/x")
		e.symlink(target2, vol("logs")+"/sub/y")
		e.symlink(target1, vol("shared")+"/inner/y")
		pod := testPod([]corev1.Volume{emptyDir("logs"), emptyDir("shared")},
			[]corev1.VolumeMount{mount("logs", "/app/logs"), subMount("shared", "/app/data", "inner")}, nil)
		for _, m := range ms {
			o := e.options(m, false)
			files, _ := Resolve(pod, []Spec{{"app", spec}}, o)
			for _, file := range files {
				if file.HostPath != file.VolumeRoot && !strings.HasPrefix(file.HostPath, file.VolumeRoot+"/") {
					t.Fatalf("%s: %s is outside %s", m.name, file.HostPath, file.VolumeRoot)
				}
				if file.VolumeRoot != e.abs(vol("logs")) && file.VolumeRoot != e.abs(vol("shared")) {
					t.Fatalf("%s: volume root %s", m.name, file.VolumeRoot)
				}
				if strings.HasPrefix(file.ContainerPath, "/app/data/") && !strings.HasPrefix(file.HostPath, e.abs(vol("shared")+"/inner/")) {
					t.Fatalf("%s: %s left the subPath: %s", m.name, file.ContainerPath, file.HostPath)
				}
				real, err := filepath.EvalSymlinks(file.HostPath)
				if err != nil || real != file.HostPath {
					t.Fatalf("%s: HostPath %s is not canonical: %s, %v", m.name, file.HostPath, real, err)
				}
				st, err := os.Lstat(file.HostPath)
				if err != nil || !st.Mode().IsRegular() {
					t.Fatalf("%s: %s is not a regular file: %v", m.name, file.HostPath, err)
				}
				content, err := readAll(t, file, o)
				if err != nil || strings.Contains(content, "SECRET") {
					t.Fatalf("%s: Open %s: %q, %v", m.name, file.HostPath, content, err)
				}
			}
		}
	})
}
