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
			// Many events share an instant (seq orders them), most are
			// near; some lie beyond the ring of the next second, some
			// minutes ahead, and a few (which the world never asks for)
			// before the last one popped.
			var d time.Duration
			switch x := r.IntN(100); {
			case x < 70:
				d = time.Duration(r.IntN(50)) * time.Millisecond
			case x < 88:
				d = time.Duration(r.IntN(3000)) * time.Millisecond
			case x < 98:
				d = time.Duration(r.IntN(600)) * time.Second
			default:
				d = -time.Duration(r.IntN(5)) * time.Millisecond
			}
			e := event{at: max(0, now+d), seq: seq, a: int(seq)}
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
	// The rest come out in order too, across minutes where the ring
	// holds nothing.
	for _, want := range pending {
		if got := q.pop(); got.at != want.at || got.seq != want.seq {
			t.Fatalf("draining: popped (%v, %d), want (%v, %d)", got.at, got.seq, want.at, want.seq)
		}
	}
	if q.len() != 0 {
		t.Fatalf("%d events left after draining", q.len())
	}
}
