package kafka

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"

	"github.com/logferry/logferry/internal/record"
)

// truncate returns a record of at most limit bytes standing for rec, which is
// longer. It is a new, valid JSON object with the identifying fields of rec
// (@timestamp, stream, kubernetes, event, log.file, log.offset; each only if it
// still leaves room for the message) and the head of its message, and it says
// what happened: log.flags is ["truncated"] and log.original_bytes is len(rec).
// A record without a string message keeps the head of its raw text as message.
func truncate(rec []byte, limit int) []byte {
	out := make([]byte, 0, limit)
	out = append(out, '{')
	appendField := func(name string, raw []byte) {
		if raw == nil || len(out)+len(name)+len(raw)+4 > limit/2 {
			return
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, name...)
		out = append(out, '"', ':')
		out = append(out, raw...)
	}
	appendField("@timestamp", record.Lookup(rec, "@timestamp"))
	appendField("stream", record.Lookup(rec, "stream"))
	appendField("kubernetes", record.Lookup(rec, "kubernetes"))
	appendField("event", record.Lookup(rec, "event"))
	if len(out) > 1 {
		out = append(out, ',')
	}
	out = append(out, `"log":{`...)
	n := len(out)
	if f := record.Lookup(rec, "log.file"); f != nil && len(out)+len(f)+8 <= limit/2 {
		out = append(out, `"file":`...)
		out = append(out, f...)
	}
	if o := record.Lookup(rec, "log.offset"); o != nil && len(o) < 32 {
		if len(out) > n {
			out = append(out, ',')
		}
		out = append(out, `"offset":`...)
		out = append(out, o...)
	}
	if len(out) > n {
		out = append(out, ',')
	}
	out = append(out, `"flags":["truncated"],"original_bytes":`...)
	out = strconv.AppendInt(out, int64(len(rec)), 10)
	out = append(out, `},"message":`...)

	msg, ok := record.Scalar(record.Lookup(rec, "message"))
	if raw := record.Lookup(rec, "message"); !ok || raw[0] != '"' {
		msg = rec
	}
	room := limit - len(out) - 1 // the closing brace
	out = append(out, quoteHead(msg, room)...)
	return append(out, '}')
}

// quoteHead returns the JSON string of the longest head of s (cut at a rune
// boundary) whose encoding fits in room bytes.
func quoteHead(s []byte, room int) []byte {
	if room < 2 {
		room = 2
	}
	n := min(len(s), room-2)
	for {
		for n > 0 && n < len(s) && !utf8.RuneStart(s[n]) {
			n--
		}
		q, _ := json.Marshal(string(s[:n]))
		if len(q) <= room || n == 0 {
			return q
		}
		// Escapes made it longer: cut in proportion (at least one byte) and retry.
		n = min(n-1, n*(room-2)/(len(q)-2))
	}
}
