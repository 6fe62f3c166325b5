package failover_test

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/transport"
	"pgregory.net/rapid"
)

// The Machine is fed by agents it does not control: whatever a broken or
// hostile agent answers, whatever times the caller passes, it must not
// panic, its epochs must only grow and never approach the end of their
// range, and every State it asks to persist must restore. The same driver
// runs under the fuzzer (FuzzMachineArbitraryInputs) and under rapid
// (TestMachineArbitraryInputs).

// source is what the driver draws its inputs from.
type source interface {
	intn(n int, label string) int
	u64(label string) uint64
}

// byteSource draws from a fuzzer's bytes; past their end it draws zeros.
type byteSource struct{ b []byte }

func (s *byteSource) next() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

func (s *byteSource) intn(n int, _ string) int {
	if n <= 256 {
		return int(s.next()) % n
	}
	return int(s.u64("") % uint64(n))
}

func (s *byteSource) u64(string) uint64 {
	var v uint64
	for range 8 {
		v = v<<8 | uint64(s.next())
	}
	return v
}

func (s *byteSource) done() bool { return len(s.b) == 0 }

type rapidSource struct{ t *rapid.T }

func (s rapidSource) intn(n int, label string) int { return rapid.IntRange(0, n-1).Draw(s.t, label) }
func (s rapidSource) u64(label string) uint64 {
	// Mostly small values and the edges, where the bugs are.
	return rapid.OneOf(rapid.Uint64Range(0, 64), rapid.Uint64(),
		rapid.SampledFrom([]uint64{1 << 32, 1<<32 + 1, 1 << 63, 1<<63 + 1, 1<<64 - 2, 1<<64 - 1})).Draw(s.t, label)
}

// arbitraryWorld is a Machine fed arbitrary answers and times.
type arbitraryWorld struct {
	t      testing.TB
	cfg    failover.Config
	m      *failover.Machine
	now    time.Time
	sent   []failover.Command // commands sent and not yet answered, oldest first
	epochs map[nvrha.ServerID]nvrha.Epoch
	// reused is the Ready that ReadyInto fills, round after round: it
	// must hold what Ready returns, whatever the last rounds left in it.
	reused failover.Ready
	// twin is fed the same inputs but looks at every member at every
	// Tick: a member skipped as quiet must change nothing the Machine
	// does, so twin must hand the same Readies, round after round.
	twin *failover.Machine
	// fine makes time pass by a tick's worth at most, as a center ticks:
	// the steps where a member is quiet for some Ticks and not others.
	fine bool
	// snaps are brought up to date after every input.
	snaps snapshotUpdater
	// saved is the last State a Ready handed: once the Machine has no
	// Ready, it holds every change (invariant 8).
	saved *failover.State
	// membership adds inputs that take a standby out of its group and
	// back, so that orders are owed to servers in no group.
	membership bool
}

var arbitraryServers = []nvrha.ServerID{"rec-1", "rec-2", "rec-3", "sb-1", "sb-2", "rec-x", "sb-x", "ghost"}

// arbitraryStandby is a standby of the arbitrary world, with the group it
// is built in (Annex is the second group).
type arbitraryStandby struct {
	id       nvrha.ServerID
	channels int
	group    failover.GroupID
}

var arbitraryStandbys = []arbitraryStandby{
	{"sb-1", 16, failover.DefaultGroupID}, {"sb-2", 32, failover.DefaultGroupID}, {"sb-x", 8, failover.DefaultGroupID + 1},
}

func (s arbitraryStandby) facts() nvrha.Facts { return standbyFacts(s.id, s.channels) }

func newArbitraryWorld(t testing.TB) *arbitraryWorld {
	return newArbitraryWorldWith(t, failover.Config{})
}

// newArbitraryWorldWith is newArbitraryWorld with cfg's fields, beside
// its failback hold-down.
func newArbitraryWorldWith(t testing.TB, cfg failover.Config) *arbitraryWorld {
	cfg.Failback = failover.FailbackPolicy{HoldDown: 2 * time.Second}
	m, err := failover.NewMachine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	twin, err := failover.NewMachine(cfg)
	if err != nil {
		t.Fatal(err)
	}
	failover.TickEveryMember(twin)
	w := &arbitraryWorld{t: t, cfg: cfg, m: m, twin: twin, now: epoch0, epochs: map[nvrha.ServerID]nvrha.Epoch{}}
	for _, m := range []*failover.Machine{m, twin} {
		g := failover.DefaultGroupID
		mustAddStandby(t, m, g, arbitraryStandbys[0].facts(), arbitraryStandbys[1].facts())
		mustAddRecording(t, m, g, recordingFacts("rec-1", 16), recordingFacts("rec-2", 8), recordingFacts("rec-3", 32))
		g2 := mustAddGroup(t, m, "Annex")
		mustAddStandby(t, m, g2, arbitraryStandbys[2].facts())
		mustAddRecording(t, m, g2, recordingFacts("rec-x", 8))
	}
	return w
}

