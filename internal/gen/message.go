package gen

import (
	"bytes"
	"strconv"
)

// KeyPrefix starts every generated logical line. Garbage lines start with
// JunkPrefix instead, so they can never be taken for a generated line.
const (
	KeyPrefix  = "lf "
	JunkPrefix = "lfjunk"
)

// splitBoundary: multi-byte filler tokens never straddle a multiple of this
// offset in a message, so no runtime split (8192 for CRI-O, 16384 for
// containerd and docker) cuts a UTF-8 sequence. dockerd would replace the
// halves with U+FFFD and make the line unrecoverable.
const splitBoundary = 8192

// fillerAlphabet is printable ASCII without '"' and '\' (those come as
// specials, rarely). It includes '<', '>' and '&', which moby escapes.
var fillerAlphabet = func() []byte {
	var b []byte
	for c := byte(0x20); c <= 0x7e; c++ {
		if c != '"' && c != '\\' {
			b = append(b, c)
		}
	}
	return b
}()

// fillerSpecials exercise JSON escaping and multi-byte UTF-8.
var fillerSpecials = []string{`"`, `\`, "\t", "é", "日本", `\"`, "ü€", "<&>"}

// Message returns the exact message of line seq of a container, of exactly
// length bytes: "lf <ns>/<pod>/<container> seq=<seq> len=<length> " followed by
// deterministic filler. The filler is printable ASCII with, about once per 256
// bytes, a '"', '\', tab or multi-byte UTF-8 sequence; it never holds '\n' or
// '\r'. If length is shorter than the key prefix, the message is the prefix
// alone (the generator never asks for that).
func Message(ns, pod, container string, seq, length int) []byte {
	return AppendMessage(make([]byte, 0, length), ns, pod, container, seq, length)
}

// AppendMessage appends Message(ns, pod, container, seq, length) to dst.
func AppendMessage(dst []byte, ns, pod, container string, seq, length int) []byte {
	return AppendMessageFiller(dst, FillerRandom, ns, pod, container, seq, length)
}

// AppendMessageFiller is AppendMessage with the given filler (Options.Filler; ""
// is random). The text filler is ASCII log-like words and key=value pairs.
func AppendMessageFiller(dst []byte, filler, ns, pod, container string, seq, length int) []byte {
	base := len(dst)
	dst = append(dst, KeyPrefix...)
	dst = append(dst, ns...)
	dst = append(dst, '/')
	dst = append(dst, pod...)
	dst = append(dst, '/')
	dst = append(dst, container...)
	dst = append(dst, " seq="...)
	dst = strconv.AppendInt(dst, int64(seq), 10)
	dst = append(dst, " len="...)
	dst = strconv.AppendInt(dst, int64(length), 10)
	dst = append(dst, ' ')
	p := len(dst) - base
	if p >= length {
		return dst
	}
	// Grow once, then fill by index.
	if cap(dst)-base < length {
		nd := make([]byte, len(dst), base+length)
		copy(nd, dst)
		dst = nd
	}
	dst = dst[:base+length]
	out := dst[base:]

	h := fnv64(fnvOffset, ns)
	h = fnv64(h, "/")
	h = fnv64(h, pod)
	h = fnv64(h, "/")
	h = fnv64(h, container)
	rng := splitmix(mix64(h ^ mix64(uint64(seq)+0x9e3779b97f4a7c15*uint64(length+1))))
	var bits uint64
	nb := 0
	next := func() byte {
		if nb == 0 {
			bits = rng.next()
			nb = 8
		}
		b := byte(bits)
		bits >>= 8
		nb--
		return b
	}
	if filler == FillerText {
		fillText(out, p, next)
		return dst
	}
	na := len(fillerAlphabet)
	for p < length {
		b := next()
		if b != 0 {
			out[p] = fillerAlphabet[int(b)%na]
			p++
			continue
		}
		tok := fillerSpecials[int(next())%len(fillerSpecials)]
		if p+len(tok) > length || p/splitBoundary != (p+len(tok)-1)/splitBoundary {
			out[p] = '~'
			p++
			continue
		}
		p += copy(out[p:], tok)
	}
	return dst
}

// Key identifies one generated line.
type Key struct {
	Namespace, Pod, Container string
	Seq, Length               int
}

// ParseKey parses the key prefix of a generated message. ok is false when msg
// does not start with KeyPrefix or the key is malformed. It does not check the
// filler: compare with Message for that.
func ParseKey(msg []byte) (Key, bool) {
	ns, pod, c, seq, length, ok := ParseKeyBytes(msg)
	if !ok {
		return Key{}, false
	}
	return Key{Namespace: string(ns), Pod: string(pod), Container: string(c), Seq: seq, Length: length}, true
}

// ParseKeyBytes is ParseKey without allocation: ns, pod and container alias msg.
func ParseKeyBytes(msg []byte) (ns, pod, container []byte, seq, length int, ok bool) {
	if !bytes.HasPrefix(msg, []byte(KeyPrefix)) {
		return
	}
	rest := msg[len(KeyPrefix):]
	sp := bytes.IndexByte(rest, ' ')
	if sp <= 0 {
		return
	}
	id := rest[:sp]
	rest = rest[sp+1:]
	i := bytes.IndexByte(id, '/')
	if i <= 0 {
		return
	}
	ns, id = id[:i], id[i+1:]
	i = bytes.IndexByte(id, '/')
	if i <= 0 || i == len(id)-1 || bytes.IndexByte(id[i+1:], '/') >= 0 {
		return
	}
	pod, container = id[:i], id[i+1:]
	var good bool
	if seq, rest, good = parseField(rest, "seq="); !good {
		return
	}
	if length, rest, good = parseField(rest, "len="); !good {
		return
	}
	_ = rest
	ok = true
	return
}

// parseField parses `name<digits> ` at the start of b.
func parseField(b []byte, name string) (int, []byte, bool) {
	if !bytes.HasPrefix(b, []byte(name)) {
		return 0, nil, false
	}
	b = b[len(name):]
	n, i := 0, 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i >= 18 {
			return 0, nil, false
		}
		n = n*10 + int(b[i]-'0')
	}
	if i == 0 || i >= len(b) || b[i] != ' ' {
		return 0, nil, false
	}
	return n, b[i+1:], true
}

