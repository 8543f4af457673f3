package elastic

// The delivery contract (package sinktest) for the Elasticsearch sink, against the
// fake bulk API of fake_test.go, answering per request and per item as the test
// decides.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/sink/httpsink"
	"github.com/logferry/logferry/internal/sink/sinktest"
)

func TestContract(t *testing.T) {
	t.Run("es8 index", func(t *testing.T) { sinktest.Run(t, esHarness{flavor: "es8"}) })
	t.Run("os2 data stream", func(t *testing.T) { sinktest.Run(t, esHarness{flavor: "os2", dataStream: true}) })
}

type esHarness struct {
	flavor     string
	dataStream bool
}

func (h esHarness) Name() string { return "elasticsearch (" + h.flavor + ")" }

func (esHarness) Traits() sinktest.Traits { return sinktest.Traits{} }

// Start starts a fake cluster that keeps what it accepted: an index op stores the
// document again (an overwrite by _id: each accepted write is one copy); a create op
// whose _id is already stored is answered 409, as a data stream does.
func (h esHarness) Start(t *testing.T) sinktest.Backend {
	b := &esBackend{
		es:     newFakeES(t, h.flavor),
		dead:   filepath.Join(t.TempDir(), "dead.jsonl"),
		stream: h.dataStream,
		stored: map[string]bool{},
		rnd:    rand.New(rand.NewPCG(3, 4)),
	}
	b.es.status = b.status
	b.es.item = b.item
	return b
}

// esBackend's fields below es are guarded by es.mu: the fake calls status and item
// with it held.
type esBackend struct {
	es     *fakeES
	dead   string
	stream bool

	cur        int  // request being answered
	k          int  // its next item
	itemFaults bool // its items fail at random with 429 and 503
	down       bool
	failReqs   int // next requests failing whole
	failItems  int // next requests whose items fail at random
	reject     func(id string) bool
	docs       [][]byte        // every accepted write
	stored     map[string]bool // ids stored
	rnd        *rand.Rand
	sinks      []*Sink
}

func (b *esBackend) status(n int) int {
	b.cur, b.k, b.itemFaults = n, 0, false
	switch {
	case b.down:
		return http.StatusServiceUnavailable
	case b.failReqs > 0:
		b.failReqs--
		return []int{http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusInternalServerError}[b.failReqs%3]
	case b.failItems > 0:
		b.failItems--
		b.itemFaults = true
	}
	return 0
}

func (b *esBackend) item(id string, _ int) int {
	it := b.es.reqs[b.cur].items[b.k]
	b.k++
	switch {
	case b.reject != nil && b.reject(id):
		return http.StatusBadRequest
	case b.itemFaults && b.rnd.IntN(3) == 0:
		return []int{http.StatusTooManyRequests, http.StatusServiceUnavailable}[b.rnd.IntN(2)]
	case it.op == "create" && b.stored[id]:
		return http.StatusConflict
	}
	b.docs = append(b.docs, bytes.Clone(it.doc))
	b.stored[id] = true
	return 0
}

func (b *esBackend) NewSink(t *testing.T) sink.Sink {
	log := slog.New(slog.DiscardHandler)
	dl, err := httpsink.NewDeadLetter("es", config.DeadLetter{DeadLetterPath: b.dead}, log)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New("es", Options{
		URLs:       []string{b.es.srv.URL},
		Index:      "logs-{kubernetes.namespace}-%Y.%m.%d",
		DataStream: b.stream,
		Options: httpsink.Options{
			DeadLetter: dl,
			Logger:     log,
			Now:        func() time.Time { return time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC) },
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	b.es.mu.Lock()
	b.sinks = append(b.sinks, s)
	b.es.mu.Unlock()
	return s
}

func (b *esBackend) FailTransient() {
	b.es.mu.Lock()
	b.failReqs, b.failItems = 2, 4
	b.es.mu.Unlock()
}

func (b *esBackend) SetDown(down bool) {
	b.es.mu.Lock()
	b.down = down
	b.es.mu.Unlock()
}

func (b *esBackend) Reject(reject func(string) bool) {
	b.es.mu.Lock()
	b.reject = reject
	b.es.mu.Unlock()
}

func (b *esBackend) DeadLettered() uint64 {
	b.es.mu.Lock()
	defer b.es.mu.Unlock()
	var n uint64
	for _, s := range b.sinks {
		n += s.Stats().DeadLettered
	}
	return n
}

// Contents returns every accepted write and the records of the dead-letter file.
func (b *esBackend) Contents() (sinktest.Contents, error) {
	b.es.mu.Lock()
	c := sinktest.Contents{Delivered: append([][]byte(nil), b.docs...)}
	b.es.mu.Unlock()
	dead, err := sinktest.ReadDeadLetters(b.dead, func(line []byte) ([]byte, error) {
		var d deadLine
		if err := json.Unmarshal(line, &d); err != nil {
			return nil, fmt.Errorf("dead-letter line %.100q: %w", line, err)
		}
		if d.Status != http.StatusBadRequest {
			return nil, fmt.Errorf("dead-letter line with status %d, the backend rejected with 400 only", d.Status)
		}
		return d.Record, nil
	})
	c.DeadLettered = dead
	return c, err
}
