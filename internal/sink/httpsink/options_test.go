package httpsink

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/logferry/logferry/internal/pipeline"
)

// TestNewClient: the sink's defaults stand in for zero (or negative) Options, the
// logger names the sink, and set Options are kept as they are.
func TestNewClient(t *testing.T) {
	d := Defaults{Timeout: 7 * time.Second, MaxRequestBytes: 123, IdlePerHost: 3}
	for name, o := range map[string]Options{"zero": {}, "negative": {Timeout: -1, MaxRequestBytes: -1}} {
		t.Run(name, func(t *testing.T) {
			c := NewClient("s1", o, d)
			tr, ok := c.HTTP.Transport.(*http.Transport)
			if c.Timeout != d.Timeout || c.MaxBody != d.MaxRequestBytes || c.Dead != nil || c.Log == nil || c.Now == nil ||
				!ok || tr.MaxIdleConnsPerHost != d.IdlePerHost || tr.ResponseHeaderTimeout != d.Timeout || tr.TLSClientConfig != nil {
				t.Fatalf("%+v, transport %+v", c, c.HTTP.Transport)
			}
		})
	}
	var logged bytes.Buffer
	now := func() time.Time { return time.Unix(1, 0) }
	rt := roundTripper(func(*http.Request) (*http.Response, error) { return nil, errors.New("none") })
	dead := &closeDead{}
	c := NewClient("s2", Options{
		Timeout: time.Second, MaxRequestBytes: 9, DeadLetter: dead, Now: now, Transport: rt,
		Logger: slog.New(slog.NewTextHandler(&logged, nil)),
	}, d)
	c.Log.Info("hi")
	if c.Timeout != time.Second || c.MaxBody != 9 || c.Dead != dead || c.Now() != now() || c.HTTP.Transport == nil ||
		!strings.Contains(logged.String(), "sink=s2") {
		t.Fatalf("%+v, logged %q", c, logged.String())
	}
	if _, err := c.HTTP.Transport.RoundTrip(nil); err == nil || err.Error() != "none" {
		t.Fatalf("not the transport given: %v", err)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// closeDead is a dead-letter sink that counts its Close calls.
type closeDead struct{ closed int }

func (*closeDead) Name() string                                   { return "dead" }
func (*closeDead) Consume(context.Context, *pipeline.Batch) error { return nil }
func (d *closeDead) Close(context.Context) error                  { d.closed++; return nil }

// TestAuthorize: the header is set from Options.Authorization, not at all when
// there is none or it gives "", and a failure to read the credentials says so.
func TestAuthorize(t *testing.T) {
	for _, tc := range []struct {
		name string
		auth Authorization
		want string // the header; "-" none
		err  string
	}{
		{"none", nil, "-", ""},
		{"empty", func() (string, error) { return "", nil }, "-", ""},
		{"bearer", func() (string, error) { return BearerAuth("t"), nil }, "Bearer t", ""},
		{"unreadable", func() (string, error) { return "", errors.New("gone") }, "-", "credentials: gone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := NewClient("s", Options{Authorization: tc.auth}, Defaults{})
			req, _ := http.NewRequest(http.MethodPost, "http://x", nil)
			err := c.Authorize(req)
			if tc.err != "" && (err == nil || err.Error() != tc.err) || tc.err == "" && err != nil {
				t.Fatalf("got %v, want %q", err, tc.err)
			}
			h, set := req.Header["Authorization"]
			if tc.want == "-" && set || tc.want != "-" && (len(h) != 1 || h[0] != tc.want) {
				t.Fatalf("header %q, want %q", h, tc.want)
			}
		})
	}
}

// TestClientClose closes the dead-letter sink when there is one.
func TestClientClose(t *testing.T) {
	dead := &closeDead{}
	c := NewClient("s", Options{DeadLetter: dead}, Defaults{})
	if err := c.Close(t.Context()); err != nil || dead.closed != 1 {
		t.Fatalf("%v, closed %d times", err, dead.closed)
	}
	c = NewClient("s", Options{}, Defaults{})
	if err := c.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}
