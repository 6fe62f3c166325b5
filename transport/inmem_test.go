package transport_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeAgent records every order it receives, keeps the order values exactly
// as delivered (to catch aliasing), and answers with err.
type fakeAgent struct {
	id    nvrha.ServerID
	facts nvrha.Facts

	mu        sync.Mutex
	calls     []transport.Call
	takeovers []transport.TakeoverOrder
	err       error
}

func newFakeAgent(id nvrha.ServerID) *fakeAgent {
	return &fakeAgent{id: id, facts: nvrha.Facts{ID: id, Product: nvrha.ProductQVRPro, Cameras: []nvrha.CameraID{"c1"}}}
}

func (a *fakeAgent) record(m transport.Method, order any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, transport.Call{Server: a.id, Method: m, Order: order})
	return a.err
}

func (a *fakeAgent) delivered() []transport.Call {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

func (a *fakeAgent) Probe(context.Context) (transport.ProbeReport, error) {
	err := a.record(transport.MethodProbe, nil)
	return transport.ProbeReport{Server: a.id, Healthy: true}, err
}

func (a *fakeAgent) Inventory(context.Context) (nvrha.Facts, error) {
	err := a.record(transport.MethodInventory, nil)
	return a.facts, err // the agent's own slices: the transport must copy
}

func (a *fakeAgent) Takeover(_ context.Context, o transport.TakeoverOrder) error {
	a.mu.Lock()
	a.takeovers = append(a.takeovers, o)
	a.mu.Unlock()
	return a.record(transport.MethodTakeover, o)
}

func (a *fakeAgent) Release(_ context.Context, o transport.ReleaseOrder) error {
	return a.record(transport.MethodRelease, o)
}

func (a *fakeAgent) StandDown(_ context.Context, o transport.StandDownOrder) error {
	return a.record(transport.MethodStandDown, o)
}

func (a *fakeAgent) Resume(_ context.Context, o transport.ResumeOrder) error {
	return a.record(transport.MethodResume, o)
}

func newInMemory(t *testing.T, ids ...nvrha.ServerID) (*transport.InMemory, map[nvrha.ServerID]*fakeAgent) {
	t.Helper()
	tr := transport.NewInMemory()
	agents := map[nvrha.ServerID]*fakeAgent{}
	for _, id := range ids {
		agents[id] = newFakeAgent(id)
		if err := tr.Register(id, agents[id]); err != nil {
			t.Fatalf("Register(%s): %v", id, err)
		}
	}
	return tr, agents
}

// allCalls makes one call of every method to server and returns their errors
// and the calls that should have been delivered.
func allCalls(ctx context.Context, tr transport.Transport, server nvrha.ServerID) ([]error, []transport.Call) {
	takeover := transport.TakeoverOrder{Recording: "r9", Epoch: 1, Cameras: []nvrha.CameraID{"c7"}}
	release := transport.ReleaseOrder{Recording: "r9", Epoch: 2}
	standDown := transport.StandDownOrder{Epoch: 3}
	resume := transport.ResumeOrder{Epoch: 4}
	_, perr := tr.Probe(ctx, server)
	_, ierr := tr.Inventory(ctx, server)
	errs := []error{
		perr, ierr,
		tr.Takeover(ctx, server, takeover),
		tr.Release(ctx, server, release),
		tr.StandDown(ctx, server, standDown),
		tr.Resume(ctx, server, resume),
	}
	want := []transport.Call{
		{Server: server, Method: transport.MethodProbe},
		{Server: server, Method: transport.MethodInventory},
		{Server: server, Method: transport.MethodTakeover, Order: takeover},
		{Server: server, Method: transport.MethodRelease, Order: release},
		{Server: server, Method: transport.MethodStandDown, Order: standDown},
		{Server: server, Method: transport.MethodResume, Order: resume},
	}
	return errs, want
}

func equalCalls(a, b []transport.Call) bool {
	return slices.EqualFunc(a, b, func(x, y transport.Call) bool {
		return fmt.Sprintf("%#v", x) == fmt.Sprintf("%#v", y)
	})
}

func TestInMemoryDeliversToTheRightAgent(t *testing.T) {
	tr, agents := newInMemory(t, "s1", "s2")
	errs, want := allCalls(t.Context(), tr, "s2")
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d (%s): %v", i, want[i].Method, err)
		}
	}
	if got := agents["s2"].delivered(); !equalCalls(got, want) {
		t.Errorf("s2 received %#v\nwant %#v", got, want)
	}
	if got := agents["s1"].delivered(); len(got) != 0 {
		t.Errorf("s1 received calls meant for s2: %#v", got)
	}
	r, err := tr.Probe(t.Context(), "s1")
	if err != nil || r.Server != "s1" {
		t.Errorf("Probe(s1) = %+v, %v", r, err)
	}
	f, err := tr.Inventory(t.Context(), "s1")
	if err != nil || f.ID != "s1" || !slices.Equal(f.Cameras, []nvrha.CameraID{"c1"}) {
		t.Errorf("Inventory(s1) = %+v, %v", f, err)
	}
}

