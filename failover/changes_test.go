package failover_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// changesFollower persists a Machine's Changes into a Replica, as a store
// would, and fails the test unless the Replica then holds exactly the
// Machine's State. A second Replica is fed the Changes through JSON, as a
// store on disk would be, and must encode like the State.
type changesFollower struct {
	tb      testing.TB
	m       *failover.Machine
	rep     *failover.Replica
	viaJSON *failover.Replica
	// changes counts the change sets applied, and parts their parts.
	changes, parts int
}

// take takes the Machine's changes and applies them.
func (f *changesFollower) take(m *failover.Machine) {
	f.tb.Helper()
	f.apply(m, m.TakeChanges())
}

func (f *changesFollower) apply(m *failover.Machine, c failover.Changes) {
	f.tb.Helper()
	if m != f.m {
		// A new Machine (a center restart) starts from the whole State.
		f.m, f.rep, f.viaJSON = m, nil, nil
	}
	data, err := json.Marshal(c)
	if err != nil {
		f.tb.Fatalf("encode changes: %v", err)
	}
	var dec failover.Changes
	if err := json.Unmarshal(data, &dec); err != nil {
		f.tb.Fatalf("decode changes: %v", err)
	}
	switch {
	case f.rep == nil && c.Full == nil:
		f.tb.Fatalf("the first changes of a Machine are not its whole State: %s", data)
	case f.rep == nil:
		if f.rep, err = failover.NewReplica(*c.Full); err != nil {
			f.tb.Fatalf("NewReplica of a Machine's State: %v", err)
		}
		if f.viaJSON, err = failover.NewReplica(*dec.Full); err != nil {
			f.tb.Fatalf("NewReplica of a Machine's State through JSON: %v", err)
		}
	case c.Full != nil:
		f.tb.Fatalf("the Machine handed its whole State again, though every change set was taken")
	default:
		if err := f.rep.Apply(c); err != nil {
			f.tb.Fatalf("Apply(%s): %v", data, err)
		}
		if err := f.viaJSON.Apply(dec); err != nil {
			f.tb.Fatalf("Apply(%s) through JSON: %v", data, err)
		}
		f.changes++
		f.parts += len(c.Groups) + len(c.Members) + len(c.Epochs) + len(c.Takeovers) + len(c.Owed) + len(c.Ledger)
	}
	want := m.State()
	if got := f.rep.State(); !reflect.DeepEqual(got, want) {
		f.tb.Fatalf("the changes rebuild another State than the Machine's, after %s:\n%s", data, stateDiff(got, want))
	}
	got, _ := json.Marshal(f.viaJSON.State())
	wantJSON, _ := json.Marshal(want)
	if string(got) != string(wantJSON) {
		f.tb.Fatalf("the changes through JSON rebuild another State than the Machine's, after %s:\n%s", data, stateDiff(f.viaJSON.State(), want))
	}
}

// stateDiff shows the first lines where two States differ.
func stateDiff(got, want failover.State) string {
	a, _ := json.MarshalIndent(got, "", " ")
	b, _ := json.MarshalIndent(want, "", " ")
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		if i >= len(al) || i >= len(bl) || al[i] != bl[i] {
			from, to := max(i-6, 0), i+6
			return fmt.Sprintf("rebuilt:\n%s\nmachine:\n%s", strings.Join(al[from:min(to, len(al))], "\n"), strings.Join(bl[from:min(to, len(bl))], "\n"))
		}
	}
	return "(equal as JSON; different in memory)"
}

// TestChangesRebuildState checks that the Changes a Machine hands, applied
// in order to the State they start from, give exactly its State, after
// any sequence of what the model tests do: random faults, admin
// operations, center restarts, the quiet phase, a ledger that keeps few
// intervals. Half the worlds run the
// Machine incremental (Ready hands Changes, saved before the commands go
// out, so every invariant of TestMachineInvariants is checked on them);
// the others take the changes with TakeChanges after every action and
// every Ready, at times Ready does not persist.
func TestChangesRebuildState(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		f := &changesFollower{}
		incremental := rapid.Bool().Draw(rt, "incremental")
		// A short ledger, now and then, so that intervals are dropped.
		opt := modelOptions{ledgerLimit: rapid.SampledFrom([]int{0, 1, 2, 3}).Draw(rt, "ledger limit")}
		var s *engineModel
		if incremental {
			opt.changes = f
			s = newEngineModelWith(t, rt, opt)
		} else {
			s = newEngineModelWith(t, rt, opt)
			f.tb = s.tb
			observe := s.w.observe
			s.w.observe = func(rd failover.Ready) {
				observe(rd)
				f.take(s.w.m)
			}
			f.take(s.w.m)
		}
		actions := s.actions()
		for name, act := range actions {
			actions[name] = func(rt *rapid.T) {
				act(rt)
				if !incremental {
					f.take(s.w.m)
				}
			}
		}
		rt.Repeat(actions)
		s.quiet(rt)
		if f.changes == 0 {
			rt.Fatalf("no change set was applied")
		}
	})
}

