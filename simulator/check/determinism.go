package check

import (
	"bytes"
	"fmt"
)

// Invariant 9, determinism: the same seed gives the same event trace
// hash. A run cannot check it alone; the simulator's tests run a seed
// twice and compare (TestDeterminism), and pin the trace hashes of a set
// of worlds and every shipped scenario (TestPinnedTraces).

// SameTrace compares the traces of two runs of one Config, byte for byte,
// and describes where they part.
func SameTrace(a, b []byte) error {
	if bytes.Equal(a, b) {
		return nil
	}
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	snippet := func(t []byte) string { return string(t[max(0, i-80):min(len(t), i+80)]) }
	return fmt.Errorf("invariant 9: the traces part at byte %d: %q vs %q", i, snippet(a), snippet(b))
}
