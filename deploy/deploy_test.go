package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/testenv"

	"go.yaml.in/yaml/v3"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/kubetest"
)

const (
	kustomizeDir = "kustomize"
	chartDir     = "helm/logferry"
	allValues    = "helm/logferry/ci/all-values.yaml"

	helmVersion = "v3.16.4"

	// The agent's fixed paths in the container.
	configMountPath = "/etc/logferry"
	portName        = "http-metrics"

	// After shutdown.deadline the agent gives a sink stuck in a system call 2 s before
	// it exits without it (docs/operations.md, "Shutdown"): the grace period must cover
	// both, or the kubelet's SIGKILL comes first.
	stuckSinkAllowance = 2 * time.Second
)

// ---------------------------------------------------------------------------
// Tools

// kubectl returns the kubectl binary (PATH, else /usr/bin/kubectl).
func kubectl(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("kubectl"); err == nil {
		return p
	}
	if p := "/usr/bin/kubectl"; isExecutable(p) {
		return p
	}
	testenv.SkipOrFail(t, "kubectl is not installed: install a kubectl >= 1.27 (it embeds kustomize), see https://kubernetes.io/docs/tasks/tools/")
	return ""
}

// helm returns the helm binary (PATH, else $(go env GOPATH)/bin/helm).
func helm(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			if p := filepath.Join(dir, "bin", "helm"); isExecutable(p) {
				return p
			}
		}
	}
	testenv.SkipOrFail(t, "helm is not installed: go install helm.sh/helm/v3/cmd/helm@%s (about 2 minutes)", helmVersion)
	return ""
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// run runs a command and returns its standard output; it fails the test with the
// standard error when the command fails.
func run(t testing.TB, bin string, args ...string) []byte {
	t.Helper()
	out, err := runErr(bin, args...)
	if err != nil {
		t.Fatalf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return out
}

func runErr(bin string, args ...string) ([]byte, error) {
	cmd := exec.Command(bin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%w\n%s%s", err, stderr.Bytes(), stdout.Bytes())
	}
	return stdout.Bytes(), nil
}

// ---------------------------------------------------------------------------
// Rendered manifests

// object is one rendered Kubernetes object.
type object struct {
	APIVersion, Kind, Name, Namespace string
	JSON                              []byte
}

// manifests is one rendering: the kustomize base or the chart with some values.
type manifests struct {
	source string
	objs   []object
}

// parseManifests splits a multi-document YAML stream into objects; empty documents
// (Helm leaves some) are skipped.
func parseManifests(t testing.TB, source string, data []byte) manifests {
	t.Helper()
	m := manifests{source: source}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for i := 0; ; i++ {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("%s: document %d is not YAML: %v", source, i, err)
		}
		if doc == nil {
			continue
		}
		js, err := json.Marshal(doc)
		if err != nil {
			t.Fatalf("%s: document %d: %v", source, i, err)
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
			Metadata   struct {
				Name      string `json:"name"`
				Namespace string `json:"namespace"`
			} `json:"metadata"`
		}
		if err := json.Unmarshal(js, &meta); err != nil || meta.Kind == "" || meta.APIVersion == "" || meta.Metadata.Name == "" {
			t.Fatalf("%s: document %d is not a Kubernetes object (apiVersion, kind, metadata.name): %s", source, i, js)
		}
		m.objs = append(m.objs, object{meta.APIVersion, meta.Kind, meta.Metadata.Name, meta.Metadata.Namespace, js})
	}
	if len(m.objs) == 0 {
		t.Fatalf("%s rendered no objects", source)
	}
	return m
}

func (m manifests) all(kind string) []object {
	var r []object
	for _, o := range m.objs {
		if o.Kind == kind {
			r = append(r, o)
		}
	}
	return r
}

func (m manifests) kinds() []string {
	var r []string
	for _, o := range m.objs {
		r = append(r, o.Kind)
	}
	sort.Strings(r)
	return r
}

// one decodes the only object of kind into v (strictly: an unknown field, a typo in
// the manifest, is an error) and fails the test unless there is exactly one.
func (m manifests) one(t testing.TB, kind string, v any) {
	t.Helper()
	objs := m.all(kind)
	if len(objs) != 1 {
		t.Fatalf("%s: want exactly one %s, got %d (kinds: %v)", m.source, kind, len(objs), m.kinds())
	}
	decodeStrict(t, m.source, objs[0], v)
}

func decodeStrict(t testing.TB, source string, o object, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(o.JSON))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %s %s does not decode as %T: %v", source, o.Kind, o.Name, v, err)
	}
}

// decodeAll decodes every object of a kind Kubernetes has Go types for, strictly, so a
// misspelt field anywhere fails here rather than being dropped by the API server.
func (m manifests) decodeAll(t testing.TB) {
	t.Helper()
	types := map[string]func() any{
		"Namespace":          func() any { return new(corev1.Namespace) },
		"ServiceAccount":     func() any { return new(corev1.ServiceAccount) },
		"ConfigMap":          func() any { return new(corev1.ConfigMap) },
		"Service":            func() any { return new(corev1.Service) },
		"DaemonSet":          func() any { return new(appsv1.DaemonSet) },
		"ClusterRole":        func() any { return new(rbacv1.ClusterRole) },
		"ClusterRoleBinding": func() any { return new(rbacv1.ClusterRoleBinding) },
	}
	for _, o := range m.objs {
		newT, ok := types[o.Kind]
		if !ok {
			if o.Kind != "ServiceMonitor" {
				t.Errorf("%s: unexpected kind %s (%s)", m.source, o.Kind, o.Name)
			}
			continue
		}
		decodeStrict(t, m.source, o, newT())
	}
}

// yamlOf returns the objects as one YAML stream, without the kinds in skip.
func (m manifests) yamlOf(t testing.TB, skip ...string) []byte {
	t.Helper()
	var b bytes.Buffer
	for _, o := range m.objs {
		if slices.Contains(skip, o.Kind) {
			continue
		}
		b.WriteString("---\n")
		b.Write(o.JSON) // JSON is YAML
		b.WriteString("\n")
	}
	return b.Bytes()
}

func renderKustomize(t testing.TB) manifests {
	t.Helper()
	return parseManifests(t, "kubectl kustomize "+kustomizeDir, run(t, kubectl(t), "kustomize", kustomizeDir))
}

