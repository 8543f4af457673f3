package httpsink

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/logferry/logferry/internal/config"
	"github.com/logferry/logferry/internal/secret"
)

// FromConfig returns the Options of sink name taken from its configuration: the
// credentials (Auth) and TLS settings (TLSConfig) and the timeout of c, the
// dead-letter file of d (NewDeadLetter; the caller closes it) and log. It reads the
// credentials and TLS files first, so that a missing one fails at start with
// nothing open, then opens the dead-letter file, so that a bad path fails at start
// too. MaxRequestBytes, Transport and Now are left to the caller.
func FromConfig(name string, c config.HTTPClient, d config.DeadLetter, log *slog.Logger) (Options, error) {
	o := Options{Timeout: c.Timeout, Logger: log}
	var err error
	if o.Authorization, err = Auth(c); err != nil {
		return Options{}, err
	}
	if o.TLS, err = TLSConfig(c); err != nil {
		return Options{}, err
	}
	if d.DeadLetterPath == "" {
		return Options{}, errors.New("dead_letter_path is required")
	}
	if o.DeadLetter, err = NewDeadLetter(name, d, log); err != nil {
		return Options{}, err
	}
	return o, nil
}

// Transport returns the usual transport of an HTTP sink: http.DefaultTransport's
// settings with tlsConfig (nil: system roots), idle connections per host kept and
// timeout for the response headers.
func Transport(tlsConfig *tls.Config, idlePerHost int, timeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsConfig
	t.MaxIdleConnsPerHost = idlePerHost
	t.ResponseHeaderTimeout = timeout
	return t
}

// TLSConfig returns the TLS settings of c: nil (the defaults) when none is set.
func TLSConfig(c config.HTTPClient) (*tls.Config, error) {
	insecure := c.InsecureSkipVerify != nil && *c.InsecureSkipVerify
	if c.CAFile == "" && c.CertFile == "" && !insecure {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // only when configured explicitly
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificates", c.CAFile)
		}
		t.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		t.Certificates = []tls.Certificate{cert}
	}
	return t, nil
}

// Authorization returns the Authorization header of a request ("" none). It is
// called for every request, so that credentials read from files can change.
type Authorization func() (string, error)

// Auth returns the Authorization of c's username/password or bearer token (nil
// when neither is set). Secret files are read now, so that a missing one fails at
// start, and again when they change (SecretFile).
func Auth(c config.HTTPClient) (Authorization, error) {
	switch {
	case c.Username != "":
		user := c.Username
		return Secret(c.Password, c.PasswordFile, func(pw string) string { return BasicAuth(user, pw) })
	case c.BearerToken != "" || c.BearerTokenFile != "":
		return Secret(c.BearerToken, c.BearerTokenFile, BearerAuth)
	}
	return nil, nil
}

// Secret returns the Authorization header(secret) of a secret given as value or,
// when file is set, kept in file: read now (an error if it cannot be) and again
// when it changes.
func Secret(value, file string, header func(secret string) string) (Authorization, error) {
	if file == "" {
		h := header(value)
		return func() (string, error) { return h, nil }, nil
	}
	get, err := secret.Value(value, file)
	if err != nil {
		return nil, err
	}
	return func() (string, error) {
		v, err := get()
		return header(v), err
	}, nil
}

// BasicAuth returns the Authorization header of basic authentication.
func BasicAuth(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// BearerAuth returns the Authorization header of a bearer token.
func BearerAuth(token string) string { return "Bearer " + token }
