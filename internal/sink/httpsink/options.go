package httpsink

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/logferry/logferry/internal/sink"
)

// Options are the settings every HTTP sink has; the sinks' Options embed them and
// say which defaults apply and whether DeadLetter is required.
type Options struct {
	// Authorization returns the Authorization header of a request (nil or ""
	// none; see BasicAuth and BearerAuth); it is called for every request, so that
	// credentials read from files can change.
	Authorization Authorization
	// TLS configures https (nil: system roots).
	TLS *tls.Config
	// Timeout bounds one request (default: the sink's DefaultTimeout).
	Timeout time.Duration
	// MaxRequestBytes caps one uncompressed request body (default: the sink's
	// DefaultMaxRequestBytes); a single record larger than it is sent alone.
	MaxRequestBytes int
	// DeadLetter receives the records the server rejects for good, as JSON lines
	// (Consume of a batch of one chunk); it must have accepted them durably when
	// it returns nil. NewDeadLetter builds the usual one.
	DeadLetter sink.Sink
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Transport replaces the HTTP transport (tests).
	Transport http.RoundTripper
	// Now replaces time.Now (tests).
	Now func() time.Time
}

// Defaults are a sink's values for the Options left zero, and how many idle
// connections per host its transport keeps.
type Defaults struct {
	Timeout         time.Duration
	MaxRequestBytes int
	IdlePerHost     int
}

// Client is what an HTTP sink keeps of its Options, the defaults applied.
type Client struct {
	Timeout time.Duration    // bounds one request
	MaxBody int              // caps one uncompressed request body
	Dead    sink.Sink        // the dead-letter sink; nil: none
	Log     *slog.Logger     // with the attribute sink=<the sink's name>
	HTTP    *http.Client     // over Options.Transport
	Now     func() time.Time // time.Now unless replaced
	auth    Authorization
}

// NewClient returns the Client of sink name for o: d's Timeout and MaxRequestBytes
// when o's are 0 or less, slog.Default() when Logger is nil, time.Now when Now is
// nil and, when Transport is nil, Transport(o.TLS, d.IdlePerHost, the timeout).
func NewClient(name string, o Options, d Defaults) Client {
	c := Client{Timeout: o.Timeout, MaxBody: o.MaxRequestBytes, Dead: o.DeadLetter, Log: o.Logger, Now: o.Now, auth: o.Authorization}
	if c.Timeout <= 0 {
		c.Timeout = d.Timeout
	}
	if c.MaxBody <= 0 {
		c.MaxBody = d.MaxRequestBytes
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	c.Log = c.Log.With("sink", name)
	if c.Now == nil {
		c.Now = time.Now
	}
	tr := o.Transport
	if tr == nil {
		tr = Transport(o.TLS, d.IdlePerHost, c.Timeout)
	}
	c.HTTP = &http.Client{Transport: tr}
	return c
}

// Authorize sets the Authorization header of req, unless Options.Authorization
// is nil or gives "". It fails when the credentials cannot be read.
func (c *Client) Authorize(req *http.Request) error {
	if c.auth == nil {
		return nil
	}
	a, err := c.auth()
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	if a != "" {
		req.Header.Set("Authorization", a)
	}
	return nil
}

// Close closes the idle connections and the dead-letter sink, if any.
func (c *Client) Close(ctx context.Context) error {
	c.HTTP.CloseIdleConnections()
	if c.Dead != nil {
		return c.Dead.Close(ctx)
	}
	return nil
}