// both applies f to the Machine and its twin: they must answer alike.
func (w *arbitraryWorld) both(what string, f func(m *failover.Machine) error) error {
	err := f(w.m)
	if terr := f(w.twin); fmt.Sprint(terr) != fmt.Sprint(err) {
		w.t.Fatalf("%s: %v, where the Machine that ticks every member gives %v", what, err, terr)
	}
	return err
}

// step applies one arbitrary input.
func (w *arbitraryWorld) step(src source) {
	inputs := 8
	if w.membership {
		inputs = 10
	}
	switch src.intn(inputs, "input") {
	case 0, 1:
		// Time passes: mostly a little, sometimes a lot, sometimes backwards.
		var d time.Duration
		kind := -1 // a tick's worth
		if !w.fine {
			kind = src.intn(4, "time kind")
		}
		switch kind {
		case -1:
			d = time.Duration(src.intn(120, "tick ms")) * time.Millisecond
		case 0:
			d = time.Duration(src.intn(2000, "ms")) * time.Millisecond
		case 1:
			d = time.Duration(src.intn(120, "s")) * time.Second
		case 2:
			d = -time.Duration(src.intn(10000, "ms back")) * time.Millisecond
		default:
			d = time.Duration(src.u64("any duration") % uint64(1<<62))
		}
		t := w.now.Add(d)
		if d >= 0 {
			w.now = t
		}
		_ = w.both("Tick", func(m *failover.Machine) error { m.Tick(t); return nil })
	case 2, 3, 4:
		w.answer(src)
	case 5:
		// A result for a command the Machine may never have sent.
		r := failover.Result{ID: src.u64("id"), Err: w.err(src)}
		_ = w.both("Step", func(m *failover.Machine) error { return m.Step(w.now, r) })
	case 6:
		id := arbitraryServers[src.intn(len(arbitraryServers), "server")]
		on := src.intn(2, "enabled") == 1
		_ = w.both("SetServerEnabled", func(m *failover.Machine) error { _, err := m.SetServerEnabled(id, on); return err })
	case 7:
		id := arbitraryServers[src.intn(len(arbitraryServers), "server")]
		_ = w.both("Failback", func(m *failover.Machine) error { return m.Failback(id) })
	case 8:
		// A standby is disabled and leaves its group at once: one that
		// covered leaves owed the release its takeover's end ordered.
		sb := arbitraryStandbys[src.intn(len(arbitraryStandbys), "standby")]
		_ = w.both("SetServerEnabled", func(m *failover.Machine) error { _, err := m.SetServerEnabled(sb.id, false); return err })
		_ = w.both("RemoveStandbyServers", func(m *failover.Machine) error {
			return m.RemoveStandbyServers(sb.group, approveAt(w.t, failover.OpRemoveStandbyServers, m.Now()), sb.id)
		})
	case 9:
		// It comes back, taking what it is still owed.
		sb := arbitraryStandbys[src.intn(len(arbitraryStandbys), "standby")]
		_ = w.both("AddStandbyServers", func(m *failover.Machine) error { return m.AddStandbyServers(sb.group, sb.facts()) })
	}
	w.flush()
}

