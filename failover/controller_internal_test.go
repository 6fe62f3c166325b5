package failover

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/benbjohnson/clock"
)

// TestCallsWithOneDeadlineShareAContext: the calls started with the same
// deadline share one context, which ends at that deadline or once the last
// of them and the dispatcher have let go of it, never before.
func TestCallsWithOneDeadlineShareAContext(t *testing.T) {
	mock := clock.NewMock()
	c := &Controller{clock: mock}
	parent, stop := context.WithCancel(context.Background())
	defer stop()
	at := mock.Now().Add(time.Second)

	a, releaseA := c.callContext(parent, at)
	b, releaseB := c.callContext(parent, at)
	if a != b {
		t.Fatal("two calls with the same deadline got two contexts")
	}
	if d, ok := a.Deadline(); !ok || !d.Equal(at) {
		t.Fatalf("deadline %v %v, want %v", d, ok, at)
	}
	releaseA()
	if a.Err() != nil {
		t.Fatal("the context ended while a call still used it")
	}
	releaseB()
	if a.Err() != nil {
		t.Fatal("the context ended while the dispatcher may still hand it out")
	}

	later, releaseLater := c.callContext(parent, at.Add(time.Second))
	if later == a {
		t.Fatal("a call with another deadline got the same context")
	}
	if !errors.Is(a.Err(), context.Canceled) {
		t.Fatalf("the first context is %v once nobody holds it; want canceled", a.Err())
	}
	mock.Add(2 * time.Second)
	if !errors.Is(later.Err(), context.DeadlineExceeded) {
		t.Fatalf("past its deadline the context is %v; want DeadlineExceeded", later.Err())
	}
	releaseLater()

	none, releaseNone := c.callContext(parent, time.Time{})
	if _, ok := none.Deadline(); ok || none == later {
		t.Fatal("a call without a deadline got a deadline or a shared context")
	}
	releaseNone()
	if !errors.Is(none.Err(), context.Canceled) {
		t.Fatalf("a call's own context is %v once released; want canceled", none.Err())
	}
}
