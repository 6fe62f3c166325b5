package failover_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
)

// orderLog records the orders that reach the agents, with their terms.
type orderLog struct {
	mu     sync.Mutex
	orders []transport.Call
}

func (l *orderLog) hook(_ context.Context, c transport.Call) error {
	if c.Order != nil {
		l.mu.Lock()
		l.orders = append(l.orders, c)
		l.mu.Unlock()
	}
	return nil
}

func (l *orderLog) all() []transport.Call {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]transport.Call(nil), l.orders...)
}

func orderTerm(c transport.Call) uint64 {
	switch o := c.Order.(type) {
	case transport.TakeoverOrder:
		return o.Term
	case transport.ReleaseOrder:
		return o.Term
	case transport.StandDownOrder:
		return o.Term
	case transport.ResumeOrder:
		return o.Term
	}
	panic(fmt.Sprintf("not an order: %T", c.Order))
}

// termSource is a center's term as an election would hand it out.
type termSource struct {
	term    atomic.Uint64
	revoked atomic.Bool
}

var errLostLeadership = errors.New("lost the leadership")

func (s *termSource) get() (uint64, error) {
	if s.revoked.Load() {
		return 0, errLostLeadership
	}
	return s.term.Load(), nil
}

func TestControllerStampsItsTermOnEveryOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, &failover.MemoryStore{})
		var src termSource
		src.term.Store(7)
		r.edit = func(c *failover.ControllerConfig) { c.Term = src.get }
		var log orderLog
		for id := range r.agents {
			r.tr.SetHook(id, log.hook)
		}
		r.start()
		defer r.stop()
		r.join()

		// Abnormal but reachable, so that it is told to stand down.
		r.agents["rec-1"].SetHealthy(false)
		if _, ok := waitFor(3*time.Second, func() bool { return r.covering("sb-1") == "rec-1" }); !ok {
			t.Fatalf("no takeover; events: %v", r.allEvents())
		}
		r.agents["rec-1"].SetHealthy(true)
		if _, ok := waitFor(40*time.Second, func() bool {
			return r.covering("sb-1") == "" && r.agents["rec-1"].Recording()
		}); !ok {
			t.Fatalf("no failback; events: %v", r.allEvents())
		}
		kinds := map[transport.Method]int{}
		for _, c := range log.all() {
			kinds[c.Method]++
			if got := orderTerm(c); got != 7 {
				t.Errorf("%s to %s carried term %d, want 7", c.Method, c.Server, got)
			}
		}
		for _, m := range []transport.Method{transport.MethodTakeover, transport.MethodStandDown, transport.MethodResume, transport.MethodRelease} {
			if kinds[m] == 0 {
				t.Errorf("no %s order seen; orders by kind: %v", m, kinds)
			}
		}
		for _, id := range []nvrha.ServerID{"rec-1", "sb-1"} {
			if got := r.agents[id].Term(); got != 7 {
				t.Errorf("%s accepted term %d, want 7", id, got)
			}
		}
	})
}

func TestControllerStopsOrderingOnceItsTermIsRevoked(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, &failover.MemoryStore{})
		var src termSource
		src.term.Store(3)
		r.edit = func(c *failover.ControllerConfig) { c.Term = src.get }
		// sb-1 never answers a takeover: the Controller retries it, so an
		// order is always about to go out again.
		var (
			mu       sync.Mutex
			attempts int
			late     []transport.Call
		)
		revokedAt := atomic.Bool{}
		r.tr.SetHook("sb-1", onlyMethod(transport.MethodTakeover, func(ctx context.Context, c transport.Call) error {
			mu.Lock()
			defer mu.Unlock()
			attempts++
			if revokedAt.Load() {
				late = append(late, c)
			}
			return transport.ErrUnreachable
		}))
		var log orderLog
		for _, id := range []nvrha.ServerID{"rec-1", "rec-2", "sb-2"} {
			r.tr.SetHook(id, func(ctx context.Context, c transport.Call) error {
				if revokedAt.Load() {
					return log.hook(ctx, c)
				}
				return nil
			})
		}
		r.start()
		r.join()
		r.agents["rec-1"].Crash()
		if _, ok := waitFor(3*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return attempts >= 2
		}); !ok {
			t.Fatalf("the takeover was not retried; events: %v", r.allEvents())
		}

		src.revoked.Store(true)
		revokedAt.Store(true)
		start := time.Now()
		var err error
		select {
		case err = <-r.done:
		case <-time.After(time.Second):
			t.Fatal("Run did not return within 1s of the term's revocation")
		}
		if took := time.Since(start); took > 100*time.Millisecond {
			t.Errorf("Run returned %v after the revocation, want within a tick or two", took)
		}
		if !errors.Is(err, failover.ErrTermRevoked) || !errors.Is(err, errLostLeadership) {
			t.Errorf("Run returned %v, want ErrTermRevoked and the term's error", err)
		}
		time.Sleep(10 * time.Second) // nothing may go out later either
		mu.Lock()
		defer mu.Unlock()
		if len(late) > 0 || len(log.all()) > 0 {
			t.Errorf("orders sent after the revocation: %v %v", late, log.all())
		}
		if got := r.covering("sb-2"); got != "" {
			t.Errorf("sb-2 covers %s after the revocation", got)
		}
		if _, err := r.ctl.Snapshot(t.Context()); !errors.Is(err, failover.ErrControllerStopped) {
			t.Errorf("Snapshot after the revocation: %v, want ErrControllerStopped", err)
		}
	})
}

