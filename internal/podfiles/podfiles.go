// Package podfiles finds, on the node, the log files that an application writes inside
// its container, so that the agent can tail them. A pod asks for this with the
// annotation `logferry.io/files: "app:/app/logs/*.log,app:/var/log/nginx/access.log"`;
// parsing the annotation is done elsewhere: this package receives the parsed [Spec]s.
//
// # Mapping
//
// A container path is reachable from the node only when it lies on a volume: the
// container's root filesystem belongs to the container runtime (overlay snapshots,
// device mapper, ...) and is never looked at. For each spec the volumeMount of the
// container whose mountPath is the longest prefix of the path (on element boundaries)
// is chosen, and the rest of the path is looked up in that volume's directory on the
// node:
//
//   - emptyDir: <KubeletPodsDir>/<pod UID>/volumes/kubernetes.io~empty-dir/<volume>;
//   - hostPath: <HostRoot><hostPath.path>, only when [Options.AllowHostPath] is set;
//   - every other type is refused: configMap, secret, projected and downwardAPI volumes
//     hold API data, never logs (and a secret must never be shipped), and the node
//     directory of a persistentVolumeClaim, ephemeral or csi volume is named after the
//     PersistentVolume or depends on the driver, which only an API lookup can tell.
//
// The mount's subPath (or subPathExpr, expanded from the container's env) selects a
// directory or file inside the volume, as the kubelet does.
//
// # Safety
//
// The pod owns everything inside its volumes and may put any symbolic link there, or
// race the agent by renaming and replacing files; the agent runs with more privileges
// than the pod and must never read a file outside the pod's volume on the pod's behalf
// (`ln -s /etc/shadow app.log` must not ship the node's password hashes). Therefore:
//
//   - a spec path must be absolute and clean: no `.` or `..` element, no `//`, no
//     trailing `/`, no NUL;
//   - the directory of the volume is opened from the trusted base (KubeletPodsDir or
//     HostRoot) without following any symbolic link;
//   - from there every path is resolved one element at a time on file descriptors,
//     never as a string handed to open(2): a symbolic link is followed only when it is
//     relative and its target stays beneath the directory the container sees at the
//     mountPath (the subPath directory, or the volume); absolute links, `..` climbing
//     above that directory (even if a later element would come back) and more than 40
//     links (a loop) are refused. The walk reads a link's text itself and never lets the
//     kernel follow one, so a /proc magic link is never followed. When the kernel has
//     openat2(2) (Linux 5.6), every result is also checked by the kernel with
//     RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS, and the user-space walk and the kernel must
//     agree on the file, or the file is refused;
//   - glob patterns are expanded by listing directories reached that way, so expansion
//     happens inside the volume only;
//   - only regular files are returned: directories, FIFOs (opening one would block the
//     agent), sockets and devices are refused.
//
// # hostPath volumes
//
// hostPath volumes are refused unless [Options.AllowHostPath] is set. A hostPath volume
// can mount any directory of the node (/etc, /var/lib/kubelet, /), and pod security
// admission checks it only when the pod is created, whereas annotations can be changed on
// a running pod by anyone who may patch it. The agent reads as root: an annotation naming
// /etc/shadow inside a read-only hostPath of /etc would let a non-root container, or a
// user who may only patch annotations, read through the agent what it cannot read
// itself. Even when allowed, a file is resolved beneath the hostPath directory, and the
// hostPath itself must not contain a symbolic link (it would be resolved in the agent's
// mount namespace, not the node's).
//
// # Hard links
//
// A hard link cannot point outside its filesystem mount (link(2) fails with EXDEV
// across mounts, even of the same filesystem), and with fs.protected_hardlinks (the
// default) only a user who may read and write a file can link it: a hard link in a
// volume names a file that the pod could read anyway, so hard links are not refused.
//
// # Time of check and time of use
//
// The HostPath of a [File] is a name, not a capability. Between Resolve and the agent's
// open, the pod can replace the file, or any directory above it inside the volume, with
// a symbolic link to /etc/shadow; os.Open(file.HostPath) would then follow it. Never
// open a HostPath as a plain path: use [Open], which resolves the path again beneath the
// volume directory with the same rules (openat2 RESOLVE_BENEATH on a descriptor of the
// volume directory, or the descriptor walk), checks that the result is a regular file
// through an O_PATH descriptor, and only then opens it for reading (through
// /proc/self/fd, so a FIFO or device is never opened at all). A replaced file is then
// either refused or, when the replacement is a symbolic link that stays inside the
// volume, the file it points to is opened: the pod's own data, which it could have
// written to the log file anyway. Once open, the descriptor keeps naming the same file
// whatever the pod renames.
package podfiles

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// DefaultKubeletPodsDir is where the kubelet keeps pod directories on the node.
const DefaultKubeletPodsDir = "/var/lib/kubelet/pods"

