package httptransport

import (
	"context"
	"errors"
	"io"
	"time"
)

// errBodyTooLarge is returned by bodyBuf.read for a body longer than its
// limit.
var errBodyTooLarge = errors.New("body too large")

// keptBodyBuffer is the largest buffer a body slot keeps between requests:
// orders are small, and a large body's buffer is left to the garbage
// collector rather than held for good.
const keptBodyBuffer = 64 << 10

// bodySlots bounds how many request bodies a handler reads at once, each
// into a buffer of its own that is reused from one request to the next.
type bodySlots struct {
	free chan *bodyBuf
}

// bodyBuf is one slot: the buffer a body is read into.
type bodyBuf struct {
	b []byte
}

func newBodySlots(n int) *bodySlots {
	s := &bodySlots{free: make(chan *bodyBuf, n)}
	for range n {
		s.free <- &bodyBuf{}
	}
	return s
}

// acquire takes a slot, waiting up to wait for one; false if none came in
// time or ctx ended.
func (s *bodySlots) acquire(ctx context.Context, wait time.Duration) (*bodyBuf, bool) {
	select {
	case b := <-s.free:
		return b, true
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case b := <-s.free:
		return b, true
	case <-t.C:
	case <-ctx.Done():
	}
	return nil, false
}

func (s *bodySlots) release(b *bodyBuf) {
	if cap(b.b) > keptBodyBuffer {
		b.b = nil
	}
	b.b = b.b[:0]
	s.free <- b
}

// read reads r, whose length is n (-1 if unknown), into the slot's buffer,
// up to limit bytes; errBodyTooLarge beyond. The buffer grows with what
// arrives, not with what n promises, so a client that announces a large
// body and sends little costs little.
func (b *bodyBuf) read(r io.Reader, n, limit int64) ([]byte, error) {
	buf := b.b[:0]
	if n > 0 && n <= keptBodyBuffer && int64(cap(buf)) < n {
		buf = make([]byte, 0, n)
	}
	if cap(buf) == 0 {
		buf = make([]byte, 0, 512)
	}
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				b.b = buf
				return nil, errBodyTooLarge
			}
			buf = append(buf, 0)[:len(buf)] // grow
		}
		room := cap(buf) - len(buf)
		if over := limit + 1 - int64(len(buf)); int64(room) > over {
			room = int(over)
		}
		m, err := r.Read(buf[len(buf) : len(buf)+room])
		buf = buf[:len(buf)+m]
		if int64(len(buf)) > limit {
			b.b = buf
			return nil, errBodyTooLarge
		}
		if err == io.EOF {
			b.b = buf
			return buf, nil
		}
		if err != nil {
			b.b = buf
			return nil, err
		}
	}
}
