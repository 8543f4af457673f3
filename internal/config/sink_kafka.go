package config

import (
	"strconv"
	"strings"
	"time"

	"github.com/logferry/logferry/internal/podconfig"
)

// KafkaSink configures a sink of type kafka (key kafka of the sink; docs/sinks.md).
type KafkaSink struct {
	// Brokers (brokers) are the seed brokers, host:port. Required.
	Brokers []string
	// Topic (topic) is the topic template: {dotted.field} is replaced by that
	// field of the record (e.g. "logs.{kubernetes.namespace}"). Required.
	Topic string
	// TopicFallback (topic_fallback) is the topic of a record that lacks a
	// field of the template. Required when topic has a {field}.
	TopicFallback string
	// Routes (routes) maps a route name (a pod's logferry.io/route) to the
	// topic template of its records; records of other routes use topic.
	Routes map[string]string
	// KeyField (key_field) is the record field used as message key; "" sends
	// no key. Default kubernetes.pod.uid.
	KeyField string
	// Compression (compression) is zstd (the default), lz4, snappy, gzip or none.
	Compression string
	// Linger (linger) is how long a partition waits for more records before
	// sending. Default 5ms; 0 to 1m.
	Linger time.Duration
	// MaxMessageBytes (max_message_bytes) is the largest record batch sent
	// (franz-go's ProducerBatchMaxBytes; keep it at most the broker's
	// message.max.bytes); a record that does not fit is truncated with a
	// marker. Default 1MiB; 4KiB to 64MiB.
	MaxMessageBytes Size
	// DeliveryTimeout (delivery_timeout) is how long records may wait to be
	// acknowledged before the batch fails and is retried whole. Default 30s;
	// at least 1s.
	DeliveryTimeout time.Duration
	// ClientID (client_id) is the Kafka client id. Default logferry.
	ClientID string
	// AutoCreateTopics (auto_create_topics) asks brokers to create missing
	// topics (when the broker allows it). Default false.
	AutoCreateTopics *bool
	// TLS (tls) configures TLS to the brokers.
	TLS KafkaTLS
	// SASL (sasl) configures authentication.
	SASL KafkaSASL
}

// KafkaTLS configures TLS to the brokers.
type KafkaTLS struct {
	// Enabled (enabled) turns TLS on. Default false.
	Enabled *bool
	// CAFile (ca_file) is a PEM file of CA certificates; "" uses the system's.
	CAFile string
	// CertFile (cert_file) and KeyFile (key_file) are a client certificate and
	// its key, PEM; both or neither.
	CertFile string
	KeyFile  string
	// ServerName (server_name) overrides the name the broker certificates are
	// checked against.
	ServerName string
	// InsecureSkipVerify (insecure_skip_verify) disables certificate checks.
	// Default false; for tests only.
	InsecureSkipVerify *bool
}

// KafkaSASL configures SASL authentication.
type KafkaSASL struct {
	// Mechanism (mechanism) is "" (none, the default), PLAIN, SCRAM-SHA-256
	// or SCRAM-SHA-512.
	Mechanism string
	// Username (username) or UsernameFile (username_file), and Password
	// (password) or PasswordFile (password_file): one of each is required with
	// a mechanism. Values may use ${ENV}; files are read at start and again
	// when they change (package secret).
	Username     string
	UsernameFile string
	Password     string
	PasswordFile string
}

func (k *KafkaSink) fields() []field {
	return []field{
		{"brokers", strList(&k.Brokers)},
		{"topic", str(&k.Topic)},
		{"topic_fallback", str(&k.TopicFallback)},
		{"routes", stringMap(&k.Routes)},
		{"key_field", str(&k.KeyField)},
		{"compression", str(&k.Compression)},
		{"linger", duration(&k.Linger)},
		{"max_message_bytes", size(&k.MaxMessageBytes)},
		{"delivery_timeout", duration(&k.DeliveryTimeout)},
		{"client_id", str(&k.ClientID)},
		{"auto_create_topics", boolean(&k.AutoCreateTopics)},
		{"tls", object(k.TLS.fields())},
		{"sasl", object(k.SASL.fields())},
	}
}

func (t *KafkaTLS) fields() []field {
	return []field{
		{"enabled", boolean(&t.Enabled)},
		{"ca_file", str(&t.CAFile)},
		{"cert_file", str(&t.CertFile)},
		{"key_file", str(&t.KeyFile)},
		{"server_name", str(&t.ServerName)},
		{"insecure_skip_verify", boolean(&t.InsecureSkipVerify)},
	}
}

func (s *KafkaSASL) fields() []field {
	return []field{
		{"mechanism", str(&s.Mechanism)},
		{"username", str(&s.Username)},
		{"username_file", str(&s.UsernameFile)},
		{"password", str(&s.Password)},
		{"password_file", str(&s.PasswordFile)},
	}
}

// DefaultKafkaSink returns the defaults of a kafka sink.
func DefaultKafkaSink() KafkaSink {
	return KafkaSink{
		KeyField:        "kubernetes.pod.uid",
		Compression:     "zstd",
		Linger:          5 * time.Millisecond,
		MaxMessageBytes: MiB,
		DeliveryTimeout: 30 * time.Second,
		ClientID:        "logferry",
	}
}

