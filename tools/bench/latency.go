package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"
)

// latency measures how long a line written by a new pod takes to reach the file sink:
// the agent runs on an empty node, then pods appear one after another, each writing one
// line; the time from the write to the record's arrival in the output is recorded.
func latency(bin, dir string, pods int) error {
	root := filepath.Join(dir, "latency")
	podsDir := filepath.Join(root, "pods")
	out := filepath.Join(root, "out", "out.json")
	if err := os.MkdirAll(podsDir, 0o755); err != nil {
		return err
	}
	cfg := filepath.Join(root, "agent.yaml")
	err := agentConf{
		data: filepath.Join(root, "data"), pods: podsDir, sinkName: "out",
		sink: "    type: file\n    path: " + out + "\n    batch:\n      max_wait: 10ms\n",
	}.write(cfg)
	if err != nil {
		return err
	}
	a, err := startAgent(bin, cfg)
	if err != nil {
		return err
	}
	defer a.stop()
	time.Sleep(500 * time.Millisecond) // the agent's first scan
	var lat []time.Duration
	for i := 0; i < pods; i++ {
		key := fmt.Sprintf("latency-probe-%d", i)
		cdir := filepath.Join(podsDir, fmt.Sprintf("lat_pod-%d_uid-%d", i, i), "app")
		start := time.Now()
		if err := os.MkdirAll(cdir, 0o755); err != nil {
			return err
		}
		line := fmt.Sprintf("%s stdout F %s\n", time.Now().UTC().Format(time.RFC3339Nano), key)
		if err := os.WriteFile(filepath.Join(cdir, "0.log"), []byte(line), 0o644); err != nil {
			return err
		}
		for !contains(out, key) {
			if time.Since(start) > 10*time.Second {
				return fmt.Errorf("line of new pod %d not shipped after 10s", i)
			}
			time.Sleep(time.Millisecond)
		}
		lat = append(lat, time.Since(start))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("\nnew pod to file sink, %d pods one after another: p50 %v, p90 %v, max %v\n",
		len(lat), lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*9/10].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	return nil
}

func contains(path, key string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	k := []byte(key)
	for sc.Scan() {
		if bytes.Contains(sc.Bytes(), k) {
			return true
		}
	}
	return false
}
