// Package kube keeps the metadata of the pods on this node, from one client-go
// informer: a list and watch of pods with fieldSelector spec.nodeName=<node>, served
// from the API server's watch cache (resourceVersion "0"), keyed by pod UID - the UID
// is in every kubelet log path, so a file finds its pod without any API call. There
// are no per-record or per-file requests.
//
// Metadata is rendered into a file's record prefix off the per-line path (the tail
// package asks for it when it opens a file, and again only when the pod's generation
// changed). A deleted pod's metadata is kept while its files are still being read
// (every lookup refreshes it) and dropped RetainDeleted after the last lookup, so the
// last lines of a deleted pod are still enriched. When the API server is slow or
// unreachable, lookups miss, records carry the path-derived fields, and the metadata
// is filled in when the watch catches up.
package kube

import (
	"context"
	"fmt"
	"log/slog"
	"path"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"

	"github.com/logferry/logferry/internal/record"
)

// Options configures a Cache.
type Options struct {
	Client   Client
	NodeName string
	// Annotations selects the pod annotations rendered into records
	// (kubernetes.annotations): path.Match patterns over annotation keys, e.g.
	// "app.kubernetes.io/*". Empty: none. logferry.io/ annotations are always
	// available to the agent (Pod.Annotations) whether rendered or not.
	Annotations []string
	// NamespaceLabels adds the pod's namespace labels (one more watch, of
	// namespaces; RBAC needs get/list/watch on namespaces).
	NamespaceLabels bool
	// RetainDeleted is how long a deleted pod's metadata outlives its last lookup
	// (default 10 minutes).
	RetainDeleted time.Duration
	// Resync re-delivers every pod periodically (0: never; the watch suffices).
	Resync time.Duration
	Logger *slog.Logger
	Now    func() time.Time
}

// Pod is what the agent knows about one pod. A Pod is immutable once published; a
// change produces a new Pod with a higher Generation.
type Pod struct {
	UID         string
	Namespace   string
	Name        string
	Labels      map[string]string
	Annotations map[string]string // all of them (for logferry.io/ settings)
	Generation  uint64
	Deleted     bool
	// containers by name, with the rendered metadata.
	containers map[string]*record.Kube
	base       record.Kube // pod-level part, for containers not in the spec
	src        *corev1.Pod
}

// Kube returns the record metadata for one container of the pod.
func (p *Pod) Kube(container string) *record.Kube {
	if k, ok := p.containers[container]; ok {
		return k
	}
	return &p.base
}

// Containers returns the names of the pod's containers (init, regular, ephemeral).
func (p *Pod) Containers() []string {
	out := make([]string, 0, len(p.containers))
	for n := range p.containers {
		out = append(out, n)
	}
	return out
}

// Object returns the pod as the informer stores it (slimmed: see slimPod). It must not
// be modified.
func (p *Pod) Object() *corev1.Pod { return p.src }

// Stats are the cache's counters, for metrics.
type Stats struct {
	Pods          int   // pods cached (including deleted ones retained)
	Events        int64 // add/update/delete events handled
	WatchRestarts int64 // list/watch (re)starts after the first
	ListErrors    int64 // failed list or watch calls
	Lists         int64 // list calls made
	Watches       int64 // watch calls made
	Synced        bool  // the first list completed
	LastEvent     time.Time
}

// Cache is the node's pod metadata.
type Cache struct {
	o    Options
	log  *slog.Logger
	gen  atomic.Uint64
	pods sync.Map // uid -> *entry

	nsMu     sync.RWMutex
	nsLabels map[string]map[string]string

	synced   atomic.Bool
	events   atomic.Int64
	restarts atomic.Int64
	errors   atomic.Int64 // failed list or watch calls
	lists    atomic.Int64
	watches  atomic.Int64
	last     atomic.Int64
}