// TopicFields returns the fields a topic template refers to, and whether the
// template is well formed: every { closed by a } around a non-empty dotted path.
func TopicFields(tmpl string) ([]string, bool) {
	var out []string
	for {
		i := strings.IndexAny(tmpl, "{}")
		if i < 0 {
			return out, true
		}
		if tmpl[i] == '}' {
			return nil, false
		}
		j := strings.IndexAny(tmpl[i+1:], "{}")
		if j < 0 || tmpl[i+1+j] != '}' {
			return nil, false
		}
		f := tmpl[i+1 : i+1+j]
		if f == "" || strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") || strings.Contains(f, "..") {
			return nil, false
		}
		out = append(out, f)
		tmpl = tmpl[i+2+j:]
	}
}

// validTopic reports whether s is a legal Kafka topic name.
func validTopic(s string) bool {
	if s == "" || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// validate checks a kafka sink's settings; key is the prefix of their keys
// ("sinks[2].kafka.").
func (k *KafkaSink) validate(key string, r *rules) {
	if len(k.Brokers) == 0 {
		r.add(key+"brokers", "at least one broker is required for sink type kafka")
	}
	for i, b := range k.Brokers {
		bk := key + "brokers[" + strconv.Itoa(i) + "]"
		if b == "" {
			r.add(bk, "must not be empty")
		} else {
			r.brokerAddr(bk, b)
		}
	}
	fields, ok := TopicFields(k.Topic)
	switch {
	case k.Topic == "":
		r.add(key+"topic", "required for sink type kafka")
	case !ok:
		r.add(key+"topic", "bad template %q: each {field} needs a non-empty dotted path and matching braces", k.Topic)
	case len(fields) == 0 && !validTopic(k.Topic):
		r.add(key+"topic", "invalid topic name %q (use letters, digits, '.', '_' and '-', at most 249)", k.Topic)
	case len(fields) > 0 && k.TopicFallback == "":
		r.add(key+"topic_fallback", "required when topic refers to fields (records lacking one go there)")
	}
	for _, name := range sortedKeys(k.Routes) {
		rk, t := key+"routes."+name, k.Routes[name]
		f, ok := TopicFields(t)
		switch {
		case !podconfig.ValidRoute(name):
			r.add(rk, "bad route name (want [a-z0-9][a-z0-9._-]{0,62}, as in logferry.io/route)")
		case t == "" || !ok:
			r.add(rk, "bad topic template %q: each {field} needs a non-empty dotted path and matching braces", t)
		case len(f) == 0 && !validTopic(t):
			r.add(rk, "invalid topic name %q (use letters, digits, '.', '_' and '-', at most 249)", t)
		case len(f) > 0 && k.TopicFallback == "":
			r.add(key+"topic_fallback", "required when a topic template refers to fields (records lacking one go there)")
		}
	}
	if k.TopicFallback != "" && !validTopic(k.TopicFallback) {
		r.add(key+"topic_fallback", "invalid topic name %q (use letters, digits, '.', '_' and '-', at most 249)", k.TopicFallback)
	}
	if f := k.KeyField; f != "" && (strings.HasPrefix(f, ".") || strings.HasSuffix(f, ".") || strings.Contains(f, "..")) {
		r.add(key+"key_field", "bad field path %q", f)
	}
	r.oneOf(key+"compression", k.Compression, "zstd", "lz4", "snappy", "gzip", "none")
	if k.Linger < 0 || k.Linger > time.Minute {
		r.add(key+"linger", "must be between 0s and 1m, got %v", k.Linger)
	}
	r.sizeBetween(key+"max_message_bytes", k.MaxMessageBytes, 4*KiB, 64*MiB)
	r.durationAtLeast(key+"delivery_timeout", k.DeliveryTimeout, time.Second)
	if k.ClientID == "" {
		r.add(key+"client_id", "must not be empty")
	}

	t := &k.TLS
	on := t.Enabled != nil && *t.Enabled
	if !on && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "" || (t.InsecureSkipVerify != nil && *t.InsecureSkipVerify)) {
		r.add(key+"tls.enabled", "tls settings are given but tls is not enabled (set enabled: true)")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		r.add(key+"tls", "cert_file and key_file go together")
	}

	s := &k.SASL
	sk := key + "sasl."
	switch s.Mechanism {
	case "":
		if s.Username != "" || s.UsernameFile != "" || s.Password != "" || s.PasswordFile != "" {
			r.add(sk+"mechanism", "credentials are given but no mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)")
		}
	case "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
		if (s.Username == "") == (s.UsernameFile == "") {
			r.add(sk+"username", "give exactly one of username and username_file")
		}
		if (s.Password == "") == (s.PasswordFile == "") {
			r.add(sk+"password", "give exactly one of password and password_file")
		}
	default:
		r.add(sk+"mechanism", "want one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or \"\"; got %q", s.Mechanism)
	}
}

// brokerAddr checks a host:port broker address.
func (r *rules) brokerAddr(key, v string) {
	i := strings.LastIndexByte(v, ':')
	if i <= 0 || i == len(v)-1 {
		r.add(key, "must be host:port, got %q", v)
		return
	}
	for _, c := range v[i+1:] {
		if c < '0' || c > '9' {
			r.add(key, "must be host:port, got %q", v)
			return
		}
	}
}
