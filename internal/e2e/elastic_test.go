package e2e

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/gen"
	"github.com/logferry/logferry/internal/verify"
	"github.com/logferry/logferry/internal/vltest"
)

// TestKillLoopElasticsearch is the kill loop through the Elasticsearch sink into a
// real VictoriaLogs (its Elasticsearch bulk API), read back with LogsQL.
//
// VictoriaLogs stores every row it gets, while Elasticsearch replaces a document
// whose _id it already holds. To prove what an Elasticsearch index would hold, a
// reverse proxy in front of VictoriaLogs records every bulk item it forwards: the
// action's _id must be the record's event.id, and the documents after upsert (the
// last copy of every _id) must hold every gen line exactly once. Copies of one _id
// must be the same document (see copyCheck.renamed for the one allowed
// difference), both as the proxy saw them and as VictoriaLogs stored them. An
// index has no order: order is not checked.
func TestKillLoopElasticsearch(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end kill loop: skipped with -short")
	}
	sc := scenario{name: "elasticsearch", format: "cri", layout: "pods", kills: 5, pods: 6, lines: 2000, maxFiles: 20}
	runKillLoop(t, sc, elasticDelivery())
}

// elasticDelivery starts VictoriaLogs behind a recording bulk proxy.
func elasticDelivery() delivery {
	var vl *vltest.Server
	var px *bulkProxy
	var dead string
	var rows []map[string]string
	return delivery{
		setup: func(t *testing.T, root string) string {
			vl = vltest.Start(t)
			px = newBulkProxy(t, vl.URL)
			dead = filepath.Join(root, "dead-letter.jsonl")
			return "  - name: out\n    type: elasticsearch\n    elasticsearch:\n" +
				"      urls: [" + px.url + "/insert/elasticsearch]\n" +
				"      index: logs-{kubernetes.namespace}-%Y.%m.%d\n" +
				"      parameters: {_msg_field: message, _time_field: \"@timestamp\", _stream_fields: \"kubernetes.namespace,kubernetes.pod.name,kubernetes.container.name\"}\n" +
				"      max_request_bytes: 256KiB\n" + // several requests per batch: a kill can fall between them
				"      timeout: 10s\n" +
				"      dead_letter_path: " + dead + "\n"
		},
		check: func(t *testing.T, m *gen.Manifest, final bool) *verify.Report {
			if !final {
				return checkRecords(t, m, vlRecords(vlRows(t, vl, false)))
			}
			// Every item the proxy forwarded was answered 200: wait until
			// VictoriaLogs shows all of them (1-2s after ingest).
			want := px.stats().items
			var n int
			deadline := time.Now().Add(30 * time.Second)
			for {
				n = vlCount(t, vl)
				if n == want || time.Now().After(deadline) {
					break
				}
				time.Sleep(250 * time.Millisecond)
			}
			if n != want {
				t.Errorf("VictoriaLogs holds %d rows, the proxy forwarded %d items", n, want)
			}
			rows = vlRows(t, vl, true)
			if len(rows) != n {
				t.Errorf("the query returned %d rows, the count is %d", len(rows), n)
			}
			rep := checkRecords(t, m, vlRecords(rows))
			if rep.Partial+rep.Truncated+rep.Foreign > 0 {
				logOdd(t, px.stats().upserted())
				logOdd(t, allDocs(px))
			}
			return rep
		},
		after: func(t *testing.T, m *gen.Manifest, rep *verify.Report, kills int) {
			if b, err := os.ReadFile(dead); err == nil && len(b) > 0 {
				t.Errorf("records were dead-lettered:\n%s", tailString(string(b), 2000))
			}
			st := px.stats()
			// (1) every action line carries _id = event.id.
			if st.badID > 0 {
				t.Errorf("%d bulk items whose _id is not the record's event.id, e.g. %s", st.badID, st.badExample)
			}
			// (2) copies of one _id are the same document, and the documents after
			// upsert hold every gen line exactly once.
			cc := sameCopies(st.pairs)
			for _, e := range cc.diff {
				t.Errorf("bulk items with one _id and different documents: %s", e)
			}
			if n, bad := oneIDPerLine(st.pairs); n != rep.Expected || len(bad) > 0 {
				t.Errorf("%d distinct _ids of gen lines, want %d (the manifest's lines); lines with several _ids: %s", n, rep.Expected, strings.Join(bad, "; "))
			}
			upserted := checkRecords(t, m, st.upserted())
			if upserted.Missing != 0 || upserted.Duplicates != 0 || upserted.Corrupt != 0 || upserted.Expected == 0 {
				t.Errorf("the documents an Elasticsearch index would hold after upsert:\n%s", upserted.String())
			}
			// The same, on what VictoriaLogs stored.
			vc := sameCopies(rowPairs(rows))
			for _, e := range vc.diff {
				t.Errorf("stored rows with one event.id and different fields: %s", e)
			}
			if vc.ids != cc.ids || len(rows) != st.items {
				t.Errorf("VictoriaLogs: %d rows with %d distinct event ids; the proxy forwarded %d items with %d distinct _ids", len(rows), vc.ids, st.items, cc.ids)
			}
			t.Logf("elasticsearch: %d bulk requests (%d not forwarded: the agent died while sending), %d items, %d distinct _ids, "+
				"%d items re-sent (%d of them read from the file's rotated name): the duplicates _id upserts prevent; "+
				"after upsert: %d gen lines, 0 duplicates; verify on the stored rows: %d duplicate lines; %d kills",
				st.requests, st.aborted, st.items, cc.ids, cc.resent, cc.renamed, upserted.Received, rep.Duplicates, kills)
		},
	}
}

