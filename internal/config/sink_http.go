package config

import "time"

// HTTPClient are the settings of an HTTP sink's client (elasticsearch, loki):
// authentication, TLS and the request timeout. Its keys sit flat in the sink's
// mapping, next to the sink's own.
type HTTPClient struct {
	// Username (username) with Password (password) or PasswordFile
	// (password_file) use basic authentication; BearerToken (bearer_token) or
	// BearerTokenFile (bearer_token_file) a bearer token. Files are read when the
	// sink starts and again when they change.
	Username        string
	Password        string
	PasswordFile    string
	BearerToken     string
	BearerTokenFile string
	// CAFile (ca_file) is a PEM bundle of the CAs to trust instead of the
	// system's; CertFile (cert_file) and KeyFile (key_file) a client
	// certificate; InsecureSkipVerify (insecure_skip_verify) turns off server
	// certificate verification (default false: only ever set it explicitly).
	CAFile             string
	CertFile           string
	KeyFile            string
	InsecureSkipVerify *bool
	// Timeout (timeout) bounds one request. Default 30s.
	Timeout time.Duration
}

func (h *HTTPClient) fields() []field {
	return []field{
		{"username", str(&h.Username)},
		{"password", str(&h.Password)},
		{"password_file", str(&h.PasswordFile)},
		{"bearer_token", str(&h.BearerToken)},
		{"bearer_token_file", str(&h.BearerTokenFile)},
		{"ca_file", str(&h.CAFile)},
		{"cert_file", str(&h.CertFile)},
		{"key_file", str(&h.KeyFile)},
		{"insecure_skip_verify", boolean(&h.InsecureSkipVerify)},
		{"timeout", duration(&h.Timeout)},
	}
}

// validate checks the settings; key is the prefix of their keys
// ("sinks[2].loki."). other counts the sink's own authentication methods that are
// set (Elasticsearch's api_key), and methods names every method for the message
// when more than one is.
func (h *HTTPClient) validate(key string, r *rules, other int, methods string) {
	n := other
	if h.Username != "" || h.Password != "" || h.PasswordFile != "" {
		n++
		if h.Username == "" {
			r.add(key+"username", "required with password or password_file")
		}
		r.notBoth(key, "password", h.Password, "password_file", h.PasswordFile)
	}
	if h.BearerToken != "" || h.BearerTokenFile != "" {
		n++
		r.notBoth(key, "bearer_token", h.BearerToken, "bearer_token_file", h.BearerTokenFile)
	}
	if n > 1 {
		r.add(key+"username", "choose one authentication: %s", methods)
	}
	if (h.CertFile == "") != (h.KeyFile == "") {
		r.add(key+"cert_file", "cert_file and key_file go together")
	}
	r.durationAtLeast(key+"timeout", h.Timeout, 0)
}

// notBoth reports a secret given both as a value and as a file.
func (r *rules) notBoth(key, valueKey, value, fileKey, file string) {
	if value != "" && file != "" {
		r.add(key+fileKey, "set %s or %s, not both", valueKey, fileKey)
	}
}

// DeadLetter are the settings of an HTTP sink's dead-letter file, the JSON-lines
// file that records the destination rejects for good are written to.
type DeadLetter struct {
	// DeadLetterPath (dead_letter_path) is the file. Required.
	DeadLetterPath string
	// DeadLetterMaxSize (dead_letter_max_size) rotates the dead-letter file;
	// DeadLetterMaxFiles (dead_letter_max_files) rotated files are kept.
	// Defaults 100MiB and 5.
	DeadLetterMaxSize  Size
	DeadLetterMaxFiles int
}

func (d *DeadLetter) fields() []field {
	return []field{
		{"dead_letter_path", str(&d.DeadLetterPath)},
		{"dead_letter_max_size", size(&d.DeadLetterMaxSize)},
		{"dead_letter_max_files", integer(&d.DeadLetterMaxFiles)},
	}
}

// validate checks the settings; key is the prefix of their keys, why completes the
// message of a missing path ("sink type loki: records Loki rejects ...").
func (d *DeadLetter) validate(key string, r *rules, why string) {
	if d.DeadLetterPath == "" {
		r.add(key+"dead_letter_path", "required for %s", why)
	}
	r.sizeAtLeast(key+"dead_letter_max_size", d.DeadLetterMaxSize, 0)
	if d.DeadLetterMaxFiles < 0 {
		r.add(key+"dead_letter_max_files", "must be at least 0, got %d", d.DeadLetterMaxFiles)
	}
}
