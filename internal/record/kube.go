package record

import (
	"slices"
	"strings"
)

// Kube is a pod's metadata from the API server, rendered into a file's Prefix under
// "kubernetes" (Filebeat's field names) and "container".
type Kube struct {
	NodeName string
	PodIP    string
	// Labels, Annotations (already filtered by the allow-list) and NamespaceLabels
	// are rendered with their keys de-dotted ("app.kubernetes.io/name" becomes
	// "app_kubernetes_io/name"), as Filebeat does by default, so that a label "app" and
	// a label "app.kubernetes.io/name" cannot collide in an Elasticsearch mapping.
	Labels          map[string]string
	Annotations     map[string]string
	NamespaceLabels map[string]string
	// Owners are the workload objects that own the pod, outermost last, e.g.
	// replicaset then deployment, or job then cronjob. Kind is lower case.
	Owners []Owner
	// Image, ContainerID and Runtime are the container's, from the pod status
	// (ContainerID without the "<runtime>://" prefix).
	Image       string
	ContainerID string
	Runtime     string
	// Route is the pod's logferry.io/route ("" for the default route), rendered as
	// RouteField; sinks map it to a topic, index or tenant (their routes option).
	Route string
}

// RouteField is the record field holding the route of a pod that names one.
const RouteField = "logferry.route"

// Owner is one owning workload.
type Owner struct {
	Kind string // deployment, replicaset, statefulset, daemonset, job, cronjob
	Name string
}

// Dedot replaces the dots of a label or annotation key with underscores.
func Dedot(k string) string { return strings.ReplaceAll(k, ".", "_") }

func appendMap(t []byte, m map[string]string) []byte {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	t = append(t, '{')
	for i, k := range keys {
		if i > 0 {
			t = append(t, ',')
		}
		t = AppendStringS(t, Dedot(k))
		t = append(t, ':')
		t = AppendStringS(t, m[k])
	}
	return append(t, '}')
}
