package failover_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/benbjohnson/clock"
	"go.uber.org/goleak"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// Controller tests run inside a testing/synctest bubble: time.Sleep advances
// the bubble's virtual clock as soon as every goroutine is blocked, and the
// Controller's real clock (clock.New) reads that clock, so 40 s of failback
// take no real time.

// rig is a Controller over in-process agents: two recording servers (rec-1
// with 32 channels, rec-2 with 16) and two standbys (sb-1 with 32, sb-2 with
// 64), as in the Machine's takeover tests.
type rig struct {
	t      *testing.T
	tr     *transport.InMemory
	agents map[nvrha.ServerID]*agenttest.Server
	store  failover.Store
	// edit, if set, changes the Controller's config before it starts.
	edit func(*failover.ControllerConfig)

	ctl    *failover.Controller
	cancel context.CancelFunc
	done   chan error

	mu     sync.Mutex
	events []failover.Event
}

var (
	rigRecording = []nvrha.Facts{recordingFacts("rec-1", 32), recordingFacts("rec-2", 16)}
	rigStandby   = []nvrha.Facts{standbyFacts("sb-1", 32), standbyFacts("sb-2", 64)}
)

func newRig(t *testing.T, store failover.Store) *rig {
	t.Helper()
	r := &rig{t: t, tr: transport.NewInMemory(), agents: map[nvrha.ServerID]*agenttest.Server{}, store: store}
	for _, f := range append(slices.Clone(rigRecording), rigStandby...) {
		a := agenttest.New(f)
		if err := r.tr.Register(f.ID, a); err != nil {
			t.Fatal(err)
		}
		r.agents[f.ID] = a
	}
	return r
}

// newController makes the rig's Controller without running it.
func (r *rig) newController() *failover.Controller {
	r.t.Helper()
	cfg := failover.ControllerConfig{
		Transport: r.tr,
		Store:     r.store,
		Logger:    slog.New(slog.NewTextHandler(testWriter{r.t}, &slog.HandlerOptions{Level: slog.LevelInfo})),
		OnEvent: func(e failover.Event) {
			r.mu.Lock()
			r.events = append(r.events, e)
			r.mu.Unlock()
		},
	}
	if r.edit != nil {
		r.edit(&cfg)
	}
	ctl, err := failover.NewController(r.t.Context(), cfg)
	if err != nil {
		r.t.Fatal(err)
	}
	r.ctl = ctl
	return ctl
}

// start makes a Controller and runs it in a goroutine.
func (r *rig) start() {
	r.t.Helper()
	ctl := r.newController()
	r.run(ctl)
}

func (r *rig) run(ctl *failover.Controller) {
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan error, 1)
	go func() { r.done <- ctl.Run(ctx) }()
}

// stop cancels Run and checks that it returns nil at once: calls in flight
// are cancelled, not waited out.
func (r *rig) stop() {
	r.t.Helper()
	at := time.Now()
	r.cancel()
	if err := <-r.done; err != nil {
		r.t.Errorf("Run returned %v after cancel, want nil", err)
	}
	if d := time.Since(at); d != 0 {
		r.t.Errorf("Run took %v of virtual time to stop, want 0", d)
	}
}

// join adds the rig's servers to the default group and lets them settle.
func (r *rig) join() {
	r.t.Helper()
	ctx := r.t.Context()
	if err := r.ctl.AddRecordingServers(ctx, failover.DefaultGroupID, rigRecording...); err != nil {
		r.t.Fatal(err)
	}
	if err := r.ctl.AddStandbyServers(ctx, failover.DefaultGroupID, rigStandby...); err != nil {
		r.t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	for _, f := range rigRecording {
		if got := r.member(f.ID).Status(); got != status.RecordingNormalProtected.Label() {
			r.t.Fatalf("%s settled as %q", f.ID, got)
		}
	}
}

func (r *rig) member(id nvrha.ServerID) failover.MemberSnapshot {
	r.t.Helper()
	s, err := r.ctl.Snapshot(r.t.Context())
	if err != nil {
		r.t.Fatal(err)
	}
	return memberOf(r.t, s, id)
}

func (r *rig) covering(sb nvrha.ServerID) nvrha.ServerID {
	rec, _ := r.agents[sb].Covering()
	return rec
}

func (r *rig) epoch(rec nvrha.ServerID) nvrha.Epoch {
	r.t.Helper()
	var e nvrha.Epoch
	if err := r.ctl.Do(r.t.Context(), func(m *failover.Machine) error {
		e = m.Epoch(rec)
		return nil
	}); err != nil {
		r.t.Fatal(err)
	}
	return e
}

func (r *rig) eventsOf(kind failover.EventKind, server nvrha.ServerID) []failover.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []failover.Event
	for _, e := range r.events {
		if e.Kind == kind && (server == "" || e.Server == server) {
			out = append(out, e)
		}
	}
	return out
}

func (r *rig) allEvents() []failover.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// waitFor polls cond every 10 ms of virtual time until it holds or limit
// passes, and returns how long it waited.
func waitFor(limit time.Duration, cond func() bool) (time.Duration, bool) {
	start := time.Now()
	for !cond() {
		if time.Since(start) >= limit {
			return time.Since(start), false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start), true
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}

// onlyMethod applies h to calls of method m and lets every other call
// through.
func onlyMethod(m transport.Method, h transport.Hook) transport.Hook {
	return func(ctx context.Context, c transport.Call) error {
		if c.Method != m {
			return nil
		}
		return h(ctx, c)
	}
}

// orderEpoch returns the epoch an order carries and the key it is fenced
// by, or false for a probe or an inventory.
func orderEpoch(c transport.Call) (nvrha.ServerID, nvrha.Epoch, bool) {
	switch o := c.Order.(type) {
	case transport.TakeoverOrder:
		return o.Recording, o.Epoch, true
	case transport.ReleaseOrder:
		return o.Recording, o.Epoch, true
	case transport.StandDownOrder:
		return c.Server, o.Epoch, true
	case transport.ResumeOrder:
		return c.Server, o.Epoch, true
	}
	return "", 0, false
}

func TestControllerTakeoverAndFailback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, &failover.MemoryStore{})
		r.start()
		defer r.stop()
		r.join()

		r.agents["rec-1"].Crash()
		took, ok := waitFor(3*time.Second, func() bool { return r.covering("sb-1") == "rec-1" })
		if !ok {
			t.Fatalf("sb-1 did not take over rec-1 within 3s; events: %v", r.allEvents())
		}
		t.Logf("takeover %v after the crash", took)
		if _, cams := r.agents["sb-1"].Covering(); len(cams) != 2 {
			t.Errorf("sb-1 records %v, want rec-1's 2 cameras", cams)
		}
		if got := r.covering("sb-2"); got != "" {
			t.Errorf("sb-2 covers %s; the smallest standby that fits rec-1 is sb-1", got)
		}
		time.Sleep(time.Second)
		if m := r.member("rec-1"); m.Peer != "sb-1" || m.Status() != status.RecordingAbnormalProtected.Label() {
			t.Errorf("rec-1 during takeover: peer %q, status %q", m.Peer, m.Status())
		}
		if got := r.member("sb-1").Status(); got != status.StandbyNormalProtecting.Label() {
			t.Errorf("sb-1 is %q during takeover", got)
		}

		r.agents["rec-1"].Restart()
		back, ok := waitFor(40*time.Second, func() bool {
			return r.covering("sb-1") == "" && r.agents["rec-1"].Recording()
		})
		if !ok {
			t.Fatalf("no failback within 40s; events: %v", r.allEvents())
		}
		if back < failover.DefaultHoldDown {
			t.Errorf("failback %v after the restart, before the %v hold-down", back, failover.DefaultHoldDown)
		}
		time.Sleep(time.Second)
		if got := r.member("sb-1").Status(); got != status.StandbyNormalProtectionReady.Label() {
			t.Errorf("sb-1 is %q after failback", got)
		}

		succeeded := r.eventsOf(failover.EventTakeoverSucceeded, "rec-1")
		if len(succeeded) != 1 || succeeded[0].Peer != "sb-1" {
			t.Errorf("takeover-succeeded events for rec-1: %v", succeeded)
		}
		completed := r.eventsOf(failover.EventFailbackCompleted, "rec-1")
		if len(completed) != 1 || completed[0].Peer != "sb-1" || completed[0].Epoch <= succeeded[0].Epoch {
			t.Errorf("failback-completed events for rec-1: %v (takeover %v)", completed, succeeded)
		}

		// The footage recorded on sb-1 stays findable.
		ivs, err := r.ctl.Ledger(t.Context(), "rec-1-cam-1")
		if err != nil {
			t.Fatal(err)
		}
		var onStandby, backHome bool
		for _, iv := range ivs {
			onStandby = onStandby || iv.Server == "sb-1" && !iv.Open()
			backHome = backHome || iv.Server == "rec-1" && iv.Open()
		}
		if !onStandby || !backHome {
			t.Errorf("ledger of rec-1-cam-1: %+v", ivs)
		}
	})
}

