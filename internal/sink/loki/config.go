package loki

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/sink"
)

// Dead-letter file defaults.
const (
	DefaultDeadLetterSize  = 100 << 20
	DefaultDeadLetterFiles = 5
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
	switch {
	case c.Username != "":
		user := c.Username
		if c.PasswordFile != "" {
			f := &secretFile{path: c.PasswordFile}
			if _, err := f.get(); err != nil {
				return nil, err
			}
			o.Authorization = func() (string, error) {
				pw, err := f.get()
				return BasicAuth(user, pw), err
			}
		} else {
			h := BasicAuth(user, c.Password)
			o.Authorization = func() (string, error) { return h, nil }
		}
	case c.BearerTokenFile != "":
		f := &secretFile{path: c.BearerTokenFile}
		if _, err := f.get(); err != nil {
			return nil, err
		}
		o.Authorization = func() (string, error) {
			tok, err := f.get()
			return BearerAuth(tok), err
		}
	case c.BearerToken != "":
		h := BearerAuth(c.BearerToken)
		o.Authorization = func() (string, error) { return h, nil }
	}
	var err error
	if o.TLS, err = tlsConfig(c); err != nil {
		return nil, err
	}
	if c.DeadLetterPath == "" {
		return nil, errors.New("loki: dead_letter_path is required")
	}
	maxSize, maxFiles := int64(c.DeadLetterMaxSize), c.DeadLetterMaxFiles
	if maxSize <= 0 {
		maxSize = DefaultDeadLetterSize
	}
	if maxFiles <= 0 {
		maxFiles = DefaultDeadLetterFiles
	}
	o.DeadLetter, err = sink.NewFile(name+"-dead-letter", sink.FileOptions{
		Path: c.DeadLetterPath, MaxSize: maxSize, MaxFiles: maxFiles, Fsync: true, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("loki: dead_letter_path: %w", err)
	}
	s, err := New(name, o)
	if err != nil {
		_ = o.DeadLetter.Close(context.Background())
		return nil, err
	}
	return s, nil
}

// BasicAuth returns the Authorization header of basic authentication.
func BasicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// BearerAuth returns the Authorization header of a bearer token.
func BearerAuth(token string) string { return "Bearer " + token }

// secretFile is a credential kept in a file (a mounted Secret, a projected token):
// it is read again when the file's modification time or size changes. If a new
// version cannot be read (or is empty), the last good value is kept.
type secretFile struct {
	path string

	mu      sync.Mutex
	mod     time.Time
	size    int64
	value   string
	checked time.Time
}

// recheck is how often the file is looked at.
const recheck = time.Second

func (f *secretFile) get() (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	if f.value != "" && now.Sub(f.checked) < recheck {
		return f.value, nil
	}
	f.checked = now
	fi, err := os.Stat(f.path)
	if err != nil {
		if f.value != "" {
			return f.value, nil
		}
		return "", fmt.Errorf("loki: %w", err)
	}
	if f.value != "" && fi.ModTime().Equal(f.mod) && fi.Size() == f.size {
		return f.value, nil
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		if f.value != "" {
			return f.value, nil
		}
		return "", fmt.Errorf("loki: %w", err)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		if f.value != "" {
			return f.value, nil
		}
		return "", fmt.Errorf("loki: %s is empty", f.path)
	}
	f.value, f.mod, f.size = v, fi.ModTime(), fi.Size()
	return v, nil
}

func tlsConfig(c config.LokiSink) (*tls.Config, error) {
	insecure := c.InsecureSkipVerify != nil && *c.InsecureSkipVerify
	if c.CAFile == "" && c.CertFile == "" && !insecure {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // only when configured explicitly
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("loki: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("loki: ca_file %s: no PEM certificates", c.CAFile)
		}
		t.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loki: client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}