// answer hands the Machine an arbitrary result for one of its commands.
func (w *arbitraryWorld) answer(src source) {
	if len(w.sent) == 0 {
		return
	}
	i := src.intn(len(w.sent), "command")
	if src.intn(2, "prefer an order") == 1 {
		// Orders are few beside probes; they are where epochs move.
		for j := len(w.sent) - 1; j >= 0; j-- {
			if k := w.sent[j].Kind; k != failover.CmdProbe && k != failover.CmdInventory {
				i = j
				break
			}
		}
	}
	c := w.sent[i]
	if src.intn(4, "keep") != 0 {
		// Answered at most once, mostly: a duplicate now and then.
		w.sent = append(w.sent[:i], w.sent[i+1:]...)
	}
	r := failover.Result{ID: c.ID, Err: w.err(src)}
	switch c.Kind {
	case failover.CmdProbe:
		r.Report = transport.ProbeReport{
			Server:                 c.Server,
			Healthy:                src.intn(4, "healthy") != 0,
			Recording:              src.intn(2, "recording") == 1,
			Epoch:                  nvrha.Epoch(src.u64("report epoch")),
			HasEmptyRecordingSpace: src.intn(3, "space") != 0,
		}
		if src.intn(3, "covering") == 0 {
			r.Report.Covering = arbitraryServers[src.intn(len(arbitraryServers), "covers")]
		}
		if src.intn(8, "impostor") == 0 {
			r.Report.Server = arbitraryServers[src.intn(len(arbitraryServers), "answers as")]
		}
	case failover.CmdInventory:
		f := standbyFacts(c.Server, 8*(1+src.intn(8, "channels")))
		if c.Server[0] == 'r' {
			f = recordingFacts(c.Server, 8*(1+src.intn(8, "channels")))
		}
		if src.intn(4, "other id") == 0 {
			f.ID = arbitraryServers[src.intn(len(arbitraryServers), "facts of")]
		}
		if src.intn(8, "malformed") == 0 {
			f.LicenseChannels = -1
		}
		r.Facts = f
	}
	at := w.now.Add(time.Duration(src.intn(500, "latency")) * time.Millisecond)
	if err := w.both("Step", func(m *failover.Machine) error { return m.Step(at, r) }); err != nil &&
		!errors.Is(err, failover.ErrUnknownCommand) {
		w.t.Fatalf("Step(%v) = %v", c, err)
	}
}

func (w *arbitraryWorld) err(src source) error {
	switch src.intn(6, "error") {
	case 0:
		return transport.ErrUnreachable
	case 1:
		return &transport.StaleEpochError{Got: 1, Newest: nvrha.Epoch(src.u64("newest"))}
	case 2:
		return fmt.Errorf("agent: %w", transport.ErrInvalidOrder)
	}
	return nil
}

// flush takes every Ready: its State must restore, its epochs only grow.
func (w *arbitraryWorld) flush() {
	for i := 0; w.m.HasReady(); i++ {
		if i > 100 {
			w.t.Fatal("the Machine never settles")
		}
		rd := w.m.Ready()
		w.m.ReadyInto(&w.reused)
		if !sameReady(rd, w.reused) {
			w.t.Fatalf("ReadyInto gave %+v where Ready gives %+v", w.reused, rd)
		}
		if trd := w.twin.Ready(); !sameReady(rd, trd) {
			w.t.Fatalf("Ready gave %+v where the Machine that ticks every member gives %+v", rd, trd)
		} else {
			w.twin.Advance(trd)
		}
		if rd.State != nil {
			w.checkState(*rd.State)
			w.saved = rd.State
		}
		w.sent = append(w.sent, rd.Commands...)
		if len(w.sent) > 256 {
			w.sent = w.sent[len(w.sent)-256:]
		}
		w.m.Advance(rd)
	}
	w.snaps.check(w.t, w.m)
	if w.saved != nil {
		live, saved := w.m.State(), *w.saved
		live.NextCommandID, saved.NextCommandID = 0, 0
		if !reflect.DeepEqual(live, saved) {
			w.t.Fatalf("the Machine holds changes its Readies never handed to be persisted:\nlive  %+v\nsaved %+v", live, saved)
		}
	}
}

// sameReady reports whether two Readies hold the same, an empty slice
// being nil.
func sameReady(a, b failover.Ready) bool {
	return len(a.Commands) == len(b.Commands) && len(a.Events) == len(b.Events) &&
		(len(a.Commands) == 0 || reflect.DeepEqual(a.Commands, b.Commands)) &&
		(len(a.Events) == 0 || reflect.DeepEqual(a.Events, b.Events)) &&
		reflect.DeepEqual(a.State, b.State) && reflect.DeepEqual(a.Changes, b.Changes)
}