// vlCount returns the number of rows VictoriaLogs holds.
func vlCount(t *testing.T, vl *vltest.Server) int {
	t.Helper()
	res := vl.Query(t, `* | stats count() as n`)
	if len(res) != 1 {
		t.Fatalf("count query: %v", res)
	}
	n, err := strconv.Atoi(res[0]["n"])
	if err != nil {
		t.Fatalf("count query: %v", res)
	}
	return n
}

// vlFields are the fields verify needs (and the ones the copies are compared on
// need event.id).
const vlFields = "_msg, event.id, log.flags, kubernetes.namespace, kubernetes.pod.name, kubernetes.container.name"

// vlRows returns every row VictoriaLogs holds, by time: all fields, or only
// vlFields. The query has no limit pipe, so VictoriaLogs returns every match (the
// test checks the number against a count). An index has no order; sorting by the
// records' own timestamps only makes verify's report readable.
func vlRows(t *testing.T, vl *vltest.Server, all bool) []map[string]string {
	t.Helper()
	q := "*"
	if !all {
		q += " | fields _time, " + vlFields
	}
	return vl.Query(t, q+" | sort by (_time)")
}

// vlRecords turns rows into agent-shaped JSON records, one per line, for verify.
func vlRecords(rows []map[string]string) []byte {
	type rec struct {
		Message string `json:"message"`
		Log     struct {
			Flags []string `json:"flags,omitempty"`
		} `json:"log"`
		Kubernetes struct {
			Namespace string `json:"namespace"`
			Pod       struct {
				Name string `json:"name"`
			} `json:"pod"`
			Container struct {
				Name string `json:"name"`
			} `json:"container"`
		} `json:"kubernetes"`
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	for _, row := range rows {
		var r rec
		r.Message = row["_msg"]
		if f := row["log.flags"]; f != "" {
			if err := json.Unmarshal([]byte(f), &r.Log.Flags); err != nil {
				r.Log.Flags = []string{f}
			}
		}
		r.Kubernetes.Namespace = row["kubernetes.namespace"]
		r.Kubernetes.Pod.Name = row["kubernetes.pod.name"]
		r.Kubernetes.Container.Name = row["kubernetes.container.name"]
		_ = enc.Encode(r) // a line per record
	}
	return b.Bytes()
}

// rowPairs returns (event.id, row) of every row, the row rendered with sorted
// fields and its file path as liveName (see copyCheck.renamed).
func rowPairs(rows []map[string]string) [][2]string {
	var out [][2]string
	for _, row := range rows {
		keys := make([]string, 0, len(row))
		for k := range row {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			v := row[k]
			if k == "log.file.path" {
				v = liveName(v)
			}
			fmt.Fprintf(&b, "%q=%q\n", k, v)
		}
		out = append(out, [2]string{row["event.id"], b.String()})
	}
	return out
}

// bulkProxy forwards requests to VictoriaLogs unchanged and records the items of
// every bulk request that was forwarded and answered 2xx.
type bulkProxy struct {
	url string
	// down, while set, answers every bulk request 503 without forwarding it (an
	// outage of the cluster).
	down atomic.Bool

	mu         sync.Mutex
	requests   int         // bulk requests received
	aborted    int         // bodies that could not be read (the agent died sending)
	items      int         // items forwarded and acknowledged
	badID      int         // items whose _id is missing or not the record's event.id
	badExample string      // one of them
	pairs      [][2]string // (_id, document) of every item, in order
}

type bulkStats struct {
	requests, aborted, items, badID int
	badExample                      string
	pairs                           [][2]string
}

func (p *bulkProxy) stats() bulkStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return bulkStats{requests: p.requests, aborted: p.aborted, items: p.items, badID: p.badID,
		badExample: p.badExample, pairs: append([][2]string(nil), p.pairs...)}
}