// Volume types named in [File.VolumeType].
const (
	EmptyDir = "emptyDir"
	HostPath = "hostPath"
)

const (
	// maxMatches bounds the files one spec may yield (a glob in a directory the pod
	// filled with a million names must not make the agent tail a million files).
	maxMatches = 1000
	// maxDirEntries bounds the names read from one directory while expanding a glob,
	// maxScanned those read for one spec.
	maxDirEntries = 100000
	maxScanned    = 200000
	// maxPath is PATH_MAX: longer spec paths are refused.
	maxPath = 4096
	// emptyDirPlugin is the escaped name of the kubelet's emptyDir plugin.
	emptyDirPlugin = "kubernetes.io~empty-dir"
	// mirrorAnnotation marks the API object (mirror pod) of a kubelet static pod.
	mirrorAnnotation = "kubernetes.io/config.mirror"
)

// Spec is one requested file: a path, or a glob pattern (path.Match syntax, in any
// element after the mount point), in the filesystem of one container of the pod.
// Its fields match podconfig.FileSpec, so one converts to the other.
type Spec struct {
	Container string
	Path      string
}

// Options tells where the node's directories are visible to the agent.
type Options struct {
	// KubeletPodsDir is the kubelet's pods directory as mounted in the agent's container
	// (absolute); "" means DefaultKubeletPodsDir.
	KubeletPodsDir string
	// HostRoot is the directory under which the node's root filesystem is visible to
	// the agent (absolute), for hostPath volumes: "/host" when the node's / is mounted
	// at /host; "" when the agent sees the node's filesystem directly.
	HostRoot string
	// AllowHostPath lets a spec name a file on a hostPath volume. It is off by default:
	// see the package documentation.
	AllowHostPath bool

	// Test knobs: noOpenat2 forces the user-space walk alone, as on a kernel without
	// openat2; noProcReopen forces Open to reopen without /proc/self/fd.
	noOpenat2    bool
	noProcReopen bool
}

// File is one log file found for a [Spec].
type File struct {
	Container string
	// ContainerPath is the path of the file in the container, with globs expanded
	// (before symbolic links inside the volume are followed).
	ContainerPath string
	// HostPath is where the file is seen by the agent: VolumeRoot, then the path of the
	// file inside the volume with every symbolic link resolved. It is a name for
	// display, keys and Events; open it with [Open] only, never with os.Open.
	HostPath string
	// Volume is the name of the pod's volume holding the file, VolumeType its type
	// (EmptyDir or HostPath).
	Volume     string
	VolumeType string
	// VolumeRoot is the volume's directory as seen by the agent. HostPath is always
	// VolumeRoot or inside it, and [Open] never leaves it.
	VolumeRoot string
}

// Problem is a spec (or one file a glob matched) that was refused. The agent reports
// it as a Kubernetes Event on the pod.
type Problem struct {
	Container string
	Path      string // the spec's path
	Reason    string
}

func (p Problem) Error() string {
	return fmt.Sprintf("container %q, file %q: %s", p.Container, p.Path, p.Reason)
}

// Resolve finds the node paths of the files that specs name in the containers of pod.
//
// Every returned File is a regular file inside its volume's directory, found by the
// rules of the package documentation; each refused spec, or refused file matched by a
// glob, is a Problem. A path or pattern that names nothing yet (the application has not
// created its log file, the pod's volumes are not set up on this node yet) yields
// neither: call Resolve again later. Results keep the order of specs (a glob's
// matches sorted by container path); a file named by more than one spec is returned
// once. Resolve does not change anything on disk and makes no API calls.
func Resolve(pod *corev1.Pod, specs []Spec, o Options) ([]File, []Problem) {
	var files []File
	var probs []Problem
	if pod == nil {
		for _, s := range specs {
			probs = append(probs, Problem{s.Container, s.Path, "no pod"})
		}
		return nil, probs
	}
	o, err := o.normalized()
	if err != nil {
		for _, s := range specs {
			probs = append(probs, Problem{s.Container, s.Path, err.Error()})
		}
		return nil, probs
	}
	r := newResolver(o)
	seen := map[string]bool{}
	for _, s := range specs {
		fs, ps := resolveSpec(r, pod, s, o)
		probs = append(probs, ps...)
		for _, f := range fs {
			if !seen[f.HostPath] {
				seen[f.HostPath] = true
				files = append(files, f)
			}
		}
	}
	return files, probs
}

