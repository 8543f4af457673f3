package config

import (
	"cmp"
	"net/url"
	"strconv"
	"strings"

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
	// APIKey (api_key) or APIKeyFile (api_key_file): an Elasticsearch API key,
	// either encoded (as returned by the API) or id:key. The file is read when
	// the sink starts and again when it changes.
	APIKey     string
	APIKeyFile string
	// HTTPClient are the other authentication methods (username, password,
	// password_file, bearer_token, bearer_token_file), TLS (ca_file, cert_file,
	// key_file, insecure_skip_verify) and timeout: one bulk request.
	HTTPClient
	// MaxRequestBytes (max_request_bytes) caps the uncompressed body of one
	// bulk request; larger batches are split. Default 8MiB; at least 1KiB.
	MaxRequestBytes Size
	// DeadLetter (dead_letter_path, dead_letter_max_size,
	// dead_letter_max_files): records rejected for good (mapping errors and
	// other 4xx items) are written there with their error. Required.
	DeadLetter
}

func (e *ElasticsearchSink) fields() []field {
	return append([]field{
		{"urls", strList(&e.URLs)},
		{"index", str(&e.Index)},
		{"routes", stringMap(&e.Routes)},
		{"data_stream", boolean(&e.DataStream)},
		{"compression", str(&e.Compression)},
		{"parameters", stringMap(&e.Parameters)},
		{"api_key", str(&e.APIKey)},
		{"api_key_file", str(&e.APIKeyFile)},
		{"max_request_bytes", size(&e.MaxRequestBytes)},
	}, append(e.HTTPClient.fields(), e.DeadLetter.fields()...)...)
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
	apiKey := 0
	if e.APIKey != "" || e.APIKeyFile != "" {
		apiKey = 1
		r.notBoth(key, "api_key", e.APIKey, "api_key_file", e.APIKeyFile)
	}
	e.HTTPClient.validate(key, r, apiKey, "username/password, api_key or bearer_token")
	if e.MaxRequestBytes != 0 {
		r.sizeBetween(key+"max_request_bytes", e.MaxRequestBytes, KiB, GiB)
	}
	e.DeadLetter.validate(key, r, "sink type elasticsearch: records the cluster rejects for good are written there")
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
