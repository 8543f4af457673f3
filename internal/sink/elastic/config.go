package elastic

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
func FromConfig(name string, c config.ElasticsearchSink, log *slog.Logger) (sink.Sink, error) {
	var apiKey httpsink.Authorization
	if c.APIKey != "" || c.APIKeyFile != "" {
		var err error
		if apiKey, err = httpsink.Secret(c.APIKey, c.APIKeyFile, APIKeyAuth); err != nil {
			return nil, fmt.Errorf("elasticsearch: %w", err)
		}
	}
	ho, err := httpsink.FromConfig(name, c.HTTPClient, c.DeadLetter, log)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch: %w", err)
	}
	if apiKey != nil {
		ho.Authorization = apiKey
	}
	ho.MaxRequestBytes = int(c.MaxRequestBytes)
	s, err := New(name, Options{
		URLs:       c.URLs,
		Index:      c.Index,
		Routes:     c.Routes,
		DataStream: c.DataStream != nil && *c.DataStream,
		NoGzip:     c.Compression == "none",
		Parameters: c.Parameters,
		Options:    ho,
	})
	if err != nil {
		_ = ho.DeadLetter.Close(context.Background())
		return nil, err
	}
	return s, nil
}
