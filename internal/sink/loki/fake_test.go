package loki

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLoki is an httptest Loki push endpoint (POST /loki/api/v1/push) that answers
// as Loki documents it: 204 and an empty body when it takes a push; a plain-text
// message, one line per problem, with 400 when it refuses entries (line too long,
// entry too far behind) and with 429 / 500 / 503 when it fails a whole request.
// It can also drop the connection instead of answering, before or after taking the
// push. Bodies are decoded with the decoders of helpers_test.go (by Content-Type
// and Content-Encoding, as Loki does); a body that does not decode is refused with
// 400 and reported with t.Errorf (the sink never sends one).
//
// The test decides each push's fate with answer, called with mu held; when it
// answers nothing (zero verdict) the push is taken and every entry is passed to
// took, also with mu held.
type fakeLoki struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	answer func(p pushed) verdict
	took   func(stream string, e pEntry)
	pushes int // push requests received (decoded or not)
}

// verdict is the fate of one push.
type verdict struct {
	status int    // 0: 204, taken; else not taken (unless takeAndDrop)
	msg    string // the response body
	// drop closes the connection without an answer: the push is not taken.
	drop bool
	// takeAndDrop takes the push, then closes the connection without an answer
	// (the answer is lost on the way: the client cannot know).
	takeAndDrop bool
}

func newFakeLoki(t *testing.T) *fakeLoki {
	f := &fakeLoki{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeLoki) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != DefaultPath {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away
	}
	p, err := decodeRequest(r, body)
	f.mu.Lock()
	f.pushes++
	if err != nil {
		f.mu.Unlock()
		f.t.Errorf("fake loki: push that does not decode: %v", err)
		http.Error(w, "loghttp: "+err.Error(), http.StatusBadRequest)
		return
	}
	var v verdict
	if f.answer != nil {
		v = f.answer(p)
	}
	if (v.status == 0 && !v.drop) || v.takeAndDrop {
		for _, st := range p.Streams {
			for _, e := range st.Entries {
				if f.took != nil {
					f.took(st.Labels, e)
				}
			}
		}
	}
	f.mu.Unlock()
	switch {
	case v.drop || v.takeAndDrop:
		dropConn(w)
	case v.status == 0:
		w.WriteHeader(http.StatusNoContent)
	default:
		// Loki answers errors as text/plain, the message and a newline.
		http.Error(w, v.msg, v.status)
	}
}

// dropConn closes the connection of w without answering.
func dropConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("fake loki: cannot hijack the connection")
	}
	c, _, err := hj.Hijack()
	if err == nil {
		c.Close()
	}
}

// Loki's answers, as its distributor and ingesters word them.

// lineTooLong is the 400 answer for an entry longer than max_line_size (when
// max_line_size_truncate is off).
func lineTooLong(stream string, e pEntry) string {
	return fmt.Sprintf("Max entry size '%d' bytes exceeded for stream '%s' while adding an entry with length '%d' bytes",
		256, stream, len(e.Line))
}

// tooFarBehind is an ingester's 400 answer for an entry older than the stream's
// newest by more than half the chunk age (out-of-order window).
func tooFarBehind(stream string, e pEntry) string {
	return fmt.Sprintf("entry with timestamp %s ignored, reason: 'entry too far behind, entry timestamp is: %s, oldest acceptable timestamp is: %s', stream: %s,",
		e.TS.Format("2006-01-02 15:04:05.999999999 -0700 MST"), e.TS.Format(time.RFC3339),
		e.TS.Add(time.Hour).Format(time.RFC3339), stream)
}

// totalIgnored ends an ingester's answer listing refused entries.
func totalIgnored(n, of int) string { return fmt.Sprintf("total ignored: %d out of %d", n, of) }

// rateLimited is the distributor's 429 answer.
func rateLimited(p pushed) string {
	lines, size := 0, 0
	for _, st := range p.Streams {
		for _, e := range st.Entries {
			lines++
			size += len(e.Line)
		}
	}
	return fmt.Sprintf("Ingestion rate limit exceeded for user fake (limit: 4194304 bytes/sec) while attempting to ingest '%d' lines totaling '%d' bytes, "+
		"reduce log volume or contact your Loki administrator to see if the limit can be increased", lines, size)
}

// Whole-request server errors.
const (
	replicasDown  = "at least 2 live replicas required, could only find 1 - unhealthy instances: 10.42.0.17:9095"
	ingesterError = "rpc error: code = Unavailable desc = connection error: desc = \"transport: Error while dialing: dial tcp 10.42.0.18:9095: connect: connection refused\""
)

// refusal renders the 400 answer for the refused entries of p (refuse returns a
// non-empty reason for them), and whether there is any.
func refusal(p pushed, refuse func(stream string, e pEntry) string) (string, bool) {
	var lines []string
	n, of := 0, 0
	for _, st := range p.Streams {
		for _, e := range st.Entries {
			of++
			if why := refuse(st.Labels, e); why != "" {
				lines = append(lines, why)
				n++
			}
		}
	}
	if n == 0 {
		return "", false
	}
	return strings.Join(append(lines, totalIgnored(n, of)), "\n"), true
}