func TestControllerLostCommands(t *testing.T) {
	unreachable := fmt.Errorf("connection refused: %w", transport.ErrUnreachable)
	for _, tc := range []struct {
		name string
		hook transport.Hook
		// lasting is how long after the first takeover call the hook stays.
		lasting time.Duration
	}{
		// Each answer is lost after the order took effect: the retries carry
		// the same epoch and the standby accepts them.
		{"answer lost", transport.DropAfterDelivery(), 300 * time.Millisecond},
		// Longer than a command's deadline: the Machine's own retry is
		// needed too.
		{"unreachable", transport.Drop(), 1500 * time.Millisecond},
		{"connection refused", transport.FailWith(unreachable), 300 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				r := newRig(t, &failover.MemoryStore{})
				r.start()
				defer r.stop()
				r.join()

				var (
					mu     sync.Mutex
					epochs []nvrha.Epoch
					active = true
				)
				r.tr.SetHook("sb-1", onlyMethod(transport.MethodTakeover, func(ctx context.Context, c transport.Call) error {
					mu.Lock()
					epochs = append(epochs, c.Order.(transport.TakeoverOrder).Epoch)
					on := active
					mu.Unlock()
					if on {
						return tc.hook(ctx, c)
					}
					return nil
				}))
				calls := func() int {
					mu.Lock()
					defer mu.Unlock()
					return len(epochs)
				}

				r.agents["rec-1"].Crash()
				if _, ok := waitFor(3*time.Second, func() bool { return calls() > 0 }); !ok {
					t.Fatalf("no takeover call to sb-1; events: %v", r.allEvents())
				}
				time.Sleep(tc.lasting)
				if n := len(r.eventsOf(failover.EventTakeoverSucceeded, "rec-1")); n != 0 {
					t.Fatalf("takeover reported succeeded while every answer was lost")
				}
				mu.Lock()
				active = false
				mu.Unlock()

				if _, ok := waitFor(time.Second, func() bool {
					return len(r.eventsOf(failover.EventTakeoverSucceeded, "rec-1")) == 1
				}); !ok {
					t.Fatalf("takeover did not complete within 1s after the fault ended; events: %v", r.allEvents())
				}
				if got := r.covering("sb-1"); got != "rec-1" {
					t.Errorf("sb-1 covers %q, want rec-1", got)
				}
				if got := r.covering("sb-2"); got != "" {
					t.Errorf("sb-2 covers %q; sb-1 was never given up", got)
				}
				if n := len(r.eventsOf(failover.EventTakeoverFailed, "")); n != 0 {
					t.Errorf("%d takeover-failed events", n)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(epochs) < 3 {
					t.Errorf("%d takeover calls, want retries", len(epochs))
				}
				for _, e := range epochs {
					if e != epochs[0] {
						t.Errorf("takeover retries carried epochs %v, want one", epochs)
						break
					}
				}
			})
		})
	}
}