// prefixLen is the length of the key prefix of a message.
func prefixLen(ns, pod, container string, seq, length int) int {
	return len(KeyPrefix) + len(ns) + len(pod) + len(container) + 2 +
		len(" seq=") + digits(seq) + len(" len=") + digits(length) + 1
}

// fitLength returns the smallest length >= want that holds the key prefix.
func fitLength(ns, pod, container string, seq, want int) int {
	l := want
	for {
		p := prefixLen(ns, pod, container, seq, l)
		if l >= p {
			return l
		}
		l = p
	}
}

func digits(n int) int {
	d := 1
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}

// textWords are the text filler's vocabulary: what application logs are made of.
var textWords = []string{
	"level=info", "level=info", "level=info", "level=debug", "level=warn", "level=error",
	`msg="request completed"`, `msg="request started"`, `msg="cache miss"`, `msg="retrying"`,
	`msg="connection reset by peer"`, `msg="slow query"`, "method=GET", "method=GET", "method=POST",
	"method=PUT", "path=/api/v1/orders", "path=/api/v1/users", "path=/api/v1/cart/items",
	"path=/healthz", "path=/metrics", "status=200", "status=200", "status=201", "status=404",
	"status=500", "status=503", "component=http", "component=db", "component=cache",
	"upstream=payments.svc.cluster.local:8080", "upstream=inventory.svc.cluster.local:9090",
	`query="SELECT id, total FROM orders WHERE customer_id = $1"`, "cache=hit", "cache=miss",
	`user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"`, `user_agent="curl/8.5.0"`,
	"proto=HTTP/1.1", "proto=HTTP/2.0", "tls=true", "region=eu-west-1", "zone=eu-west-1b",
	"GET", "POST", "served", "in", "ms", "for", "user", "from", "with", "error:", "timeout",
	"context deadline exceeded", "EOF", "ok", "done", "started", "stopping", "worker",
}

// textNumbered are keys whose values are random numbers or ids.
var textNumbered = []string{"duration_ms=", "bytes=", "user_id=", "order_id=", "rows=", "attempt=", "latency_us=", "trace_id=", "span_id=", "remote_addr=10.42."}

// fillText fills out[p:] with log-like text drawn with next.
func fillText(out []byte, p int, next func() byte) {
	const hex = "0123456789abcdef"
	for p < len(out) {
		var tok []byte
		var buf [48]byte
		if r := next(); r < 80 {
			k := textNumbered[int(next())%len(textNumbered)]
			tok = append(buf[:0], k...)
			n := 1 + int(next())%7
			if k == "trace_id=" || k == "span_id=" {
				n = 16
				for range n {
					tok = append(tok, hex[next()&15])
				}
			} else {
				for range n {
					tok = append(tok, '0'+next()%10)
				}
			}
		} else {
			tok = append(buf[:0], textWords[int(next())%len(textWords)]...)
		}
		if p+len(tok)+1 > len(out) {
			for ; p < len(out); p++ {
				out[p] = 'a' + next()%26
			}
			return
		}
		p += copy(out[p:], tok)
		out[p] = ' '
		p++
	}
}