// A center whose orders an agent refuses for a newer term has been
// replaced: it stops rather than take the refusal for the standby's and
// order the next one.
func TestControllerStopsOnAStaleTermRefusal(t *testing.T) {
	for _, tc := range []struct {
		name string
		term func() (uint64, error)
	}{
		{"elected center", func() (uint64, error) { return 4, nil }},
		{"single center", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, &failover.MemoryStore{})
				r.edit = func(c *failover.ControllerConfig) { c.Term = tc.term }
				r.start()
				r.join()
				// A center of term 9 has since ordered every server.
				for id, a := range r.agents {
					if err := a.Release(t.Context(), transport.ReleaseOrder{Recording: "elsewhere", Epoch: 1, Term: 9}); err != nil {
						t.Fatalf("%s: %v", id, err)
					}
				}
				var log orderLog
				r.tr.SetHook("sb-2", log.hook)
				r.agents["rec-1"].Crash()
				var err error
				select {
				case err = <-r.done:
				case <-time.After(5 * time.Second):
					t.Fatalf("Run goes on after a stale-term refusal; events: %v", r.allEvents())
				}
				if !errors.Is(err, failover.ErrTermRevoked) || !errors.Is(err, transport.ErrStaleTerm) {
					t.Errorf("Run returned %v, want ErrTermRevoked and ErrStaleTerm", err)
				}
				time.Sleep(10 * time.Second)
				if got := log.all(); len(got) > 0 {
					t.Errorf("sb-2 was ordered after sb-1 refused a stale term: %v", got)
				}
				if n := len(r.eventsOf(failover.EventTakeoverFailed, "")); n != 0 {
					t.Errorf("%d takeover-failed events for a refusal that was not the standby's", n)
				}
			})
		})
	}
}

// revokingStore refuses every save once revoked, as a Store shared by
// several centers refuses the writes of one that no longer leads.
type revokingStore struct {
	failover.MemoryStore
	revoked atomic.Bool
}

func (s *revokingStore) Save(ctx context.Context, st failover.State) error {
	if s.revoked.Load() {
		return fmt.Errorf("store: %w: another center leads", failover.ErrTermRevoked)
	}
	return s.MemoryStore.Save(ctx, st)
}

func (s *revokingStore) Apply(ctx context.Context, c failover.Changes) error {
	if s.revoked.Load() {
		return fmt.Errorf("store: %w: another center leads", failover.ErrTermRevoked)
	}
	return s.MemoryStore.Apply(ctx, c)
}

func TestControllerStopsWhenTheStoreRevokesItsTerm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &revokingStore{}
		r := newRig(t, st)
		r.start()
		r.join()
		var log orderLog
		for id := range r.agents {
			r.tr.SetHook(id, log.hook)
		}
		st.revoked.Store(true)
		r.agents["rec-1"].Crash()
		var err error
		select {
		case err = <-r.done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Run goes on while the store refuses its term; events: %v", r.allEvents())
		}
		if !errors.Is(err, failover.ErrTermRevoked) {
			t.Errorf("Run returned %v, want ErrTermRevoked", err)
		}
		if got := log.all(); len(got) > 0 {
			t.Errorf("orders sent without a save: %v", got)
		}
	})
}
