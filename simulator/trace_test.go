package simulator

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestTracerAgainstReference writes lines of any length, across many
// batches, and checks the tracer against the plain reading of its job: the
// sum is hash/fnv's FNV-64a of every line in order, the writer receives
// each line as it ends, and last gives the last lines, at any point of the
// run and with a tail longer than a batch holds.
func TestTracerAgainstReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		tail := rapid.IntRange(1, 3000).Draw(t, "tail")
		var out bytes.Buffer
		tr := newTracer(&out, tail)
		var all []string
		ref := fnv.New64a()
		n := rapid.IntRange(0, 6000).Draw(t, "lines")
		long := rapid.IntRange(1, 200).Draw(t, "long")
		for i := range n {
			at := time.Duration(i) * time.Millisecond
			b := tr.start(at)
			text := " step " + strings.Repeat("x", i%long+i%3)
			b = append(b, text...)
			tr.end(b)
			line := string(appendSeconds(nil, at)) + text
			all = append(all, line)
			ref.Write([]byte(line + "\n"))
			if i%997 == 0 || i == n-1 {
				if got, want := tr.sum(), strconv.FormatUint(ref.Sum64(), 16); got != want {
					t.Fatalf("after %d lines the sum is %s, want %s", i+1, got, want)
				}
				want := all[max(0, len(all)-tail):]
				if got := tr.last(); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("after %d lines last gives %d lines ending %q, want %d ending %q", i+1, len(got), got[len(got)-1], len(want), want[len(want)-1])
				}
			}
		}
		if got, want := tr.sum(), strconv.FormatUint(ref.Sum64(), 16); got != want {
			t.Fatalf("the sum is %s, want %s", got, want)
		}
		if tr.lines != uint64(n) {
			t.Fatalf("%d lines counted, want %d", tr.lines, n)
		}
		want := strings.Join(all, "\n")
		if n > 0 {
			want += "\n"
		}
		if out.String() != want {
			t.Fatalf("the writer received %d bytes, want %d", out.Len(), len(want))
		}
	})
}

// TestAppendNumbersAgainstStrconv checks the trace's number formatting
// against strconv and time over the values a run writes and their edges.
func TestAppendNumbersAgainstStrconv(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		u := rapid.OneOf(rapid.Uint64Range(0, 1e6), rapid.Uint64()).Draw(t, "u")
		if got, want := string(appendUint(nil, u)), strconv.FormatUint(u, 10); got != want {
			t.Fatalf("appendUint(%d) = %q, want %q", u, got, want)
		}
		d := time.Duration(rapid.OneOf(rapid.Int64Range(-3e12, 3e12), rapid.Int64()).Draw(t, "d"))
		sign, abs := "", uint64(d)
		if d < 0 {
			sign, abs = "-", -uint64(d)
		}
		want := fmt.Sprintf("%s%d.%09d", sign, abs/1e9, abs%1e9)
		if got := string(appendSeconds([]byte("x"), d)); got != "x"+want {
			t.Fatalf("appendSeconds(%d) = %q, want %q", int64(d), got, "x"+want)
		}
	})
}

// BenchmarkTraceLine writes the trace's most frequent line, a probe's
// delivery, as a run writes it.
func BenchmarkTraceLine(b *testing.B) {
	tr := newTracer(nil, DefaultTraceTail)
	at := 8*time.Second + 887975*time.Microsecond
	for i := range b.N {
		l := tr.start(at + time.Duration(i)*time.Microsecond)
		l = append(l, " exec #"...)
		l = appendUint(l, uint64(47930+i))
		l = append(l, " probe sb-100"...)
		tr.end(l)
	}
}