func TestInMemoryUnknownServer(t *testing.T) {
	tr, _ := newInMemory(t, "s1")
	errs, want := allCalls(t.Context(), tr, "nobody")
	for i, err := range errs {
		if !errors.Is(err, transport.ErrUnknownServer) || !errors.Is(err, transport.ErrUnreachable) {
			t.Errorf("%s to an unknown server = %v, want ErrUnknownServer and ErrUnreachable", want[i].Method, err)
		}
	}

	tr.Unregister("s1")
	if _, err := tr.Probe(t.Context(), "s1"); !errors.Is(err, transport.ErrUnknownServer) {
		t.Errorf("Probe after Unregister = %v, want ErrUnknownServer", err)
	}
	tr.Unregister("s1") // a second time is harmless
	if err := tr.Register("s1", newFakeAgent("s1")); err != nil {
		t.Errorf("Register after Unregister: %v", err)
	}
}

func TestInMemoryRegisterRefuses(t *testing.T) {
	tr, _ := newInMemory(t, "s1")
	if err := tr.Register("s1", newFakeAgent("s1")); !errors.Is(err, transport.ErrAlreadyRegistered) {
		t.Errorf("duplicate Register = %v, want ErrAlreadyRegistered", err)
	}
	if err := tr.Register("", newFakeAgent("")); !errors.Is(err, nvrha.ErrInvalidID) {
		t.Errorf("Register with an empty ID = %v, want nvrha.ErrInvalidID", err)
	}
	if err := tr.Register("s2", nil); err == nil {
		t.Errorf("Register with a nil agent succeeded")
	}
	if _, err := tr.Probe(t.Context(), "s2"); !errors.Is(err, transport.ErrUnknownServer) {
		t.Errorf("a refused Register left an agent behind: %v", err)
	}
}

func TestInMemoryHooksFailWithoutDelivering(t *testing.T) {
	errDisk := errors.New("disk on fire")
	tests := []struct {
		name string
		hook transport.Hook
		want error
	}{
		{"Drop", transport.Drop(), transport.ErrUnreachable},
		{"FailWith", transport.FailWith(errDisk), errDisk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr, agents := newInMemory(t, "s1", "s2")
			tr.SetHook("s1", tt.hook)
			errs, want := allCalls(t.Context(), tr, "s1")
			for i, err := range errs {
				if !errors.Is(err, tt.want) {
					t.Errorf("%s = %v, want %v", want[i].Method, err, tt.want)
				}
			}
			if got := agents["s1"].delivered(); len(got) != 0 {
				t.Errorf("calls delivered despite the hook: %#v", got)
			}

			// The hook belongs to s1 only.
			if errs, _ := allCalls(t.Context(), tr, "s2"); errors.Join(errs...) != nil {
				t.Errorf("s1's hook affected s2: %v", errors.Join(errs...))
			}

			tr.ClearHook("s1")
			if errs, _ := allCalls(t.Context(), tr, "s1"); errors.Join(errs...) != nil {
				t.Errorf("after ClearHook: %v", errors.Join(errs...))
			}
		})
	}
}