// normalized fills the defaults of o and checks it.
func (o Options) normalized() (Options, error) {
	if o.KubeletPodsDir == "" {
		o.KubeletPodsDir = DefaultKubeletPodsDir
	}
	if !path.IsAbs(o.KubeletPodsDir) || strings.IndexByte(o.KubeletPodsDir, 0) >= 0 {
		return o, fmt.Errorf("agent configuration: the kubelet pods directory %q is not an absolute path", o.KubeletPodsDir)
	}
	o.KubeletPodsDir = path.Clean(o.KubeletPodsDir)
	if o.HostRoot == "" {
		o.HostRoot = "/"
	}
	if !path.IsAbs(o.HostRoot) || strings.IndexByte(o.HostRoot, 0) >= 0 {
		return o, fmt.Errorf("agent configuration: the host root %q is not an absolute path", o.HostRoot)
	}
	o.HostRoot = path.Clean(o.HostRoot)
	return o, nil
}

// mountInfo is a volumeMount of the spec's container and what it maps to.
type mountInfo struct {
	mountPath string // clean, absolute
	vm        *corev1.VolumeMount
}

// location is where a volume is on the node: base is a trusted directory given by the
// agent's configuration, rel the volume's directory beneath it (no symbolic link may be
// followed there), root the joined name.
type location struct {
	base, rel, root string
	vtype, volume   string
}

// resolveSpec handles one spec.
func resolveSpec(r *resolver, pod *corev1.Pod, s Spec, o Options) ([]File, []Problem) {
	refuse := func(format string, args ...any) ([]File, []Problem) {
		return nil, []Problem{{s.Container, s.Path, fmt.Sprintf(format, args...)}}
	}
	if reason := checkSpecPath(s.Path); reason != "" {
		return refuse("%s", reason)
	}
	c := findContainer(pod, s.Container)
	if c == nil {
		return refuse("the pod has no container named %q", s.Container)
	}
	mounts := containerMounts(c)
	m := bestMount(mounts, s.Path)
	if m == nil {
		return refuse("not on a volume: the container's root filesystem is not reachable from the node safely; write the file to an emptyDir volume")
	}
	vol := findVolume(pod, m.vm.Name)
	if vol == nil {
		return refuse("the mount at %s names volume %q, which the pod does not have", m.mountPath, m.vm.Name)
	}
	loc, reason := volumeLocation(pod, vol, o)
	if reason != "" {
		return refuse("%s", reason)
	}
	sub, reason := mountSubPath(pod, c, m.vm)
	if reason != "" {
		return refuse("the mount at %s: %s", m.mountPath, reason)
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(s.Path, m.mountPath), "/")
	if m.mountPath == "/" {
		rest = strings.TrimPrefix(s.Path, "/")
	}
	if err := checkPattern(rest); err != nil {
		return refuse("bad glob pattern: %v", err)
	}

	// The volume's directory, then the directory (or file) the container sees at the
	// mount path.
	vfd, _, err := r.openVolume(loc)
	if err != nil {
		if isMissing(err) {
			return nil, nil
		}
		return refuse("volume %q (%s): %v", vol.Name, loc.root, err)
	}
	defer r.closeFD(vfd)
	mfd, subCanon, err := r.resolve(vfd, sub, false)
	if err != nil {
		if isMissing(err) {
			return nil, nil
		}
		return refuse("the subPath %q of volume %q: %v", sub, vol.Name, err)
	}
	defer r.closeFD(mfd)

	cands, probs, truncated := expand(r, mfd, rest)
	globbed := hasMeta(rest)
	for i := range probs {
		dir := path.Join(m.mountPath, probs[i].Path)
		probs[i].Container, probs[i].Path = s.Container, s.Path
		probs[i].Reason = dir + ": " + probs[i].Reason
	}
	if truncated {
		probs = append(probs, Problem{s.Container, s.Path, fmt.Sprintf("the pattern matches more than %d files: only the first %d are collected", maxMatches, maxMatches)})
	}
	var files []File
	for _, cand := range cands {
		cpath := path.Join(m.mountPath, cand)
		if b := bestMount(mounts, cpath); b == nil || b.mountPath != m.mountPath {
			// Hidden in the container by a nested mount: not the file it writes.
			continue
		}
		canon, err := r.regularFile(mfd, cand)
		if err != nil {
			// A name a glob matched may be a file where the rest of the pattern wants a
			// directory: that is no match, not a problem.
			if !isMissing(err) && !(globbed && isNotDir(err)) {
				probs = append(probs, Problem{s.Container, s.Path, cpath + ": " + err.Error()})
			}
			continue
		}
		files = append(files, File{
			Container:     s.Container,
			ContainerPath: cpath,
			HostPath:      joinRoot(loc.root, path.Join(subCanon, canon)),
			Volume:        vol.Name,
			VolumeType:    loc.vtype,
			VolumeRoot:    loc.root,
		})
	}
	return files, probs
}

