package simulator

import (
	"time"
)

// evKind says what an event does.
type evKind uint8

const (
	evTick     evKind = iota + 1 // the center ticks; time-bounded invariants are evaluated
	evToServer                   // a message from the center reaches a server
	evToCenter                   // a reply reaches the center
	evStream                     // a server's camera footage starts flowing
	evAction                     // a scripted, nemesis or reactive action
	evUnpause                    // a paused server answers again
	evCenterUp                   // the center (several: center a) restarts from its store
	evThaw                       // center a wakes from a freeze (several centers)
	evFinish                     // the end of the run
)

// event is one entry of the queue, ordered by (at, seq).
type event struct {
	at   time.Duration
	seq  uint64
	kind evKind
	a    int // server index, footage kind
	gen  uint64
	msg  *message
	act  *Action
}

// eventQueue orders the world's events by (at, seq). seq is unique, so
// the order is total and no two runs can pop equal events differently.
//
// It is a calendar: nearly every event falls within a second of now (a
// message's latency, the next tick), so those go to a ring of buckets a
// millisecond wide, each kept in order, and the rest (actions planned far
// ahead, a long outage's end) to a heap. A pop takes the first event of
// the first bucket that holds one, or the heap's first when that comes
// before. Between two pops the world's handling of an event pushes the
// queue out of the nearer caches; a pop from a bucket touches a line or
// two where one from a heap of a thousand events touched ten.
type eventQueue struct {
	ring []bucket // ring[b&ringMask] holds the events of bucket b
	// base is the bucket of the last event popped: every pending event's
	// bucket is at least base, so the ring's buckets from base on are
	// never two at once. cursor (>= base) is where the first event of the
	// ring may be: the buckets between base and cursor are empty.
	base, cursor int64
	inRing       int
	far          eventHeap
}

const (
	bucketShift = 20 // a bucket spans 2^20 ns, about a millisecond
	ringSize    = 1024
	ringMask    = ringSize - 1
)

// bucket holds its events in (at, seq) order from head on.
type bucket struct {
	ev   []event
	head int
}

func bucketOf(at time.Duration) int64 { return int64(at) >> bucketShift }

func before(a, b *event) bool { return a.at < b.at || a.at == b.at && a.seq < b.seq }

func (q *eventQueue) len() int { return q.inRing + len(q.far.h) }

func (q *eventQueue) push(e event) {
	b := max(bucketOf(e.at), q.base)
	if b >= q.base+ringSize {
		q.far.push(e)
		return
	}
	if q.ring == nil {
		q.ring = make([]bucket, ringSize)
	}
	bk := &q.ring[b&ringMask]
	// Insert in order, from the end: a later event nearly always goes
	// last.
	i := len(bk.ev)
	bk.ev = append(bk.ev, e)
	for i > bk.head && before(&e, &bk.ev[i-1]) {
		i--
	}
	if i < len(bk.ev)-1 {
		copy(bk.ev[i+1:], bk.ev[i:])
		bk.ev[i] = e
	}
	q.inRing++
	q.cursor = min(q.cursor, b)
}

// first returns the ring's first event (nil when the ring is empty) and
// whether the heap's comes before it.
func (q *eventQueue) first() (*event, bool) {
	var r *event
	if q.inRing > 0 {
		for {
			bk := &q.ring[q.cursor&ringMask]
			if bk.head < len(bk.ev) {
				r = &bk.ev[bk.head]
				break
			}
			q.cursor++
		}
	}
	return r, len(q.far.h) > 0 && (r == nil || before(q.far.top(), r))
}

// peek returns the first event's time.
func (q *eventQueue) peek() time.Duration {
	if r, far := q.first(); !far {
		return r.at
	}
	return q.far.top().at
}

func (q *eventQueue) pop() event {
	var e event
	if _, far := q.first(); far {
		e = q.far.pop()
	} else {
		bk := &q.ring[q.cursor&ringMask]
		e = bk.ev[bk.head]
		bk.ev[bk.head] = event{}
		bk.head++
		if bk.head == len(bk.ev) {
			bk.ev, bk.head = bk.ev[:0], 0
		}
		q.inRing--
	}
	q.base = max(q.base, bucketOf(e.at))
	q.cursor = max(q.cursor, q.base)
	return e
}

// eventHeap is a four-ary min-heap on (at, seq), for the events beyond
// the ring. It moves small keys; the events stay in slots until popped.
type eventHeap struct {
	h     []qkey
	slots []event
	free  []int32
}

// qkey is an event's place in the heap: its order and its slot.
type qkey struct {
	at   time.Duration
	seq  uint64
	slot int32
}

func less(a, b *qkey) bool { return a.at < b.at || a.at == b.at && a.seq < b.seq }

// arity is the number of children of a node of the heap.
const arity = 4

func (q *eventHeap) top() *event { return &q.slots[q.h[0].slot] }

func (q *eventHeap) push(e event) {
	var slot int32
	if n := len(q.free); n > 0 {
		slot = q.free[n-1]
		q.free = q.free[:n-1]
		q.slots[slot] = e
	} else {
		slot = int32(len(q.slots))
		q.slots = append(q.slots, e)
	}
	k := qkey{at: e.at, seq: e.seq, slot: slot}
	i := len(q.h)
	q.h = append(q.h, k)
	for i > 0 {
		p := (i - 1) / arity
		if !less(&k, &q.h[p]) {
			break
		}
		q.h[i] = q.h[p]
		i = p
	}
	q.h[i] = k
}

func (q *eventHeap) pop() event {
	top := q.h[0]
	n := len(q.h) - 1
	last := q.h[n]
	q.h = q.h[:n]
	if n > 0 {
		// Move the hole at the root down to a leaf, along the smallest
		// child, then sift the last key up from there: the last key
		// comes from the bottom and nearly always belongs near it, so
		// this spares the comparisons with it on the way down (Floyd's
		// bottom-up heapsort).
		h := q.h
		i := 0
		for {
			c := arity*i + 1
			if c >= n {
				break
			}
			m := c
			for j := c + 1; j < min(c+arity, n); j++ {
				if less(&h[j], &h[m]) {
					m = j
				}
			}
			h[i] = h[m]
			i = m
		}
		for i > 0 {
			p := (i - 1) / arity
			if !less(&last, &h[p]) {
				break
			}
			h[i] = h[p]
			i = p
		}
		h[i] = last
	}
	e := q.slots[top.slot]
	q.slots[top.slot] = event{}
	q.free = append(q.free, top.slot)
	return e
}

// fmtDur renders a simulated offset for messages: "12.345s".
func fmtDur(d time.Duration) string {
	return d.Round(time.Millisecond).String()
}