func TestInMemoryFailWithNilDelivers(t *testing.T) {
	tr, agents := newInMemory(t, "s1")
	tr.SetHook("s1", transport.FailWith(nil))
	if _, err := tr.Probe(t.Context(), "s1"); err != nil || len(agents["s1"].delivered()) != 1 {
		t.Errorf("FailWith(nil): Probe = %v, delivered %d calls", err, len(agents["s1"].delivered()))
	}
}

func TestInMemoryHookSeesTheCall(t *testing.T) {
	tr, agents := newInMemory(t, "s1")
	var seen []transport.Call
	tr.SetHook("s1", func(_ context.Context, c transport.Call) error {
		if o, ok := c.Order.(transport.TakeoverOrder); ok {
			seen = append(seen, transport.Call{Server: c.Server, Method: c.Method, Order: o.Clone()})
			o.Cameras[0] = "tampered" // must not reach the agent
			return nil
		}
		seen = append(seen, c)
		return nil
	})
	_, want := allCalls(t.Context(), tr, "s1")
	if !equalCalls(seen, want) {
		t.Errorf("hook saw %#v\nwant %#v", seen, want)
	}
	if got := agents["s1"].delivered(); !equalCalls(got, want) {
		t.Errorf("agent received %#v\nwant %#v", got, want)
	}
}

func TestInMemorySetHookNilClears(t *testing.T) {
	tr, _ := newInMemory(t, "s1")
	tr.SetHook("s1", transport.Drop())
	tr.SetHook("s1", nil)
	if _, err := tr.Probe(t.Context(), "s1"); err != nil {
		t.Errorf("Probe after SetHook(nil) = %v", err)
	}
}

func TestInMemoryDelayHonoursDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, agents := newInMemory(t, "s1")
		tr.SetHook("s1", transport.Delay(5*time.Second))
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start := time.Now()
		err := tr.Takeover(ctx, "s1", transport.TakeoverOrder{Recording: "r1", Epoch: 1})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Takeover with Delay(5s) and a 1s deadline = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Errorf("returned after %v, want 1s", d)
		}
		if got := agents["s1"].delivered(); len(got) != 0 {
			t.Errorf("delivered after the deadline: %#v", got)
		}
	})
}

func TestInMemoryDelayDelivers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, agents := newInMemory(t, "s1")
		tr.SetHook("s1", transport.Delay(5*time.Second))
		start := time.Now()
		if _, err := tr.Probe(t.Context(), "s1"); err != nil {
			t.Fatalf("Probe with Delay(5s): %v", err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("delivered after %v, want 5s", d)
		}
		if got := len(agents["s1"].delivered()); got != 1 {
			t.Errorf("delivered %d calls, want 1", got)
		}
	})
}

func TestInMemoryDelayedCallFindsUnregisteredServerGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr, agents := newInMemory(t, "s1")
		tr.SetHook("s1", transport.Delay(5*time.Second))
		errc := make(chan error, 1)
		go func() {
			_, err := tr.Probe(t.Context(), "s1")
			errc <- err
		}()
		time.Sleep(time.Second)
		tr.Unregister("s1")
		if err := <-errc; !errors.Is(err, transport.ErrUnknownServer) {
			t.Errorf("Probe delayed across Unregister = %v, want ErrUnknownServer", err)
		}
		if got := agents["s1"].delivered(); len(got) != 0 {
			t.Errorf("delivered to an unregistered agent: %#v", got)
		}
	})
}

func TestInMemoryCancelledContext(t *testing.T) {
	tr, agents := newInMemory(t, "s1")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	errs, want := allCalls(ctx, tr, "s1")
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context = %v, want context.Canceled", want[i].Method, err)
		}
	}
	if got := agents["s1"].delivered(); len(got) != 0 {
		t.Errorf("delivered with a cancelled context: %#v", got)
	}
}