// TestChangesRebuildStateArbitraryInputs does the same under the answers of
// broken and hostile agents (TestMachineArbitraryInputs): stale epochs far
// ahead, impostors, malformed inventories.
func TestChangesRebuildStateArbitraryInputs(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tb := rapidTB{t, rt}
		w := newArbitraryWorldWith(tb, failover.Config{LedgerLimit: rapid.IntRange(0, 3).Draw(rt, "ledger limit")})
		f := &changesFollower{tb: tb}
		f.take(w.m)
		src := rapidSource{rt}
		for range rapid.IntRange(1, 300).Draw(rt, "inputs") {
			w.step(src)
			f.take(w.m)
		}
	})
}

// TestChangesRebuildStateGroupOperations does the same for every group
// operation, refused ones included (TestGroupOperationsAgainstModel).
func TestChangesRebuildStateGroupOperations(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		f := &changesFollower{tb: rapidTB{t, rt}}
		runGroupModel(rt, f.take)
	})
}

// TestChangesCostWhatChanged checks that persisting a change costs the
// change: in a settled center of four groups, one recording server's
// failure and takeover hand that server's parts, its standby's and its
// cameras' intervals, nothing of the other servers or cameras.
func TestChangesCostWhatChanged(t *testing.T) {
	w := newWorld(t, failover.Config{})
	for g := range 4 {
		id := failover.DefaultGroupID
		if g > 0 {
			id = mustAddGroup(t, w.m, fmt.Sprintf("Site %d", g))
		}
		w.addStandbys(id, standbyFacts(nvrha.ServerID(fmt.Sprintf("sb-%d", g)), 32))
		for i := range 8 {
			w.addRecordings(id, recordingFacts(nvrha.ServerID(fmt.Sprintf("rec-%d-%d", g, i)), 16))
		}
	}
	f := &changesFollower{tb: t}
	w.changes = f
	w.m.SetIncremental(true)
	w.run(3 * time.Second)
	var last []failover.Changes
	w.observe = func(rd failover.Ready) {
		if rd.Changes != nil {
			last = append(last, *rd.Changes)
		}
	}
	cams := len(recordingFacts("rec-2-3", 16).Cameras)
	w.servers["rec-2-3"].Crash()
	if _, ok := w.until(10*time.Second, func() bool {
		return w.member("rec-2-3").Peer == "sb-2" && len(w.m.Ledger(recordingFacts("rec-2-3", 16).Cameras[0])) == 2
	}); !ok {
		t.Fatal("rec-2-3 was not taken over")
	}
	servers := map[nvrha.ServerID]bool{}
	cameras := map[nvrha.CameraID]bool{}
	for _, c := range last {
		if c.Full != nil {
			t.Fatal("the whole State was handed again")
		}
		if len(c.Groups) > 0 {
			t.Errorf("groups changed: %+v", c.Groups)
		}
		for _, mc := range c.Members {
			servers[mc.Server] = true
		}
		for _, e := range c.Epochs {
			servers[e.Server] = true
		}
		for _, tc := range c.Takeovers {
			servers[tc.Recording] = true
		}
		for _, oc := range c.Owed {
			servers[oc.Server] = true
		}
		for _, lc := range c.Ledger {
			cameras[lc.Camera] = true
			if lc.Keep+len(lc.Intervals) > 2 {
				t.Errorf("ledger change of %s carries %d intervals after keeping %d", lc.Camera, len(lc.Intervals), lc.Keep)
			}
		}
	}
	for id := range servers {
		if id != "rec-2-3" && id != "sb-2" {
			t.Errorf("the changes name %s, which took no part", id)
		}
	}
	if len(cameras) != cams {
		t.Errorf("the changes name %d cameras; rec-2-3 has %d", len(cameras), cams)
	}
}

