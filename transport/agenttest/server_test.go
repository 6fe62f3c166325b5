package agenttest_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"

	"pgregory.net/rapid"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

func recordingFacts(id nvrha.ServerID, cams ...nvrha.CameraID) nvrha.Facts {
	return nvrha.Facts{ID: id, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 8, Cameras: cams}
}

func standbyFacts(id nvrha.ServerID) nvrha.Facts {
	return nvrha.Facts{
		ID: id, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 16,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol-1", Empty: true}},
	}
}

// state is everything a test can observe of a Server, so that "changes
// nothing" can be checked as before == after.
type state struct {
	Recording bool
	Covering  nvrha.ServerID
	Cameras   []nvrha.CameraID
	Newest    map[nvrha.ServerID]nvrha.Epoch
	Term      uint64
	Probe     transport.ProbeReport
	ProbeErr  string
	Inventory nvrha.Facts
}

func observe(s *agenttest.Server, keys ...nvrha.ServerID) state {
	st := state{Recording: s.Recording(), Newest: map[nvrha.ServerID]nvrha.Epoch{}, Term: s.Term()}
	st.Covering, st.Cameras = s.Covering()
	for _, k := range append(keys, s.ID()) {
		st.Newest[k] = s.Newest(k)
	}
	var err error
	st.Probe, err = s.Probe(context.Background())
	if err != nil {
		st.ProbeErr = err.Error()
	}
	st.Inventory, _ = s.Inventory(context.Background())
	return st
}

func mustNotChange(t testing.TB, s *agenttest.Server, what string, do func() error, check func(error) bool) {
	t.Helper()
	before := observe(s, "r1", "r2")
	err := do()
	if !check(err) {
		t.Errorf("%s: unexpected result %v", what, err)
	}
	if after := observe(s, "r1", "r2"); !reflect.DeepEqual(before, after) {
		t.Errorf("%s changed the server:\nbefore %+v\nafter  %+v", what, before, after)
	}
}

func isStale(err error) bool {
	var s *transport.StaleEpochError
	return errors.As(err, &s) && errors.Is(err, transport.ErrStaleEpoch)
}

func TestTakeoverAndRelease(t *testing.T) {
	ctx := t.Context()
	s := agenttest.New(standbyFacts("sb1"))
	if s.Recording() {
		t.Errorf("a standby without cameras reports recording")
	}
	if id, cams := s.Covering(); id != "" || cams != nil {
		t.Errorf("new standby covers %s %v", id, cams)
	}

	o := transport.TakeoverOrder{Recording: "r1", Epoch: 3, Cameras: []nvrha.CameraID{"c1", "c2"}}
	if err := s.Takeover(ctx, o); err != nil {
		t.Fatalf("Takeover: %v", err)
	}
	o.Cameras[0] = "changed-by-caller"
	if id, cams := s.Covering(); id != "r1" || !slices.Equal(cams, []nvrha.CameraID{"c1", "c2"}) {
		t.Errorf("after Takeover: covers %s %v, want r1 [c1 c2]", id, cams)
	}
	r, err := s.Probe(ctx)
	want := transport.ProbeReport{Server: "sb1", Healthy: true, Covering: "r1", Epoch: 3, HasEmptyRecordingSpace: true}
	if err != nil || r != want {
		t.Errorf("Probe = %+v, %v; want %+v", r, err, want)
	}

	// A re-issue with a newer epoch and a new camera list replaces the old one.
	if err := s.Takeover(ctx, transport.TakeoverOrder{Recording: "r1", Epoch: 4, Cameras: []nvrha.CameraID{"c3"}}); err != nil {
		t.Fatalf("re-issued Takeover: %v", err)
	}
	if id, cams := s.Covering(); id != "r1" || !slices.Equal(cams, []nvrha.CameraID{"c3"}) {
		t.Errorf("after re-issue: covers %s %v, want r1 [c3]", id, cams)
	}

	if err := s.Release(ctx, transport.ReleaseOrder{Recording: "r1", Epoch: 5}); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if id, cams := s.Covering(); id != "" || cams != nil {
		t.Errorf("after Release: covers %s %v", id, cams)
	}
	if got := s.Newest("r1"); got != 5 {
		t.Errorf("Newest(r1) = %d, want 5", got)
	}
	if r, _ := s.Probe(ctx); r.Covering != "" || r.Epoch != 0 {
		t.Errorf("Probe after Release = %+v, want no covering, epoch 0", r)
	}

	// Free again, it takes over another recording server.
	if err := s.Takeover(ctx, transport.TakeoverOrder{Recording: "r2", Epoch: 1, Cameras: []nvrha.CameraID{"c9"}}); err != nil {
		t.Errorf("Takeover of r2 after releasing r1: %v", err)
	}
}

