package simulator

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestEventQueueOrder pushes events at random times, popping now and then,
// and checks that they come out in (at, seq) order, as a sorted list of
// the pending ones gives them: the world's behaviour is its queue's order.
func TestEventQueueOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var q eventQueue
	var pending []event // the reference, kept in order
	var seq uint64
	now := time.Duration(0)
	for step := range 50000 {
		if r.IntN(3) > 0 || len(pending) == 0 {
			seq++
			// Many events share an instant (seq orders them), most are near.
			e := event{at: now + time.Duration(r.IntN(50))*time.Millisecond, seq: seq, a: int(seq)}
			q.push(e)
			i, _ := slices.BinarySearchFunc(pending, e, func(a, b event) int {
				if a.at != b.at {
					return int(a.at - b.at)
				}
				return int(a.seq) - int(b.seq)
			})
			pending = slices.Insert(pending, i, e)
			continue
		}
		if got := q.peek(); got != pending[0].at {
			t.Fatalf("step %d: peek %v, want %v", step, got, pending[0].at)
		}
		got, want := q.pop(), pending[0]
		pending = pending[1:]
		if got.at != want.at || got.seq != want.seq || got.a != want.a {
			t.Fatalf("step %d: popped (%v, %d), want (%v, %d)", step, got.at, got.seq, want.at, want.seq)
		}
		now = got.at
	}
	if q.len() != len(pending) {
		t.Fatalf("%d events left, want %d", q.len(), len(pending))
	}
}
