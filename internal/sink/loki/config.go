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
	ho, err := httpsink.FromConfig(name, c.HTTPClient, c.DeadLetter, log)
	if err != nil {
		return nil, fmt.Errorf("loki: %w", err)
	}
	ho.MaxRequestBytes = int(c.MaxRequestBytes)
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
		Options:            ho,
	}
	for k, v := range c.StaticLabels {
		o.StaticLabels = append(o.StaticLabels, Label{Name: k, Value: v})
	}
	s, err := New(name, o)
	if err != nil {
		_ = ho.DeadLetter.Close(context.Background())
		return nil, err
	}
	return s, nil
}