func TestInMemoryCancelWhileHookBlocks(t *testing.T) {
	tr, agents := newInMemory(t, "s1")
	ctx, cancel := context.WithCancel(t.Context())
	// A hook that ignores ctx and returns nil after it is cancelled: the call
	// must still not be delivered.
	tr.SetHook("s1", func(context.Context, transport.Call) error {
		cancel()
		return nil
	})
	if _, err := tr.Probe(ctx, "s1"); !errors.Is(err, context.Canceled) {
		t.Errorf("Probe = %v, want context.Canceled", err)
	}
	if got := agents["s1"].delivered(); len(got) != 0 {
		t.Errorf("delivered after cancellation: %#v", got)
	}
}

func TestInMemoryDropAfterDelivery(t *testing.T) {
	tr, agents := newInMemory(t, "s1")
	tr.SetHook("s1", transport.DropAfterDelivery())
	errs, want := allCalls(t.Context(), tr, "s1")
	for i, err := range errs {
		if !errors.Is(err, transport.ErrUnreachable) {
			t.Errorf("%s = %v, want ErrUnreachable", want[i].Method, err)
		}
	}
	if got := agents["s1"].delivered(); !equalCalls(got, want) {
		t.Errorf("agent received %#v\nwant every call delivered: %#v", got, want)
	}
	r, err := tr.Probe(t.Context(), "s1")
	if err == nil || r != (transport.ProbeReport{}) {
		t.Errorf("Probe with a lost answer = %+v, %v; want the zero report and an error", r, err)
	}
}

func TestInMemoryPassesAgentErrorsThrough(t *testing.T) {
	tr, agents := newInMemory(t, "s1")
	stale := &transport.StaleEpochError{Key: "r1", Got: 1, Newest: 2}
	agents["s1"].err = stale
	err := tr.Release(t.Context(), "s1", transport.ReleaseOrder{Recording: "r1", Epoch: 1})
	var got *transport.StaleEpochError
	if !errors.As(err, &got) || got != stale {
		t.Errorf("Release = %v, want the agent's *StaleEpochError", err)
	}
	if errors.Is(err, transport.ErrUnreachable) {
		t.Errorf("an agent's refusal reads as unreachable: %v", err)
	}
}

func TestInMemoryDeepCopies(t *testing.T) {
	tr, agents := newInMemory(t, "s1")
	cams := []nvrha.CameraID{"c1", "c2"}
	if err := tr.Takeover(t.Context(), "s1", transport.TakeoverOrder{Recording: "r1", Epoch: 1, Cameras: cams}); err != nil {
		t.Fatal(err)
	}
	cams[0] = "caller-changed"
	received := agents["s1"].takeovers[0].Cameras
	if received[0] != "c1" {
		t.Errorf("the caller's change reached the agent: %v", received)
	}
	received[1] = "agent-changed"
	if cams[1] != "c2" {
		t.Errorf("the agent's change reached the caller: %v", cams)
	}

	f, err := tr.Inventory(t.Context(), "s1")
	if err != nil {
		t.Fatal(err)
	}
	f.Cameras[0] = "caller-changed"
	if agents["s1"].facts.Cameras[0] != "c1" {
		t.Errorf("changing an inventory answer changed the agent's facts: %v", agents["s1"].facts.Cameras)
	}
}

// TestInMemoryConcurrentUse races calls against registration and hook
// changes; run it with -race.
func TestInMemoryConcurrentUse(t *testing.T) {
	tr, _ := newInMemory(t, "s1", "s2")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			id := nvrha.ServerID(fmt.Sprintf("s%d", i%2+1))
			for range 100 {
				errs, _ := allCalls(t.Context(), tr, id)
				for _, err := range errs {
					if err != nil && !errors.Is(err, transport.ErrUnreachable) {
						t.Errorf("call to %s: %v", id, err)
					}
				}
			}
		})
	}
	wg.Go(func() {
		for range 100 {
			tr.SetHook("s1", transport.Drop())
			tr.ClearHook("s1")
			tr.Unregister("s2")
			_ = tr.Register("s2", newFakeAgent("s2"))
		}
	})
	wg.Wait()
}
