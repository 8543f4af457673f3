package agent

import (
	"context"
	"fmt"
	"os"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/kube"
)

// kubeEnabled says whether pod metadata is on: "auto" means running in a cluster (the
// kubelet sets KUBERNETES_SERVICE_HOST in every pod) or a kubeconfig was given.
func kubeEnabled(k config.Kubernetes) bool {
	switch k.Enabled {
	case "true":
		return true
	case "false":
		return false
	}
	return k.Kubeconfig != "" || os.Getenv("KUBERNETES_SERVICE_HOST") != ""
}

// newKubeClient builds the API client from the kubeconfig, or the in-cluster service
// account when none is given.
func newKubeClient(k config.Kubernetes, version string) (kube.Client, error) {
	var rc *rest.Config
	var err error
	if k.Kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", k.Kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	rc.UserAgent = "logferry/" + version
	// One list and one long watch per node: a small budget keeps a crash-looping agent
	// fleet from hurting the API server.
	rc.QPS, rc.Burst = 5, 10
	return kube.NewClient(rc)
}

// setupKube creates the metadata cache when Kubernetes is enabled.
func (a *Agent) setupKube(cfg *config.Config, o Options) error {
	k := cfg.Kubernetes
	if o.KubeClient == nil && !kubeEnabled(k) {
		return nil
	}
	client := o.KubeClient
	if client == nil {
		c, err := newKubeClient(k, o.Version)
		if err != nil {
			return err
		}
		client = c
	}
	nsLabels := k.NamespaceLabels != nil && *k.NamespaceLabels
	a.events = kube.NewEvents(client, cfg.NodeName, a.log.With("component", "kubernetes"))
	a.kube = kube.New(kube.Options{Client: client, NodeName: cfg.NodeName, Annotations: k.Annotations,
		NamespaceLabels: nsLabels, RetainDeleted: k.RetainDeleted, Logger: a.log.With("component", "kubernetes")})
	return nil
}

// startKube runs the cache until ctx ends and waits up to the sync timeout for the
// first list, so the first lines read already carry metadata.
func (a *Agent) startKube(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	if a.kube == nil {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		if err := a.kube.Run(ctx); err != nil {
			a.log.Error("kubernetes metadata disabled", "err", err)
		}
	}()
	timeout := a.Config().Kubernetes.SyncTimeout
	deadline := time.Now().Add(timeout)
	for !a.kube.Synced() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if !a.kube.Synced() && timeout > 0 {
		a.log.Warn("kubernetes pod list not done within sync_timeout; reading starts, metadata is added when it arrives",
			"sync_timeout", timeout.String())
	}
	return done
}
