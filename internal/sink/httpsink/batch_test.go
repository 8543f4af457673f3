package httpsink

import (
	"errors"
	"slices"
	"testing"

	"github.com/logferry/logferry/internal/pipeline"
)

func batchOf(chunks ...string) *pipeline.Batch {
	b := &pipeline.Batch{}
	for _, c := range chunks {
		b.Add(&pipeline.Chunk{Data: []byte(c)})
	}
	return b
}

func TestSplit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		chunks []string
		want   []string
	}{
		{"lines", []string{"a\nbb\nccc\n"}, []string{"a", "bb", "ccc"}},
		{"no final newline", []string{"a\nbb"}, []string{"a", "bb"}},
		{"empty lines skipped", []string{"\na\n\n\nb\n\n"}, []string{"a", "b"}},
		{"chunks", []string{"a\n", "", "b\nc\n"}, []string{"a", "b", "c"}},
		{"nothing", []string{"", "\n"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := batchOf(tc.chunks...)
			recs := Split([]Rec{{Chunk: 9}}, b)[1:] // appends
			var got []string
			for _, r := range recs {
				if r.Group != 0 {
					t.Errorf("group %d", r.Group)
				}
				got = append(got, string(r.Data(b)))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// TestRetry: the kept state is given back only for the very same batch, once.
func TestRetry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reuse func(b *pipeline.Batch) *pipeline.Batch // the batch of the next Consume
		same  bool
	}{
		{"same batch", func(b *pipeline.Batch) *pipeline.Batch { return b }, true},
		{"other batch, same bytes", func(*pipeline.Batch) *pipeline.Batch { return batchOf("a\nb\n", "c\n") }, false},
		{"other chunk, same bytes", func(b *pipeline.Batch) *pipeline.Batch {
			b.Chunks[1] = &pipeline.Chunk{Data: []byte("c\n")}
			return b
		}, false},
		{"chunk grew", func(b *pipeline.Batch) *pipeline.Batch {
			b.Chunks[1].Data = append(b.Chunks[1].Data, "d\n"...)
			return b
		}, false},
		{"chunk recycled, same size", func(b *pipeline.Batch) *pipeline.Batch {
			copy(b.Chunks[0].Data, "x\ny\n")
			return b
		}, false},
		{"chunk added", func(b *pipeline.Batch) *pipeline.Batch {
			b.Add(&pipeline.Chunk{Data: []byte("d\n")})
			return b
		}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Retry
			b := batchOf("a\nb\n", "c\n")
			recs := Split(nil, b)
			var dead DeadLines
			dead.AddLine([]byte(`{"n":1}`))
			r.Keep(b, recs[1:], dead)
			recs[1].Start = 99 // Keep copied the pending records

			pending, gotDead, ok := r.Take(tc.reuse(b))
			if ok != tc.same {
				t.Fatalf("ok %v", ok)
			}
			if !ok {
				if pending != nil || gotDead.Len() != 0 {
					t.Fatalf("pending %v, %d dead lines", pending, gotDead.Len())
				}
				return
			}
			if len(pending) != 2 || string(pending[0].Data(b)) != "b" || string(pending[1].Data(b)) != "c" || gotDead.Len() != 1 {
				t.Fatalf("pending %v, %d dead lines", pending, gotDead.Len())
			}
			if _, _, ok := r.Take(b); ok {
				t.Fatal("taken twice")
			}
		})
	}
	t.Run("clear", func(t *testing.T) {
		var r Retry
		b := batchOf("a\n")
		r.Keep(b, Split(nil, b), DeadLines{})
		r.Clear()
		if _, _, ok := r.Take(b); ok {
			t.Fatal("kept after Clear")
		}
	})
}

func TestStatusError(t *testing.T) {
	var err error = &StatusError{Status: 503, Msg: "busy"}
	var se *StatusError
	if err.Error() != "HTTP 503: busy" || !errors.As(errors.Join(err), &se) || se.Status != 503 {
		t.Fatalf("%v", err)
	}
}