type entry struct {
	pod       atomic.Pointer[Pod]
	lastUsed  atomic.Int64 // unix ns
	deletedAt atomic.Int64 // unix ns, 0 while the pod exists
}

// New returns a cache; Run fills it.
func New(o Options) *Cache {
	if o.RetainDeleted <= 0 {
		o.RetainDeleted = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Cache{o: o, log: o.Logger, nsLabels: map[string]map[string]string{}}
}

// Run watches until ctx is done. It returns at once with an error if the options are
// unusable; API errors are retried by the informer (with backoff) and counted.
func (c *Cache) Run(ctx context.Context) error {
	if c.o.Client == nil || c.o.NodeName == "" {
		return fmt.Errorf("kubernetes metadata needs a client and a node name")
	}
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			if c.lists.Add(1) > 1 {
				c.restarts.Add(1)
			}
			opts.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", c.o.NodeName).String()
			l, err := c.o.Client.ListPods(ctx, opts)
			if err != nil {
				c.errors.Add(1)
			}
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			c.watches.Add(1)
			opts.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", c.o.NodeName).String()
			w, err := c.o.Client.WatchPods(ctx, opts)
			if err != nil {
				c.errors.Add(1)
			}
			return w, err
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &corev1.Pod{}, c.o.Resync, cache.Indexers{})
	_ = inf.SetTransform(slimPod)
	_ = inf.SetWatchErrorHandler(func(_ *cache.Reflector, err error) {
		c.errors.Add(1)
		c.log.Warn("kubernetes pod watch failed; retrying (records keep their path-derived fields meanwhile)", "err", err)
	})
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.upsert(obj) },
		UpdateFunc: func(_, obj any) { c.upsert(obj) },
		DeleteFunc: c.deleted,
	})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		inf.Run(ctx.Done())
	}()
	if c.o.NamespaceLabels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.runNamespaces(ctx)
		}()
	}
	if cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		c.synced.Store(true)
		c.log.Info("kubernetes pod metadata synced", "node", c.o.NodeName, "pods", c.Stats().Pods)
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-t.C:
			c.gc()
		}
	}
}

func (c *Cache) runNamespaces(ctx context.Context) {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			c.lists.Add(1)
			l, err := c.o.Client.ListNamespaces(ctx, opts)
			if err != nil {
				c.errors.Add(1)
			}
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			c.watches.Add(1)
			w, err := c.o.Client.WatchNamespaces(ctx, opts)
			if err != nil {
				c.errors.Add(1)
			}
			return w, err
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &corev1.Namespace{}, 0, cache.Indexers{})
	set := func(obj any) {
		ns, ok := obj.(*corev1.Namespace)
		if !ok {
			return
		}
		c.nsMu.Lock()
		c.nsLabels[ns.Name] = ns.Labels
		c.nsMu.Unlock()
		c.refreshNamespace(ns.Name)
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    set,
		UpdateFunc: func(_, obj any) { set(obj) },
	})
	inf.Run(ctx.Done())
}

// refreshNamespace re-renders the pods of a namespace whose labels changed.
func (c *Cache) refreshNamespace(ns string) {
	c.pods.Range(func(_, v any) bool {
		e := v.(*entry)
		if p := e.pod.Load(); p != nil && p.Namespace == ns {
			e.pod.Store(c.build(p.raw(), p.Deleted))
		}
		return true
	})
}

// Lookup returns the pod with uid, and marks it used (see RetainDeleted).
func (c *Cache) Lookup(uid string) (*Pod, bool) {
	v, ok := c.pods.Load(uid)
	if !ok {
		return nil, false
	}
	e := v.(*entry)
	e.lastUsed.Store(c.o.Now().UnixNano())
	return e.pod.Load(), true
}

// Pods returns the pods that exist now (not the deleted ones kept for their files).
func (c *Cache) Pods() []*Pod {
	var out []*Pod
	c.pods.Range(func(_, v any) bool {
		if p := v.(*entry).pod.Load(); p != nil && !p.Deleted {
			out = append(out, p)
		}
		return true
	})
	return out
}