// upserted returns what an index that upserts by _id holds: the last document of
// every _id, one per line.
func (s bulkStats) upserted() []byte {
	last := map[string]string{}
	var order []string
	for _, p := range s.pairs {
		if _, ok := last[p[0]]; !ok {
			order = append(order, p[0])
		}
		last[p[0]] = p[1]
	}
	var b bytes.Buffer
	for _, id := range order {
		b.WriteString(last[id])
		b.WriteByte('\n')
	}
	return b.Bytes()
}

type itemsKey struct{}

// newBulkProxy starts the proxy in front of target; it stops when t ends.
func newBulkProxy(t *testing.T, target string) *bulkProxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &bulkProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		items, _ := resp.Request.Context().Value(itemsKey{}).(*[][2]string)
		if items == nil || resp.StatusCode/100 != 2 {
			return nil
		}
		p.mu.Lock()
		defer p.mu.Unlock()
		p.items += len(*items)
		for _, it := range *items {
			var rec idRecord
			if err := json.Unmarshal([]byte(it[1]), &rec); err != nil || rec.Event.ID == "" || rec.Event.ID != it[0] {
				p.badID++
				if p.badExample == "" {
					p.badExample = fmt.Sprintf("_id %q, document %.300s", it[0], it[1])
				}
			}
		}
		p.pairs = append(p.pairs, *items...)
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/_bulk") {
			rp.ServeHTTP(w, r)
			return
		}
		if p.down.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"type":"cluster_block_exception","reason":"outage simulated by the test"},"status":503}`)
			return
		}
		body, err := io.ReadAll(r.Body)
		p.mu.Lock()
		p.requests++
		if err != nil {
			p.aborted++
		}
		p.mu.Unlock()
		if err != nil {
			// The agent died while sending: an Elasticsearch node would not have
			// taken this request either.
			return
		}
		items, err := bulkItems(body, r.Header.Get("Content-Encoding") == "gzip")
		if err != nil {
			t.Errorf("bulk request: %v", err)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// Forward even when the agent goes away meanwhile, as a node that has the
		// whole request would process it: the proxy's record is what the index holds.
		// (A context that can be cancelled, so that ReverseProxy does not cancel
		// through CloseNotify instead.)
		ctx, cancel := context.WithCancel(context.WithValue(context.WithoutCancel(r.Context()), itemsKey{}, &items))
		defer cancel()
		r = r.WithContext(ctx)
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.url = srv.URL
	return p
}

// bulkItems parses a bulk body into (_id, document) pairs ("" when the action has
// no _id).
func bulkItems(body []byte, gzipped bool) ([][2]string, error) {
	var in io.Reader = bytes.NewReader(body)
	if gzipped {
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, err
		}
		in = zr
	}
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<16), 64<<20)
	var items [][2]string
	for sc.Scan() {
		var action map[string]struct {
			ID *string `json:"_id"`
		}
		if err := json.Unmarshal(sc.Bytes(), &action); err != nil || len(action) != 1 {
			return nil, fmt.Errorf("action line %.200q: %v", sc.Text(), err)
		}
		id := ""
		for _, a := range action {
			if a.ID != nil {
				id = *a.ID
			}
		}
		if !sc.Scan() {
			return nil, fmt.Errorf("action without a document: %.200q", sc.Text())
		}
		items = append(items, [2]string{id, sc.Text()})
	}
	return items, sc.Err()
}

// allDocs returns every document the proxy forwarded, one per line.
func allDocs(p *bulkProxy) []byte {
	var b bytes.Buffer
	for _, it := range p.stats().pairs {
		b.WriteString(it[1])
		b.WriteByte('\n')
	}
	return b.Bytes()
}
