package elastic

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/sink"
)

// FromConfig builds a sink from its configuration: secrets are read from their files
// and the dead-letter file is opened here, so a bad path fails at start.
//
// It returns a sink.Sink (a *Sink), nil on error.
func FromConfig(name string, c config.ElasticsearchSink, log *slog.Logger) (sink.Sink, error) {
	o := Options{
		URLs:            c.URLs,
		Index:           c.Index,
		Routes:          c.Routes,
		DataStream:      c.DataStream != nil && *c.DataStream,
		NoGzip:          c.Compression == "none",
		Parameters:      c.Parameters,
		Timeout:         c.Timeout,
		MaxRequestBytes: int(c.MaxRequestBytes),
		Logger:          log,
	}
	var err error
	switch {
	case c.Username != "":
		pw := c.Password
		if c.PasswordFile != "" {
			if pw, err = readSecret(c.PasswordFile); err != nil {
				return nil, err
			}
		}
		o.Authorization = BasicAuth(c.Username, pw)
	case c.APIKey != "" || c.APIKeyFile != "":
		key := c.APIKey
		if c.APIKeyFile != "" {
			if key, err = readSecret(c.APIKeyFile); err != nil {
				return nil, err
			}
		}
		o.Authorization = APIKeyAuth(key)
	case c.BearerToken != "" || c.BearerTokenFile != "":
		tok := c.BearerToken
		if c.BearerTokenFile != "" {
			if tok, err = readSecret(c.BearerTokenFile); err != nil {
				return nil, err
			}
		}
		o.Authorization = BearerAuth(tok)
	}
	if o.TLS, err = tlsConfig(c); err != nil {
		return nil, err
	}
	if c.DeadLetterPath == "" {
		return nil, errors.New("elasticsearch: dead_letter_path is required")
	}
	o.DeadLetter, err = NewDeadLetter(name, c.DeadLetterPath, int64(c.DeadLetterMaxSize), c.DeadLetterMaxFiles, log)
	if err != nil {
		return nil, err
	}
	s, err := New(name, o)
	if err != nil {
		_ = o.DeadLetter.Close(context.Background())
		return nil, err
	}
	return s, nil
}

func readSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("elasticsearch: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("elasticsearch: %s is empty", path)
	}
	return v, nil
}

func tlsConfig(c config.ElasticsearchSink) (*tls.Config, error) {
	insecure := c.InsecureSkipVerify != nil && *c.InsecureSkipVerify
	if c.CAFile == "" && c.CertFile == "" && !insecure {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // only when configured explicitly
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("elasticsearch: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("elasticsearch: ca_file %s: no PEM certificates", c.CAFile)
		}
		t.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("elasticsearch: client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}
