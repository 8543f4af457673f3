package testenv

import (
	"net"
	"testing"
)

// ClosedAddr returns a local TCP address (127.0.0.1:port) that nothing listens on: a
// port that was just free. A test can dial it to get "connection refused", and
// listen on it later to bring the destination back.
func ClosedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}