func renderHelm(t testing.TB, release, namespace string, args ...string) manifests {
	t.Helper()
	a := append([]string{"template", release, chartDir, "--namespace", namespace}, args...)
	return parseManifests(t, "helm "+strings.Join(a, " "), run(t, helm(t), a...))
}

// ---------------------------------------------------------------------------
// The agent as deployed

// agent is the DaemonSet's agent container with its configuration, loaded the way the
// agent loads it in the pod.
type agent struct {
	source string
	ds     appsv1.DaemonSet
	pod    corev1.PodSpec
	c      corev1.Container
	cm     corev1.ConfigMap
	env    map[string]string // the container's environment, as the pod would see it
	cfg    *config.Config
}

// Stand-ins for what the downward API gives the pod.
const (
	testNodeName = "node-7"
	testPodUID   = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
)

func testPodName(ds *appsv1.DaemonSet) string { return ds.Name + "-x7k2p" }

func agentOf(t testing.TB, m manifests) *agent {
	t.Helper()
	a := &agent{source: m.source}
	m.one(t, "DaemonSet", &a.ds)
	a.pod = a.ds.Spec.Template.Spec
	if len(a.pod.Containers) != 1 || a.pod.Containers[0].Name != "agent" {
		t.Fatalf("%s: want one container named agent, got %d", m.source, len(a.pod.Containers))
	}
	if len(a.pod.InitContainers) != 0 || len(a.pod.EphemeralContainers) != 0 {
		t.Errorf("%s: unexpected init or ephemeral containers", m.source)
	}
	a.c = a.pod.Containers[0]

	// The ConfigMap is the one the "config" volume names, and the agent is started on
	// the file it holds.
	cmName := ""
	for _, v := range a.pod.Volumes {
		if v.Name == "config" && v.ConfigMap != nil {
			cmName = v.ConfigMap.Name
		}
	}
	found := false
	for _, o := range m.all("ConfigMap") {
		if o.Name == cmName {
			decodeStrict(t, m.source, o, &a.cm)
			found = true
		}
	}
	if !found {
		t.Fatalf("%s: the DaemonSet's config volume names ConfigMap %q, which is not rendered", m.source, cmName)
	}
	if want := []string{"agent", "--config", configMountPath + "/config.yaml"}; !slices.Equal(append(a.c.Command, a.c.Args...), want) {
		t.Errorf("%s: agent command %q, want %q", m.source, append(a.c.Command, a.c.Args...), want)
	}
	data, ok := a.cm.Data["config.yaml"]
	if !ok {
		t.Fatalf("%s: ConfigMap %s has no config.yaml", m.source, a.cm.Name)
	}

	// The environment the agent sees: the downward API fields filled with stand-ins,
	// literal values as they are. Any other source (a Secret) gets a placeholder.
	a.env = map[string]string{}
	for _, e := range a.c.Env {
		switch {
		case e.ValueFrom == nil:
			a.env[e.Name] = e.Value
		case e.ValueFrom.FieldRef != nil:
			switch e.ValueFrom.FieldRef.FieldPath {
			case "spec.nodeName":
				a.env[e.Name] = testNodeName
			case "metadata.name":
				a.env[e.Name] = testPodName(&a.ds)
			case "metadata.namespace":
				a.env[e.Name] = a.ds.Namespace
			default:
				a.env[e.Name] = "field-" + e.ValueFrom.FieldRef.FieldPath
			}
		default:
			a.env[e.Name] = "from-a-secret"
		}
	}

	// Load it with the repository's loader, as the agent does at start: this proves
	// the shipped configuration is valid and every variable it uses is set by the pod.
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) { v, ok := a.env[k]; return v, ok }
	cfg, err := config.Options{LookupEnv: lookup}.Load(path)
	if err != nil {
		t.Fatalf("%s: the ConfigMap's config.yaml does not load with the pod's environment %v:\n%v\n--- config.yaml:\n%s", m.source, a.env, err, data)
	}
	a.cfg = cfg
	if cfg.NodeName != testNodeName {
		t.Errorf("%s: node_name is %q, want the node's name %q (NODE_NAME from spec.nodeName)", m.source, cfg.NodeName, testNodeName)
	}
	return a
}

func (a *agent) volume(t testing.TB, name string) corev1.Volume {
	t.Helper()
	for _, v := range a.pod.Volumes {
		if v.Name == name {
			return v
		}
	}
	t.Fatalf("%s: volume %q is mounted but not defined", a.source, name)
	return corev1.Volume{}
}

// mountAt returns the mount whose mountPath is p.
func (a *agent) mountAt(p string) (corev1.VolumeMount, bool) {
	for _, m := range a.c.VolumeMounts {
		if filepath.Clean(m.MountPath) == filepath.Clean(p) {
			return m, true
		}
	}
	return corev1.VolumeMount{}, false
}

// excluded reports whether the agent never reads path: it matches one of
// sources.exclude, as internal/tail matches them (filepath.Match on the path).
func (a *agent) excluded(path string) bool {
	for _, p := range a.cfg.Sources.Exclude {
		if ok, _ := filepath.Match(p, path); ok {
			return true
		}
	}
	return false
}

