package agent

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/logferry/logferry/internal/discover"
	"github.com/logferry/logferry/internal/podfiles"
	"github.com/logferry/logferry/internal/record"
)

// podFilesLoop finds the log files pods write inside their volumes
// (logferry.io/files) every kubernetes.pod_files_interval and hands the complete set
// to the readers, until ctx ends. Paths are resolved by internal/podfiles, which never
// leaves a pod's volume; a refused path is reported on the pod (an Event) and nothing
// of it is read.
func (a *Agent) podFilesLoop(ctx context.Context) {
	if a.kube == nil {
		return
	}
	t := time.NewTicker(a.Config().Kubernetes.PodFilesInterval)
	defer t.Stop()
	for {
		a.syncPodFiles()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (a *Agent) syncPodFiles() {
	opts := podfiles.Options{KubeletPodsDir: a.Config().Kubernetes.KubeletPodsDir}
	var groups []discover.Group
	for _, p := range a.kube.Pods() {
		var specs []podfiles.Spec
		names := p.Containers()
		sort.Strings(names)
		for _, c := range names {
			v, _, ok := a.podView(p.UID, c)
			if !ok {
				continue
			}
			for _, f := range v.Settings.Files {
				specs = append(specs, podfiles.Spec{Container: f.Container, Path: f.Path})
			}
		}
		if len(specs) == 0 {
			continue
		}
		files, probs := podfiles.Resolve(p.Object(), specs, opts)
		for _, pr := range probs {
			a.pods.problems.Add(1)
			a.log.Warn("log file inside pod refused", "namespace", p.Namespace, "pod", p.Name,
				"container", pr.Container, "path", pr.Path, "reason", pr.Reason)
			if a.events != nil {
				a.events.Warn(p, "logferry.io/files: "+pr.Error())
			}
		}
		for _, f := range files {
			f := f
			groups = append(groups, discover.Group{
				Key:          "podfile:" + p.UID + "/" + f.Container + f.ContainerPath,
				Dir:          filepath.Dir(f.HostPath),
				Layout:       discover.PodFile,
				Prefix:       filepath.Base(f.HostPath),
				ContainerDir: filepath.Dir(f.ContainerPath),
				Source: record.Source{Namespace: p.Namespace, Pod: p.Name, PodUID: p.UID, Container: f.Container,
					RestartCount: -1},
				Open: func(hostPath string) (*os.File, error) {
					g := f
					g.HostPath = hostPath
					return podfiles.Open(g, opts)
				},
			})
		}
	}
	a.tails.SyncPodFiles(groups)
}
