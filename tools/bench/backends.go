package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/logferry/logferry/internal/vltest"
)

// backend is the destination of one run: it gives the sink's configuration, is
// started before the agent and checked after it.
type backend interface {
	// sinkYAML is the sink's keys after its name, indented 4.
	sinkYAML() string
	// verify checks that the destination holds want records and describes what
	// it found ("" when there is nothing to check).
	verify(want int64) (string, error)
	// close stops the destination.
	close()
}

// newBackend starts the destination of sink kind name, keeping its files under dir.
func newBackend(name, dir string) (backend, error) {
	out := filepath.Join(dir, "out-"+name, "out.json")
	switch name {
	case "file":
		return local("    type: file\n    path: " + out + "\n    max_size: 256MiB\n    fsync: true\n"), nil
	case "file-nosync":
		return local("    type: file\n    path: " + out + "\n    max_size: 256MiB\n    fsync: false\n"), nil
	case "discard":
		return local("    type: discard\n"), nil
	case "kafka", "kafka-lz4", "kafka-snappy", "kafka-gzip", "kafka-none":
		codec := "zstd"
		if _, c, ok := strings.Cut(name, "-"); ok {
			codec = c
		}
		return startKafka(codec)
	case "elasticsearch", "loki":
		return startVictoriaLogs(filepath.Join(dir, "out-"+name), name)
	}
	return nil, fmt.Errorf("unknown sink %q (file, file-nosync, discard, kafka, kafka-lz4, kafka-snappy, kafka-gzip, kafka-none, elasticsearch, loki)", name)
}

// local is a sink of the agent's own (file, discard): nothing runs beside it.
type local string

func (l local) sinkYAML() string           { return string(l) }
func (local) verify(int64) (string, error) { return "", nil }
func (local) close()                       {}

// Kafka: an in-process kfake cluster, so the broker's CPU is the bench's, not the
// agent's (the agent's rusage is its own process's).
const (
	kafkaTopic      = "logs"
	kafkaBrokers    = 3
	kafkaPartitions = 6
)

type kafkaBackend struct {
	c     *kfake.Cluster
	codec string // the sink's compression
}

func startKafka(codec string) (*kafkaBackend, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(kafkaBrokers), kfake.SeedTopics(kafkaPartitions, kafkaTopic))
	if err != nil {
		return nil, fmt.Errorf("kfake: %w", err)
	}
	return &kafkaBackend{c: c, codec: codec}, nil
}

func (k *kafkaBackend) sinkYAML() string {
	return fmt.Sprintf("    type: kafka\n    kafka:\n      brokers: [%s]\n      topic: %s\n      compression: %s\n",
		strings.Join(k.c.ListenAddrs(), ", "), kafkaTopic, k.codec)
}

// verify consumes the topic from the start and counts its records, checking that
// each is a JSON object with a message.
func (k *kafkaBackend) verify(want int64) (string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(k.c.ListenAddrs()...), kgo.ConsumeTopics(kafkaTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return "", err
	}
	defer cl.Close()
	var n, bad int64
	parts := map[int32]bool{}
	for n < want {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		if fs.IsClientClosed() || ctx.Err() != nil && fs.NumRecords() == 0 {
			break // nothing more within 10s
		}
		fs.EachRecord(func(r *kgo.Record) {
			n++
			parts[r.Partition] = true
			var m struct {
				Message *string `json:"message"`
			}
			if json.Unmarshal(r.Value, &m) != nil || m.Message == nil {
				bad++
			}
		})
	}
	got := fmt.Sprintf("kfake holds %d records of %d in %d partitions, %d not JSON with a message", n, want, len(parts), bad)
	if n != want || bad > 0 {
		return got, fmt.Errorf("%s", got)
	}
	return got, nil
}

func (k *kafkaBackend) close() { k.c.Close() }

// Elasticsearch: a real VictoriaLogs through its Elasticsearch bulk API.
type vlBackend struct {
	p    *vltest.Process
	dead string // the sink's dead-letter file
	kind string // elasticsearch or loki: the API the sink uses
}

func startVictoriaLogs(dir, kind string) (*vlBackend, error) {
	bin, err := vltest.BinaryPath(func(f string, a ...any) { fmt.Printf("  ("+f+")\n", a...) })
	if err != nil {
		return nil, err
	}
	p, err := vltest.Run(bin, filepath.Join(dir, "vl-data"))
	if err != nil {
		return nil, err
	}
	return &vlBackend{p: p, dead: filepath.Join(dir, "dead-letter.jsonl"), kind: kind}, nil
}

func (v *vlBackend) sinkYAML() string {
	if v.kind == "loki" {
		// Sink defaults: protobuf and snappy, labels namespace, workload, container.
		return "    type: loki\n    loki:\n      url: " + v.p.LokiPushURL() + "\n      dead_letter_path: " + v.dead + "\n"
	}
	return "    type: elasticsearch\n    elasticsearch:\n      urls: [" + v.p.ElasticsearchURL() + "]\n" +
		"      index: logs\n" +
		"      parameters: {_msg_field: message, _time_field: \"@timestamp\", _stream_fields: \"kubernetes.namespace,kubernetes.pod.name\"}\n" +
		"      dead_letter_path: " + v.dead + "\n"
}

// verify reads VictoriaLogs' count of rows ingested through the bulk API, then
// waits (rows become searchable after a second or two) for a LogsQL count to agree.
func (v *vlBackend) verify(want int64) (string, error) {
	resp, err := http.Get(v.p.URL + "/metrics")
	if err != nil {
		return "", err
	}
	m, err := parseMetrics(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	typ := "elasticsearch_bulk"
	if v.kind == "loki" {
		typ = "loki_protobuf"
	}
	ingested := int64(m.sum("vl_rows_ingested_total", `type="`+typ+`"`))
	var counted int64
	for deadline := time.Now().Add(30 * time.Second); counted != want && time.Now().Before(deadline); time.Sleep(time.Second) {
		rows, err := v.p.QueryErr("* | stats count() as n")
		if err != nil {
			return "", err
		}
		if len(rows) == 1 {
			fmt.Sscan(rows[0]["n"], &counted)
		}
	}
	got := fmt.Sprintf("VictoriaLogs ingested %d rows (vl_rows_ingested_total{type=%q}), LogsQL counts %d, of %d", ingested, typ, counted, want)
	if ingested != want || counted != want {
		return got, fmt.Errorf("%s (dead letters, if any, in %s)", got, v.dead)
	}
	return got, nil
}

func (v *vlBackend) close() { v.p.Stop() }
