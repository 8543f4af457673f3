// Package sink delivers encoded records to their destinations.
//
// A Sink consumes whole batches of pipeline chunks. A Runner feeds one sink from one
// input channel: it gathers chunks into batches, calls Consume until it succeeds
// (retrying with backoff for as long as it takes) and only then acknowledges the
// chunks, so a file's checkpoint never moves past a record the sink has not durably
// accepted. Records may be delivered more than once (after a failed Consume the whole
// batch is retried); they are never dropped.
package sink

import (
	"context"
	"errors"

	"github.com/logferry/logferry/internal/pipeline"
)

// Sink is a destination.
type Sink interface {
	// Name identifies the sink in logs and metrics.
	Name() string
	// Consume returns nil only once every record in b is durably accepted (for the
	// file sink: written, and fsynced when configured). It must not keep b or any
	// chunk Data after it returns. A returned error means nothing in b may be assumed
	// accepted; the caller retries the whole batch (records may then be duplicated,
	// never lost).
	Consume(ctx context.Context, b *pipeline.Batch) error
	// Close flushes and releases resources; it is safe without any Consume and
	// idempotent.
	Close(ctx context.Context) error
}

// Counts are what a sink did with records besides delivering them as they were.
// Every record counted here is also acknowledged (it is not lost: it is in the
// dead-letter file, or delivered in a changed form).
type Counts struct {
	// DeadLettered records were refused for good by the destination and written
	// to the dead-letter file.
	DeadLettered uint64
	// Truncated records were too large for the destination and were sent cut, with
	// a marker.
	Truncated uint64
	// Fallback records lacked a field their destination template (topic, index)
	// needs and went to the fallback destination.
	Fallback uint64
}

// Counter is implemented by sinks that keep Counts; the Runner reports them in its
// Stats. Counts must be safe for concurrent use.
type Counter interface {
	Counts() Counts
}

// ErrClosed is returned (marked permanent) by Consume after Close.
var ErrClosed = errors.New("sink: closed")

// permanentError marks an error that retrying cannot fix.
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// Permanent marks err as one that retrying cannot fix. The Runner still retries it
// (it never drops data on its own) but logs it at error level. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	if IsPermanent(err) {
		return err
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or any error it wraps, was marked by Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