func TestStandDownAndResume(t *testing.T) {
	ctx := t.Context()
	s := agenttest.New(recordingFacts("r1", "c1", "c2"))
	if !s.Recording() {
		t.Fatalf("a new recording server does not record")
	}
	if err := s.StandDown(ctx, transport.StandDownOrder{Epoch: 2}); err != nil {
		t.Fatalf("StandDown: %v", err)
	}
	if s.Recording() {
		t.Errorf("records after StandDown")
	}
	if r, _ := s.Probe(ctx); r.Recording || r.Epoch != 2 {
		t.Errorf("Probe after StandDown = %+v, want not recording at epoch 2", r)
	}
	if err := s.Resume(ctx, transport.ResumeOrder{Epoch: 3}); err != nil {
		t.Fatalf("Resume: %v", err)
	}
	if !s.Recording() {
		t.Errorf("does not record after Resume")
	}
	if r, _ := s.Probe(ctx); !r.Recording || r.Epoch != 3 || r.Covering != "" {
		t.Errorf("Probe after Resume = %+v, want recording at epoch 3", r)
	}
}

func TestStaleOrdersChangeNothing(t *testing.T) {
	tests := []struct {
		name  string
		facts nvrha.Facts
		setup []order
		stale order
	}{
		{
			name:  "takeover older than the takeover in force",
			facts: standbyFacts("sb1"),
			setup: []order{takeover("r1", 5, "c1")},
			stale: takeover("r1", 4, "c2"),
		},
		{
			name:  "release older than the takeover in force",
			facts: standbyFacts("sb1"),
			setup: []order{takeover("r1", 5, "c1")},
			stale: release("r1", 4),
		},
		{
			name:  "takeover of a cancelled attempt arriving after its release",
			facts: standbyFacts("sb1"),
			setup: []order{release("r1", 6)},
			stale: takeover("r1", 5, "c1"),
		},
		{
			name:  "takeover arriving after failback released it",
			facts: standbyFacts("sb1"),
			setup: []order{takeover("r1", 5, "c1"), release("r1", 6)},
			stale: takeover("r1", 5, "c1"),
		},
		{
			name:  "resume older than the stand-down in force",
			facts: recordingFacts("r1", "c1"),
			setup: []order{standDown(5)},
			stale: resume(4),
		},
		{
			name:  "stand-down arriving after failback resumed",
			facts: recordingFacts("r1", "c1"),
			setup: []order{standDown(5), resume(6)},
			stale: standDown(5),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := agenttest.New(tt.facts)
			for i, f := range tt.setup {
				if err := f(s); err != nil {
					t.Fatalf("setup %d: %v", i, err)
				}
			}
			mustNotChange(t, s, "stale order", func() error { return tt.stale(s) }, isStale)
		})
	}
}

func takeover(rec nvrha.ServerID, e nvrha.Epoch, cams ...nvrha.CameraID) order {
	return func(s *agenttest.Server) error {
		return s.Takeover(context.Background(), transport.TakeoverOrder{Recording: rec, Epoch: e, Cameras: cams})
	}
}

func release(rec nvrha.ServerID, e nvrha.Epoch) order {
	return func(s *agenttest.Server) error {
		return s.Release(context.Background(), transport.ReleaseOrder{Recording: rec, Epoch: e})
	}
}