func TestControllerRestartFromFileStore(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "state.json")
		r := newRig(t, failover.NewFileStore(path))

		// Epochs the servers have accepted never go back, and the
		// Machine never issues one below them.
		var (
			mu         sync.Mutex
			violations []string
			last       = map[nvrha.ServerID]nvrha.Epoch{}
		)
		watch, stopWatch := context.WithCancel(context.Background())
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			for watch.Err() == nil {
				for _, sb := range []nvrha.ServerID{"sb-1", "sb-2", "rec-1"} {
					e := r.agents[sb].Newest("rec-1")
					mu.Lock()
					if e < last[sb] {
						violations = append(violations, fmt.Sprintf("%s: epoch of rec-1 went from %d to %d", sb, last[sb], e))
					}
					last[sb] = e
					mu.Unlock()
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		defer func() {
			stopWatch()
			<-watched
			mu.Lock()
			defer mu.Unlock()
			for _, v := range violations {
				t.Error(v)
			}
		}()
		var stale atomic.Int32
		for id, a := range r.agents {
			r.tr.SetHook(id, func(_ context.Context, c transport.Call) error {
				if key, e, ok := orderEpoch(c); ok && e < a.Newest(key) {
					stale.Add(1)
					t.Errorf("order %T to %s carries stale epoch %d < %d", c.Order, c.Server, e, a.Newest(key))
				}
				return nil
			})
		}

		// Controller 1: takeover.
		r.start()
		r.join()
		r.agents["rec-1"].Crash()
		if _, ok := waitFor(3*time.Second, func() bool {
			return len(r.eventsOf(failover.EventTakeoverSucceeded, "rec-1")) == 1
		}); !ok {
			t.Fatalf("no takeover under controller 1; events: %v", r.allEvents())
		}
		epoch1 := r.epoch("rec-1")
		snap1, err := r.ctl.Snapshot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		r.stop()
		if _, err := r.ctl.Snapshot(t.Context()); !errors.Is(err, failover.ErrControllerStopped) {
			t.Errorf("Snapshot after stop: %v", err)
		}

		// Controller 2, from the same file.
		r.store = failover.NewFileStore(path)
		r.mu.Lock()
		r.events = nil
		r.mu.Unlock()
		r.start()
		defer r.stop()
		snap2, err := r.ctl.Snapshot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(snap2.Groups) != len(snap1.Groups) {
			t.Fatalf("controller 2 has %d groups, controller 1 had %d", len(snap2.Groups), len(snap1.Groups))
		}
		for i, g := range snap1.Groups {
			if g2 := snap2.Groups[i]; g2.ID != g.ID || g2.Name != g.Name || !slices.Equal(memberIDs(g2), memberIDs(g)) {
				t.Errorf("group %d: controller 2 has %+v, controller 1 had %+v", g.ID, g2, g)
			}
		}
		if m := memberOf(t, snap2, "rec-1"); m.Peer != "sb-1" {
			t.Errorf("controller 2: rec-1 covered by %q, want sb-1", m.Peer)
		}
		epoch2 := r.epoch("rec-1")
		if epoch2 < epoch1 {
			t.Errorf("controller 2 restored epoch %d for rec-1, below controller 1's %d", epoch2, epoch1)
		}
		time.Sleep(2 * time.Second)
		if got := r.covering("sb-1"); got != "rec-1" {
			t.Errorf("sb-1 covers %q under controller 2, want rec-1", got)
		}
		if evs := r.eventsOf(failover.EventTakeoverFailed, ""); len(evs) != 0 {
			t.Errorf("controller 2 gave up the takeover: %v", evs)
		}

		r.agents["rec-1"].Restart()
		// The restored Machine sees rec-1 go down again on its first
		// probes, which flap damping may count as a second outage: allow a
		// doubled hold-down.
		if took, ok := waitFor(2*failover.DefaultHoldDown+10*time.Second, func() bool {
			return len(r.eventsOf(failover.EventFailbackCompleted, "rec-1")) == 1
		}); !ok {
			t.Fatalf("no failback under controller 2; events: %v", r.allEvents())
		} else {
			t.Logf("failback %v after the restart", took)
		}
		if got := r.covering("sb-1"); got != "" || !r.agents["rec-1"].Recording() {
			t.Errorf("after failback sb-1 covers %q, rec-1 recording %v", got, r.agents["rec-1"].Recording())
		}
		if epoch3 := r.epoch("rec-1"); epoch3 <= epoch2 {
			t.Errorf("failback under epoch %d, not above %d", epoch3, epoch2)
		}
		if n := stale.Load(); n != 0 {
			t.Errorf("%d orders with stale epochs", n)
		}
	})
}

// flakyStore is a MemoryStore whose next saves can be made to fail. It
// remembers the epochs of the last State it saved, and when a failed save
// began waiting for a successful one.
type flakyStore struct {
	inner failover.MemoryStore

	mu       sync.Mutex
	failNext int
	fails    int
	// pendingSince is when the first of the failed saves not yet followed
	// by a successful one failed; zero if none.
	pendingSince time.Time
	// held is how long the last run of failures held everything up.
	held  time.Duration
	saved map[nvrha.ServerID]nvrha.Epoch
}

var errDiskFull = errors.New("disk full")

func (s *flakyStore) Load(ctx context.Context) (failover.State, error) { return s.inner.Load(ctx) }

func (s *flakyStore) Save(ctx context.Context, st failover.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail(); err != nil {
		return err
	}
	if err := s.inner.Save(ctx, st); err != nil {
		return err
	}
	s.succeeded()
	s.saved = map[nvrha.ServerID]nvrha.Epoch{}
	for _, es := range st.Epochs {
		s.saved[es.Server] = es.Epoch
	}
	return nil
}

// fail fails a write if one is due to fail; s.mu is held.
func (s *flakyStore) fail() error {
	if s.failNext == 0 {
		return nil
	}
	s.failNext--
	s.fails++
	if s.pendingSince.IsZero() {
		s.pendingSince = time.Now()
	}
	return errDiskFull
}

// succeeded notes a write that succeeded; s.mu is held.
func (s *flakyStore) succeeded() {
	if !s.pendingSince.IsZero() {
		s.held = time.Since(s.pendingSince)
		s.pendingSince = time.Time{}
	}
}

// flakyDeltaStore is a flakyStore that persists Changes too: its Applies
// fail like its Saves.
type flakyDeltaStore struct{ *flakyStore }

func (s flakyDeltaStore) Apply(ctx context.Context, c failover.Changes) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail(); err != nil {
		return err
	}
	if err := s.inner.Apply(ctx, c); err != nil {
		return err
	}
	s.succeeded()
	epochs := c.Epochs
	if c.Full != nil {
		s.saved, epochs = map[nvrha.ServerID]nvrha.Epoch{}, c.Full.Epochs
	}
	for _, es := range epochs {
		s.saved[es.Server] = es.Epoch
	}
	return nil
}

// forEachFlakyStore runs test in a bubble twice: over a flakyStore, and
// over a flakyDeltaStore, to which the Controller applies Changes and
// saves the whole State after a failed Apply.
func forEachFlakyStore(t *testing.T, test func(t *testing.T, store *flakyStore, rigStore failover.Store)) {
	t.Run("Save", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			store := &flakyStore{}
			test(t, store, store)
		})
	})
	t.Run("Apply", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			store := &flakyStore{}
			test(t, store, flakyDeltaStore{store})
			if n, _ := store.inner.Applies(); n == 0 {
				t.Error("the Controller applied no Changes to a DeltaStore")
			}
		})
	})
}

// writeLog is a DeltaStore that logs its writes, the next failApply
// Applies failing.
type writeLog struct {
	failover.MemoryStore
	mu        sync.Mutex
	writes    []string
	failApply int
}

func (s *writeLog) Save(ctx context.Context, st failover.State) error {
	s.mu.Lock()
	s.writes = append(s.writes, "save")
	s.mu.Unlock()
	return s.MemoryStore.Save(ctx, st)
}

func (s *writeLog) Apply(ctx context.Context, c failover.Changes) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.failApply > 0:
		s.failApply--
		s.writes = append(s.writes, "apply failed")
		return errDiskFull
	case c.Full != nil:
		s.writes = append(s.writes, "apply full")
	default:
		s.writes = append(s.writes, "apply")
	}
	return s.MemoryStore.Apply(ctx, c)
}

func (s *writeLog) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.writes)
}

// TestControllerAppliesChanges: over a DeltaStore the Controller writes the
// whole State once, when it starts, then only Changes; after an Apply fails
// it saves the whole State (the failed write may have landed or not), then
// applies Changes again. The store ends up holding the Machine's State.
func TestControllerAppliesChanges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &writeLog{}
		r := newRig(t, store)
		r.start()
		defer r.stop()
		r.join()
		log := store.log()
		if len(log) < 3 || log[0] != "apply full" || slices.ContainsFunc(log[1:], func(w string) bool { return w != "apply" }) {
			t.Fatalf("writes after the start: %v; want the whole State once, then changes", log)
		}
		store.mu.Lock()
		store.failApply = 1
		store.mu.Unlock()
		if _, err := r.ctl.AddGroup(t.Context(), "Annex"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.ctl.AddGroup(t.Context(), "Depot"); err != nil {
			t.Fatal(err)
		}
		log = store.log()[len(log):]
		if want := []string{"apply failed", "save", "apply"}; !slices.Equal(log, want) {
			t.Errorf("writes of two AddGroups, the first Apply failing: %v; want %v", log, want)
		}
		st, err := store.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		s, err := r.ctl.Snapshot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Groups) != 3 || len(s.Groups) != 3 || st.Groups[2].Name != "Depot" {
			t.Errorf("the store holds groups %+v", st.Groups)
		}
	})
}

