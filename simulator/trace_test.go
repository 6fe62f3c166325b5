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
