package failover

import (
	"testing"

	"pgregory.net/rapid"
)

// TestOpIndexAgainstMap runs sets, gets and deletes on an opIndex and on a
// plain map, with IDs that share the table's slots (apart by a multiple of
// its length) as well as IDs in order: both must hold the same.
func TestOpIndexAgainstMap(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var x opIndex
		ref := map[uint64]*op{}
		ops := make([]*op, 4)
		for i := range ops {
			ops[i] = &op{}
		}
		id := rapid.Custom(func(t *rapid.T) uint64 {
			return rapid.Uint64Range(0, 3).Draw(t, "slot") + rapid.Uint64Range(0, 3).Draw(t, "lap")*opSlots
		})
		next := uint64(1)
		for range rapid.IntRange(0, 400).Draw(t, "steps") {
			k := id.Draw(t, "id")
			if rapid.Bool().Draw(t, "new") {
				k, next = next, next+1 // the next command, as the Machine numbers them
			}
			switch rapid.IntRange(0, 2).Draw(t, "op") {
			case 0:
				o := ops[rapid.IntRange(0, len(ops)-1).Draw(t, "which")]
				x.set(k, o)
				ref[k] = o
			case 1:
				x.delete(k)
				delete(ref, k)
			}
			got, ok := x.get(k)
			if want, wantOK := ref[k]; got != want || ok != wantOK {
				t.Fatalf("get(%d) = %p, %v; the map holds %p, %v", k, got, ok, want, wantOK)
			}
			n := len(x.more)
			for _, o := range x.ops {
				if o != nil {
					n++
				}
			}
			if n != len(ref) {
				t.Fatalf("the index holds %d IDs, the map %d", n, len(ref))
			}
			for id, o := range ref {
				if got, ok := x.get(id); !ok || got != o {
					t.Fatalf("get(%d) = %p, %v; want %p", id, got, ok, o)
				}
			}
		}
	})
}
