package failover

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestMergeSorted checks the in-place merge against sorting the union.
func TestMergeSorted(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		var all []int
		for v := range r.IntN(40) {
			all = append(all, v*3+r.IntN(3))
		}
		r.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		k := r.IntN(len(all) + 1)
		a, b := slices.Sorted(slices.Values(all[:k])), slices.Sorted(slices.Values(all[k:]))
		a = slices.Clip(a)
		if r.IntN(2) == 0 {
			a = slices.Grow(a, r.IntN(8))
		}
		got := mergeSorted(a, b, cmp.Compare[int])
		if want := slices.Sorted(slices.Values(all)); !slices.Equal(got, want) {
			t.Fatalf("mergeSorted(%v, %v) = %v, want %v", all[:k], b, got, want)
		}
	}
}