func standDown(e nvrha.Epoch) order {
	return func(s *agenttest.Server) error {
		return s.StandDown(context.Background(), transport.StandDownOrder{Epoch: e})
	}
}

func resume(e nvrha.Epoch) order {
	return func(s *agenttest.Server) error {
		return s.Resume(context.Background(), transport.ResumeOrder{Epoch: e})
	}
}

func TestRefusalsChangeNothing(t *testing.T) {
	is := func(target error) func(error) bool {
		return func(err error) bool { return errors.Is(err, target) }
	}

	sb := agenttest.New(standbyFacts("sb1"))
	if err := takeover("r1", 1, "c1")(sb); err != nil {
		t.Fatal(err)
	}
	mustNotChange(t, sb, "takeover of a second recording server", takeover("r2", 9, "c2").bind(sb), is(agenttest.ErrBusy))
	mustNotChange(t, sb, "takeover of itself", takeover("sb1", 9).bind(sb), is(transport.ErrInvalidOrder))
	mustNotChange(t, sb, "takeover with epoch 0", takeover("r1", 0, "c1").bind(sb), is(transport.ErrInvalidOrder))
	mustNotChange(t, sb, "takeover with duplicate cameras", takeover("r1", 9, "c1", "c1").bind(sb), is(transport.ErrInvalidOrder))
	mustNotChange(t, sb, "release with a bad ID", release("", 9).bind(sb), is(transport.ErrInvalidOrder))

	noSpace := agenttest.New(standbyFacts("sb2"))
	noSpace.SetEmptyRecordingSpace(false)
	mustNotChange(t, noSpace, "takeover without an empty recording space", takeover("r1", 1, "c1").bind(noSpace), is(agenttest.ErrNoEmptyRecordingSpace))

	sick := agenttest.New(standbyFacts("sb3"))
	sick.SetHealthy(false)
	mustNotChange(t, sick, "takeover by an abnormal standby", takeover("r1", 1, "c1").bind(sick), is(agenttest.ErrUnhealthy))

	rec := agenttest.New(recordingFacts("r1", "c1"))
	if err := standDown(1)(rec); err != nil {
		t.Fatal(err)
	}
	rec.SetHealthy(false)
	mustNotChange(t, rec, "resume of an abnormal server", resume(2).bind(rec), is(agenttest.ErrUnhealthy))
	mustNotChange(t, rec, "stand-down with epoch 0", standDown(0).bind(rec), is(transport.ErrInvalidOrder))

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	mustNotChange(t, rec, "order with a cancelled context", func() error {
		return rec.Resume(ctx, transport.ResumeOrder{Epoch: 9})
	}, is(context.Canceled))
}

// bind lets a table of orders read as data: order(args).bind(server).
type order func(*agenttest.Server) error

func (o order) bind(s *agenttest.Server) func() error { return func() error { return o(s) } }

func TestRetriesAreAccepted(t *testing.T) {
	ctx := t.Context()
	sb := agenttest.New(standbyFacts("sb1"))
	o := transport.TakeoverOrder{Recording: "r1", Epoch: 2, Cameras: []nvrha.CameraID{"c1"}}
	if err := sb.Takeover(ctx, o); err != nil {
		t.Fatal(err)
	}
	// Retries must pass even once the standby could not start covering now:
	// the order has already been carried out.
	sb.SetHealthy(false)
	sb.SetEmptyRecordingSpace(false)
	if err := sb.Takeover(ctx, o); err != nil {
		t.Errorf("retried Takeover: %v", err)
	}
	if id, _ := sb.Covering(); id != "r1" {
		t.Errorf("covers %q after the retry, want r1", id)
	}
	for range 2 {
		if err := sb.Release(ctx, transport.ReleaseOrder{Recording: "r1", Epoch: 3}); err != nil {
			t.Errorf("Release or its retry: %v", err)
		}
	}

	rec := agenttest.New(recordingFacts("r1", "c1"))
	for range 2 {
		if err := rec.StandDown(ctx, transport.StandDownOrder{Epoch: 2}); err != nil {
			t.Errorf("StandDown or its retry: %v", err)
		}
	}
	if err := rec.Resume(ctx, transport.ResumeOrder{Epoch: 3}); err != nil {
		t.Fatal(err)
	}
	rec.SetHealthy(false)
	if err := rec.Resume(ctx, transport.ResumeOrder{Epoch: 3}); err != nil {
		t.Errorf("retried Resume of a server already recording: %v", err)
	}
}

