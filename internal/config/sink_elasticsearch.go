package config

import (
	"cmp"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/logferry/logferry/internal/podconfig"
)

// ElasticsearchSink configures a sink of type elasticsearch (key elasticsearch of the
// sink; docs/sinks.md): the bulk API of Elasticsearch 7/8, OpenSearch 2 and
// compatible servers. Zero values take the defaults named below.
type ElasticsearchSink struct {
	// URLs (urls) are the base URLs of the cluster's nodes (the bulk API is
	// <url>/_bulk); requests go round-robin, and a node that cannot be reached
	// fails over to the next. Required; http or https.
	URLs []string
	// Index (index) is the index (or data stream) name template: {field.path}
	// inserts a record field (lowercased, characters invalid in index names
	// replaced by '_', "unknown" when missing) and %Y %m %d %H %G %V %% format
	// the record's @timestamp in UTC. Required.
	Index string
	// Routes (routes) maps a route name (a pod's logferry.io/route) to the
	// index template of its records; records of other routes use index.
	Routes map[string]string
	// DataStream (data_stream) writes with the create op, as data streams
	// require. Default false (index op).
	DataStream *bool
	// Compression (compression) of request bodies: gzip (the default) or none.
	Compression string
	// Parameters (parameters) are query parameters added to every bulk request
	// (e.g. pipeline, or VictoriaLogs' _msg_field).
	Parameters map[string]string
	// Username (username) with Password (password) or PasswordFile
	// (password_file) use basic authentication.
	Username     string
	Password     string
	PasswordFile string
	// APIKey (api_key) or APIKeyFile (api_key_file): an Elasticsearch API key,
	// either encoded (as returned by the API) or id:key.
	APIKey     string
	APIKeyFile string
	// BearerToken (bearer_token) or BearerTokenFile (bearer_token_file): a
	// bearer token.
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
	// Timeout (timeout) bounds one bulk request. Default 30s.
	Timeout time.Duration
	// MaxRequestBytes (max_request_bytes) caps the uncompressed body of one
	// bulk request; larger batches are split. Default 8MiB; at least 1KiB.
	MaxRequestBytes Size
	// DeadLetterPath (dead_letter_path) is the JSON-lines file that records
	// rejected for good (mapping errors and other 4xx items) are written to,
	// with their error. Required.
	DeadLetterPath string
	// DeadLetterMaxSize (dead_letter_max_size) rotates the dead-letter file;
	// DeadLetterMaxFiles (dead_letter_max_files) rotated files are kept.
	// Defaults 100MiB and 5.
	DeadLetterMaxSize  Size
	DeadLetterMaxFiles int
}

func (e *ElasticsearchSink) fields() []field {
	return []field{
		{"urls", strList(&e.URLs)},
		{"index", str(&e.Index)},
		{"routes", stringMap(&e.Routes)},
		{"data_stream", boolean(&e.DataStream)},
		{"compression", str(&e.Compression)},
		{"parameters", stringMap(&e.Parameters)},
		{"username", str(&e.Username)},
		{"password", str(&e.Password)},
		{"password_file", str(&e.PasswordFile)},
		{"api_key", str(&e.APIKey)},
		{"api_key_file", str(&e.APIKeyFile)},
		{"bearer_token", str(&e.BearerToken)},
		{"bearer_token_file", str(&e.BearerTokenFile)},
		{"ca_file", str(&e.CAFile)},
		{"cert_file", str(&e.CertFile)},
		{"key_file", str(&e.KeyFile)},
		{"insecure_skip_verify", boolean(&e.InsecureSkipVerify)},
		{"timeout", duration(&e.Timeout)},
		{"max_request_bytes", size(&e.MaxRequestBytes)},
		{"dead_letter_path", str(&e.DeadLetterPath)},
		{"dead_letter_max_size", size(&e.DeadLetterMaxSize)},
		{"dead_letter_max_files", integer(&e.DeadLetterMaxFiles)},
	}
}