func (s *flakyStore) failSaves(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext = n
}

func TestControllerStoreFailureBlocksCommands(t *testing.T) {
	forEachFlakyStore(t, func(t *testing.T, store *flakyStore, rigStore failover.Store) {
		const failures = 5
		r := newRig(t, rigStore)
		// While it waits for the store the loop neither probes nor sends,
		// yet the Machine's clocks run on: the detectors would take that
		// silence for failed servers, and the takeover's confirmation time
		// would run out. Generous limits keep this test about the store.
		r.edit = func(cfg *failover.ControllerConfig) {
			cfg.Machine.Detector.AcceptablePause = 10 * time.Second
			cfg.Machine.TakeoverTimeout = 20 * time.Second
		}

		var (
			mu             sync.Mutex
			whilePending   []string
			unsaved        []string
			takeoverOrders int
		)
		for id := range r.agents {
			r.tr.SetHook(id, func(_ context.Context, c transport.Call) error {
				store.mu.Lock()
				defer store.mu.Unlock()
				mu.Lock()
				defer mu.Unlock()
				// A call in the same virtual instant as the failure may come
				// from an earlier Ready; any later one is a leak.
				if !store.pendingSince.IsZero() && time.Now().After(store.pendingSince) {
					whilePending = append(whilePending, fmt.Sprintf("%s %s", c.Method, c.Server))
				}
				if key, e, ok := orderEpoch(c); ok && e > store.saved[key] {
					unsaved = append(unsaved, fmt.Sprintf("%s %s epoch %d for %s, saved %d", c.Method, c.Server, e, key, store.saved[key]))
				}
				if c.Method == transport.MethodTakeover {
					takeoverOrders++
				}
				return nil
			})
		}
		r.start()
		defer r.stop()
		r.join()

		// The takeover's Ready carries its new epoch: it must be saved
		// before the standby is ordered.
		store.failSaves(failures)
		r.agents["rec-1"].Crash()
		if _, ok := waitFor(15*time.Second, func() bool {
			store.mu.Lock()
			defer store.mu.Unlock()
			return store.fails > 0
		}); !ok {
			t.Fatal("no save after the crash")
		}
		// An operation asked for while the store refuses saves is refused
		// at once and never applied.
		at := time.Now()
		if _, err := r.ctl.AddGroup(t.Context(), "while the disk is full"); !errors.Is(err, failover.ErrStoreFailing) || !errors.Is(err, errDiskFull) {
			t.Errorf("AddGroup during the outage: %v, want ErrStoreFailing", err)
		} else if d := time.Since(at); d != 0 {
			t.Errorf("AddGroup during the outage was refused after %v, want at once", d)
		}

		if _, ok := waitFor(20*time.Second, func() bool { return r.covering("sb-1") == "rec-1" }); !ok {
			t.Fatalf("no takeover after the store recovered; events: %v", r.allEvents())
		}
		// sb-1 covers before the center hears so: the failures set up
		// below are for AddGroup's saves, not for the confirmation's.
		if _, ok := waitFor(5*time.Second, func() bool {
			st, err := store.inner.Load(t.Context())
			return err == nil && len(st.Takeovers) == 1 && st.Takeovers[0].Phase == failover.PhaseActive
		}); !ok {
			t.Fatalf("the confirmed takeover was never saved; events: %v", r.allEvents())
		}
		store.mu.Lock()
		fails, held := store.fails, store.held
		store.mu.Unlock()
		if fails != failures {
			t.Errorf("%d failed saves, want %d", fails, failures)
		}
		// Each retry waits its back-off, randomized by up to half either
		// way: RetryBase, doubled at each failure.
		least := time.Duration(0)
		for i := range failures {
			least += failover.DefaultRetryBase << i / 2
		}
		if held < least {
			t.Errorf("the failures held the loop for %v; the backoff should take at least %v", held, least)
		}
		mu.Lock()
		if len(whilePending) > 0 {
			t.Errorf("%d calls while a failed save was pending: %v", len(whilePending), whilePending)
		}
		if len(unsaved) > 0 {
			t.Errorf("orders sent before their epoch was saved: %v", unsaved)
		}
		if takeoverOrders == 0 {
			t.Error("no takeover order seen")
		}
		mu.Unlock()
		s, err := r.ctl.Snapshot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Groups) != 1 {
			t.Errorf("%d groups: the timed-out AddGroup was applied", len(s.Groups))
		}
		// The standby covers as soon as it has the order; the Machine saves
		// the confirmation when the answer comes back. Once it has, nothing
		// else waits to be saved, and the next failed save is AddGroup's own.
		if _, ok := waitFor(5*time.Second, func() bool {
			st, err := store.inner.Load(t.Context())
			return err == nil && len(st.Takeovers) == 1 && st.Takeovers[0].Phase == failover.PhaseActive &&
				r.ctl.StoreHealth().UnsavedSince.IsZero()
		}); !ok {
			t.Fatal("the takeover's confirmation was never saved")
		}

		// An acknowledged operation is saved: AddGroup waits for the store.
		store.failSaves(3)
		start := time.Now()
		if _, err := r.ctl.AddGroup(t.Context(), "saved"); err != nil {
			t.Fatal(err)
		}
		waited := time.Since(start)
		if st, err := store.inner.Load(t.Context()); err != nil || len(st.Groups) != 2 || st.Groups[1].Name != "saved" {
			t.Errorf("AddGroup returned before its group was saved (after %v): %+v, %v", waited, st.Groups, err)
		}
		// One whose ctx ends while the save is retried says so, with ctx's
		// error; the change stands and is saved once the store accepts it.
		store.failSaves(3)
		ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		if _, err := r.ctl.AddGroup(ctx, "outcome unknown"); !errors.Is(err, failover.ErrSavePending) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("AddGroup whose ctx ended during the save: %v, want ErrSavePending and DeadlineExceeded", err)
		}
		cancel()
		if _, ok := waitFor(10*time.Second, func() bool {
			st, err := store.inner.Load(t.Context())
			return err == nil && len(st.Groups) == 3
		}); !ok {
			t.Error("the change of an AddGroup whose ctx ended during the save was never saved")
		}
	})
}

// healthLog records what OnStoreHealth hears.
type healthLog struct {
	mu  sync.Mutex
	got []failover.StoreHealth
}

func (l *healthLog) add(h failover.StoreHealth) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.got = append(l.got, h)
}

