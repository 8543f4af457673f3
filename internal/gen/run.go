package gen

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Run simulates the node described by o until every container has written
// o.Lines lines, o.Duration has passed, or ctx ends, then writes the manifest
// and returns it. Ending by ctx or by the duration is a normal end (the error
// is nil and Manifest.Stopped says why). Run refuses an Out directory that
// already holds generated logs. It uses no global state and may run several
// times concurrently in one process (with different Out directories).
func Run(ctx context.Context, o Options) (*Manifest, error) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		return nil, err
	}
	loc, _ := parseTZ(o.TZOffset)
	r := &runner{o: o, loc: loc, plan: newPlan(o)}
	if o.Format == FormatDocker {
		r.root = filepath.Join(o.Out, "docker")
	} else {
		r.root = filepath.Join(o.Out, "pods")
	}
	if ents, err := os.ReadDir(r.root); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("out: %s already holds generated logs; remove it or choose another directory", r.root)
	}
	if err := os.MkdirAll(r.root, 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(o.Manifest), 0o755); err != nil {
		return nil, err
	}

	cs := r.containers()
	for _, c := range cs {
		if err := c.start(); err != nil {
			for _, c := range cs {
				c.stop()
			}
			return nil, err
		}
	}

	started := time.Now()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if o.Duration > 0 {
		var cancelT context.CancelFunc
		runCtx, cancelT = context.WithTimeout(runCtx, o.Duration)
		defer cancelT()
	}

	var (
		errMu    sync.Mutex
		firstErr error
	)
	fail := func(err error) {
		errMu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		errMu.Unlock()
		cancel()
	}

	stopKubelet := make(chan struct{})
	kubeletDone := make(chan struct{})
	if o.Format != FormatDocker && o.RotateSize > 0 {
		k := &kubelet{maxSize: o.RotateSize, maxFiles: o.MaxFiles, lateWrites: o.LateWrites, interval: o.RotateInterval, cs: cs}
		go func() {
			defer close(kubeletDone)
			if err := k.run(runCtx, stopKubelet); err != nil {
				fail(fmt.Errorf("kubelet rotation: %w", err))
			}
		}()
	} else {
		close(kubeletDone)
	}

	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.run(runCtx, newPacer(o.Rate, len(cs), i, started)); err != nil {
				fail(fmt.Errorf("container %s: %w", c.key, err))
			}
		}()
	}
	wg.Wait()
	close(stopKubelet)
	<-kubeletDone
	for _, c := range cs { // already stopped by run; stop is idempotent
		if err := c.stop(); err != nil {
			fail(err)
		}
	}

	stopped := "lines"
	switch {
	case ctx.Err() != nil:
		stopped = "cancelled"
	case o.Duration > 0 && errors.Is(runCtx.Err(), context.DeadlineExceeded):
		stopped = "duration"
	case firstErr != nil:
		stopped = "error"
	}
	m := r.manifest(cs, started, stopped)
	if err := WriteManifest(o.Manifest, m); err != nil {
		fail(fmt.Errorf("manifest: %w", err))
	}
	return m, firstErr
}

// containers builds the node: pods spread round-robin over the namespaces.
func (r *runner) containers() []*container {
	o := r.o
	var cs []*container
	seen := make(map[string]bool)
	for p := 0; p < o.Pods; p++ {
		ns := namespaceName(p % o.Namespaces)
		pod := podName(o.Seed, p)
		if seen[ns+"/"+pod] {
			pod += "-" + strconv.Itoa(p)
		}
		seen[ns+"/"+pod] = true
		uid := podUID(o.Seed, p)
		for k := 0; k < o.Containers; k++ {
			cs = append(cs, newContainer(r, len(cs), ns, pod, uid, containerName(k)))
		}
	}
	return cs
}

func (r *runner) manifest(cs []*container, started time.Time, stopped string) *Manifest {
	m := &Manifest{
		Version:  ManifestVersion,
		Format:   r.o.Format,
		Dir:      r.o.Out,
		Started:  started.UTC(),
		Finished: time.Now().UTC(),
		Stopped:  stopped,
		Options:  r.o,
	}
	t := &m.Totals
	for _, c := range cs {
		c.mu.Lock()
		ci := ContainerInfo{
			Namespace: c.ns, Pod: c.pod, UID: c.uid, Container: c.name,
			LogDir:    c.dir,
			DockerIDs: append([]string(nil), c.dockerIDs...),
			Lines:     c.lines, LongLines: c.longLines, Malformed: c.malformed,
			Restarts: c.restart, Rotations: c.rotations,
			Records: c.records, Bytes: c.bytes,
		}
		t.MessageBytes += c.msgBytes
		c.mu.Unlock()
		m.Containers = append(m.Containers, ci)
		t.Containers++
		t.Lines += ci.Lines
		t.LongLines += ci.LongLines
		t.Malformed += ci.Malformed
		t.Records += ci.Records
		t.Bytes += ci.Bytes
		t.Restarts += ci.Restarts
		t.Rotations += ci.Rotations
	}
	return m
}