// checkSecurity asserts what the issue demands of the DaemonSet, and that the pod spec
// and the agent configuration agree. extraWritable names volumes the values asked to
// mount writable (a file sink's directory); nothing else but the data dir may be.
func checkSecurity(t *testing.T, a *agent, extraWritable ...string) {
	t.Helper()
	src, sc, pod := a.source, a.c.SecurityContext, a.pod

	// Not privileged, no privilege escalation, read-only root filesystem, no capability
	// but DAC_READ_SEARCH, the runtime's seccomp profile, no host namespaces.
	if sc == nil {
		t.Fatalf("%s: the agent container has no securityContext", src)
	}
	if sc.Privileged == nil || *sc.Privileged {
		t.Errorf("%s: securityContext.privileged must be set to false", src)
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("%s: securityContext.allowPrivilegeEscalation must be set to false", src)
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("%s: securityContext.readOnlyRootFilesystem must be true", src)
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) ||
		!slices.Equal(sc.Capabilities.Add, []corev1.Capability{"DAC_READ_SEARCH"}) {
		t.Errorf("%s: capabilities %+v, want drop [ALL] and add only [DAC_READ_SEARCH]", src, sc.Capabilities)
	}
	if sc.ProcMount != nil || sc.SELinuxOptions != nil || sc.WindowsOptions != nil {
		t.Errorf("%s: unexpected procMount/seLinuxOptions/windowsOptions in the securityContext", src)
	}
	if sc.RunAsUser != nil && *sc.RunAsUser == 0 && (sc.RunAsNonRoot == nil || *sc.RunAsNonRoot) {
		t.Errorf("%s: runAsUser 0 needs runAsNonRoot: false stated", src)
	}
	seccomp := sc.SeccompProfile
	if seccomp == nil && pod.SecurityContext != nil {
		seccomp = pod.SecurityContext.SeccompProfile
	}
	if seccomp == nil || seccomp.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: seccompProfile must be RuntimeDefault, got %+v", src, seccomp)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC || (pod.ShareProcessNamespace != nil && *pod.ShareProcessNamespace) {
		t.Errorf("%s: the pod must not use host namespaces or share its process namespace", src)
	}

	// Mounts: every host path read-only, except the checkpoint store, which is a
	// DirectoryOrCreate hostPath mounted read-write at data_dir.
	writable := map[string]bool{}
	for _, m := range a.c.VolumeMounts {
		a.volume(t, m.Name) // defined
		if m.MountPropagation != nil && *m.MountPropagation == corev1.MountPropagationBidirectional {
			t.Errorf("%s: mount %s: Bidirectional propagation needs a privileged container", src, m.Name)
		}
		if !m.ReadOnly {
			writable[m.Name] = true
			if filepath.Clean(m.MountPath) != filepath.Clean(a.cfg.DataDir) && !slices.Contains(extraWritable, m.Name) {
				t.Errorf("%s: mount %s at %s is writable; only data_dir (%s) may be", src, m.Name, m.MountPath, a.cfg.DataDir)
			}
		}
	}
	data, ok := a.mountAt(a.cfg.DataDir)
	switch {
	case !ok:
		t.Errorf("%s: nothing is mounted at data_dir %s: checkpoints would be lost with the pod", src, a.cfg.DataDir)
	case data.ReadOnly:
		t.Errorf("%s: data_dir %s is mounted read-only: the agent cannot write its checkpoints", src, a.cfg.DataDir)
	default:
		v := a.volume(t, data.Name)
		if v.HostPath == nil || v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectoryOrCreate {
			t.Errorf("%s: data_dir volume %s must be a hostPath of type DirectoryOrCreate (checkpoints outlive the pod), got %+v", src, v.Name, v.VolumeSource)
		}
	}
	if !writable[data.Name] {
		t.Errorf("%s: the data dir is not among the writable mounts", src)
	}

	// Every host log path is mounted read-only, at the same path as on the host (the
	// kubelet's symlinks are absolute), and the ones the configuration reads exist.
	logRoots := []string{"/var/log/pods", "/var/log/containers", a.cfg.Sources.PodsDir, a.cfg.Sources.DockerDir}
	for _, m := range a.c.VolumeMounts {
		if v := a.volume(t, m.Name); v.HostPath != nil && m.Name != data.Name && !slices.Contains(extraWritable, m.Name) {
			logRoots = append(logRoots, v.HostPath.Path)
		}
	}
	seen := map[string]bool{}
	for _, root := range logRoots {
		if root == "" || seen[filepath.Clean(root)] {
			continue
		}
		seen[filepath.Clean(root)] = true
		m, ok := a.mountAt(root)
		if !ok {
			t.Errorf("%s: host log path %s is not mounted", src, root)
			continue
		}
		v := a.volume(t, m.Name)
		if !m.ReadOnly {
			t.Errorf("%s: host log path %s (volume %s) must be mounted readOnly", src, root, m.Name)
		}
		if v.HostPath == nil || filepath.Clean(v.HostPath.Path) != filepath.Clean(root) {
			t.Errorf("%s: %s must be a hostPath of the same path, got %+v", src, root, v.VolumeSource)
		}
	}
	if a.cfg.Sources.PodsDir == "" {
		t.Errorf("%s: sources.pods_dir is empty: the agent would read no pod logs", src)
	}
	if dd := a.cfg.Sources.DockerDir; dd != "" {
		m, _ := a.mountAt(dd)
		if v := a.volume(t, m.Name); v.HostPath == nil || v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathUnset {
			t.Errorf(`%s: the docker_dir volume is optional and must be a hostPath of type "" (no check), got %+v`, src, v.VolumeSource)
		}
	}
	if m, ok := a.mountAt("/var/log/pods"); ok {
		if v := a.volume(t, m.Name); v.HostPath == nil || v.HostPath.Type == nil || *v.HostPath.Type != corev1.HostPathDirectory {
			t.Errorf("%s: /var/log/pods must be a hostPath of type Directory, got %+v", src, v.VolumeSource)
		}
	}
	for _, m := range a.c.VolumeMounts {
		if m.Name == "kubelet-pods" {
			if m.MountPropagation == nil || *m.MountPropagation != corev1.MountPropagationHostToContainer {
				t.Errorf("%s: the kubelet pods mount needs mountPropagation HostToContainer", src)
			}
		}
	}

	// The ConfigMap at /etc/logferry, read-only and without subPath (so updates reach
	// the agent, which reloads them).
	cfgMount, ok := a.mountAt(configMountPath)
	if !ok || cfgMount.Name != "config" || !cfgMount.ReadOnly || cfgMount.SubPath != "" || cfgMount.SubPathExpr != "" {
		t.Errorf("%s: the config volume must be mounted read-only at %s without subPath, got %+v", src, configMountPath, cfgMount)
	}

	// The downward API.
	wantEnv := map[string]string{"NODE_NAME": "spec.nodeName", "POD_NAME": "metadata.name", "POD_NAMESPACE": "metadata.namespace"}
	for _, e := range a.c.Env {
		if want, ok := wantEnv[e.Name]; ok {
			if e.ValueFrom == nil || e.ValueFrom.FieldRef == nil || e.ValueFrom.FieldRef.FieldPath != want {
				t.Errorf("%s: env %s must come from fieldRef %s, got %+v", src, e.Name, want, e)
			}
			delete(wantEnv, e.Name)
		}
	}
	for name := range wantEnv {
		t.Errorf("%s: env %s is missing", src, name)
	}

	// Shutdown: the pod's grace period covers shutdown.deadline and the 2 s the agent
	// then gives a stuck sink.
	grace := pod.TerminationGracePeriodSeconds
	if grace == nil {
		t.Errorf("%s: terminationGracePeriodSeconds is not set", src)
	} else if g := time.Duration(*grace) * time.Second; g <= a.cfg.Shutdown.Deadline+stuckSinkAllowance {
		t.Errorf("%s: terminationGracePeriodSeconds %v must exceed shutdown.deadline %v + %v", src, g, a.cfg.Shutdown.Deadline, stuckSinkAllowance)
	}

	// The HTTP endpoints: http.addr listens on the pod's IP at the container port the
	// probes and Prometheus use.
	host, portStr, err := net.SplitHostPort(a.cfg.HTTP.Addr)
	if err != nil {
		t.Fatalf("%s: http.addr %q: %v", src, a.cfg.HTTP.Addr, err)
	}
	if host != "" && host != "0.0.0.0" && host != "::" {
		t.Errorf("%s: http.addr %q listens on %s only: the kubelet's probes and Prometheus come from outside the pod", src, a.cfg.HTTP.Addr, host)
	}
	port, _ := strconv.Atoi(portStr)
	var named *corev1.ContainerPort
	for i, p := range a.c.Ports {
		if p.Name == portName {
			named = &a.c.Ports[i]
		}
	}
	if named == nil || int(named.ContainerPort) != port {
		t.Errorf("%s: want a containerPort %s = %d (http.addr), got %+v", src, portName, port, a.c.Ports)
	}
	checkProbe := func(what string, p *corev1.Probe, path string) {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != path || p.HTTPGet.Port != intstr.FromString(portName) {
			t.Errorf("%s: %s probe must be GET %s on port %s, got %+v", src, what, path, portName, p)
		}
	}
	checkProbe("liveness", a.c.LivenessProbe, "/healthz")
	checkProbe("readiness", a.c.ReadinessProbe, "/readyz")
	ann := a.ds.Spec.Template.Annotations
	if ann["prometheus.io/port"] != portStr || ann["prometheus.io/path"] != "/metrics" {
		t.Errorf("%s: prometheus.io annotations %v do not point at port %s /metrics", src, ann, portStr)
	}

	// Memory is bounded by configuration: the soft limit sits under the container's
	// limit, and the request covers it.
	lim, req := a.c.Resources.Limits[corev1.ResourceMemory], a.c.Resources.Requests[corev1.ResourceMemory]
	soft := resource.NewQuantity(int64(a.cfg.Pipeline.MemoryLimit), resource.BinarySI)
	if lim.IsZero() || lim.Cmp(*soft) <= 0 {
		t.Errorf("%s: memory limit %s must be set and above pipeline.memory_limit %s", src, lim.String(), soft)
	}
	if req.Cmp(*soft) < 0 {
		t.Errorf("%s: memory request %s is below pipeline.memory_limit %s", src, req.String(), soft)
	}
	if _, ok := a.c.Resources.Requests[corev1.ResourceCPU]; !ok {
		t.Errorf("%s: no CPU request", src)
	}

	// Upgrades: rolling, a tenth of the nodes at a time, never two agents on a node.
	us := a.ds.Spec.UpdateStrategy
	if us.Type != appsv1.RollingUpdateDaemonSetStrategyType || us.RollingUpdate == nil ||
		us.RollingUpdate.MaxUnavailable == nil || *us.RollingUpdate.MaxUnavailable != intstr.FromString("10%") ||
		us.RollingUpdate.MaxSurge == nil || us.RollingUpdate.MaxSurge.IntValue() != 0 {
		t.Errorf("%s: updateStrategy %+v, want RollingUpdate maxUnavailable 10%% maxSurge 0", src, us)
	}

	// The agent never reads its own output: its pods' log files, live, rotated and
	// compressed, are excluded by path, and annotated logferry.io/exclude.
	own := fmt.Sprintf("/var/log/pods/%s_%s_%s/agent/", a.ds.Namespace, testPodName(&a.ds), testPodUID)
	for _, f := range []string{"0.log", "0.log.20261122-101010", "0.log.20261122-101010.gz", "1.log"} {
		if !a.excluded(own + f) {
			t.Errorf("%s: the agent's own log %s is not excluded by sources.exclude %q", src, own+f, a.cfg.Sources.Exclude)
		}
	}
	if other := "/var/log/pods/default_web-7d9f-abcde_" + testPodUID + "/app/0.log"; a.excluded(other) {
		t.Errorf("%s: sources.exclude %q also excludes other pods (%s)", src, a.cfg.Sources.Exclude, other)
	}
	if ann["logferry.io/exclude"] != "true" {
		t.Errorf("%s: the agent's pods must be annotated logferry.io/exclude: \"true\"", src)
	}
	if a.pod.ServiceAccountName == "" {
		t.Errorf("%s: no serviceAccountName", src)
	}
}