// validate checks an elasticsearch sink's settings; key is the prefix of their keys
// ("sinks[2].elasticsearch.").
func (e *ElasticsearchSink) validate(key string, r *rules) {
	if len(e.URLs) == 0 {
		r.add(key+"urls", "at least one URL is required for sink type elasticsearch")
	}
	for i, u := range e.URLs {
		k := key + "urls[" + strconv.Itoa(i) + "]"
		p, err := url.Parse(u)
		switch {
		case err != nil:
			r.add(k, "invalid URL %q: %v", u, err)
		case p.Scheme != "http" && p.Scheme != "https":
			r.add(k, "want an http or https URL, got %q", u)
		case p.Host == "":
			r.add(k, "URL %q has no host", u)
		case p.RawQuery != "" || p.Fragment != "":
			r.add(k, "URL %q must not have a query or fragment (use parameters)", u)
		}
	}
	if e.Index == "" {
		r.add(key+"index", "required for sink type elasticsearch (e.g. logs-{kubernetes.namespace}-%%Y.%%m.%%d)")
	} else if msg := CheckIndexTemplate(e.Index); msg != "" {
		r.add(key+"index", "%s in %q", msg, e.Index)
	}
	for _, name := range sortedKeys(e.Routes) {
		rk, t := key+"routes."+name, e.Routes[name]
		if !podconfig.ValidRoute(name) {
			r.add(rk, "bad route name (want [a-z0-9][a-z0-9._-]{0,62}, as in logferry.io/route)")
		} else if msg := CheckIndexTemplate(t); t == "" || msg != "" {
			r.add(rk, "bad index template %q: %s", t, cmp.Or(msg, "empty"))
		}
	}
	r.oneOf(key+"compression", e.Compression, "", "gzip", "none")
	for k := range e.Parameters {
		if k == "" {
			r.add(key+"parameters", "empty parameter name")
		}
	}
	methods := 0
	if e.Username != "" || e.Password != "" || e.PasswordFile != "" {
		methods++
		if e.Username == "" {
			r.add(key+"username", "required with password or password_file")
		}
		if e.Password != "" && e.PasswordFile != "" {
			r.add(key+"password_file", "set password or password_file, not both")
		}
	}
	if e.APIKey != "" || e.APIKeyFile != "" {
		methods++
		if e.APIKey != "" && e.APIKeyFile != "" {
			r.add(key+"api_key_file", "set api_key or api_key_file, not both")
		}
	}
	if e.BearerToken != "" || e.BearerTokenFile != "" {
		methods++
		if e.BearerToken != "" && e.BearerTokenFile != "" {
			r.add(key+"bearer_token_file", "set bearer_token or bearer_token_file, not both")
		}
	}
	if methods > 1 {
		r.add(key+"username", "choose one authentication: username/password, api_key or bearer_token")
	}
	if (e.CertFile == "") != (e.KeyFile == "") {
		r.add(key+"cert_file", "cert_file and key_file go together")
	}
	r.durationAtLeast(key+"timeout", e.Timeout, 0)
	if e.MaxRequestBytes != 0 {
		r.sizeBetween(key+"max_request_bytes", e.MaxRequestBytes, KiB, GiB)
	}
	if e.DeadLetterPath == "" {
		r.add(key+"dead_letter_path", "required for sink type elasticsearch: records the cluster rejects for good are written there")
	}
	r.sizeAtLeast(key+"dead_letter_max_size", e.DeadLetterMaxSize, 0)
	if e.DeadLetterMaxFiles < 0 {
		r.add(key+"dead_letter_max_files", "must be at least 0, got %d", e.DeadLetterMaxFiles)
	}
}

// CheckIndexTemplate returns what is wrong with an index template, or "".
func CheckIndexTemplate(t string) string {
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '{':
			j := strings.IndexByte(t[i:], '}')
			if j < 0 {
				return "unclosed {"
			}
			f := t[i+1 : i+j]
			if f == "" || strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") || strings.Contains(f, "..") || strings.ContainsAny(f, "{ ") {
				return "bad field {" + f + "}"
			}
			i += j
		case '}':
			return "unopened }"
		case '%':
			if i+1 >= len(t) || !strings.ContainsRune("YmdHGV%", rune(t[i+1])) {
				return "unknown date directive (want %Y %m %d %H %G %V or %%)"
			}
			i++
		}
	}
	return ""
}
