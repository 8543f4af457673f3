package loki

import (
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/snappy"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/logferry/logferry/internal/pipeline"
)

// pushed is a push request as decoded by the tests, independently of the encoder.
type pushed struct {
	Streams []pStream
}

type pStream struct {
	Labels  string // the selector as sent (protobuf) or rendered from the JSON object
	Entries []pEntry
}

type pEntry struct {
	TS   time.Time
	Line string
	Meta map[string]string
}

// decodeProto decodes a logproto.PushRequest with protowire, rejecting anything
// unexpected (unknown fields, wrong wire types, trailing bytes).
func decodeProto(b []byte) (pushed, error) {
	var p pushed
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
		if num != 1 || typ != protowire.BytesType {
			return fmt.Errorf("PushRequest: field %d type %d", num, typ)
		}
		var st pStream
		err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
			switch {
			case num == 1 && typ == protowire.BytesType:
				st.Labels = string(v)
			case num == 2 && typ == protowire.BytesType:
				e, err := decodeEntry(v)
				if err != nil {
					return err
				}
				st.Entries = append(st.Entries, e)
			default:
				return fmt.Errorf("StreamAdapter: field %d type %d", num, typ)
			}
			return nil
		})
		p.Streams = append(p.Streams, st)
		return err
	})
	return p, err
}

func decodeEntry(b []byte) (pEntry, error) {
	e := pEntry{Meta: map[string]string{}}
	var sec, nsec int64
	err := fields(b, func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error {
		switch {
		case num == 1 && typ == protowire.BytesType:
			return fields(v, func(num protowire.Number, typ protowire.Type, _ []byte, x uint64) error {
				switch {
				case num == 1 && typ == protowire.VarintType:
					sec = int64(x)
				case num == 2 && typ == protowire.VarintType:
					nsec = int64(int32(x))
				default:
					return fmt.Errorf("Timestamp: field %d type %d", num, typ)
				}
				return nil
			})
		case num == 2 && typ == protowire.BytesType:
			e.Line = string(v)
		case num == 3 && typ == protowire.BytesType:
			var name, value string
			err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte, _ uint64) error {
				switch {
				case num == 1 && typ == protowire.BytesType:
					name = string(v)
				case num == 2 && typ == protowire.BytesType:
					value = string(v)
				default:
					return fmt.Errorf("LabelPairAdapter: field %d type %d", num, typ)
				}
				return nil
			})
			e.Meta[name] = value
			return err
		default:
			return fmt.Errorf("EntryAdapter: field %d type %d", num, typ)
		}
		return nil
	})
	e.TS = time.Unix(sec, nsec).UTC()
	return e, err
}

// fields calls f for every field of the message b.
func fields(b []byte, f func(num protowire.Number, typ protowire.Type, v []byte, x uint64) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		var v []byte
		var x uint64
		switch typ {
		case protowire.BytesType:
			v, n = protowire.ConsumeBytes(b)
		case protowire.VarintType:
			x, n = protowire.ConsumeVarint(b)
		default:
			return fmt.Errorf("unexpected wire type %d", typ)
		}
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := f(num, typ, v, x); err != nil {
			return err
		}
	}
	return nil
}

// decodeJSON decodes a JSON push body.
func decodeJSON(b []byte) (pushed, error) {
	var in struct {
		Streams []struct {
			Stream map[string]string `json:"stream"`
			Values [][]json.RawMessage
		} `json:"streams"`
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return pushed{}, err
	}
	var p pushed
	for _, s := range in.Streams {
		st := pStream{Labels: selector(s.Stream)}
		for _, v := range s.Values {
			if len(v) < 2 || len(v) > 3 {
				return p, fmt.Errorf("value of %d elements", len(v))
			}
			var ts, line string
			if err := json.Unmarshal(v[0], &ts); err != nil {
				return p, err
			}
			if err := json.Unmarshal(v[1], &line); err != nil {
				return p, err
			}
			ns, err := strconv.ParseInt(ts, 10, 64)
			if err != nil {
				return p, err
			}
			e := pEntry{TS: time.Unix(0, ns).UTC(), Line: line, Meta: map[string]string{}}
			if len(v) == 3 {
				if err := json.Unmarshal(v[2], &e.Meta); err != nil {
					return p, err
				}
			}
			st.Entries = append(st.Entries, e)
		}
		p.Streams = append(p.Streams, st)
	}
	return p, nil
}