// Synced reports whether the first list completed.
func (c *Cache) Synced() bool { return c.synced.Load() }

// Stats returns the counters.
func (c *Cache) Stats() Stats {
	s := Stats{Events: c.events.Load(), WatchRestarts: c.restarts.Load(), ListErrors: c.errors.Load(), Synced: c.synced.Load(),
		Lists: c.lists.Load(), Watches: c.watches.Load()}
	if ns := c.last.Load(); ns != 0 {
		s.LastEvent = time.Unix(0, ns)
	}
	c.pods.Range(func(_, _ any) bool { s.Pods++; return true })
	return s
}

func (c *Cache) upsert(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	c.events.Add(1)
	c.last.Store(c.o.Now().UnixNano())
	uid := string(pod.UID)
	v, _ := c.pods.LoadOrStore(uid, &entry{})
	e := v.(*entry)
	e.lastUsed.Store(c.o.Now().UnixNano())
	old := e.pod.Load()
	if old != nil && old.sameAs(pod) {
		return
	}
	e.pod.Store(c.build(pod, false))
}

func (c *Cache) deleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	c.events.Add(1)
	v, ok := c.pods.Load(string(pod.UID))
	if !ok {
		return
	}
	e := v.(*entry)
	e.deletedAt.Store(c.o.Now().UnixNano())
	e.pod.Store(c.build(pod, true))
}

// gc drops deleted pods not looked up for RetainDeleted.
func (c *Cache) gc() {
	now := c.o.Now().UnixNano()
	c.pods.Range(func(k, v any) bool {
		e := v.(*entry)
		if e.deletedAt.Load() != 0 && now-e.lastUsed.Load() > int64(c.o.RetainDeleted) {
			c.pods.Delete(k)
		}
		return true
	})
}

// build renders a Pod from the API object.
func (c *Cache) build(pod *corev1.Pod, deleted bool) *Pod {
	p := &Pod{
		UID: string(pod.UID), Namespace: pod.Namespace, Name: pod.Name,
		Labels: pod.Labels, Annotations: pod.Annotations,
		Generation: c.gen.Add(1), Deleted: deleted,
		containers: map[string]*record.Kube{},
	}
	p.src = pod
	base := record.Kube{NodeName: pod.Spec.NodeName, PodIP: pod.Status.PodIP, Labels: pod.Labels,
		Owners: owners(pod)}
	for k, v := range pod.Annotations {
		if c.annotationSelected(k) {
			if base.Annotations == nil {
				base.Annotations = map[string]string{}
			}
			base.Annotations[k] = v
		}
	}
	if c.o.NamespaceLabels {
		c.nsMu.RLock()
		base.NamespaceLabels = c.nsLabels[pod.Namespace]
		c.nsMu.RUnlock()
	}
	p.base = base
	images := map[string]string{}
	for _, ct := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		images[ct.Name] = ct.Image
	}
	for _, ct := range pod.Spec.EphemeralContainers {
		images[ct.Name] = ct.Image
	}
	for name, img := range images {
		k := base
		k.Image = img
		p.containers[name] = &k
	}
	statuses := append(append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...),
		pod.Status.ContainerStatuses...), pod.Status.EphemeralContainerStatuses...)
	for _, st := range statuses {
		k := base
		k.Image = images[st.Name]
		if k.Image == "" {
			k.Image = st.Image
		}
		if rt, id, ok := strings.Cut(st.ContainerID, "://"); ok {
			k.Runtime, k.ContainerID = rt, id
		}
		p.containers[st.Name] = &k
	}
	return p
}

func (c *Cache) annotationSelected(key string) bool {
	for _, pat := range c.o.Annotations {
		if ok, _ := path.Match(pat, key); ok {
			return true
		}
	}
	return false
}