func (l *healthLog) all() []failover.StoreHealth {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.got)
}

// TestControllerServesWhileStoreFails: with the store refusing every save
// for 8.5 s, a status page keeps getting snapshots, the ledger and events
// at once and sees the failure; admin operations are refused and change
// nothing; no order goes out until its State is saved, and then it does.
func TestControllerServesWhileStoreFails(t *testing.T) {
	forEachFlakyStore(t, func(t *testing.T, store *flakyStore, rigStore failover.Store) {
		r := newRig(t, rigStore)
		health := &healthLog{}
		r.edit = func(cfg *failover.ControllerConfig) { cfg.OnStoreHealth = health.add }
		sb3 := standbyFacts("sb-3", 32)
		if err := r.tr.Register(sb3.ID, agenttest.New(sb3)); err != nil {
			t.Fatal(err)
		}
		var (
			mu           sync.Mutex
			whileFailing []string
			unsaved      []string
			takeovers    int
		)
		for _, id := range []nvrha.ServerID{"rec-1", "rec-2", "sb-1", "sb-2", "sb-3"} {
			r.tr.SetHook(id, func(_ context.Context, c transport.Call) error {
				store.mu.Lock()
				defer store.mu.Unlock()
				mu.Lock()
				defer mu.Unlock()
				if !store.pendingSince.IsZero() && time.Now().After(store.pendingSince) {
					whileFailing = append(whileFailing, fmt.Sprintf("%s %s", c.Method, c.Server))
				}
				if key, e, ok := orderEpoch(c); ok && e > store.saved[key] {
					unsaved = append(unsaved, fmt.Sprintf("%s %s epoch %d for %s, saved %d", c.Method, c.Server, e, key, store.saved[key]))
				}
				if c.Method == transport.MethodTakeover {
					takeovers++
				}
				return nil
			})
		}
		r.start()
		defer r.stop()
		r.join()
		if h := r.ctl.StoreHealth(); h.Failing() || h.LastSaved.IsZero() || !h.UnsavedSince.IsZero() {
			t.Errorf("health of a working store: %+v", h)
		}

		store.failSaves(math.MaxInt)
		r.agents["rec-1"].Crash()
		if _, ok := waitFor(15*time.Second, func() bool {
			store.mu.Lock()
			defer store.mu.Unlock()
			return store.fails > 0
		}); !ok {
			t.Fatal("no save after the crash")
		}
		store.mu.Lock()
		failedAt := store.pendingSince
		store.mu.Unlock()
		// What the Machine decided is published although its State is not
		// saved; the order it needs is not sent.
		if len(r.eventsOf(failover.EventServerDown, "rec-1")) != 1 || len(r.eventsOf(failover.EventTakeoverStarted, "rec-1")) != 1 {
			t.Errorf("events while the store fails: %v; want rec-1 down and its takeover started", r.allEvents())
		}

		const outage = 8500 * time.Millisecond
		for time.Since(failedAt) < outage {
			at := time.Now()
			ctx, cancel := context.WithTimeout(t.Context(), time.Second)
			s, err := r.ctl.Snapshot(ctx)
			if err != nil {
				t.Fatalf("Snapshot %v into the outage: %v", at.Sub(failedAt), err)
			}
			if _, err := r.ctl.Ledger(ctx, "rec-1-cam-1"); err != nil {
				t.Fatalf("Ledger %v into the outage: %v", at.Sub(failedAt), err)
			}
			cancel()
			if d := time.Since(at); d != 0 {
				t.Errorf("Snapshot and Ledger took %v during the outage, want no time", d)
			}
			if m := memberOf(t, s, "rec-1"); m.Health.Functional() || m.Peer != "sb-1" {
				t.Errorf("rec-1 during the outage: health %v, peer %q; want failed, taken over by sb-1", m.Health, m.Peer)
			}
			h := r.ctl.StoreHealth()
			if !h.Failing() || !errors.Is(h.Err, errDiskFull) || !h.FailingSince.Equal(failedAt) || h.Failures < 1 ||
				!h.UnsavedSince.Equal(failedAt) || h.LastSaved.After(failedAt) {
				t.Errorf("health %v into the outage: %+v; want failing with disk full since %v", at.Sub(failedAt), h, failedAt)
			}
			time.Sleep(time.Second)
		}
		if h := r.ctl.StoreHealth(); h.Failures < 4 {
			t.Errorf("%d save attempts in %v, want retries", h.Failures, outage)
		}

		// An admin operation is refused at once and changes nothing.
		at := time.Now()
		err := r.ctl.AddStandbyServers(t.Context(), failover.DefaultGroupID, sb3)
		var sfe *failover.StoreFailingError
		if !errors.As(err, &sfe) || !errors.Is(err, failover.ErrStoreFailing) || !errors.Is(err, errDiskFull) ||
			!sfe.Since.Equal(failedAt) || sfe.Failures < 1 {
			t.Errorf("AddStandbyServers while the store fails: %v, want a *StoreFailingError since %v", err, failedAt)
		}
		if d := time.Since(at); d != 0 {
			t.Errorf("AddStandbyServers was refused after %v, want at once", d)
		}
		if s, err := r.ctl.Snapshot(t.Context()); err != nil {
			t.Fatal(err)
		} else if n := len(s.Groups[0].Members); n != 4 {
			t.Errorf("%d members after a refused AddStandbyServers, want 4", n)
		}
		mu.Lock()
		if len(whileFailing) > 0 || takeovers > 0 {
			t.Errorf("calls while the store failed: %v (%d takeover orders)", whileFailing, takeovers)
		}
		mu.Unlock()
		if got := health.all(); len(got) != 1 || !errors.Is(got[0].Err, errDiskFull) || !got[0].FailingSince.Equal(failedAt) {
			t.Errorf("OnStoreHealth heard %+v, want one failure since %v", got, failedAt)
		}

		store.failSaves(0)
		if _, ok := waitFor(20*time.Second, func() bool { return r.covering("sb-1") == "rec-1" }); !ok {
			t.Fatalf("no takeover after the store recovered; events: %v", r.allEvents())
		}
		h := r.ctl.StoreHealth()
		if h.Failing() || h.Failures != 0 || !h.FailingSince.IsZero() || !h.LastSaved.After(failedAt) {
			t.Errorf("health after recovery: %+v", h)
		}
		if got := health.all(); len(got) != 2 || got[1].Failing() || !got[1].LastSaved.After(failedAt) {
			t.Errorf("OnStoreHealth heard %+v, want a failure then a recovery", got)
		}
		if f, r := r.eventsOf(failover.EventStoreFailing, ""), r.eventsOf(failover.EventStoreRecovered, ""); len(f) != 1 || len(r) != 1 ||
			!f[0].At.Equal(failedAt) || !strings.Contains(f[0].Detail, errDiskFull.Error()) {
			t.Errorf("store events: failing %+v, recovered %+v; want one of each, failing since %v", f, r, failedAt)
		}
		mu.Lock()
		if len(unsaved) > 0 {
			t.Errorf("orders sent before their epoch was saved: %v", unsaved)
		}
		if takeovers == 0 {
			t.Error("no takeover order after recovery")
		}
		mu.Unlock()
		st, err := store.inner.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range st.Groups[0].Members {
			if m.Facts.ID == sb3.ID {
				t.Error("the refused AddStandbyServers was saved")
			}
		}
		if err := r.ctl.AddStandbyServers(t.Context(), failover.DefaultGroupID, sb3); err != nil {
			t.Errorf("AddStandbyServers once the store recovered: %v", err)
		}
	})
}