// selector renders labels as the protobuf encoder does (sorted, quoted).
func selector(m map[string]string) string {
	var l []kv
	for k, v := range m {
		l = append(l, kv{name: k, value: []byte(v)})
	}
	for i := range l {
		for j := i + 1; j < len(l); j++ {
			if l[j].name < l[i].name {
				l[i], l[j] = l[j], l[i]
			}
		}
	}
	return string(appendSelector(nil, l))
}

// decodeRequest decodes a captured request by its headers.
func decodeRequest(r *http.Request, body []byte) (pushed, error) {
	switch r.Header.Get("Content-Type") {
	case "application/x-protobuf":
		raw, err := snappy.Decode(nil, body)
		if err != nil {
			return pushed{}, fmt.Errorf("snappy: %w", err)
		}
		return decodeProto(raw)
	case "application/json":
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(strings.NewReader(string(body)))
			if err != nil {
				return pushed{}, err
			}
			if body, err = io.ReadAll(zr); err != nil {
				return pushed{}, err
			}
		}
		return decodeJSON(body)
	}
	return pushed{}, fmt.Errorf("content type %q", r.Header.Get("Content-Type"))
}

// capture is an HTTP server that records pushes and answers with the statuses
// given by reply (204 when nil or when it returns 0).
type capture struct {
	*httptest.Server
	mu      sync.Mutex
	reqs    []*http.Request
	bodies  [][]byte
	pushes  []pushed
	decErrs []error
	status  []int
	reply   func(n int, p pushed) (int, string)
}

func newCapture(t *testing.T, reply func(n int, p pushed) (int, string)) *capture {
	c := &capture{reply: reply}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		p, err := decodeRequest(r, body)
		c.mu.Lock()
		n := len(c.reqs)
		c.reqs = append(c.reqs, r)
		c.bodies = append(c.bodies, body)
		c.pushes = append(c.pushes, p)
		c.decErrs = append(c.decErrs, err)
		c.mu.Unlock()
		status, msg := 0, ""
		if c.reply != nil {
			status, msg = c.reply(n, p)
		}
		if status == 0 {
			status = http.StatusNoContent
		}
		c.mu.Lock()
		c.status = append(c.status, status)
		c.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, msg)
	}))
	t.Cleanup(c.Close)
	return c
}

// all returns every entry accepted (with its stream's labels) in order, failing t
// on a request that did not decode.
func (c *capture) all(t *testing.T) []labelled {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []labelled
	for i, p := range c.pushes {
		if c.decErrs[i] != nil {
			t.Fatalf("request %d: %v", i, c.decErrs[i])
		}
		if c.status[i] >= 300 {
			continue
		}
		for _, s := range p.Streams {
			for _, e := range s.Entries {
				out = append(out, labelled{s.Labels, e})
			}
		}
	}
	return out
}

type labelled struct {
	Labels string
	pEntry
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// rec renders a record as the agent's encoder does (the fields the sink reads).
func recLine(ns, deploy, pod, container, id, msg string, ts time.Time) string {
	owner := ""
	if deploy != "" {
		owner = `,"replicaset":{"name":"` + deploy + `-7d9f"},"deployment":{"name":"` + deploy + `"}`
	}
	return `{"@timestamp":"` + ts.UTC().Format(time.RFC3339Nano) + `","message":` + strconv.Quote(msg) +
		`,"stream":"stdout","log":{"file":{"path":"/var/log/pods/x/0.log"},"offset":1}` +
		`,"kubernetes":{"namespace":"` + ns + `","pod":{"name":"` + pod + `","uid":"uid-` + pod + `"},"container":{"name":"` +
		container + `","restart_count":0},"node":{"name":"node-1"}` + owner + `,"labels":{"app":"` + deploy + `"}}` +
		`,"event":{"id":"` + id + `"}}` + "\n"
}

// batchOf builds a batch of one chunk per element of chunks (each a list of record
// lines).
func batchOf(chunks ...[]string) *pipeline.Batch {
	b := &pipeline.Batch{}
	for _, c := range chunks {
		b.Add(&pipeline.Chunk{Data: []byte(strings.Join(c, "")), Records: len(c)})
	}
	return b
}

var t0 = time.Date(2026, 11, 21, 9, 0, 0, 123456789, time.UTC)