// checkSpecPath returns why p is not an acceptable spec path, or "".
func checkSpecPath(p string) string {
	switch {
	case p == "":
		return "empty path"
	case strings.IndexByte(p, 0) >= 0:
		return "the path contains a NUL byte"
	case len(p) > maxPath:
		return fmt.Sprintf("the path is longer than %d bytes", maxPath)
	case !path.IsAbs(p):
		return "the path must be absolute (the container's filesystem starts at /)"
	case hasDotDot(p):
		return "the path must not contain '..'"
	case path.Clean(p) != p:
		return fmt.Sprintf("the path must be clean (no '.', '//' or trailing '/'): did you mean %q?", path.Clean(p))
	}
	return ""
}

// hasDotDot reports whether a slash-separated path has a ".." element.
func hasDotDot(p string) bool {
	for _, e := range strings.Split(p, "/") {
		if e == ".." {
			return true
		}
	}
	return false
}

// isElem reports whether s is usable as one path element.
func isElem(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/\x00")
}

// hasPathPrefix reports whether p is prefix or inside it (both clean and absolute).
func hasPathPrefix(p, prefix string) bool {
	return prefix == "/" || p == prefix || strings.HasPrefix(p, prefix+"/")
}

// joinRoot joins a root and a clean relative path ("" is the root itself).
func joinRoot(root, rel string) string {
	if rel == "" || rel == "." {
		return root
	}
	return path.Join(root, rel)
}

// findContainer finds a container, init container or ephemeral container by name.
func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for i := range pod.Spec.Containers {
		if pod.Spec.Containers[i].Name == name {
			return &pod.Spec.Containers[i]
		}
	}
	for i := range pod.Spec.InitContainers {
		if pod.Spec.InitContainers[i].Name == name {
			return &pod.Spec.InitContainers[i]
		}
	}
	for i := range pod.Spec.EphemeralContainers {
		if pod.Spec.EphemeralContainers[i].Name == name {
			c := corev1.Container(pod.Spec.EphemeralContainers[i].EphemeralContainerCommon)
			return &c
		}
	}
	return nil
}

// containerMounts lists c's volume mounts with clean absolute mount paths; mounts with
// other mount paths (Windows) are left out.
func containerMounts(c *corev1.Container) []mountInfo {
	var ms []mountInfo
	for i := range c.VolumeMounts {
		vm := &c.VolumeMounts[i]
		mp := vm.MountPath
		if !path.IsAbs(mp) || hasDotDot(mp) || strings.IndexByte(mp, 0) >= 0 {
			continue
		}
		ms = append(ms, mountInfo{path.Clean(mp), vm})
	}
	return ms
}

// bestMount is the mount whose path is the longest prefix of p on element boundaries;
// of equal paths (invalid in the API) the last one, as the runtime mounts it last.
func bestMount(ms []mountInfo, p string) *mountInfo {
	var best *mountInfo
	for i := range ms {
		if hasPathPrefix(p, ms[i].mountPath) && (best == nil || len(ms[i].mountPath) >= len(best.mountPath)) {
			best = &ms[i]
		}
	}
	return best
}

func findVolume(pod *corev1.Pod, name string) *corev1.Volume {
	for i := range pod.Spec.Volumes {
		if pod.Spec.Volumes[i].Name == name {
			return &pod.Spec.Volumes[i]
		}
	}
	return nil
}