func TestCrashAndRestart(t *testing.T) {
	ctx := t.Context()

	t.Run("every call is unreachable", func(t *testing.T) {
		s := agenttest.New(recordingFacts("r1", "c1"))
		s.Crash()
		_, perr := s.Probe(ctx)
		_, ierr := s.Inventory(ctx)
		errs := []error{perr, ierr, takeover("r2", 1, "c2")(s), release("r2", 1)(s), standDown(1)(s), resume(1)(s)}
		for i, err := range errs {
			if !errors.Is(err, transport.ErrUnreachable) {
				t.Errorf("call %d to a crashed server = %v, want ErrUnreachable", i, err)
			}
		}
		s.Restart()
		if !s.Recording() || s.Newest("r1") != 0 || s.Newest("r2") != 0 {
			t.Errorf("orders sent while crashed took effect: recording %v, epochs %d %d", s.Recording(), s.Newest("r1"), s.Newest("r2"))
		}
	})

	t.Run("recording server comes back recording", func(t *testing.T) {
		s := agenttest.New(recordingFacts("r1", "c1"))
		s.Crash()
		if s.Recording() {
			t.Errorf("a crashed server records")
		}
		s.Restart()
		if !s.Recording() {
			t.Errorf("does not record after Restart")
		}
	})

	t.Run("stood-down server comes back stood down", func(t *testing.T) {
		s := agenttest.New(recordingFacts("r1", "c1"))
		if err := standDown(4)(s); err != nil {
			t.Fatal(err)
		}
		s.Crash()
		s.Restart()
		if s.Recording() {
			t.Errorf("records after Restart despite StandDown")
		}
		if err := resume(3)(s); !isStale(err) {
			t.Errorf("epochs forgotten across Restart: Resume(3) = %v", err)
		}
	})

	t.Run("standby comes back covering", func(t *testing.T) {
		s := agenttest.New(standbyFacts("sb1"))
		if err := takeover("r1", 2, "c1")(s); err != nil {
			t.Fatal(err)
		}
		s.Crash()
		if id, cams := s.Covering(); id != "" || cams != nil {
			t.Errorf("a crashed standby covers %s %v", id, cams)
		}
		if got := s.Newest("r1"); got != 2 {
			t.Errorf("Newest(r1) while crashed = %d, want 2", got)
		}
		s.Restart()
		if id, cams := s.Covering(); id != "r1" || !slices.Equal(cams, []nvrha.CameraID{"c1"}) {
			t.Errorf("after Restart covers %s %v, want r1 [c1]", id, cams)
		}
		if r, _ := s.Probe(ctx); r.Covering != "r1" || r.Epoch != 2 {
			t.Errorf("Probe after Restart = %+v", r)
		}
	})
}

