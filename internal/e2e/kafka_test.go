package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/logferry/logferry/internal/gen"
	"github.com/logferry/logferry/internal/testenv"
	"github.com/logferry/logferry/internal/verify"
)

// TestKillLoopKafka is the kill loop through the Kafka sink into kfake (a Kafka
// cluster in the test process, on a TCP port the agent reaches), read back from
// outside with kcat.
//
// What Kafka guarantees, and so what is checked: the sink keys every record with
// its pod's UID, so one pod's records go to one partition, and a partition keeps
// the order in which the records were appended. An agent resends, after a
// SIGKILL, everything from its last checkpoint, which lies before anything not
// yet acknowledged; so in a partition every line first appears in order, and
// the copies that come later are duplicates of lines already seen (verify
// counts order on first occurrences only). The test checks that every container
// lives in one partition, that no line is missing or corrupt, that first
// occurrences keep per-container order, and that every copy of one event.id is
// byte for byte the same record.
func TestKillLoopKafka(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end kill loop: skipped with -short")
	}
	kcat := testenv.NeedTool(t, "kcat", "apt-get install -y kcat")
	sc := scenario{name: "kafka", format: "cri", layout: "pods", kills: 5, pods: 6, lines: 2000, maxFiles: 20}
	runKillLoop(t, sc, kafkaDelivery(kcat))
}

// kafkaDelivery starts a kfake cluster (topics created on first use, 4 partitions
// each) for the agent's kafka sink.
func kafkaDelivery(kcat string) delivery {
	var c *kfake.Cluster
	var last *kafkaRead
	return delivery{
		ordered: true,
		setup: func(t *testing.T, root string) string {
			var err error
			c, err = kfake.NewCluster(kfake.Ports(0), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(4))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			return "  - name: out\n    type: kafka\n    kafka:\n" +
				"      brokers: [" + c.ListenAddrs()[0] + "]\n" +
				"      topic: logs.{kubernetes.namespace}\n" +
				"      topic_fallback: logs.other\n" +
				"      auto_create_topics: true\n" +
				"      delivery_timeout: 10s\n"
		},
		check: func(t *testing.T, m *gen.Manifest, final bool) *verify.Report {
			last = readKafka(t, kcat, c.ListenAddrs()[0])
			rep := checkRecords(t, m, last.values())
			if final && rep.Partial+rep.Truncated+rep.Foreign > 0 {
				logOdd(t, last.values())
			}
			return rep
		},
		after: func(t *testing.T, m *gen.Manifest, rep *verify.Report, kills int) {
			k := last
			if bad := k.splitContainers(); len(bad) > 0 {
				t.Errorf("containers whose records are in more than one partition (the key is the pod UID): %s", strings.Join(bad, "; "))
			}
			cc := sameCopies(k.idValues())
			for _, e := range cc.diff {
				t.Errorf("copies of one event.id differ: %s", e)
			}
			if k.noID > 0 {
				t.Errorf("%d records without event.id", k.noID)
			}
			t.Logf("kafka: %d records in %d partitions of %d topics, %d distinct event ids, %d copies re-sent (%d of them read from the file's rotated name; verify: %d duplicate lines) after %d kills",
				len(k.recs), len(k.partitions()), len(k.topics), cc.ids, cc.resent, cc.renamed, rep.Duplicates, kills)
			if n, bad := oneIDPerLine(k.idValues()); n != rep.Expected || len(bad) > 0 {
				t.Errorf("%d distinct event ids of gen lines, want %d (one per line); lines with several ids: %s", n, rep.Expected, strings.Join(bad, "; "))
			}
		},
	}
}

// kafkaRecord is one message as kcat -J prints it.
type kafkaRecord struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Offset    int64   `json:"offset"`
	Key       *string `json:"key"`
	Payload   *string `json:"payload"`
}

// kafkaRead is every message of every topic, as kcat consumed them.
type kafkaRead struct {
	topics []string
	recs   []kafkaRecord // by topic, partition, offset
	noID   int
}

// readKafka lists the topics with kcat -L and consumes each of them from the
// beginning to its end with kcat -C.
func readKafka(t *testing.T, kcat, broker string) *kafkaRead {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	run := func(args ...string) []byte {
		cmd := exec.CommandContext(ctx, kcat, append([]string{"-b", broker}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		return out
	}
	var meta struct {
		Topics []struct {
			Topic string `json:"topic"`
		} `json:"topics"`
	}
	if err := json.Unmarshal(run("-L", "-J"), &meta); err != nil {
		t.Fatalf("kcat -L -J: %v", err)
	}
	k := &kafkaRead{}
	for _, tp := range meta.Topics {
		k.topics = append(k.topics, tp.Topic)
	}
	sort.Strings(k.topics)
	for _, topic := range k.topics {
		sc := bufio.NewScanner(bytes.NewReader(run("-C", "-t", topic, "-o", "beginning", "-e", "-q", "-J")))
		sc.Buffer(make([]byte, 1<<16), 64<<20)
		for sc.Scan() {
			var r kafkaRecord
			if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
				t.Fatalf("kcat -C -J: %v: %.200s", err, sc.Text())
			}
			k.recs = append(k.recs, r)
		}
		if err := sc.Err(); err != nil {
			t.Fatal(err)
		}
	}
	// kcat prints partitions interleaved; keep each partition's order.
	sort.SliceStable(k.recs, func(i, j int) bool {
		a, b := k.recs[i], k.recs[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.Offset < b.Offset
	})
	return k
}

// values returns the messages' values, a record per line, partition after
// partition.
func (k *kafkaRead) values() []byte {
	var b bytes.Buffer
	for _, r := range k.recs {
		if r.Payload != nil {
			b.WriteString(*r.Payload)
			b.WriteByte('\n')
		}
	}
	return b.Bytes()
}

func (k *kafkaRead) partitions() map[string]bool {
	p := map[string]bool{}
	for _, r := range k.recs {
		p[fmt.Sprintf("%s/%d", r.Topic, r.Partition)] = true
	}
	return p
}

// splitContainers lists the containers (and keys) found in more than one
// partition.
func (k *kafkaRead) splitContainers() []string {
	where := map[string]map[string]bool{}
	for _, r := range k.recs {
		var rec idRecord
		if r.Payload == nil || json.Unmarshal([]byte(*r.Payload), &rec) != nil {
			continue
		}
		key := "<none>"
		if r.Key != nil {
			key = *r.Key
		}
		c := fmt.Sprintf("%s/%s/%s (key %s, uid %s)", rec.Kubernetes.Namespace, rec.Kubernetes.Pod.Name, rec.Kubernetes.Container.Name, key, rec.Kubernetes.Pod.UID)
		if where[c] == nil {
			where[c] = map[string]bool{}
		}
		where[c][fmt.Sprintf("%s/%d", r.Topic, r.Partition)] = true
	}
	var bad []string
	for c, ps := range where {
		if len(ps) > 1 {
			bad = append(bad, fmt.Sprintf("%s in %d partitions", c, len(ps)))
		}
	}
	sort.Strings(bad)
	return bad
}

// idValues returns every record's event.id and value, in consumption order.
func (k *kafkaRead) idValues() [][2]string {
	var out [][2]string
	k.noID = 0
	for _, r := range k.recs {
		if r.Payload == nil {
			continue
		}
		var rec idRecord
		if err := json.Unmarshal([]byte(*r.Payload), &rec); err != nil || rec.Event.ID == "" {
			k.noID++
			continue
		}
		out = append(out, [2]string{rec.Event.ID, *r.Payload})
	}
	return out
}