// volumeLocation is where vol is on the node, or why it is refused.
func volumeLocation(pod *corev1.Pod, vol *corev1.Volume, o Options) (location, string) {
	vs := &vol.VolumeSource
	switch {
	case vs.EmptyDir != nil:
		if _, ok := pod.Annotations[mirrorAnnotation]; ok {
			// The kubelet keeps a static pod's volumes under the static pod's UID, which
			// only the mirror pod's annotations tell, and any pod author can write
			// those: following them could read another pod's volume.
			return location{}, "a static pod's volumes are under the UID of the static pod, not of its mirror pod in the API, and the mirror pod's annotation naming it is not trusted: files of static pods are not collected"
		}
		uid := string(pod.UID)
		if !isElem(uid) {
			return location{}, fmt.Sprintf("the pod's UID %q cannot name a directory", uid)
		}
		if !isElem(vol.Name) {
			return location{}, fmt.Sprintf("the volume name %q cannot name a directory", vol.Name)
		}
		rel := uid + "/volumes/" + emptyDirPlugin + "/" + vol.Name
		return location{o.KubeletPodsDir, rel, path.Join(o.KubeletPodsDir, rel), EmptyDir, vol.Name}, ""
	case vs.HostPath != nil:
		if !o.AllowHostPath {
			return location{}, fmt.Sprintf("volume %q is a hostPath volume, and files on hostPath volumes are not collected (the agent's allow-hostpath setting is off)", vol.Name)
		}
		hp := vs.HostPath.Path
		if !path.IsAbs(hp) || hasDotDot(hp) || strings.IndexByte(hp, 0) >= 0 {
			return location{}, fmt.Sprintf("the hostPath %q of volume %q is not a clean absolute path", hp, vol.Name)
		}
		rel := strings.TrimPrefix(path.Clean(hp), "/")
		return location{o.HostRoot, rel, joinRoot(o.HostRoot, rel), HostPath, vol.Name}, ""
	case vs.PersistentVolumeClaim != nil, vs.Ephemeral != nil:
		return location{}, fmt.Sprintf("volume %q is a persistent volume claim: its directory on the node is named after the PersistentVolume bound to the claim, which the agent does not look up; write the file to an emptyDir volume", vol.Name)
	case vs.ConfigMap != nil, vs.Secret != nil, vs.Projected != nil, vs.DownwardAPI != nil:
		return location{}, fmt.Sprintf("volume %q is a %s volume: it holds API data, not logs", vol.Name, volumeType(vs))
	}
	return location{}, fmt.Sprintf("volume %q is a %s volume: only emptyDir (and, when allowed, hostPath) volumes are supported", vol.Name, volumeType(vs))
}

// volumeType names the type of a volume source as in the pod's YAML.
func volumeType(vs *corev1.VolumeSource) string {
	switch {
	case vs.ConfigMap != nil:
		return "configMap"
	case vs.Secret != nil:
		return "secret"
	case vs.Projected != nil:
		return "projected"
	case vs.DownwardAPI != nil:
		return "downwardAPI"
	case vs.CSI != nil:
		return "csi"
	case vs.NFS != nil:
		return "nfs"
	case vs.Image != nil:
		return "image"
	case vs.ISCSI != nil:
		return "iscsi"
	case vs.FC != nil:
		return "fc"
	case vs.Ephemeral != nil:
		return "ephemeral"
	case vs.PersistentVolumeClaim != nil:
		return "persistentVolumeClaim"
	}
	return "unsupported"
}

// mountSubPath returns the mount's subPath (clean, relative, "" for none), with
// subPathExpr expanded, or why it is refused.
func mountSubPath(pod *corev1.Pod, c *corev1.Container, vm *corev1.VolumeMount) (string, string) {
	sub := vm.SubPath
	if vm.SubPathExpr != "" {
		if vm.SubPath != "" {
			return "", "both subPath and subPathExpr are set"
		}
		var missing []string
		env := containerEnv(pod, c)
		sub = expandVars(vm.SubPathExpr, func(name string) string {
			v, ok := env[name]
			if !ok || v == "" {
				missing = append(missing, name)
			}
			return v
		})
		if len(missing) > 0 {
			return "", fmt.Sprintf("subPathExpr %q uses $(%s), which has no literal value in the container's env (values from secrets, configMaps, envFrom and most fields are not known to the agent)", vm.SubPathExpr, strings.Join(missing, "), $("))
		}
	}
	if sub == "" {
		return "", ""
	}
	switch {
	case strings.IndexByte(sub, 0) >= 0:
		return "", fmt.Sprintf("subPath %q contains a NUL byte", sub)
	case path.IsAbs(sub):
		return "", fmt.Sprintf("subPath %q is absolute", sub)
	case hasDotDot(sub):
		return "", fmt.Sprintf("subPath %q contains '..'", sub)
	}
	sub = path.Clean(sub)
	if sub == "." {
		return "", ""
	}
	return sub, ""
}