// sameAs reports whether pod would render the same Pod (only the fields used here).
func (p *Pod) sameAs(pod *corev1.Pod) bool {
	old := p.src
	if old == nil {
		return false
	}
	return old.ResourceVersion == pod.ResourceVersion
}

func (p *Pod) raw() *corev1.Pod { return p.src }

// cronJobSuffix matches the "-<scheduled time in minutes>" a CronJob puts on its Jobs.
var cronJobSuffix = regexp.MustCompile(`^(.+)-\d{8,}$`)

// owners returns the pod's workload chain: the controller owner, and the object that
// owns that one where it can be derived from names alone (no API call): a ReplicaSet
// named "<deployment>-<pod-template-hash>" belongs to that Deployment; a Job named
// "<cronjob>-<scheduled time in minutes>" (8 or more digits) to that CronJob.
func owners(pod *corev1.Pod) []record.Owner {
	ref := metav1.GetControllerOf(pod)
	if ref == nil {
		return nil
	}
	kind := strings.ToLower(ref.Kind)
	out := []record.Owner{{Kind: kind, Name: ref.Name}}
	switch kind {
	case "replicaset":
		if h := pod.Labels["pod-template-hash"]; h != "" {
			if d, ok := strings.CutSuffix(ref.Name, "-"+h); ok && d != "" {
				out = append(out, record.Owner{Kind: "deployment", Name: d})
			}
		}
	case "job":
		if m := cronJobSuffix.FindStringSubmatch(ref.Name); m != nil {
			out = append(out, record.Owner{Kind: "cronjob", Name: m[1]})
		}
	}
	return out
}

// slimPod drops what the agent never reads before the informer stores a pod: managed
// fields, conditions, probes, resources, most of the spec. Kept: identity, labels,
// annotations, owners, node, the containers' names, images, volume mounts and env
// (for log files inside pods), volumes, the pod IP and container statuses.
func slimPod(obj any) (any, error) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil
	}
	out := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace, UID: pod.UID,
			ResourceVersion: pod.ResourceVersion, Labels: pod.Labels, Annotations: pod.Annotations,
			OwnerReferences: pod.OwnerReferences, DeletionTimestamp: pod.DeletionTimestamp},
		Spec: corev1.PodSpec{NodeName: pod.Spec.NodeName, Volumes: pod.Spec.Volumes,
			Containers: slimContainers(pod.Spec.Containers), InitContainers: slimContainers(pod.Spec.InitContainers)},
		Status: corev1.PodStatus{PodIP: pod.Status.PodIP, Phase: pod.Status.Phase,
			ContainerStatuses: slimStatuses(pod.Status.ContainerStatuses), InitContainerStatuses: slimStatuses(pod.Status.InitContainerStatuses)},
	}
	for _, e := range pod.Spec.EphemeralContainers {
		out.Spec.EphemeralContainers = append(out.Spec.EphemeralContainers, corev1.EphemeralContainer{
			EphemeralContainerCommon: corev1.EphemeralContainerCommon{Name: e.Name, Image: e.Image, VolumeMounts: e.VolumeMounts}})
	}
	out.Status.EphemeralContainerStatuses = slimStatuses(pod.Status.EphemeralContainerStatuses)
	return out, nil
}

func slimContainers(cs []corev1.Container) []corev1.Container {
	if len(cs) == 0 {
		return nil
	}
	out := make([]corev1.Container, len(cs))
	for i, c := range cs {
		out[i] = corev1.Container{Name: c.Name, Image: c.Image, VolumeMounts: c.VolumeMounts, Env: c.Env}
	}
	return out
}

func slimStatuses(ss []corev1.ContainerStatus) []corev1.ContainerStatus {
	if len(ss) == 0 {
		return nil
	}
	out := make([]corev1.ContainerStatus, len(ss))
	for i, s := range ss {
		out[i] = corev1.ContainerStatus{Name: s.Name, Image: s.Image, ContainerID: s.ContainerID}
	}
	return out
}
