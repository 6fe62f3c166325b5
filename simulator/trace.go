package simulator

import (
	"io"
	"strconv"
	"time"
)

// tracer hashes the canonical line of every event (FNV-64a), keeps the last
// few for violation reports and copies every line to an optional writer.
type tracer struct {
	h     uint64 // FNV-64a of every line so far
	out   io.Writer
	tail  [][]byte
	next  int
	full  bool
	lines uint64
	buf   []byte
}

func newTracer(out io.Writer, tail int) *tracer {
	return &tracer{h: fnvOffset, out: out, tail: make([][]byte, tail)}
}

// start begins a line at simulated time at.
func (t *tracer) start(at time.Duration) []byte {
	t.buf = appendSeconds(t.buf[:0], at)
	return t.buf
}

// end finishes the line in b, the one start began: the tracer keeps its
// memory, and the caller lets it go.
func (t *tracer) end(b []byte) {
	b = append(b, '\n')
	t.buf = b
	h := t.h
	for _, c := range b {
		h ^= uint64(c)
		h *= fnvPrime
	}
	t.h = h
	t.lines++
	if t.out != nil {
		t.out.Write(b)
	}
	if len(t.tail) > 0 {
		// The line joins the tail as it is, and the memory of the line
		// it pushes out takes the next: no line is copied.
		t.tail[t.next], t.buf = b[:len(b)-1], t.tail[t.next][:0]
		t.next++
		if t.next == len(t.tail) {
			t.next, t.full = 0, true
		}
	}
}

// last returns the kept lines, oldest first.
func (t *tracer) last() []string {
	var out []string
	if t.full {
		for _, l := range t.tail[t.next:] {
			out = append(out, string(l))
		}
	}
	for _, l := range t.tail[:t.next] {
		out = append(out, string(l))
	}
	return out
}

// FNV-64a (hash/fnv's New64a), inlined: the trace hashes every line.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// sum returns the hash of every line so far, in hexadecimal.
func (t *tracer) sum() string {
	return strconv.FormatUint(t.h, 16)
}

// appendSeconds appends d as seconds with nine decimals.
func appendSeconds(b []byte, d time.Duration) []byte {
	abs := uint64(d)
	if d < 0 {
		b = append(b, '-')
		abs = -abs // the most negative Duration too
	}
	b = strconv.AppendUint(b, abs/uint64(time.Second), 10)
	b = append(b, '.')
	frac := abs % uint64(time.Second)
	var digits [9]byte
	// Two digits at a time, from a table: every line of the trace starts
	// with its instant.
	for i := 7; i > 0; i -= 2 {
		q := frac / 100
		r := frac - q*100
		digits[i], digits[i+1] = pairs[2*r], pairs[2*r+1]
		frac = q
	}
	digits[0] = byte('0' + frac)
	return append(b, digits[:]...)
}

// pairs are the two digits of 00 to 99.
const pairs = "0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849" +
	"5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"

func appendUint(b []byte, u uint64) []byte { return strconv.AppendUint(b, u, 10) }
