package loki

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/sink"
	"github.com/logferry/logferry/internal/sink/httpsink"
)

// FromConfig builds a sink from its configuration. Secret files are read here, so
// that a missing one fails at start, and again whenever they change; the
// dead-letter file is opened here, so a bad path fails at start too.
//
// It returns a sink.Sink (a *Sink), nil on error.
func FromConfig(name string, c config.LokiSink, log *slog.Logger) (sink.Sink, error) {
	o := Options{
		URL:                c.URL,
		Tenant:             c.Tenant,
		Routes:             c.Routes,
		JSON:               c.Format == "json",
		NoGzip:             c.Compression == "none",
		Labels:             FieldsOf(c.Labels),
		StructuredMetadata: FieldsOf(c.StructuredMetadata),
		LineRecord:         c.Line == "record",
		Headers:            c.Headers,
		Timeout:            c.Timeout,
		MaxRequestBytes:    int(c.MaxRequestBytes),
		Logger:             log,
	}
	for k, v := range c.StaticLabels {
		o.StaticLabels = append(o.StaticLabels, Label{Name: k, Value: v})
	}
	st, err := httpsink.FromConfig(name, c.HTTPClient, c.DeadLetter, log)
	if err != nil {
		return nil, fmt.Errorf("loki: %w", err)
	}
	o.Authorization, o.TLS, o.DeadLetter = st.Authorization, st.TLS, st.DeadLetter
	s, err := New(name, o)
	if err != nil {
		_ = o.DeadLetter.Close(context.Background())
		return nil, err
	}
	return s, nil
}