func TestSetEmptyRecordingSpace(t *testing.T) {
	ctx := t.Context()
	s := agenttest.New(nvrha.Facts{ID: "sb1", Product: nvrha.ProductQVRPro})
	check := func(want bool) {
		t.Helper()
		r, err := s.Probe(ctx)
		if err != nil || r.HasEmptyRecordingSpace != want {
			t.Errorf("Probe = %+v, %v; want HasEmptyRecordingSpace %v", r, err, want)
		}
		f, err := s.Inventory(ctx)
		if err != nil || f.HasEmptyRecordingSpace() != want {
			t.Errorf("Inventory = %+v, %v; want an empty space: %v", f, err, want)
		}
	}
	check(false)
	if err := takeover("r1", 1, "c1")(s); !errors.Is(err, agenttest.ErrNoEmptyRecordingSpace) {
		t.Errorf("Takeover without space = %v", err)
	}
	s.SetEmptyRecordingSpace(true)
	check(true)
	s.SetEmptyRecordingSpace(true)
	if f, _ := s.Inventory(ctx); len(f.RecordingSpaces) != 1 {
		t.Errorf("setting twice added spaces: %+v", f.RecordingSpaces)
	}
	s.SetEmptyRecordingSpace(false)
	check(false)
	s.SetEmptyRecordingSpace(true)
	check(true)
	if err := takeover("r1", 1, "c1")(s); err != nil {
		t.Errorf("Takeover with space: %v", err)
	}
}

func TestInventoryIsACopy(t *testing.T) {
	f := standbyFacts("sb1")
	s := agenttest.New(f)
	f.RecordingSpaces[0].Empty = false
	got, _ := s.Inventory(t.Context())
	if !got.HasEmptyRecordingSpace() {
		t.Errorf("changing the facts passed to New changed the server")
	}
	got.RecordingSpaces[0].Empty = false
	s.SetEmptyRecordingSpace(true)
	if again, _ := s.Inventory(t.Context()); !again.RecordingSpaces[0].Empty {
		t.Errorf("changing an Inventory answer changed the server")
	}
}

// TestConcurrentTakeoversOneWins races takeovers of different recording
// servers to one standby; run it with -race. A standby covers at most one.
func TestConcurrentTakeoversOneWins(t *testing.T) {
	s := agenttest.New(standbyFacts("sb1"))
	errs := make([]error, 16)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			rec := nvrha.ServerID(fmt.Sprintf("r%d", i))
			errs[i] = takeover(rec, 1, nvrha.CameraID("c-"+string(rec)))(s)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, agenttest.ErrBusy):
			t.Errorf("Takeover: %v", err)
		}
	}
	if won != 1 {
		t.Errorf("%d takeovers succeeded, want 1", won)
	}
}

// TestFailoverAndFailbackOverInMemory plays a whole takeover and failback
// through the transport, then lets a delayed order from the takeover land.
func TestFailoverAndFailbackOverInMemory(t *testing.T) {
	ctx := t.Context()
	rec := agenttest.New(recordingFacts("r1", "c1", "c2"))
	sb := agenttest.New(standbyFacts("sb1"))
	tr := transport.NewInMemory()
	for _, s := range []*agenttest.Server{rec, sb} {
		if err := tr.Register(s.ID(), s); err != nil {
			t.Fatal(err)
		}
	}
	step := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	rec.SetHealthy(false)
	if r, _ := tr.Probe(ctx, "r1"); r.Healthy || !r.Recording {
		t.Fatalf("abnormal server probes as %+v", r)
	}
	takeoverOrder := transport.TakeoverOrder{Recording: "r1", Epoch: 1, Cameras: []nvrha.CameraID{"c1", "c2"}}
	step("stand down", tr.StandDown(ctx, "r1", transport.StandDownOrder{Epoch: 1}))
	step("takeover", tr.Takeover(ctx, "sb1", takeoverOrder))
	if id, _ := sb.Covering(); rec.Recording() || id != "r1" {
		t.Fatalf("after takeover: r1 recording %v, sb1 covering %q", rec.Recording(), id)
	}

	rec.SetHealthy(true)
	step("resume", tr.Resume(ctx, "r1", transport.ResumeOrder{Epoch: 2}))
	if id, _ := sb.Covering(); !rec.Recording() || id != "r1" {
		t.Fatalf("make-before-break: after resume r1 recording %v, sb1 covering %q; want both", rec.Recording(), id)
	}
	step("release", tr.Release(ctx, "sb1", transport.ReleaseOrder{Recording: "r1", Epoch: 2}))

	if err := tr.Takeover(ctx, "sb1", takeoverOrder); !isStale(err) {
		t.Errorf("delayed Takeover after failback = %v, want stale", err)
	}
	if err := tr.StandDown(ctx, "r1", transport.StandDownOrder{Epoch: 1}); !isStale(err) {
		t.Errorf("delayed StandDown after failback = %v, want stale", err)
	}
	if id, _ := sb.Covering(); !rec.Recording() || id != "" {
		t.Errorf("after failback: r1 recording %v, sb1 covering %q; want r1 only", rec.Recording(), id)
	}
}