// TestChangesAfterAChangeBetweenReadyAndAdvance: a caller that changes the
// Machine between a Ready and its Advance cannot tell what of the change
// was persisted, so the next Changes are the whole State.
func TestChangesAfterAChangeBetweenReadyAndAdvance(t *testing.T) {
	m, err := failover.NewMachine(failover.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m.SetIncremental(true)
	rd := m.Ready()
	if rd.Changes == nil || rd.Changes.Full == nil || rd.State != nil {
		t.Fatalf("first Ready of an incremental Machine: %+v; want the whole State as Changes", rd)
	}
	m.Advance(rd)
	if _, err := m.AddGroup("Annex"); err != nil {
		t.Fatal(err)
	}
	rd = m.Ready()
	if rd.Changes == nil || rd.Changes.Full != nil || len(rd.Changes.Groups) != 1 {
		t.Fatalf("Ready after AddGroup: %+v; want the group alone", rd.Changes)
	}
	if _, err := m.AddGroup("Depot"); err != nil {
		t.Fatal(err)
	}
	m.Advance(rd)
	rd = m.Ready()
	if rd.Changes == nil || rd.Changes.Full == nil || len(rd.Changes.Full.Groups) != 3 {
		t.Fatalf("Ready after a change between Ready and Advance: %+v; want the whole State", rd.Changes)
	}
	m.Advance(rd)
	if m.HasReady() {
		t.Fatalf("HasReady after everything was advanced: %+v", m.Ready())
	}
}

// TestReplicaRefusesChangesThatDoNotFit checks that a change set that does
// not fit the State is refused with ErrCorruptState and changes nothing.
func TestReplicaRefusesChangesThatDoNotFit(t *testing.T) {
	m, err := failover.NewMachine(failover.Config{})
	if err != nil {
		t.Fatal(err)
	}
	mustAddRecording(t, m, failover.DefaultGroupID, recordingFacts("rec-1", 8))
	st := m.State()
	rep, err := failover.NewReplica(st)
	if err != nil {
		t.Fatal(err)
	}
	cam := recordingFacts("rec-1", 8).Cameras[0]
	for _, tc := range []struct {
		name string
		c    failover.Changes
	}{
		{"member of no group", failover.Changes{Members: []failover.MemberChange{{Server: "rec-9", Group: 1, Member: failover.MemberState{Facts: recordingFacts("rec-9", 8)}}}}},
		{"member under another ID", failover.Changes{Members: []failover.MemberChange{{Server: "rec-1", Group: 1, Member: failover.MemberState{Facts: recordingFacts("rec-2", 8)}}}}},
		{"member left but listed", failover.Changes{Members: []failover.MemberChange{{Server: "rec-1", Deleted: true}}}},
		{"joined without its state", failover.Changes{Groups: []failover.GroupChange{{ID: 1, Name: "G", Members: []nvrha.ServerID{"rec-1", "rec-2"}}}}},
		{"default group deleted", failover.Changes{Groups: []failover.GroupChange{{ID: 1, Deleted: true}}}},
		{"server in two groups", failover.Changes{Groups: []failover.GroupChange{{ID: 2, Name: "H", Members: []nvrha.ServerID{"rec-1"}}}}},
		{"takeover of a stranger", failover.Changes{Takeovers: []failover.TakeoverChange{{Recording: "rec-9", Takeover: failover.TakeoverState{Recording: "rec-9"}}}}},
		{"owed probe", failover.Changes{Owed: []failover.OwedChange{{Server: "rec-1", Kind: failover.CmdProbe, Owed: failover.OwedState{Server: "rec-1", Kind: failover.CmdProbe}}}}},
		{"owed to a stranger", failover.Changes{Owed: []failover.OwedChange{{Server: "rec-9", Kind: failover.CmdResume, Owed: failover.OwedState{Server: "rec-9", Kind: failover.CmdResume}}}}},
		{"ledger beyond its intervals", failover.Changes{Ledger: []failover.LedgerChange{{Camera: cam, Keep: 1}}}},
		{"ledger trimmed below zero", failover.Changes{Ledger: []failover.LedgerChange{{Camera: cam, Trim: -1}}}},
		{"camera twice", failover.Changes{Ledger: []failover.LedgerChange{{Camera: cam}, {Camera: cam}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.c.NextGroupID, tc.c.NextCommandID = 99, 99
			if err := rep.Apply(tc.c); !errors.Is(err, failover.ErrCorruptState) {
				t.Fatalf("Apply = %v; want ErrCorruptState", err)
			}
			if got := rep.State(); !reflect.DeepEqual(got, st) {
				t.Fatalf("a refused change set changed the State:\n%s", stateDiff(got, st))
			}
		})
	}
}

// TestChangesSpanningManyIntervals takes the changes once over a takeover
// and its failback with a ledger of one interval per camera: more
// intervals were dropped than the camera had when the changes were last
// taken, and the change still rebuilds the State.
func TestChangesSpanningManyIntervals(t *testing.T) {
	w := newWorld(t, failover.Config{LedgerLimit: 1, Failback: failover.FailbackPolicy{HoldDown: time.Second}})
	w.addStandbys(failover.DefaultGroupID, standbyFacts("sb-1", 16))
	w.addRecordings(failover.DefaultGroupID, recordingFacts("rec-1", 8))
	w.run(3 * time.Second)
	f := &changesFollower{tb: t}
	f.take(w.m)
	cam := recordingFacts("rec-1", 8).Cameras[0]
	w.servers["rec-1"].Crash()
	if _, ok := w.until(10*time.Second, func() bool { return w.member("rec-1").Peer == "sb-1" }); !ok {
		t.Fatal("rec-1 was not taken over")
	}
	w.servers["rec-1"].Restart()
	if _, ok := w.until(30*time.Second, func() bool {
		l := w.m.Ledger(cam)
		return w.member("rec-1").Peer == "" && len(l) == 1 && l[0].Server == "rec-1"
	}); !ok {
		t.Fatalf("rec-1 did not fail back: %+v", w.m.Ledger(cam))
	}
	c := w.m.TakeChanges()
	i := slices.IndexFunc(c.Ledger, func(lc failover.LedgerChange) bool { return lc.Camera == cam })
	if i < 0 || c.Ledger[i].Trim != 1 || c.Ledger[i].Keep != 0 {
		t.Fatalf("ledger changes %+v; want %s's one interval dropped", c.Ledger, cam)
	}
	f.apply(w.m, c)
}