// checkRBAC asserts the ClusterRole grants exactly get/list/watch on pods (and on
// namespaces when withNamespaces) and create/patch on events in both API groups,
// and that it is bound to the DaemonSet's ServiceAccount.
func checkRBAC(t *testing.T, m manifests, a *agent, withNamespaces bool) {
	t.Helper()
	var role rbacv1.ClusterRole
	m.one(t, "ClusterRole", &role)
	if role.AggregationRule != nil {
		t.Errorf("%s: the ClusterRole must not aggregate other roles", m.source)
	}
	want := []string{
		"/pods/get", "/pods/list", "/pods/watch",
		"/events/create", "/events/patch",
		"events.k8s.io/events/create", "events.k8s.io/events/patch",
	}
	if withNamespaces {
		want = append(want, "/namespaces/get", "/namespaces/list", "/namespaces/watch")
	} else if nl := a.cfg.Kubernetes.NamespaceLabels; nl != nil && *nl {
		t.Errorf("%s: kubernetes.namespace_labels is on but the ClusterRole cannot read namespaces", m.source)
	}
	var got []string
	for i, r := range role.Rules {
		if len(r.ResourceNames) > 0 || len(r.NonResourceURLs) > 0 {
			t.Errorf("%s: rule %d: unexpected resourceNames or nonResourceURLs", m.source, i)
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					if g == "*" || res == "*" || v == "*" || strings.Contains(res, "/") {
						t.Errorf("%s: rule %d: wildcard or subresource (%q %q %q)", m.source, i, g, res, v)
					}
					got = append(got, g+"/"+res+"/"+v)
				}
			}
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: ClusterRole grants\n  %q\nwant exactly\n  %q", m.source, got, want)
	}

	var binding rbacv1.ClusterRoleBinding
	m.one(t, "ClusterRoleBinding", &binding)
	wantRef := rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name}
	wantSubj := []rbacv1.Subject{{Kind: "ServiceAccount", Name: a.pod.ServiceAccountName, Namespace: a.ds.Namespace}}
	if binding.RoleRef != wantRef || !reflect.DeepEqual(binding.Subjects, wantSubj) {
		t.Errorf("%s: ClusterRoleBinding %+v %+v, want %+v %+v", m.source, binding.RoleRef, binding.Subjects, wantRef, wantSubj)
	}
	var sa corev1.ServiceAccount
	m.one(t, "ServiceAccount", &sa)
	if sa.Name != a.pod.ServiceAccountName || sa.Namespace != a.ds.Namespace {
		t.Errorf("%s: ServiceAccount %s/%s, DaemonSet uses %s/%s", m.source, sa.Namespace, sa.Name, a.ds.Namespace, a.pod.ServiceAccountName)
	}
}

