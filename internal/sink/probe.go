package sink

import (
	"context"
	"errors"
	"net"
	"time"
)

// dialAddr returns the remote address of the failed dial in err's chain ("" when
// err is not a failed dial, or one that never got an address, as a DNS failure).
// The sinks' clients (net/http, franz-go) wrap the *net.OpError of a dial in the
// errors they return, and the sinks wrap those.
func dialAddr(err error) string {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" || op.Addr == nil {
		return ""
	}
	if op.Addr.Network() != "tcp" {
		return ""
	}
	return op.Addr.String()
}

// probe reports whether a TCP connection to addr succeeds within timeout. The
// connection is closed at once: nothing is sent.
func probe(ctx context.Context, addr string, timeout time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}