// TestControllerFileStoreOutage runs the outage on a real FileStore whose
// directory disappears (an unmounted volume) and comes back.
func TestControllerFileStoreOutage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		store := failover.NewFileStore(filepath.Join(dir, "state.json"))
		r := newRig(t, store)
		r.start()
		defer r.stop()
		r.join()

		if err := os.Rename(dir, dir+".away"); err != nil {
			t.Fatal(err)
		}
		r.agents["rec-1"].Crash()
		if _, ok := waitFor(15*time.Second, func() bool { return r.ctl.StoreHealth().Failing() }); !ok {
			t.Fatal("the store never failed")
		}
		time.Sleep(3 * time.Second)
		at := time.Now()
		if _, err := r.ctl.Snapshot(t.Context()); err != nil || time.Since(at) != 0 {
			t.Errorf("Snapshot while the directory is gone: %v after %v", err, time.Since(at))
		}
		if h := r.ctl.StoreHealth(); !errors.Is(h.Err, fs.ErrNotExist) || !strings.Contains(h.Err.Error(), store.Path()) {
			t.Errorf("store health %+v; want the missing directory, naming the path", h)
		}
		if _, err := r.ctl.AddGroup(t.Context(), "Lobby"); !errors.Is(err, failover.ErrStoreFailing) || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("AddGroup while the directory is gone: %v", err)
		}
		if got := r.covering("sb-1"); got != "" {
			t.Errorf("sb-1 covers %q before the takeover's epoch was saved", got)
		}

		if err := os.Rename(dir+".away", dir); err != nil {
			t.Fatal(err)
		}
		if _, ok := waitFor(20*time.Second, func() bool { return r.covering("sb-1") == "rec-1" }); !ok {
			t.Fatalf("no takeover once the directory was back; events: %v", r.allEvents())
		}
		st, err := store.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Takeovers) != 1 || len(st.Groups) != 1 {
			t.Errorf("saved takeovers %+v, groups %d; want rec-1's takeover and no Lobby", st.Takeovers, len(st.Groups))
		}
	})
}

// hangingStore is a MemoryStore whose saves can be made to hang.
type hangingStore struct {
	failover.MemoryStore
	mu   sync.Mutex
	gate chan struct{} // non-nil: Save waits for it to close
}

func (s *hangingStore) Save(ctx context.Context, st failover.State) error {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.MemoryStore.Save(ctx, st)
}

func (s *hangingStore) Apply(ctx context.Context, c failover.Changes) error {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return s.MemoryStore.Apply(ctx, c)
}

// TestControllerServesWhileSaveHangs: a save that neither returns nor fails
// (a stuck network volume) does not keep Snapshot waiting, and shows as
// unsaved state; an admin operation waits for it, since the store has not
// refused anything yet.
func TestControllerServesWhileSaveHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &hangingStore{}
		r := newRig(t, store)
		r.start()
		defer r.stop()
		r.join()

		gate := make(chan struct{})
		store.mu.Lock()
		store.gate = gate
		store.mu.Unlock()
		hungAt := time.Now()
		added := make(chan error, 1)
		go func() {
			_, err := r.ctl.AddGroup(t.Context(), "stuck")
			added <- err
		}()
		synctest.Wait()
		time.Sleep(5 * time.Second)

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		at := time.Now()
		s, err := r.ctl.Snapshot(ctx)
		if err != nil || time.Since(at) != 0 {
			t.Fatalf("Snapshot while a save hangs: %v after %v", err, time.Since(at))
		}
		if len(s.Groups) != 2 {
			t.Errorf("%d groups; the snapshot shows the Machine, with the unsaved group", len(s.Groups))
		}
		if h := r.ctl.StoreHealth(); h.Failing() || !h.UnsavedSince.Equal(hungAt) {
			t.Errorf("health while a save hangs: %+v; want not failing, unsaved since %v", h, hungAt)
		}
		select {
		case err := <-added:
			t.Fatalf("AddGroup returned %v before its save", err)
		default:
		}
		// Another operation waits its turn: the store has refused nothing.
		if _, err := r.ctl.AddGroup(ctx, "later"); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, failover.ErrSavePending) {
			t.Errorf("AddGroup while a save hangs: %v, want ctx's deadline, not applied", err)
		}

		close(gate)
		if err := <-added; err != nil {
			t.Errorf("AddGroup once its save went through: %v", err)
		}
		if h := r.ctl.StoreHealth(); h.Failing() || !h.UnsavedSince.IsZero() || h.LastSaved.Before(at) {
			t.Errorf("health after the save went through: %+v", h)
		}
		st, err := store.Load(t.Context())
		if err != nil || len(st.Groups) != 2 {
			t.Errorf("saved groups %+v, %v; want the default one and \"stuck\"", st.Groups, err)
		}
	})
}

// TestControllerStopWhileSaveFails: an operation applied before the store
// began refusing, still waiting for its save when Run stops, learns that its
// change was not saved.
func TestControllerStopWhileSaveFails(t *testing.T) {
	forEachFlakyStore(t, func(t *testing.T, store *flakyStore, rigStore failover.Store) {
		r := newRig(t, rigStore)
		r.start()
		r.join()
		store.failSaves(math.MaxInt)
		added := make(chan error, 1)
		go func() {
			_, err := r.ctl.AddGroup(context.Background(), "never saved")
			added <- err
		}()
		time.Sleep(time.Second)
		r.stop()
		if err := <-added; !errors.Is(err, failover.ErrControllerStopped) {
			t.Errorf("AddGroup when Run stopped during its save: %v, want ErrControllerStopped", err)
		}
		if st, err := store.inner.Load(t.Context()); err != nil || len(st.Groups) != 1 {
			t.Errorf("saved groups %+v, %v", st.Groups, err)
		}
	})
}

// skewedClock is a clock set off from the real one by off: its timers run
// at the real pace, its times are shifted.
type skewedClock struct {
	clock.Clock
	off time.Duration
}

func (c skewedClock) Now() time.Time                  { return c.Clock.Now().Add(c.off) }
func (c skewedClock) Since(t time.Time) time.Duration { return c.Now().Sub(t) }
func (c skewedClock) Until(t time.Time) time.Duration { return t.Sub(c.Now()) }
func (c skewedClock) WithDeadline(parent context.Context, d time.Time) (context.Context, context.CancelFunc) {
	return c.Clock.WithDeadline(parent, d.Add(-c.off))
}

func TestControllerRunsOnItsClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// A center whose clock is a year behind: command deadlines are on
		// that clock, and a call bounded by them on the real clock would
		// fail before it started.
		const skew = -365 * 24 * time.Hour
		r := newRig(t, &failover.MemoryStore{})
		r.edit = func(cfg *failover.ControllerConfig) { cfg.Clock = skewedClock{clock.New(), skew} }
		r.start()
		defer r.stop()
		r.join()
		r.agents["rec-1"].Crash()
		if _, ok := waitFor(3*time.Second, func() bool { return r.covering("sb-1") == "rec-1" }); !ok {
			t.Fatalf("no takeover; events: %v", r.allEvents())
		}
		want := time.Now().Add(skew)
		for _, e := range r.eventsOf(failover.EventTakeoverSucceeded, "rec-1") {
			if d := want.Sub(e.At); d < 0 || d > 3*time.Second {
				t.Errorf("event at %v, want the center's time, shortly before %v", e.At, want)
			}
		}
	})
}

func TestControllerAdminConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &failover.MemoryStore{}
		r := newRig(t, store)
		r.start()
		defer r.stop()

		const callers = 40
		var (
			wg       sync.WaitGroup
			added    atomic.Int32
			tooMany  atomic.Int32
			ids      sync.Map
			snapErrs atomic.Int32
		)
		for i := range callers {
			wg.Go(func() {
				id, err := r.ctl.AddGroup(t.Context(), fmt.Sprintf("Group %d", i))
				switch {
				case err == nil:
					added.Add(1)
					if _, dup := ids.LoadOrStore(id, i); dup {
						t.Errorf("group ID %d given twice", id)
					}
				case errors.Is(err, failover.ErrTooManyGroups):
					tooMany.Add(1)
				default:
					t.Errorf("AddGroup: %v", err)
				}
			})
			wg.Go(func() {
				s, err := r.ctl.Snapshot(t.Context())
				if err != nil || len(s.Groups) < 1 || len(s.Groups) > failover.MaxGroups {
					snapErrs.Add(1)
				}
			})
		}
		wg.Wait()
		if got := added.Load(); got != failover.MaxGroups-1 {
			t.Errorf("%d groups added, want %d", got, failover.MaxGroups-1)
		}
		if got := tooMany.Load(); got != callers-(failover.MaxGroups-1) {
			t.Errorf("%d ErrTooManyGroups, want %d", got, callers-(failover.MaxGroups-1))
		}
		if n := snapErrs.Load(); n != 0 {
			t.Errorf("%d bad snapshots", n)
		}
		s, err := r.ctl.Snapshot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Groups) != failover.MaxGroups {
			t.Errorf("%d groups, want %d", len(s.Groups), failover.MaxGroups)
		}
		// Every acknowledged group is saved.
		st, err := store.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Groups) != failover.MaxGroups {
			t.Errorf("the store has %d groups, want %d", len(st.Groups), failover.MaxGroups)
		}
	})
}

func TestControllerAdminAfterStop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &failover.MemoryStore{}
		r := newRig(t, store)
		ctl := r.newController()

		// Before Run: an operation whose ctx ends first is never applied.
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		if _, err := ctl.AddGroup(ctx, "timed out"); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("AddGroup before Run with a 1s ctx: %v", err)
		}
		cancel()
		ctx, cancel = context.WithCancel(t.Context())
		cancel()
		if _, err := ctl.AddGroup(ctx, "cancelled"); !errors.Is(err, context.Canceled) {
			t.Errorf("AddGroup with a cancelled ctx: %v", err)
		}
		// One without a deadline waits for Run.
		early := make(chan error, 1)
		go func() {
			_, err := ctl.AddGroup(t.Context(), "early")
			early <- err
		}()
		synctest.Wait()
		select {
		case err := <-early:
			t.Fatalf("AddGroup returned %v before Run", err)
		default:
		}

		r.run(ctl)
		if err := <-early; err != nil {
			t.Fatalf("AddGroup issued before Run: %v", err)
		}
		time.Sleep(time.Second)
		s, err := ctl.Snapshot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, g := range s.Groups {
			names = append(names, g.Name)
		}
		if want := []string{failover.DefaultGroupName, "early"}; !slices.Equal(names, want) {
			t.Errorf("groups %q, want %q", names, want)
		}
		r.stop()

		if _, err := ctl.AddGroup(t.Context(), "late"); !errors.Is(err, failover.ErrControllerStopped) {
			t.Errorf("AddGroup after stop: %v", err)
		}
		if _, err := ctl.Snapshot(t.Context()); !errors.Is(err, failover.ErrControllerStopped) {
			t.Errorf("Snapshot after stop: %v", err)
		}
		if err := ctl.Do(t.Context(), func(*failover.Machine) error { return nil }); !errors.Is(err, failover.ErrControllerStopped) {
			t.Errorf("Do after stop: %v", err)
		}
		if _, err := ctl.RefreshInventory(t.Context(), "rec-1"); !errors.Is(err, failover.ErrControllerStopped) {
			t.Errorf("RefreshInventory after stop: %v", err)
		}
		if err := ctl.Run(t.Context()); !errors.Is(err, failover.ErrControllerStopped) {
			t.Errorf("second Run: %v", err)
		}
		st, err := store.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Groups) != 2 || st.Groups[1].Name != "early" {
			t.Errorf("saved groups %+v", st.Groups)
		}
	})
}

func TestControllerNoLeak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// The bubble's own goroutines.
		ignore := goleak.IgnoreCurrent()
		r := newRig(t, &failover.MemoryStore{})
		r.start()
		r.join()
		// Calls that hang until their deadline and a takeover under way
		// when the Controller stops.
		r.tr.SetHook("sb-2", transport.Delay(time.Hour))
		r.tr.SetHook("sb-1", onlyMethod(transport.MethodTakeover, transport.Drop()))
		r.agents["rec-1"].Crash()
		if _, ok := waitFor(3*time.Second, func() bool { return len(r.eventsOf(failover.EventTakeoverStarted, "")) > 0 }); !ok {
			t.Fatal("no takeover started")
		}
		time.Sleep(120 * time.Millisecond)
		refreshed := make(chan error, 1)
		go func() {
			_, err := r.ctl.RefreshInventory(context.Background(), "sb-2")
			refreshed <- err
		}()
		synctest.Wait()
		r.stop()
		if err := <-refreshed; err == nil {
			t.Error("RefreshInventory of a server that never answers succeeded")
		}
		goleak.VerifyNone(t, ignore)
	})
}