// TestRefusedOrdersChangeNothing drives a server with random orders and
// faults. Whatever the history, an order that fails leaves the server exactly
// as it was, a stale one always fails, and an accepted one raises its key's
// newest epoch to its own.
func TestRefusedOrdersChangeNothing(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		// A server with cameras of its own that may also take over others
		// exercises both roles' orders at once.
		s := agenttest.New(nvrha.Facts{
			ID: "s", Product: nvrha.ProductQVRPro, Cameras: []nvrha.CameraID{"own"},
			RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol", Empty: true}},
		})
		keys := []nvrha.ServerID{"r1", "r2", "s"}
		recs := rapid.SampledFrom([]nvrha.ServerID{"r1", "r2"})
		epoch := rapid.Custom(func(t *rapid.T) nvrha.Epoch { return nvrha.Epoch(rapid.Uint64Range(0, 6).Draw(t, "epoch")) })
		crashed := false
		t.Repeat(map[string]func(*rapid.T){
			"takeover": func(t *rapid.T) {
				rec, e := recs.Draw(t, "rec"), epoch.Draw(t, "e")
				cams := rapid.SliceOfDistinct(rapid.SampledFrom([]nvrha.CameraID{"c1", "c2", "c3"}), rapid.ID).Draw(t, "cams")
				checkOrder(t, s, keys, crashed, rec, e, takeover(rec, e, cams...))
			},
			"release": func(t *rapid.T) {
				rec, e := recs.Draw(t, "rec"), epoch.Draw(t, "e")
				checkOrder(t, s, keys, crashed, rec, e, release(rec, e))
			},
			"stand-down": func(t *rapid.T) {
				e := epoch.Draw(t, "e")
				checkOrder(t, s, keys, crashed, "s", e, standDown(e))
			},
			"resume": func(t *rapid.T) {
				e := epoch.Draw(t, "e")
				checkOrder(t, s, keys, crashed, "s", e, resume(e))
			},
			"set-healthy":     func(t *rapid.T) { s.SetHealthy(rapid.Bool().Draw(t, "healthy")) },
			"set-empty-space": func(t *rapid.T) { s.SetEmptyRecordingSpace(rapid.Bool().Draw(t, "empty")) },
			"crash":           func(*rapid.T) { s.Crash(); crashed = true },
			"restart":         func(*rapid.T) { s.Restart(); crashed = false },
		})
	})
}

func checkOrder(t *rapid.T, s *agenttest.Server, keys []nvrha.ServerID, crashed bool, key nvrha.ServerID, e nvrha.Epoch, do order) {
	newest := s.Newest(key)
	before := observe(s, keys...)
	err := do(s)
	after := observe(s, keys...)
	switch {
	case crashed && !errors.Is(err, transport.ErrUnreachable):
		t.Fatalf("order to a crashed server = %v", err)
	case !crashed && e != 0 && e < newest && !isStale(err):
		t.Fatalf("order with epoch %d below %d for %s = %v, want stale", e, newest, key, err)
	case err != nil && !reflect.DeepEqual(before, after):
		t.Fatalf("refused order (%v) changed the server:\nbefore %+v\nafter  %+v", err, before, after)
	case err == nil && s.Newest(key) != max(newest, e):
		t.Fatalf("accepted epoch %d for %s: newest %d, want %d", e, key, s.Newest(key), max(newest, e))
	}
	for _, k := range keys {
		if after.Newest[k] < before.Newest[k] {
			t.Fatalf("Newest(%s) went down from %d to %d", k, before.Newest[k], after.Newest[k])
		}
	}
}
