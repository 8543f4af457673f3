package loki

// The delivery contract (package sinktest) for the Loki sink, against the fake push
// endpoint of fake_test.go, in both body formats.

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/sink/sinktest"
)

func TestContract(t *testing.T) {
	t.Run("protobuf", func(t *testing.T) { sinktest.Run(t, lokiHarness{format: "protobuf"}) })
	t.Run("json", func(t *testing.T) { sinktest.Run(t, lokiHarness{format: "json"}) })
}

// lokiHarness builds sinks from their configuration (FromConfig: the dead-letter
// file is the one the agent would open), with line: record so that every entry's
// line is the record as sent, and the default labels and structured metadata.
type lokiHarness struct{ format string }

func (h lokiHarness) Name() string { return "loki (" + h.format + ")" }

func (lokiHarness) Traits() sinktest.Traits { return sinktest.Traits{} }

// Start starts a fake Loki that keeps every entry of every push it took (a push
// taken twice holds its entries twice: Loki would drop the second copy of an
// identical entry, but the contract counts writes, so that a sink that sends a
// push again needlessly is caught).
//
// Loki refuses entries one by one: its answer is 400 with a line per refused entry,
// and (in real Loki) the other entries of that push are stored. Sent again, as the
// sink's bisection does, they are identical entries, which Loki drops: in the end
// Loki holds each of them once. The fake models that end state by taking nothing of
// a push it answers 400, so that the copies it reports are exactly the writes that
// matter.
func (h lokiHarness) Start(t *testing.T) sinktest.Backend {
	b := &lokiBackend{fk: newFakeLoki(t), format: h.format, dead: filepath.Join(t.TempDir(), "dead.jsonl")}
	b.fk.answer = b.answer
	b.fk.took = b.took
	return b
}

// lokiBackend's fields below fk are guarded by fk.mu.
type lokiBackend struct {
	fk     *fakeLoki
	format string
	dead   string

	down     bool
	downReqs int // pushes received while down
	fails    int // next pushes failing whole
	reject   func(id string) bool
	copies   [][]byte // the line (the record) of every entry taken
	problems []string // entries taken that do not say what their record says
	sinks    []*Sink
}

// answer decides the fate of a push; fk.mu is held.
func (b *lokiBackend) answer(p pushed) verdict {
	if b.down {
		// Loki down: connections dropped or, behind a gateway that is up, 503.
		b.downReqs++
		if b.downReqs%2 == 0 {
			return verdict{drop: true}
		}
		return verdict{status: http.StatusServiceUnavailable, msg: "no healthy upstream"}
	}
	refused, has := "", false
	if b.reject != nil {
		refused, has = refusal(p, b.refuse)
	}
	if b.fails > 0 {
		b.fails--
		switch b.fails % 4 {
		case 3:
			return verdict{status: http.StatusTooManyRequests, msg: rateLimited(p)}
		case 2:
			return verdict{status: http.StatusInternalServerError, msg: ingesterError}
		case 1:
			return verdict{status: http.StatusServiceUnavailable, msg: replicasDown}
		default:
			if !has {
				return verdict{takeAndDrop: true} // taken, the answer lost
			}
			return verdict{drop: true}
		}
	}
	if has {
		return verdict{status: http.StatusBadRequest, msg: refused}
	}
	return verdict{}
}

// refuse gives the reason Loki refuses e, "" if it takes it; fk.mu is held.
func (b *lokiBackend) refuse(stream string, e pEntry) string {
	id := e.Meta["event_id"]
	if !b.reject(id) {
		return ""
	}
	if len(id)%2 == 0 {
		return lineTooLong(stream, e)
	}
	return tooFarBehind(stream, e)
}