// containerEnv is the container's env variables whose values the agent knows: literal
// values (with $(VAR) references to earlier known variables expanded, as the kubelet
// does) and fields of the pod that never change. A variable whose value comes from
// elsewhere (secrets, configMaps, resources, envFrom, service links), or refers to one,
// is left out.
func containerEnv(pod *corev1.Pod, c *corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil {
			delete(env, e.Name)
			if e.ValueFrom.FieldRef != nil {
				if v, ok := podField(pod, e.ValueFrom.FieldRef.FieldPath); ok {
					env[e.Name] = v
				}
			}
			continue
		}
		known := true
		v := expandVars(e.Value, func(name string) string {
			v, ok := env[name]
			if !ok {
				known = false
			}
			return v
		})
		if known {
			env[e.Name] = v
		} else {
			delete(env, e.Name)
		}
	}
	return env
}

// podField is the value of a downward API field path that cannot change while the pod
// runs.
func podField(pod *corev1.Pod, fieldPath string) (string, bool) {
	switch fieldPath {
	case "metadata.name":
		return pod.Name, true
	case "metadata.namespace":
		return pod.Namespace, true
	case "metadata.uid":
		return string(pod.UID), true
	case "spec.nodeName":
		return pod.Spec.NodeName, pod.Spec.NodeName != ""
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, true
	}
	return "", false
}

// expandVars expands $(VAR) references as the kubelet does for env values and
// subPathExpr: $$ is a literal $, a $ that starts no reference is kept, and an
// unterminated $( is kept.
func expandVars(s string, mapping func(string) string) string {
	var b strings.Builder
	checkpoint := 0
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			continue
		}
		b.WriteString(s[checkpoint:i])
		switch next := s[i+1]; next {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString("$(")
				i++
				break
			}
			b.WriteString(mapping(s[i+2 : i+2+end]))
			i += 2 + end
		default:
			b.WriteByte('$')
			b.WriteByte(next)
			i++
		}
		checkpoint = i + 1
	}
	return b.String() + s[checkpoint:]
}