func (w *arbitraryWorld) checkState(st failover.State) {
	for _, es := range st.Epochs {
		if old := w.epochs[es.Server]; es.Epoch < old {
			w.t.Fatalf("epoch of %s went back from %d to %d", es.Server, old, es.Epoch)
		}
		if es.Epoch > failover.MaxEpoch+failover.MaxEpochJump {
			w.t.Fatalf("epoch of %s pushed to %d, near the end of its range", es.Server, es.Epoch)
		}
		w.epochs[es.Server] = es.Epoch
	}
	if _, err := failover.RestoreMachine(w.cfg, st, w.now); err != nil {
		w.t.Fatalf("a State the Machine persisted does not restore: %v", err)
	}
}

// TestQuietMembersSkippedAlike feeds the arbitrary driver a tick at a
// time, as a center ticks, so that members are quiet for some Ticks and
// due at others: the Machine that skips quiet members must hand what the
// one that looks at every member hands, Ready after Ready (flush).
func TestQuietMembersSkippedAlike(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		// Timeouts shorter and longer than the probe interval, and both
		// detectors: which of a member's times comes first varies.
		ms := func(lo, hi int, label string) time.Duration {
			return time.Duration(rapid.IntRange(lo, hi).Draw(rt, label)) * time.Millisecond
		}
		cfg := failover.Config{
			Detector: detector.Config{
				Kind:          rapid.SampledFrom([]detector.Kind{detector.KindPhiAccrual, detector.KindConsecutiveMiss}).Draw(rt, "detector"),
				ProbeInterval: ms(50, 300, "probe interval"),
			},
			ProbeTimeout:   ms(20, 600, "probe timeout"),
			CommandTimeout: ms(20, 600, "command timeout"),
			RetryBase:      ms(10, 200, "retry base"),
		}
		cfg.Detector.SuspectInterval = min(ms(10, 100, "suspect interval"), cfg.Detector.ProbeInterval)
		w := newArbitraryWorldWith(rapidTB{t, rt}, cfg)
		w.fine = true
		src := rapidSource{rt}
		for range rapid.IntRange(1, 400).Draw(rt, "inputs") {
			w.step(src)
		}
	})
}

func FuzzMachineArbitraryInputs(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 2, 0, 1})
	f.Add([]byte{0, 1, 30, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 3, 3, 3, 0, 1, 100})
	f.Fuzz(func(t *testing.T, data []byte) {
		w := newArbitraryWorld(t)
		src := &byteSource{b: data}
		for n := 0; n < 2000 && !src.done(); n++ {
			w.step(src)
		}
		w.checkState(w.m.State())
	})
}

func TestMachineArbitraryInputs(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		w := newArbitraryWorld(rapidTB{t, rt})
		src := rapidSource{rt}
		n := rapid.IntRange(1, 300).Draw(rt, "inputs")
		for range n {
			w.step(src)
		}
		w.checkState(w.m.State())
	})
}

// TestOrphansArbitraryInputs is TestMachineArbitraryInputs with standbys
// that leave their group and come back, so that releases are owed to
// servers in no group and answered anyhow, probes of them included: the
// same checks hold, and Changes rebuild the State.
func TestOrphansArbitraryInputs(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tb := rapidTB{t, rt}
		w := newArbitraryWorld(tb)
		w.membership = true
		f := &changesFollower{tb: tb}
		f.take(w.m)
		src := rapidSource{rt}
		for range rapid.IntRange(1, 300).Draw(rt, "inputs") {
			w.step(src)
			f.take(w.m)
		}
		w.checkState(w.m.State())
	})
}

// snapshotUpdater keeps snapshots that UpdateSnapshot brings up to date, as
// callers that look often keep them: one updated at every look, and two
// taken in turn, each a look behind the other. Each must show what a fresh
// Snapshot shows, Generation included.
type snapshotUpdater struct {
	every failover.Snapshot
	turns [2]failover.Snapshot
	looks int
}

func (u *snapshotUpdater) check(t interface {
	Helper()
	Fatalf(string, ...any)
}, m *failover.Machine) {
	t.Helper()
	want := m.Snapshot()
	u.looks++
	turn := &u.turns[u.looks%2]
	m.UpdateSnapshot(&u.every)
	m.UpdateSnapshot(turn)
	for _, got := range []*failover.Snapshot{&u.every, turn} {
		if !reflect.DeepEqual(got.Groups, want.Groups) {
			t.Fatalf("UpdateSnapshot gave\n%+v\nwhere Snapshot gives\n%+v", got.Groups, want.Groups)
		}
	}
}
