package gen

import (
	"compress/gzip"
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// kubeletStampLayout is the kubelet's rotated-file timestamp format.
const kubeletStampLayout = "20060102-150405"

// kubelet simulates the kubelet's container log manager
// (pkg/kubelet/logs/container_log_manager.go) with one worker.
type kubelet struct {
	maxSize    int64
	maxFiles   int
	lateWrites int
	interval   time.Duration
	cs         []*container
}

// run checks every container each interval until stop is closed or ctx ends.
func (k *kubelet) run(ctx context.Context, stop <-chan struct{}) error {
	t := time.NewTicker(k.interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return nil
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for _, c := range k.cs {
			select {
			case <-stop:
				return nil
			default:
			}
			if err := k.check(c); err != nil {
				return err
			}
		}
	}
}

// check is one worker pass over one container: only running containers are
// rotated, and only when the live file has reached the maximum size. A
// container whose reopen is still pending is skipped (its live file is
// missing; the real kubelet would call ReopenContainerLog again).
func (k *kubelet) check(c *container) error {
	c.rotMu.Lock()
	defer c.rotMu.Unlock()
	c.mu.Lock()
	live, inst, skip := c.path, c.restart, !c.running || c.pending
	c.mu.Unlock()
	if skip {
		return nil
	}
	st, err := os.Stat(live)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	if st.Size() < k.maxSize {
		return nil
	}
	if err := rotateOld(live, k.maxFiles); err != nil {
		return err
	}
	// rotateLatestLog: rename the live file, then ReopenContainerLog. The
	// runtime keeps writing to the renamed file until it reopens: lateWrites
	// more lines here, done by the writer (writeUnit).
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running || c.restart != inst || c.pending {
		return nil
	}
	rotated := live + "." + c.nextStamp()
	if err := os.Rename(live, rotated); err != nil {
		return err
	}
	if k.lateWrites <= 0 {
		return c.reopenLocked()
	}
	c.pending, c.lateLeft, c.rotatedPath = true, k.lateWrites, rotated
	return nil
}

// nextStamp returns the rotated-file suffix from the simulated kubelet clock:
// the wall clock in UTC to the second, but at least one second after the
// previous rotation of this container, so names never collide and sort by age.
// mu is held.
func (c *container) nextStamp() string {
	now := time.Now().UTC().Truncate(time.Second)
	if !c.lastStamp.IsZero() && !now.After(c.lastStamp) {
		now = c.lastStamp.Add(time.Second)
	}
	c.lastStamp = now
	return now.Format(kubeletStampLayout)
}

// rotateOld is the part of the kubelet's rotateLog that works on the already
// rotated files of live, before the live file itself is renamed:
//
//  1. glob <live>.*;
//  2. cleanupUnusedLogs: remove *.tmp, and any uncompressed file whose .gz exists;
//  3. removeExcessLogs: sort lexically (oldest first) and remove until at most
//     maxFiles-2 rotated files remain;
//  4. compressLog: gzip every remaining uncompressed file f to f.tmp, rename it
//     to f.gz, remove f.
func rotateOld(live string, maxFiles int) error {
	logs, err := filepath.Glob(escapeGlob(live) + ".*")
	if err != nil {
		return err
	}
	// cleanupUnusedLogs
	have := make(map[string]bool, len(logs))
	for _, l := range logs {
		have[l] = true
	}
	var kept []string
	for _, l := range logs {
		if strings.HasSuffix(l, ".tmp") || (!strings.HasSuffix(l, ".gz") && have[l+".gz"]) {
			if err := os.Remove(l); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			continue
		}
		kept = append(kept, l)
	}
	// removeExcessLogs
	sort.Strings(kept)
	keep := maxFiles - 2
	if keep < 0 {
		keep = 0
	}
	i := 0
	for ; i < len(kept)-keep; i++ {
		if err := os.Remove(kept[i]); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	kept = kept[i:]
	// compressLog
	for _, l := range kept {
		if strings.HasSuffix(l, ".gz") {
			continue
		}
		if err := kubeletCompress(l); err != nil {
			return err
		}
	}
	return nil
}

// kubeletCompress is the kubelet's compressLog.
func kubeletCompress(l string) (err error) {
	in, err := os.Open(l)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := l + ".tmp"
	out, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if out != nil {
			out.Close()
		}
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	zw := gzip.NewWriter(out)
	if _, err = io.Copy(zw, in); err != nil {
		return err
	}
	if err = zw.Close(); err != nil {
		return err
	}
	err = out.Close()
	out = nil
	if err != nil {
		return err
	}
	if err = os.Rename(tmp, l+".gz"); err != nil {
		return err
	}
	return os.Remove(l)
}

// escapeGlob escapes the glob metacharacters of a literal path.
func escapeGlob(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '*', '?', '[', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