// checkService asserts the metrics Service selects exactly the agent pods, on the
// http-metrics port, headless and including not-ready agents.
func checkService(t *testing.T, m manifests, a *agent) corev1.Service {
	t.Helper()
	var svc corev1.Service
	m.one(t, "Service", &svc)
	if svc.Namespace != a.ds.Namespace {
		t.Errorf("%s: Service in %q, DaemonSet in %q", m.source, svc.Namespace, a.ds.Namespace)
	}
	if !maps.Equal(svc.Spec.Selector, a.ds.Spec.Selector.MatchLabels) {
		t.Errorf("%s: Service selector %v, DaemonSet selector %v", m.source, svc.Spec.Selector, a.ds.Spec.Selector.MatchLabels)
	}
	for k, v := range svc.Spec.Selector {
		if a.ds.Spec.Template.Labels[k] != v {
			t.Errorf("%s: Service selector %s=%s does not match the pod template", m.source, k, v)
		}
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone || !svc.Spec.PublishNotReadyAddresses {
		t.Errorf("%s: the metrics Service must be headless and publish not-ready addresses", m.source)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != portName || svc.Spec.Ports[0].TargetPort != intstr.FromString(portName) {
		t.Errorf("%s: Service ports %+v, want one %s", m.source, svc.Spec.Ports, portName)
	}
	return svc
}

// checkShippedDefaults asserts what the base and the chart's defaults ship.
func checkShippedDefaults(t *testing.T, a *agent) {
	t.Helper()
	src, pod, c := a.source, a.pod, a.c
	if c.Image != "ghcr.io/logferry/logferry:latest" || c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("%s: image %s (%s), want ghcr.io/logferry/logferry:latest (IfNotPresent)", src, c.Image, c.ImagePullPolicy)
	}
	if a.ds.Name != "logferry" || a.ds.Namespace != "logferry" {
		t.Errorf("%s: DaemonSet %s/%s, want logferry/logferry", src, a.ds.Namespace, a.ds.Name)
	}
	if len(pod.Tolerations) != 1 || pod.Tolerations[0].Operator != corev1.TolerationOpExists || pod.Tolerations[0].Key != "" {
		t.Errorf("%s: tolerations %+v, want one with operator Exists (every node)", src, pod.Tolerations)
	}
	if pod.PriorityClassName != "system-node-critical" {
		t.Errorf("%s: priorityClassName %q", src, pod.PriorityClassName)
	}
	if g := pod.TerminationGracePeriodSeconds; g == nil || *g != 30 {
		t.Errorf("%s: terminationGracePeriodSeconds %v, want 30", src, ptrString(g))
	}
	want := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("50m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")},
	}
	if !equalResources(c.Resources, want) {
		t.Errorf("%s: resources %+v, want %+v", src, c.Resources, want)
	}
	cfg := a.cfg
	if cfg.Sources.PodsDir != "/var/log/pods" || cfg.Sources.DockerDir != "/var/lib/docker/containers" ||
		cfg.DataDir != "/var/lib/logferry" || cfg.HTTP.Addr != ":9733" {
		t.Errorf("%s: config pods_dir %q docker_dir %q data_dir %q http.addr %q", src, cfg.Sources.PodsDir, cfg.Sources.DockerDir, cfg.DataDir, cfg.HTTP.Addr)
	}
	if len(cfg.Sinks) != 1 || cfg.Sinks[0].Type != "stdout" {
		t.Errorf("%s: sinks %+v, want the one stdout sink", src, cfg.Sinks)
	}
	if cfg.Shutdown.Deadline != 25*time.Second || cfg.Pipeline.MemoryLimit != 40<<20 || cfg.Pipeline.MaxBufferBytes != 8<<20 {
		t.Errorf("%s: shutdown.deadline %v, memory_limit %v, max_buffer_bytes %v", src, cfg.Shutdown.Deadline, cfg.Pipeline.MemoryLimit, cfg.Pipeline.MaxBufferBytes)
	}
	for _, name := range []string{"var-log-pods", "var-log-containers", "docker-containers", "kubelet-pods", "data", "config"} {
		found := false
		for _, m := range c.VolumeMounts {
			found = found || m.Name == name
		}
		if !found {
			t.Errorf("%s: volume %s is not mounted", src, name)
		}
	}
	if m, _ := a.mountAt("/var/lib/kubelet/pods"); m.Name != "kubelet-pods" {
		t.Errorf("%s: /var/lib/kubelet/pods is not mounted", src)
	}
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "unset"
	}
	return fmt.Sprint(*p)
}

func equalResources(a, b corev1.ResourceRequirements) bool {
	eq := func(x, y corev1.ResourceList) bool {
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || v.Cmp(w) != 0 {
				return false
			}
		}
		return true
	}
	return eq(a.Requests, b.Requests) && eq(a.Limits, b.Limits)
}

// ---------------------------------------------------------------------------
// Tests