// took keeps an entry of a push taken, checking that it says what its record
// says: labels, timestamp and structured metadata; fk.mu is held.
func (b *lokiBackend) took(stream string, e pEntry) {
	b.copies = append(b.copies, []byte(e.Line))
	var r struct {
		Timestamp  time.Time `json:"@timestamp"`
		Stream     string    `json:"stream"`
		Kubernetes struct {
			Namespace string `json:"namespace"`
			Pod       struct{ Name, UID string }
		} `json:"kubernetes"`
		Event struct{ ID string } `json:"event"`
	}
	if err := json.Unmarshal([]byte(e.Line), &r); err != nil {
		b.problems = append(b.problems, fmt.Sprintf("line is not the record: %v: %.100q", err, e.Line))
		return
	}
	want := map[string]string{"event_id": r.Event.ID, "pod": r.Kubernetes.Pod.Name, "pod_uid": r.Kubernetes.Pod.UID, "stream": r.Stream}
	wantStream := fmt.Sprintf(`{namespace=%q}`, r.Kubernetes.Namespace)
	if !e.TS.Equal(r.Timestamp) || stream != wantStream || fmt.Sprint(e.Meta) != fmt.Sprint(want) {
		b.problems = append(b.problems, fmt.Sprintf("%s: entry at %v in stream %s with metadata %v; want %v, %s, %v",
			r.Event.ID, e.TS, stream, e.Meta, r.Timestamp, wantStream, want))
	}
}

func (b *lokiBackend) NewSink(t *testing.T) sink.Sink {
	c := config.DefaultLokiSink()
	c.URL = b.fk.srv.URL // no path: the sink adds the push API's
	c.Format = b.format
	c.Line = "record"
	c.Timeout = 10 * time.Second
	c.MaxRequestBytes = 8 << 10 // several pushes per batch of the contract (16 KiB)
	c.DeadLetterPath = b.dead
	s, err := FromConfig("lk", c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	b.fk.mu.Lock()
	b.sinks = append(b.sinks, s.(*Sink))
	b.fk.mu.Unlock()
	return s
}

// FailTransient fails the next 8 pushes whole: 429, 500, 503, and connections
// dropped after the push was taken (or before, for a push Loki would refuse).
func (b *lokiBackend) FailTransient() {
	b.fk.mu.Lock()
	b.fails = 8
	b.fk.mu.Unlock()
}

func (b *lokiBackend) SetDown(down bool) {
	b.fk.mu.Lock()
	b.down = down
	b.fk.mu.Unlock()
}

func (b *lokiBackend) Reject(reject func(string) bool) {
	b.fk.mu.Lock()
	b.reject = reject
	b.fk.mu.Unlock()
}

func (b *lokiBackend) DeadLettered() uint64 {
	b.fk.mu.Lock()
	defer b.fk.mu.Unlock()
	var n uint64
	for _, s := range b.sinks {
		n += s.Stats().DeadLettered
	}
	return n
}

// Contents returns the line of every entry taken and the records of the
// dead-letter file.
func (b *lokiBackend) Contents() (sinktest.Contents, error) {
	b.fk.mu.Lock()
	c := sinktest.Contents{Delivered: append([][]byte(nil), b.copies...)}
	problems := append([]string(nil), b.problems...)
	b.fk.mu.Unlock()
	if len(problems) > 0 {
		return c, fmt.Errorf("%d entries taken do not match their line:\n\t%s", len(problems), strings.Join(problems[:min(len(problems), 5)], "\n\t"))
	}
	dead, err := sinktest.ReadDeadLetters(b.dead, func(line []byte) ([]byte, error) {
		var d deadLine
		if err := json.Unmarshal(line, &d); err != nil {
			return nil, fmt.Errorf("dead-letter line %.100q: %w", line, err)
		}
		if d.Status != http.StatusBadRequest || d.Sink != "lk" || d.Labels != `{namespace="contract"}` ||
			!strings.Contains(d.Error, "total ignored: ") {
			return nil, fmt.Errorf("dead-letter line with status %d (Loki refused with 400 only), sink %q, labels %s, error %.200q",
				d.Status, d.Sink, d.Labels, d.Error)
		}
		return d.Record, nil
	})
	c.DeadLettered = dead
	return c, err
}
