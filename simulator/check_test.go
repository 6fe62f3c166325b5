package simulator

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/transport"
)

func smallWorld(t *testing.T, cfg Config) *World {
	t.Helper()
	if len(cfg.World.Groups) == 0 {
		cfg.World = UniformWorld(1, 2, 2, 4, 0, 0)
	}
	if cfg.Duration == 0 {
		cfg.Duration = 2 * time.Minute
	}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestGroundTruthTwoStandbysOneEpoch: two standbys recording the same
// recording server's cameras under one epoch break invariant 1, whoever
// ordered it.
func TestGroundTruthTwoStandbysOneEpoch(t *testing.T) {
	w := smallWorld(t, Config{})
	w.RunUntil(5 * time.Second)
	o := transport.TakeoverOrder{Recording: "rec-1", Epoch: 50, Cameras: w.Server("rec-1").Facts().Cameras}
	for _, id := range []nvrha.ServerID{"sb-1", "sb-2"} {
		if err := w.Server(id).Takeover(context.Background(), o); err != nil {
			t.Fatal(err)
		}
	}
	w.groundTouched = true
	w.eventDone()
	if w.violation == nil || w.violation.Invariant != 1 {
		t.Fatalf("violation %v, want invariant 1", w.violation)
	}
}

// TestUnwantedStandbyIsCaught: a standby that records cameras the center
// never gave it, and is never told to stop (the Machine's releases are
// lost), breaks invariant 1 once the fence budget has passed; told to
// stop, it breaks nothing.
func TestUnwantedStandbyIsCaught(t *testing.T) {
	for _, lost := range []bool{true, false} {
		var cfg Config
		if lost {
			cfg.Center.WrapMachine = func(m *failover.Machine) Machine { return &broken{Machine: m, mode: "ignore-releases"} }
		}
		w := smallWorld(t, cfg)
		w.RunUntil(5 * time.Second)
		o := transport.TakeoverOrder{Recording: "rec-1", Epoch: 50, Cameras: w.Server("rec-1").Facts().Cameras}
		if err := w.Server("sb-1").Takeover(context.Background(), o); err != nil {
			t.Fatal(err)
		}
		r := w.Run()
		if !lost {
			if r.Violation != nil {
				t.Fatalf("the Machine releases sb-1's stray cover, yet: %v", r.Violation)
			}
			continue
		}
		if r.Violation == nil || r.Violation.Invariant != 1 || !strings.Contains(r.Violation.Detail, "sb-1 still records rec-1") {
			t.Fatalf("violation %v, want invariant 1 on sb-1", r.Violation)
		}
		if d := r.Violation.At - 5*time.Second; d > w.Budgets().Fence+time.Second {
			t.Errorf("caught %v after, the budget is %v", d, w.Budgets().Fence)
		}
	}
}

// TestShortPauseTakeoverIsCaught: a Machine that declares a server failed
// within the acceptable pause breaks invariant 7.
func TestShortPauseTakeoverIsCaught(t *testing.T) {
	sc, err := ParseScenario(strings.NewReader("duration 1m\ngroups 1\nrecording 2 cameras 4\nstandby 1\nat 10s pause rec-1 for 800ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg Config
	cfg.ApplyScenario(sc)
	cfg.Center.WrapMachine = func(m *failover.Machine) Machine {
		c := m.Config()
		c.Detector = detector.Config{Kind: detector.KindConsecutiveMiss, ProbeInterval: 100 * time.Millisecond,
			Misses: 2, AcceptablePause: 150 * time.Millisecond}
		c.ProbeTimeout = 80 * time.Millisecond
		jumpy, err := failover.NewMachine(c)
		if err != nil {
			panic(err)
		}
		return jumpy
	}
	r := smallRun(t, cfg)
	if r.Violation == nil || r.Violation.Invariant != 7 || !strings.Contains(r.Violation.Detail, "rec-1 declared failed") {
		t.Fatalf("violation %v, want invariant 7 on rec-1", r.Violation)
	}
}

func smallRun(t *testing.T, cfg Config) *Report {
	t.Helper()
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w.Run()
}

// TestServerAgent checks the simulated server's side of the transport
// contract: fencing, refusals, footage timing and crashes.
func TestServerAgent(t *testing.T) {
	ctx := context.Background()
	// The orders here come from the test; a Machine would release the
	// stray cover they make.
	var cfg Config
	cfg.Center.WrapMachine = func(m *failover.Machine) Machine { return &broken{Machine: m, mode: "ignore-releases"} }
	w := smallWorld(t, cfg)
	sb, rec := w.Server("sb-1"), w.Server("rec-1")
	cams := rec.Facts().Cameras
	if err := sb.Takeover(ctx, transport.TakeoverOrder{Recording: "rec-1", Epoch: 5, Cameras: cams}); err != nil {
		t.Fatal(err)
	}
	if sb.RecordsCover() {
		t.Fatal("footage flows before the stream starts")
	}
	w.RunUntil(w.Now() + DefaultStreamStart)
	if !sb.RecordsCover() {
		t.Fatal("footage does not flow after the stream start")
	}
	var stale *transport.StaleEpochError
	if err := sb.Release(ctx, transport.ReleaseOrder{Recording: "rec-1", Epoch: 4}); !errors.As(err, &stale) || stale.Newest != 5 {
		t.Fatalf("stale release: %v", err)
	}
	if !sb.RecordsCover() {
		t.Fatal("a stale release stopped the footage")
	}
	if err := sb.Takeover(ctx, transport.TakeoverOrder{Recording: "rec-2", Epoch: 1, Cameras: w.Server("rec-2").Facts().Cameras}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second takeover: %v, want ErrBusy", err)
	}
	if err := sb.Release(ctx, transport.ReleaseOrder{Recording: "rec-1", Epoch: 6}); err != nil || sb.RecordsCover() {
		t.Fatalf("release: %v, covering %v", err, sb.RecordsCover())
	}
	if err := sb.Takeover(ctx, transport.TakeoverOrder{Recording: "rec-1", Epoch: 5, Cameras: cams}); !errors.As(err, &stale) {
		t.Fatalf("a delayed takeover after its release: %v, want stale", err)
	}
	if err := rec.StandDown(ctx, transport.StandDownOrder{Epoch: 3}); err != nil || rec.RecordsOwn() {
		t.Fatalf("stand-down: %v, recording %v", err, rec.RecordsOwn())
	}
	w.crashServer(rec.t.Index, FaultCrash)
	if _, err := rec.Probe(ctx); !errors.Is(err, transport.ErrUnreachable) {
		t.Fatalf("probe of a crashed server: %v", err)
	}
	w.restartServer(rec.t.Index)
	if rec.t.StoodDown != true || rec.Newest("rec-1") != 3 {
		t.Fatal("a restart lost the server's configuration")
	}
	w.servers[sb.t.Index].setEmptySpace(false)
	if err := sb.Takeover(ctx, transport.TakeoverOrder{Recording: "rec-2", Epoch: 9, Cameras: cams}); !errors.Is(err, ErrNoEmptyRecordingSpace) {
		t.Fatalf("takeover without space: %v", err)
	}
}

// TestAppendCmd: the trace writes commands as Command.String does.
func TestAppendCmd(t *testing.T) {
	for _, c := range []failover.Command{
		{ID: 1, Kind: failover.CmdProbe, Server: "rec-1"},
		{ID: 1 << 40, Kind: failover.CmdTakeover, Server: "sb-2", Recording: "rec-10", Epoch: 7},
		{ID: 3, Kind: failover.CmdResume, Server: "rec-3", Recording: "rec-3", Epoch: 2},
		{Kind: 99},
		{},
	} {
		if got, want := string(appendCmd(nil, &c)), c.String(); got != want {
			t.Errorf("appendCmd gives %q, String %q", got, want)
		}
	}
}

// TestAppendSeconds: every trace line starts with its time in seconds and
// nine decimals.
func TestAppendSeconds(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0.000000000", time.Nanosecond: "0.000000001", 1500 * time.Millisecond: "1.500000000",
		3599*time.Second + 999999999: "3599.999999999", -1500 * time.Millisecond: "-1.500000000",
		1000 * time.Hour: "3600000.000000000",
	} {
		if got := string(appendSeconds([]byte("x"), d)); got != "x"+want {
			t.Errorf("appendSeconds(%v) = %q, want %q", d, got, "x"+want)
		}
	}
}