func TestKustomize(t *testing.T) {
	m := renderKustomize(t)
	m.decodeAll(t)
	a := agentOf(t, m)
	checkSecurity(t, a)
	checkRBAC(t, m, a, true)
	checkService(t, m, a)
	checkShippedDefaults(t, a)

	var ns corev1.Namespace
	m.one(t, "Namespace", &ns)
	if ns.Name != a.ds.Namespace {
		t.Errorf("Namespace %s, DaemonSet in %s", ns.Name, a.ds.Namespace)
	}
	if ns.Labels["pod-security.kubernetes.io/enforce"] != "privileged" {
		t.Errorf("the namespace needs pod-security.kubernetes.io/enforce: privileged (hostPath volumes), got %v", ns.Labels)
	}
	for _, o := range m.objs {
		namespaced := o.Kind != "Namespace" && o.Kind != "ClusterRole" && o.Kind != "ClusterRoleBinding"
		if namespaced != (o.Namespace == a.ds.Namespace) {
			t.Errorf("%s %s is in namespace %q", o.Kind, o.Name, o.Namespace)
		}
	}
	// A hashed ConfigMap name would roll every agent on each edit; the agent reloads.
	if a.cm.Name != "logferry-config" {
		t.Errorf("ConfigMap %q, want logferry-config (no name suffix hash: the agent hot-reloads)", a.cm.Name)
	}
}

func TestHelm(t *testing.T) {
	h := helm(t)
	t.Run("lint", func(t *testing.T) {
		run(t, h, "lint", "--strict", chartDir)
		run(t, h, "lint", "--strict", chartDir, "--values", allValues)
	})

	t.Run("defaults", func(t *testing.T) {
		m := renderHelm(t, "logferry", "logferry")
		m.decodeAll(t)
		a := agentOf(t, m)
		checkSecurity(t, a)
		checkRBAC(t, m, a, true)
		checkService(t, m, a)
		checkShippedDefaults(t, a)
		if got := m.all("ServiceMonitor"); len(got) != 0 {
			t.Errorf("a ServiceMonitor is rendered by default (it needs the Prometheus Operator's CRDs)")
		}
		// No checksum/config annotation: a config change must not roll the agents.
		for k := range a.ds.Spec.Template.Annotations {
			if strings.HasPrefix(k, "checksum/") {
				t.Errorf("pod template annotation %s would restart every agent on a config change; the agent reloads", k)
			}
		}
	})

	t.Run("same-as-kustomize", func(t *testing.T) {
		checkEquivalent(t, renderKustomize(t), renderHelm(t, "logferry", "logferry"))
	})

	t.Run("all-values", func(t *testing.T) {
		m := renderHelm(t, "x", "mon", "--values", allValues)
		m.decodeAll(t)
		a := agentOf(t, m)
		checkSecurity(t, a, "archive")
		checkRBAC(t, m, a, false)
		checkService(t, m, a)
		checkAllValues(t, m, a)
	})

	t.Run("all-values-covers-values", func(t *testing.T) {
		checkValuesCovered(t)
	})

	t.Run("no-rbac-no-service", func(t *testing.T) {
		m := renderHelm(t, "logferry", "logferry", "--set", "serviceAccount.create=false,serviceAccount.name=existing,rbac.create=false,service.enabled=false")
		m.decodeAll(t)
		a := agentOf(t, m)
		checkSecurity(t, a)
		for _, kind := range []string{"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Service", "ServiceMonitor"} {
			if n := len(m.all(kind)); n != 0 {
				t.Errorf("%d %s rendered with it turned off", n, kind)
			}
		}
		if a.pod.ServiceAccountName != "existing" {
			t.Errorf("serviceAccountName %q, want existing", a.pod.ServiceAccountName)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"--set-json", "sinks=[]"}, "at least one sink"},
			{[]string{"--set", "serviceMonitor.enabled=true,service.enabled=false"}, "serviceMonitor.enabled needs service.enabled"},
			{[]string{"--set", "namespaceLabels=false,config.kubernetes.namespace_labels=true"}, "namespace_labels needs namespaceLabels=true"},
		} {
			args := append([]string{"template", "logferry", chartDir}, tc.args...)
			_, err := runErr(h, args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("helm %s: want an error saying %q, got %v", strings.Join(args, " "), tc.want, err)
			}
		}
	})
}

// checkEquivalent asserts the chart with default values deploys what the kustomize
// base does: the same pod spec, update strategy, RBAC, Service and (parsed)
// configuration. Labels may differ (Helm adds its own); the chart does not create
// the namespace (helm install --create-namespace does).
func checkEquivalent(t *testing.T, k, h manifests) {
	t.Helper()
	ka, ha := agentOf(t, k), agentOf(t, h)
	if !reflect.DeepEqual(ka.pod, ha.pod) {
		kj, _ := json.MarshalIndent(ka.pod, "", "  ")
		hj, _ := json.MarshalIndent(ha.pod, "", "  ")
		t.Errorf("pod specs differ:\n--- kustomize\n%s\n--- helm\n%s", kj, hj)
	}
	if !reflect.DeepEqual(ka.ds.Spec.UpdateStrategy, ha.ds.Spec.UpdateStrategy) || !reflect.DeepEqual(ka.ds.Spec.Selector, ha.ds.Spec.Selector) {
		t.Errorf("update strategy or selector differ: %+v %+v / %+v %+v", ka.ds.Spec.UpdateStrategy, ka.ds.Spec.Selector, ha.ds.Spec.UpdateStrategy, ha.ds.Spec.Selector)
	}
	if !maps.Equal(ka.ds.Spec.Template.Annotations, ha.ds.Spec.Template.Annotations) {
		t.Errorf("pod annotations differ: %v / %v", ka.ds.Spec.Template.Annotations, ha.ds.Spec.Template.Annotations)
	}
	for key, v := range ka.ds.Spec.Template.Labels {
		if ha.ds.Spec.Template.Labels[key] != v {
			t.Errorf("pod label %s=%s of the kustomize base is missing from the chart", key, v)
		}
	}
	for _, c := range []*config.Config{ka.cfg, ha.cfg} {
		for i := range c.Sinks {
			c.Sinks[i].Line = 0 // where in the file, not what
		}
	}
	if !reflect.DeepEqual(ka.cfg, ha.cfg) {
		t.Errorf("agent configurations differ:\n--- kustomize\n%+v\n--- helm\n%+v", ka.cfg, ha.cfg)
	}
	if ka.ds.Name != ha.ds.Name || ka.ds.Namespace != ha.ds.Namespace || ka.cm.Name != ha.cm.Name {
		t.Errorf("names differ: %s/%s %s vs %s/%s %s", ka.ds.Namespace, ka.ds.Name, ka.cm.Name, ha.ds.Namespace, ha.ds.Name, ha.cm.Name)
	}
	var kr, hr rbacv1.ClusterRole
	k.one(t, "ClusterRole", &kr)
	h.one(t, "ClusterRole", &hr)
	if !reflect.DeepEqual(kr.Rules, hr.Rules) || kr.Name != hr.Name {
		t.Errorf("ClusterRoles differ: %+v / %+v", kr.Rules, hr.Rules)
	}
	var kb, hb rbacv1.ClusterRoleBinding
	k.one(t, "ClusterRoleBinding", &kb)
	h.one(t, "ClusterRoleBinding", &hb)
	if !reflect.DeepEqual(kb.RoleRef, hb.RoleRef) || !reflect.DeepEqual(kb.Subjects, hb.Subjects) {
		t.Errorf("ClusterRoleBindings differ")
	}
	ks, hs := checkService(t, k, ka), checkService(t, h, ha)
	if !reflect.DeepEqual(ks.Spec, hs.Spec) || ks.Name != hs.Name {
		t.Errorf("Services differ: %+v / %+v", ks.Spec, hs.Spec)
	}
	hk := append(h.kinds(), "Namespace")
	sort.Strings(hk)
	if kk := k.kinds(); !slices.Equal(kk, hk) {
		t.Errorf("kinds differ: kustomize %v, helm (+Namespace) %v", kk, hk)
	}
}