func TestRefreshInventorySingleflight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, &failover.MemoryStore{})
		r.start()
		defer r.stop()
		r.join()

		var calls atomic.Int32
		release := make(chan struct{})
		r.tr.SetHook("sb-1", onlyMethod(transport.MethodInventory, func(ctx context.Context, _ transport.Call) error {
			calls.Add(1)
			select {
			case <-release:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}))
		// sb-1's only recording space fills up: a standby without one is
		// "Warning" once the center learns of it.
		r.agents["sb-1"].SetEmptyRecordingSpace(false)

		const callers = 10
		results := make(chan error, callers)
		facts := make(chan nvrha.Facts, callers)
		for range callers {
			go func() {
				f, err := r.ctl.RefreshInventory(t.Context(), "sb-1")
				facts <- f
				results <- err
			}()
		}
		synctest.Wait()
		if n := calls.Load(); n != 1 {
			t.Errorf("%d inventory calls for %d concurrent refreshes, want 1", n, callers)
		}
		close(release)
		for range callers {
			if err := <-results; err != nil {
				t.Errorf("RefreshInventory: %v", err)
			}
			if f := <-facts; f.ID != "sb-1" || f.HasEmptyRecordingSpace() {
				t.Errorf("RefreshInventory returned %+v", f)
			}
		}
		if n := calls.Load(); n != 1 {
			t.Errorf("%d inventory calls, want 1", n)
		}
		if got := r.member("sb-1").Status(); got != status.StandbyWarning.Label() {
			t.Errorf("sb-1 is %q after a refresh showing no empty recording space, want %q", got, status.StandbyWarning.Label())
		}

		// A server that is not a member is refused, after the read.
		if _, err := r.ctl.RefreshInventory(t.Context(), "nobody"); err == nil {
			t.Error("RefreshInventory of an unknown server succeeded")
		}
	})
}

func TestNewControllerConfig(t *testing.T) {
	ctx := t.Context()
	tr := transport.NewInMemory()
	for _, tc := range []struct {
		name string
		cfg  failover.ControllerConfig
	}{
		{"no transport", failover.ControllerConfig{Store: &failover.MemoryStore{}}},
		{"no store", failover.ControllerConfig{Transport: tr}},
		{"negative tick", failover.ControllerConfig{Transport: tr, Store: &failover.MemoryStore{}, TickInterval: -1}},
		{"tick above probe interval", failover.ControllerConfig{Transport: tr, Store: &failover.MemoryStore{}, TickInterval: time.Second}},
		{"negative in-flight", failover.ControllerConfig{Transport: tr, Store: &failover.MemoryStore{}, MaxInFlight: -1}},
		{"bad machine config", failover.ControllerConfig{Transport: tr, Store: &failover.MemoryStore{}, Machine: failover.Config{RetryBase: -1}}},
	} {
		if _, err := failover.NewController(ctx, tc.cfg); !errors.Is(err, failover.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", tc.name, err)
		}
	}
	var cfgErr *failover.ControllerConfigError
	if _, err := failover.NewController(ctx, failover.ControllerConfig{Store: &failover.MemoryStore{}}); !errors.As(err, &cfgErr) || cfgErr.Field != "Transport" {
		t.Errorf("missing transport: %v", err)
	}
}

// brokenStore fails every Load with err.
type brokenStore struct{ err error }

func (s brokenStore) Load(context.Context) (failover.State, error) { return failover.State{}, s.err }
func (s brokenStore) Save(context.Context, failover.State) error   { return nil }
func (s brokenStore) String() string                               { return s.err.Error() }

func TestNewControllerNeverStartsEmptyOnABadStore(t *testing.T) {
	ctx := t.Context()
	tr := transport.NewInMemory()
	for _, store := range []failover.Store{
		brokenStore{fmt.Errorf("%w: checksum mismatch", failover.ErrCorruptStore)},
		brokenStore{errors.New("permission denied")},
	} {
		if _, err := failover.NewController(ctx, failover.ControllerConfig{Transport: tr, Store: store}); err == nil {
			t.Errorf("store failing with %v: NewController succeeded", store)
		}
	}
	// A State RestoreMachine refuses is an error too.
	bad := &failover.MemoryStore{}
	if err := bad.Save(ctx, failover.State{Version: failover.StateVersion + 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := failover.NewController(ctx, failover.ControllerConfig{Transport: tr, Store: bad}); !errors.Is(err, failover.ErrUnknownStateVersion) {
		t.Errorf("state of another version: %v", err)
	}
}

func TestControllerProbesAreNotRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, &failover.MemoryStore{})
		r.start()
		defer r.stop()
		r.join()

		// Lost probes are what the failure detector feeds on: each lost
		// probe is one miss, not the start of a retry loop.
		var probes atomic.Int32
		r.tr.SetHook("rec-2", onlyMethod(transport.MethodProbe, func(ctx context.Context, c transport.Call) error {
			probes.Add(1)
			return transport.ErrUnreachable
		}))
		const window = time.Second
		time.Sleep(window)
		r.tr.ClearHook("rec-2")
		interval := failover.Config{}.WithDefaults().Detector.ProbeInterval
		if n, most := probes.Load(), int32(window/interval)+1; n < 1 || n > most {
			t.Errorf("%d probes of rec-2 in %v, want 1 to %d", n, window, most)
		}
	})
}

func TestControllerDisableInterruptsAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRig(t, &failover.MemoryStore{})
		r.start()
		defer r.stop()
		r.join()
		ctx := t.Context()

		r.agents["rec-1"].Crash()
		if _, ok := waitFor(3*time.Second, func() bool { return r.covering("sb-1") == "rec-1" }); !ok {
			t.Fatalf("no takeover; events: %v", r.allEvents())
		}
		if err := r.ctl.RemoveStandbyServers(ctx, failover.DefaultGroupID, failover.VerifierFunc(func(context.Context) error { return nil }), "sb-1"); !errors.Is(err, failover.ErrInTakeover) {
			t.Errorf("removing a standby in takeover: %v", err)
		}

		at := time.Now()
		tks, err := r.ctl.SetServerEnabled(ctx, "sb-1", false)
		if err != nil {
			t.Fatal(err)
		}
		if len(tks) != 1 || tks[0].Recording != "rec-1" || tks[0].Standby != "sb-1" {
			t.Errorf("interrupted takeovers %+v", tks)
		}
		// The release and the next takeover go out with the operation, not
		// at the next tick.
		synctest.Wait()
		if d := time.Since(at); d != 0 {
			t.Fatalf("virtual time moved by %v", d)
		}
		if got := r.covering("sb-1"); got != "" {
			t.Errorf("disabled sb-1 still covers %q", got)
		}
		if got := r.covering("sb-2"); got != "rec-1" {
			t.Errorf("sb-2 covers %q, want rec-1", got)
		}

		deny := failover.VerifierFunc(func(context.Context) error { return errors.New("wrong password") })
		if err := r.ctl.RemoveStandbyServers(ctx, failover.DefaultGroupID, deny, "sb-1"); !errors.Is(err, failover.ErrVerificationFailed) {
			t.Errorf("removing a standby without verification: %v", err)
		}
		allow := failover.VerifierFunc(func(context.Context) error { return nil })
		if err := r.ctl.RemoveStandbyServers(ctx, failover.DefaultGroupID, allow, "sb-1"); err != nil {
			t.Errorf("removing the disabled standby: %v", err)
		}
		if _, err := r.ctl.DeleteGroup(ctx, failover.DefaultGroupID, allow); !errors.Is(err, failover.ErrDefaultGroup) {
			t.Errorf("deleting the default group: %v", err)
		}
	})
}