// hasMeta reports whether a path element is a glob pattern.
func hasMeta(elem string) bool { return strings.ContainsAny(elem, `*?[\`) }

// checkPattern checks every pattern element of a relative path.
func checkPattern(rel string) error {
	if rel == "" {
		return nil
	}
	for _, e := range strings.Split(rel, "/") {
		if hasMeta(e) {
			if _, err := path.Match(e, ""); err != nil {
				return fmt.Errorf("%q: %w", e, err)
			}
		}
	}
	return nil
}

// expand expands the glob elements of rel (relative to the mount directory mfd) by
// listing the directories they are in, beneath mfd only. It returns the candidates
// (relative paths, sorted, at most maxMatches) and Problems whose Path is a candidate
// directory relative to the mount and whose Reason is why it could not be listed.
func expand(r *resolver, mfd int, rel string) (cands []string, probs []Problem, truncated bool) {
	if rel == "" {
		return []string{""}, nil, false
	}
	cands = []string{""}
	scanned := 0
	for _, e := range strings.Split(rel, "/") {
		if !hasMeta(e) {
			for i := range cands {
				cands[i] = path.Join(cands[i], e)
			}
			continue
		}
		var next []string
		for _, dir := range cands {
			if scanned > maxScanned {
				probs = append(probs, Problem{Path: dir, Reason: fmt.Sprintf("refused: the pattern reads more than %d directory entries", maxScanned)})
				break
			}
			names, err := r.listDir(mfd, dir)
			scanned += len(names)
			if err != nil {
				if !isMissing(err) && !isNotDir(err) {
					probs = append(probs, Problem{Path: dir, Reason: err.Error()})
				}
				continue
			}
			for _, n := range names {
				if ok, _ := path.Match(e, n); ok {
					if len(next) == maxMatches {
						truncated = true
						break
					}
					next = append(next, path.Join(dir, n))
				}
			}
		}
		cands = next
	}
	sort.Strings(cands)
	return cands, probs, truncated
}

// kind classifies why a path could not be resolved.
type kind uint8

const (
	kindOther       kind = iota
	kindMissing          // ENOENT
	kindEscape           // a symbolic link or '..' leaves the root
	kindLoop             // too many symbolic links
	kindSymlink          // a symbolic link where none may be
	kindNotDir           // ENOTDIR
	kindNotRegular       // the file is not a regular file
	kindChanged          // the file changed while it was being resolved
	kindDenied           // EACCES, EPERM
	kindUnsupported      // not on this operating system
)

// resolveError is why a path was refused.
type resolveError struct {
	kind   kind
	detail string
}

func (e *resolveError) Error() string {
	switch e.kind {
	case kindMissing:
		return "no such file or directory"
	case kindEscape:
		return "refused: a symbolic link or '..' leads outside the volume"
	case kindLoop:
		return "refused: too many levels of symbolic links"
	case kindSymlink:
		return "refused: the path contains a symbolic link"
	case kindNotDir:
		return "a path element is not a directory"
	case kindNotRegular:
		return "refused: not a regular file (" + e.detail + ")"
	case kindChanged:
		return "the file changed while it was being resolved"
	case kindDenied:
		return "permission denied"
	case kindUnsupported:
		return "not supported on this operating system"
	}
	return e.detail
}

// Is lets errors.Is match fs.ErrNotExist and fs.ErrPermission.
func (e *resolveError) Is(target error) bool {
	return (e.kind == kindMissing && target == fs.ErrNotExist) || (e.kind == kindDenied && target == fs.ErrPermission)
}

func errKind(err error) kind {
	var re *resolveError
	if errors.As(err, &re) {
		return re.kind
	}
	return kindOther
}

func isMissing(err error) bool { return errKind(err) == kindMissing }
func isNotDir(err error) bool  { return errKind(err) == kindNotDir }

// relInVolume returns the path of f.HostPath inside f.VolumeRoot and the location of
// the volume, after checking that f is something Resolve can have returned under o.
func relInVolume(f File, o Options) (string, location, error) {
	bad := func(format string, args ...any) (string, location, error) {
		return "", location{}, fmt.Errorf("podfiles: "+format, args...)
	}
	root := f.VolumeRoot
	if !path.IsAbs(root) || path.Clean(root) != root || strings.IndexByte(root, 0) >= 0 {
		return bad("volume root %q is not a clean absolute path", root)
	}
	var loc location
	switch f.VolumeType {
	case EmptyDir:
		rel, ok := strings.CutPrefix(root, o.KubeletPodsDir+"/")
		if o.KubeletPodsDir == "/" {
			rel, ok = strings.TrimPrefix(root, "/"), true
		}
		parts := strings.Split(rel, "/")
		if !ok || len(parts) != 4 || !isElem(parts[0]) || parts[1] != "volumes" || parts[2] != emptyDirPlugin || parts[3] != f.Volume || !isElem(f.Volume) {
			return bad("%q is not the directory of emptyDir volume %q under %s", root, f.Volume, o.KubeletPodsDir)
		}
		loc = location{o.KubeletPodsDir, rel, root, EmptyDir, f.Volume}
	case HostPath:
		if !o.AllowHostPath {
			return bad("files on hostPath volumes are not allowed")
		}
		if !hasPathPrefix(root, o.HostRoot) {
			return bad("volume root %q is not under the host root %s", root, o.HostRoot)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(root, o.HostRoot), "/")
		loc = location{o.HostRoot, rel, root, HostPath, f.Volume}
	default:
		return bad("volume type %q is not supported", f.VolumeType)
	}
	hp := f.HostPath
	if path.Clean(hp) != hp || !hasPathPrefix(hp, root) || strings.IndexByte(hp, 0) >= 0 || hasDotDot(hp) {
		return bad("%q is not a clean path inside the volume root %s", hp, root)
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(hp, root), "/")
	if root == "/" {
		rel = strings.TrimPrefix(hp, "/")
	}
	return rel, loc, nil
}