// checkAllValues asserts every value of ci/all-values.yaml took effect.
func checkAllValues(t *testing.T, m manifests, a *agent) {
	t.Helper()
	pod, c, cfg := a.pod, a.c, a.cfg
	check := func(what string, ok bool, got any) {
		t.Helper()
		if !ok {
			t.Errorf("all-values: %s: got %+v", what, got)
		}
	}
	check("fullnameOverride", a.ds.Name == "node-logs" && a.cm.Name == "node-logs-config", a.ds.Name)
	check("nameOverride", a.ds.Spec.Selector.MatchLabels["app.kubernetes.io/name"] == "ferry", a.ds.Spec.Selector.MatchLabels)
	check("image", c.Image == "registry.example.com/mirror/logferry:0.1.0" && c.ImagePullPolicy == corev1.PullAlways, c.Image)
	check("imagePullSecrets", len(pod.ImagePullSecrets) == 1 && pod.ImagePullSecrets[0].Name == "registry-example-com", pod.ImagePullSecrets)
	var sinks []string
	for _, s := range cfg.Sinks {
		sinks = append(sinks, s.Name+":"+s.Type)
	}
	check("config.sinks then sinks", slices.Equal(sinks, []string{"archive:file", "measure:discard"}), sinks)
	check("config (pipeline)", cfg.Pipeline.MaxBufferBytes == 32<<20 && cfg.Pipeline.Workers == 2 && cfg.Pipeline.MemoryLimit == 96<<20, cfg.Pipeline)
	check("config (sources)", cfg.Sources.ReadFrom == "end" && cfg.Sources.RescanInterval == 30*time.Second &&
		slices.Contains(cfg.Sources.Exclude, "/var/log/pods/kube-system_*/*/*"), cfg.Sources)
	check("config (checkpoint, shutdown, http)", cfg.Checkpoint.Interval == 2*time.Second && cfg.Shutdown.Deadline == 45*time.Second &&
		cfg.HTTP.PprofAddr == "127.0.0.1:6060", cfg)
	check("config (kubernetes)", cfg.Kubernetes.Enabled == "true" && slices.Equal(cfg.Kubernetes.Annotations, []string{"app.kubernetes.io/*"}) &&
		cfg.Kubernetes.SyncTimeout == 5*time.Second, cfg.Kubernetes)
	check("config log.level from extraEnv", cfg.Log.Level == "debug" && cfg.Log.Format == "text", cfg.Log)
	check("resources", c.Resources.Limits.Cpu().String() == "1" && c.Resources.Limits.Memory().String() == "256Mi" &&
		c.Resources.Requests.Cpu().String() == "100m", c.Resources)
	check("tolerations", len(pod.Tolerations) == 1 && pod.Tolerations[0].Key == "node-role.kubernetes.io/control-plane", pod.Tolerations)
	check("nodeSelector", pod.NodeSelector["logferry.io/collect"] == "true", pod.NodeSelector)
	check("affinity", pod.Affinity != nil && pod.Affinity.NodeAffinity != nil, pod.Affinity)
	check("priorityClassName", pod.PriorityClassName == "logging-critical", pod.PriorityClassName)
	ann := a.ds.Spec.Template.Annotations
	check("podAnnotations (and they win)", ann["example.com/team"] == "platform" && ann["prometheus.io/scrape"] == "false", ann)
	check("podLabels", a.ds.Spec.Template.Labels["example.com/cost-centre"] == "logging", a.ds.Spec.Template.Labels)
	archive, ok := a.mountAt("/var/log/logferry")
	check("extraVolumes/extraVolumeMounts", ok && archive.Name == "archive" && !archive.ReadOnly &&
		a.volume(t, "archive").HostPath != nil, archive)
	check("extraEnv", a.env["LOGFERRY_LOG_LEVEL"] == "debug" && a.env["GOMAXPROCS"] == "2", a.env)
	check("serviceAccount.name", pod.ServiceAccountName == "logferry-agent", pod.ServiceAccountName)
	var sa corev1.ServiceAccount
	m.one(t, "ServiceAccount", &sa)
	check("serviceAccount.annotations", sa.Annotations["example.com/owner"] == "platform", sa.Annotations)
	_, dockerMounted := a.mountAt("/var/lib/docker/containers")
	check("dockerContainersPath \"\"", cfg.Sources.DockerDir == "" && !dockerMounted, cfg.Sources.DockerDir)
	kp, ok := a.mountAt("/var/lib/k0s/kubelet/pods")
	check("kubeletPodsPath", ok && kp.ReadOnly && a.volume(t, kp.Name).HostPath.Path == "/var/lib/k0s/kubelet/pods", kp)
	d, _ := a.mountAt(cfg.DataDir)
	check("dataHostPath", a.volume(t, d.Name).HostPath.Path == "/var/lib/node-logs", a.volume(t, d.Name))
	check("metrics.port", cfg.HTTP.Addr == ":9800", cfg.HTTP.Addr)
	check("terminationGracePeriodSeconds", *pod.TerminationGracePeriodSeconds == 60, *pod.TerminationGracePeriodSeconds)

	sms := m.all("ServiceMonitor")
	if len(sms) != 1 {
		t.Fatalf("all-values: want one ServiceMonitor, got %d", len(sms))
	}
	var sm struct {
		APIVersion string `json:"apiVersion"`
		Metadata   struct {
			Namespace string            `json:"namespace"`
			Labels    map[string]string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Selector  struct{ MatchLabels map[string]string } `json:"selector"`
			Endpoints []struct {
				Port, Path, Interval, ScrapeTimeout string
			} `json:"endpoints"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(sms[0].JSON, &sm); err != nil {
		t.Fatal(err)
	}
	var svc corev1.Service
	m.one(t, "Service", &svc)
	check("serviceMonitor", sm.APIVersion == "monitoring.coreos.com/v1" && sm.Metadata.Namespace == "mon" &&
		sm.Metadata.Labels["release"] == "kube-prometheus-stack" && maps.Equal(sm.Spec.Selector.MatchLabels, svc.Spec.Selector) &&
		len(sm.Spec.Endpoints) == 1 && sm.Spec.Endpoints[0].Port == portName && sm.Spec.Endpoints[0].Interval == "15s" &&
		sm.Spec.Endpoints[0].ScrapeTimeout == "5s", sm)
}

// checkValuesCovered asserts ci/all-values.yaml sets every key of values.yaml (one
// level into the settings groups) to something other than its default, and no key
// values.yaml does not have.
func checkValuesCovered(t *testing.T) {
	t.Helper()
	read := func(p string) map[string]any {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := yaml.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return v
	}
	def, all := read(filepath.Join(chartDir, "values.yaml")), read(allValues)
	// Groups of settings, compared key by key; other maps (config, resources, ...)
	// are values in their own right, compared whole.
	groups := map[string]bool{"image": true, "serviceAccount": true, "rbac": true, "metrics": true, "service": true, "serviceMonitor": true}
	// Left at their defaults there because turning them off removes what the rest
	// exercises; the no-rbac-no-service subtest renders them off.
	same := map[string]bool{"serviceAccount.create": true, "rbac.create": true, "service.enabled": true}
	var compare func(prefix string, d, a map[string]any)
	compare = func(prefix string, d, a map[string]any) {
		for k, dv := range d {
			key := prefix + k
			av, ok := a[k]
			if !ok {
				t.Errorf("ci/all-values.yaml does not set %s", key)
				continue
			}
			if dm, isMap := dv.(map[string]any); isMap && groups[key] {
				am, _ := av.(map[string]any)
				compare(key+".", dm, am)
				continue
			}
			if reflect.DeepEqual(dv, av) != same[key] {
				if same[key] {
					t.Errorf("ci/all-values.yaml: %s should stay at its default %v", key, dv)
				} else {
					t.Errorf("ci/all-values.yaml sets %s to its default %v: set something else so the value is exercised", key, dv)
				}
			}
		}
		for k := range a {
			if _, ok := d[k]; !ok {
				t.Errorf("ci/all-values.yaml sets %s%s, which values.yaml does not have", prefix, k)
			}
		}
	}
	compare("", def, all)
}

// TestServerDryRun sends every rendered object to a real kube-apiserver with
// kubectl apply --dry-run=server: the API server's validation and defaulting, and
// admission. Then it applies the kustomize base for real and checks, by
// impersonation, what the agent's ServiceAccount may and may not do.
func TestServerDryRun(t *testing.T) {
	k := kubectl(t)
	helm(t) // skip before starting a cluster
	renders := []manifests{
		renderKustomize(t),
		renderHelm(t, "logferry", "logferry"),
		renderHelm(t, "x", "mon", "--values", allValues),
	}
	cluster := kubetest.Start(t)
	kc := cluster.Kubeconfig(t)
	kube := func(args ...string) []byte {
		t.Helper()
		return run(t, k, append([]string{"--kubeconfig", kc}, args...)...)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Namespaced objects need their namespace to exist, even in a dry run.
	var ns manifests
	ns.source = renders[0].source
	for _, o := range renders[0].objs {
		if o.Kind == "Namespace" {
			ns.objs = append(ns.objs, o)
		}
	}
	kube("apply", "-f", write("namespace.yaml", ns.yamlOf(t)))
	kube("create", "namespace", "mon")

	for i, m := range renders {
		// The ServiceMonitor's CRD (Prometheus Operator) is not installed here; its
		// shape is checked by TestHelm/all-values.
		f := write(fmt.Sprintf("render-%d.yaml", i), m.yamlOf(t, "ServiceMonitor"))
		out := kube("apply", "--dry-run=server", "--validate=strict", "-f", f)
		t.Logf("%s:\n%s", m.source, out)
		want := len(m.objs) - len(m.all("ServiceMonitor"))
		if got := bytes.Count(out, []byte("(server dry run)")); got != want {
			t.Errorf("%s: kubectl reported %d objects, want %d", m.source, got, want)
		}
	}

	// For real, then ask the API server what the agent's ServiceAccount may do.
	kube("apply", "--validate=strict", "-f", write("kustomize.yaml", renders[0].yamlOf(t)))
	sa := "system:serviceaccount:logferry:logferry"
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"list", "pods", "--all-namespaces"}, true},
		{[]string{"watch", "pods", "--all-namespaces"}, true},
		{[]string{"get", "pods", "-n", "default"}, true},
		{[]string{"list", "namespaces"}, true},
		{[]string{"create", "events", "-n", "default"}, true},
		{[]string{"patch", "events.events.k8s.io", "-n", "default"}, true},
		{[]string{"get", "pods", "--subresource=log", "-n", "default"}, false},
		{[]string{"delete", "pods", "-n", "default"}, false},
		{[]string{"get", "secrets", "-n", "logferry"}, false},
		{[]string{"list", "configmaps", "-n", "logferry"}, false},
		{[]string{"get", "events", "-n", "default"}, false},
		{[]string{"get", "nodes"}, false},
		{[]string{"create", "pods", "--subresource=exec", "-n", "default"}, false},
		{[]string{"create", "pods", "-n", "default"}, false},
	} {
		// can-i prints yes or no, and exits 1 for no.
		out, err := runErr(k, append([]string{"--kubeconfig", kc, "auth", "can-i", "--as", sa}, tc.args...)...)
		answer := strings.TrimSpace(string(out))
		if answer != "yes" && answer != "no" {
			t.Errorf("kubectl auth can-i %s: %v", strings.Join(tc.args, " "), err)
			continue
		}
		if got := answer == "yes"; got != tc.want {
			t.Errorf("kubectl auth can-i %s as the agent: %s, want %v", strings.Join(tc.args, " "), strings.TrimSpace(string(out)), tc.want)
		}
	}
}
