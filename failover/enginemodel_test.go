package failover_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
	"pgregory.net/rapid"
)

// TestMachineInvariants drives a Machine over in-process agents with random
// faults and admin operations, and checks nvrha's invariants (docs/invariants.md)
// after every action and every step of virtual time, as far as they can be
// observed from outside: through Snapshot, Epoch, the agents and the Ready
// stream.
//
//  1. One standby per recording server and one recording server per standby:
//     the snapshot's Peer fields pair servers one to one, within a group,
//     a recording server with a standby. On the agents' side, an agent that
//     records a server's cameras without the Machine pairing it with that
//     server (a standby given up, interrupted or removed) is fenced off
//     within fenceBudget of being reachable.
//  2. License: when a takeover starts, the standby has at least the
//     recording server's license channels. A later license change does not
//     end a running takeover (UpdateFacts only changes statuses), so pairs
//     are judged when they are made, not re-judged later.
//  3. Epochs: the Machine's epoch of every recording server never goes
//     back, also across center restarts; no agent holds an epoch the
//     Machine has not issued; every command is sent after a State holding
//     its epoch was persisted.
//  4. Liveness, in a quiet phase after the random actions: every fault is
//     healed and the world settles (no server goes down, no takeover or
//     failback starts: invariant 7); then one to three recording servers
//     crash at once, and livenessBudget later as many of them are covered,
//     each by one agent that fits, as the ready standbys could cover (a
//     brute-force maximum matching); the others show "Abnormal,
//     unprotected".
//  5. Statuses agree with the facts: disabled (or protection off) shows
//     "Disabled"; "Normal, protected" needs a ready standby of the group
//     that fits, "Abnormal, protected" a Peer; "Normal, protection ready"
//     needs an empty recording space (as the Machine knows it, and as the
//     agent has it once it has answered healthy for spaceGrace) and no
//     confirmed takeover; every published status change matches the
//     snapshot.
//  6. A server in takeover cannot be removed: the removal fails with
//     *InTakeoverError and changes neither State nor Snapshot. The default
//     group exists and cannot be deleted; group and server limits hold;
//     disabling, switching protection off and deleting a group return
//     exactly the takeovers they interrupt.
//
// The world: one or two groups, two to five recording and one to three
// standby servers of 8, 16 or 32 license channels, more added with new
// groups. Inventory is off (an hour apart) so that license channels change
// only by UpdateFacts; recording space is learnt from probes.
func TestMachineInvariants(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := newEngineModel(t, rt)
		rt.Repeat(s.actions())
		s.quiet(rt)
	})
}

// TestCamerasRecordedOnceFaultsStop runs the same random worlds, and once
// every fault is healed and the world had time to settle, checks what
// failover is for: the cameras of every recording server in a group with
// protection on are recorded, by the server itself or by its standby.
func TestCamerasRecordedOnceFaultsStop(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := newEngineModel(t, rt)
		rt.Repeat(s.actions())
		s.heal()
		s.wantRecorded(rt)
		s.wantSettled(rt)
	})
}

func (s *engineModel) actions() map[string]func(*rapid.T) {
	return map[string]func(*rapid.T){
		"":               s.check,
		"Advance":        s.advance,
		"Crash":          s.crash,
		"CrashRecording": s.crashRecording,
		"Restart":        s.restart,
		"Hang":           s.hang,
		"Unhang":         s.unhang,
		"Fault":          s.fault,
		"Healthy":        s.healthy,
		"Space":          s.space,
		"License":        s.license,
		"Enable":         s.enable,
		"Remove":         s.remove,
		"AddGroup":       s.addGroup,
		"DeleteGroup":    s.deleteGroup,
		"Protection":     s.protection,
		"Failback":       s.failback,
		"CenterRestart":  s.centerRestart,
	}
}

const (
	// fenceBudget is how long an agent may record cameras the Machine has
	// not given it while the Machine can reach it: the longest retry
	// backoff, a probe, and slack.
	fenceBudget = 4 * time.Second
	// livenessBudget is detection plus takeover, with slack.
	livenessBudget = 6 * time.Second
	// spaceGrace is how long a standby's status may lag behind its agent
	// losing its empty recording space while reachable: a probe or two.
	spaceGrace = time.Second
)

// rapidTB lets the world report through rapid, so that a failure is shrunk.
type rapidTB struct {
	testing.TB
	rt *rapid.T
}

func (r rapidTB) Helper()                   { r.rt.Helper() }
func (r rapidTB) Log(a ...any)              { r.rt.Log(a...) }
func (r rapidTB) Logf(f string, a ...any)   { r.rt.Logf(f, a...) }
func (r rapidTB) Error(a ...any)            { r.rt.Error(a...) }
func (r rapidTB) Errorf(f string, a ...any) { r.rt.Errorf(f, a...) }
func (r rapidTB) Fatal(a ...any)            { r.rt.Fatal(a...) }
func (r rapidTB) Fatalf(f string, a ...any) { r.rt.Fatalf(f, a...) }
func (r rapidTB) Fail()                     { r.rt.Fail() }
func (r rapidTB) FailNow()                  { r.rt.FailNow() }
func (r rapidTB) Failed() bool              { return r.rt.Failed() }
func (r rapidTB) Skip(a ...any)             { r.rt.Skip(a...) }
func (r rapidTB) Skipf(f string, a ...any)  { r.rt.Skipf(f, a...) }
func (r rapidTB) SkipNow()                  { r.rt.SkipNow() }
func (r rapidTB) Name() string              { return r.rt.Name() }
func (r rapidTB) Cleanup(f func())          { r.rt.Cleanup(f) }

// hookKind is the fault the model put between the center and a server.
type hookKind uint8

const (
	hookNone  hookKind = iota
	hookHang           // every call dropped
	hookFault          // calls failed, or their answers lost, until faultUntil
)

// engineModel is the world under test and what the test knows of it that
// the Machine may not.
type engineModel struct {
	w   *world
	tb  rapidTB
	cfg failover.Config
	// ids are all servers ever made, in order; roles and channels say what
	// each was made as.
	ids      []nvrha.ServerID
	roles    map[nvrha.ServerID]failover.Role
	channels map[nvrha.ServerID]int
	crashed  map[nvrha.ServerID]bool
	hooks    map[nvrha.ServerID]hookKind
	// faultUntil is when a hookFault is lifted.
	faultUntil map[nvrha.ServerID]time.Time
	unhealthy  map[nvrha.ServerID]bool
	// healthyAt is when a server last turned healthy again.
	healthyAt map[nvrha.ServerID]time.Time
	noSpace   map[nvrha.ServerID]bool
	// spaceLost is when a standby's agent lost its empty recording space.
	spaceLost map[nvrha.ServerID]time.Time
	// reachableSince is when a server became reachable (running, no hook);
	// absent while it is not.
	reachableSince map[nvrha.ServerID]time.Time
	// strayFrom is when an agent was first seen recording cameras the
	// Machine has not given it, while reachable.
	strayFrom map[nvrha.ServerID]time.Time
	epochs    map[nvrha.ServerID]nvrha.Epoch
	persist   *persistChecker
	statuses  *statusFollower
	made      int // servers made after the start, for their IDs
	groups    int // groups added, for their names
}

// channelChoices are the license channels servers get. Standbys draw them
// largest first and recording servers smallest first, so that the simplest
// worlds rapid shrinks to have standbys that fit; worlds where none fits
// are drawn too.
var (
	channelChoices        = []int{8, 16, 32}
	standbyChannelChoices = []int{32, 16, 8}
)

func newEngineModel(t *testing.T, rt *rapid.T) *engineModel {
	return newEngineModelWith(t, rt, modelOptions{})
}

// modelOptions vary the model's world.
type modelOptions struct {
	// changes, when set, makes the world run its Machine incremental and
	// save its Changes through it.
	changes *changesFollower
	// ledgerLimit, when set, is the Machine's Config.LedgerLimit.
	ledgerLimit int
}

func newEngineModelWith(t *testing.T, rt *rapid.T, opt modelOptions) *engineModel {
	tb := rapidTB{TB: t, rt: rt}
	cfg := failover.Config{
		// Facts change only by UpdateFacts in this test, so that a license
		// is what the test set when a takeover starts.
		InventoryInterval: time.Hour,
		Failback:          failover.FailbackPolicy{HoldDown: 3 * time.Second, FlapWindow: 30 * time.Second, MaxHoldDown: 12 * time.Second},
		LedgerLimit:       opt.ledgerLimit,
	}
	s := &engineModel{
		w: newWorld(tb, cfg), tb: tb, cfg: cfg,
		roles: map[nvrha.ServerID]failover.Role{}, channels: map[nvrha.ServerID]int{},
		crashed: map[nvrha.ServerID]bool{}, hooks: map[nvrha.ServerID]hookKind{}, faultUntil: map[nvrha.ServerID]time.Time{},
		unhealthy: map[nvrha.ServerID]bool{}, healthyAt: map[nvrha.ServerID]time.Time{}, noSpace: map[nvrha.ServerID]bool{}, spaceLost: map[nvrha.ServerID]time.Time{},
		reachableSince: map[nvrha.ServerID]time.Time{}, strayFrom: map[nvrha.ServerID]time.Time{},
		epochs: map[nvrha.ServerID]nvrha.Epoch{},
	}
	if opt.changes != nil {
		opt.changes.tb = tb
		s.w.changes = opt.changes
		s.w.m.SetIncremental(true)
	}
	s.persist = newPersistChecker(tb)
	s.w.observe = s.ready
	s.statuses = followStatuses(s.w)

	groups := []failover.GroupID{failover.DefaultGroupID}
	if rapid.Bool().Draw(rt, "second group") {
		groups = append(groups, mustAddGroup(tb, s.w.m, "Group 2"))
	}
	nRec := rapid.IntRange(2, 5).Draw(rt, "recording servers")
	nSb := rapid.IntRange(1, 3).Draw(rt, "standby servers")
	type placed struct {
		f nvrha.Facts
		g failover.GroupID
	}
	var sbs, recs []placed
	for i := range nSb {
		f := standbyFacts(nvrha.ServerID(fmt.Sprintf("sb-%d", i+1)), rapid.SampledFrom(standbyChannelChoices).Draw(rt, "standby channels"))
		sbs = append(sbs, placed{f, rapid.SampledFrom(groups).Draw(rt, "standby group")})
	}
	for i := range nRec {
		f := recordingFacts(nvrha.ServerID(fmt.Sprintf("rec-%d", i+1)), rapid.SampledFrom(channelChoices).Draw(rt, "recording channels"))
		recs = append(recs, placed{f, rapid.SampledFrom(groups).Draw(rt, "recording group")})
	}
	// Standbys first, so that any channels may pair: a recording server
	// that no standby fits is a case to test too.
	for _, p := range append(sbs, recs...) {
		s.made++
		s.track(p.f, roleOf(p.f))
		s.w.serve(p.f)
		var err error
		if roleOf(p.f) == failover.RoleStandby {
			err = s.w.m.AddStandbyServers(p.g, p.f)
		} else {
			err = s.w.m.AddRecordingServers(p.g, p.f)
		}
		if err != nil {
			rt.Fatalf("adding %s: %v", p.f.ID, err)
		}
	}
	s.run(3 * time.Second)
	return s
}

func roleOf(f nvrha.Facts) failover.Role {
	if len(f.Cameras) == 0 {
		return failover.RoleStandby
	}
	return failover.RoleRecording
}

func (s *engineModel) track(f nvrha.Facts, role failover.Role) {
	s.ids = append(s.ids, f.ID)
	s.roles[f.ID] = role
	s.channels[f.ID] = f.LicenseChannels
	s.reachableSince[f.ID] = s.w.now
}

// facts are a server's facts as the test made them, with its current
// license and recording space.
func (s *engineModel) facts(id nvrha.ServerID) nvrha.Facts {
	if s.roles[id] == failover.RoleRecording {
		return recordingFacts(id, s.channels[id])
	}
	f := standbyFacts(id, s.channels[id])
	f.RecordingSpaces[0].Empty = !s.noSpace[id]
	return f
}

func (s *engineModel) reachable(id nvrha.ServerID) bool {
	return !s.crashed[id] && s.hooks[id] == hookNone
}

// noteReachability updates reachableSince after a change to id.
func (s *engineModel) noteReachability(id nvrha.ServerID) {
	if !s.reachable(id) {
		delete(s.reachableSince, id)
		return
	}
	if _, ok := s.reachableSince[id]; !ok {
		s.reachableSince[id] = s.w.now
	}
}

// run advances virtual time in steps, lifting expired faults and checking
// the invariants that must hold at every step.
func (s *engineModel) run(d time.Duration) {
	end := s.w.now.Add(d)
	for s.w.now.Before(end) {
		s.w.run(s.w.step)
		for _, id := range s.ids {
			if s.hooks[id] == hookFault && !s.w.now.Before(s.faultUntil[id]) {
				s.w.tr.ClearHook(id)
				s.hooks[id] = hookNone
				s.noteReachability(id)
			}
		}
		s.stepCheck()
	}
}

// settleAfterAction runs a little time after an action, so that faults and
// operations interleave with probes and retries.
func (s *engineModel) settleAfterAction(rt *rapid.T) {
	s.run(time.Duration(rapid.IntRange(0, 40).Draw(rt, "steps after")) * s.w.step)
}

// --- Choosing servers ---------------------------------------------------------------

func (s *engineModel) pick(rt *rapid.T, label string, keep func(nvrha.ServerID) bool) (nvrha.ServerID, bool) {
	var ids []nvrha.ServerID
	for _, id := range s.ids {
		if keep(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return "", false
	}
	return rapid.SampledFrom(ids).Draw(rt, label), true
}

// members returns the snapshot's members by ID.
func (s *engineModel) members() map[nvrha.ServerID]failover.MemberSnapshot {
	out := map[nvrha.ServerID]failover.MemberSnapshot{}
	for _, g := range s.w.m.Snapshot().Groups {
		for _, mem := range g.Members {
			out[mem.ID] = mem
		}
	}
	return out
}

func (s *engineModel) isMember(id nvrha.ServerID) bool {
	_, ok := s.members()[id]
	return ok
}

// --- Actions ---------------------------------------------------------------------------

func (s *engineModel) advance(rt *rapid.T) {
	s.run(time.Duration(rapid.IntRange(1, 100).Draw(rt, "steps")) * s.w.step)
}

func (s *engineModel) crash(rt *rapid.T) {
	id, ok := s.pick(rt, "crash", func(id nvrha.ServerID) bool { return !s.crashed[id] })
	if !ok {
		rt.Skip("everyone crashed")
	}
	s.w.servers[id].Crash()
	s.crashed[id] = true
	s.noteReachability(id)
	s.settleAfterAction(rt)
}

// crashRecording crashes a running recording server of some group: the
// case failover is for, drawn more often than the others.
func (s *engineModel) crashRecording(rt *rapid.T) {
	id, ok := s.pick(rt, "crash recording", func(id nvrha.ServerID) bool {
		return !s.crashed[id] && s.roles[id] == failover.RoleRecording && s.isMember(id)
	})
	if !ok {
		rt.Skip("no running recording server")
	}
	s.w.servers[id].Crash()
	s.crashed[id] = true
	s.noteReachability(id)
	s.settleAfterAction(rt)
}

func (s *engineModel) restart(rt *rapid.T) {
	id, ok := s.pick(rt, "restart", func(id nvrha.ServerID) bool { return s.crashed[id] })
	if !ok {
		rt.Skip("nobody crashed")
	}
	s.w.servers[id].Restart()
	s.crashed[id] = false
	s.noteReachability(id)
	s.settleAfterAction(rt)
}

func (s *engineModel) hang(rt *rapid.T) {
	id, ok := s.pick(rt, "hang", func(id nvrha.ServerID) bool { return s.hooks[id] != hookHang })
	if !ok {
		rt.Skip("everyone hangs")
	}
	s.w.tr.SetHook(id, transport.Drop())
	s.hooks[id] = hookHang
	s.noteReachability(id)
	s.settleAfterAction(rt)
}

func (s *engineModel) unhang(rt *rapid.T) {
	id, ok := s.pick(rt, "unhang", func(id nvrha.ServerID) bool { return s.hooks[id] == hookHang })
	if !ok {
		rt.Skip("nobody hangs")
	}
	s.w.tr.ClearHook(id)
	s.hooks[id] = hookNone
	s.noteReachability(id)
	s.settleAfterAction(rt)
}

// fault fails a server's calls, or loses their answers, for a while: the
// orders only, or everything including probes.
func (s *engineModel) fault(rt *rapid.T) {
	id, ok := s.pick(rt, "fault", func(id nvrha.ServerID) bool { return s.hooks[id] == hookNone })
	if !ok {
		rt.Skip("every server has a hook")
	}
	h := transport.DropAfterDelivery()
	if rapid.Bool().Draw(rt, "fail instead of losing the answer") {
		h = transport.FailWith(errors.New("injected failure"))
	}
	if rapid.Bool().Draw(rt, "orders only") {
		s.w.hookOnly(id, h, transport.MethodTakeover, transport.MethodRelease, transport.MethodResume, transport.MethodStandDown)
	} else {
		s.w.tr.SetHook(id, h)
	}
	s.hooks[id] = hookFault
	s.faultUntil[id] = s.w.now.Add(time.Duration(rapid.IntRange(1, 100).Draw(rt, "fault steps")) * s.w.step)
	s.noteReachability(id)
	s.settleAfterAction(rt)
}

func (s *engineModel) healthy(rt *rapid.T) {
	id, _ := s.pick(rt, "healthy", func(nvrha.ServerID) bool { return true })
	h := rapid.Bool().Draw(rt, "is healthy")
	s.w.servers[id].SetHealthy(h)
	if h && s.unhealthy[id] {
		s.healthyAt[id] = s.w.now
	}
	s.unhealthy[id] = !h
	s.settleAfterAction(rt)
}

func (s *engineModel) space(rt *rapid.T) {
	id, ok := s.pick(rt, "space", func(id nvrha.ServerID) bool { return s.roles[id] == failover.RoleStandby })
	if !ok {
		rt.Skip("no standby")
	}
	s.noSpace[id] = !s.noSpace[id]
	s.w.servers[id].SetEmptyRecordingSpace(!s.noSpace[id])
	if s.noSpace[id] {
		s.spaceLost[id] = s.w.now
	}
	s.settleAfterAction(rt)
}

func (s *engineModel) license(rt *rapid.T) {
	id, ok := s.pick(rt, "license", s.isMember)
	if !ok {
		rt.Skip("no member")
	}
	s.channels[id] = rapid.SampledFrom(channelChoices).Draw(rt, "new channels")
	if err := s.w.m.UpdateFacts(s.facts(id)); err != nil {
		rt.Fatalf("UpdateFacts(%s): %v", id, err)
	}
	s.adminDone(rt)
}

func (s *engineModel) enable(rt *rapid.T) {
	id, ok := s.pick(rt, "enable", s.isMember)
	if !ok {
		rt.Skip("no member")
	}
	on := rapid.Bool().Draw(rt, "enabled")
	before := s.members()[id]
	got, err := s.w.m.SetServerEnabled(id, on)
	if err != nil {
		rt.Fatalf("SetServerEnabled(%s, %v): %v", id, on, err)
	}
	var want []nvrha.ServerID
	if !on && before.Enabled && before.Peer != "" {
		want = []nvrha.ServerID{before.Peer}
	}
	s.wantInterrupted(rt, fmt.Sprintf("disabling %s", id), got, pairsOf(before, want))
	s.adminDone(rt)
}

// pairsOf returns the takeover pairs (recording, standby) of member mem with
// the given peers.
func pairsOf(mem failover.MemberSnapshot, peers []nvrha.ServerID) [][2]nvrha.ServerID {
	var out [][2]nvrha.ServerID
	for _, p := range peers {
		if mem.Role == failover.RoleRecording {
			out = append(out, [2]nvrha.ServerID{mem.ID, p})
		} else {
			out = append(out, [2]nvrha.ServerID{p, mem.ID})
		}
	}
	return out
}

func (s *engineModel) wantInterrupted(rt *rapid.T, op string, got []failover.Takeover, want [][2]nvrha.ServerID) {
	var pairs [][2]nvrha.ServerID
	for _, tk := range got {
		pairs = append(pairs, [2]nvrha.ServerID{tk.Recording, tk.Standby})
		if tk.Epoch == 0 || tk.Epoch > s.w.m.Epoch(tk.Recording) {
			rt.Errorf("%s: interrupted takeover %+v has an epoch the Machine never issued (newest %d)", op, tk, s.w.m.Epoch(tk.Recording))
		}
	}
	if !slices.Equal(pairs, want) {
		rt.Errorf("%s interrupted %v, want %v", op, pairs, want)
	}
}

// remove removes a member, or tries to: a server in takeover must be
// refused with *InTakeoverError, changing nothing.
func (s *engineModel) remove(rt *rapid.T) {
	id, ok := s.pick(rt, "remove", s.isMember)
	if !ok {
		rt.Skip("no member")
	}
	mem := s.members()[id]
	var gid failover.GroupID
	for _, g := range s.w.m.Snapshot().Groups {
		for _, x := range g.Members {
			if x.ID == id {
				gid = g.ID
			}
		}
	}
	before := s.w.m.State()
	beforeSnap := s.w.m.Snapshot()
	var err error
	if mem.Role == failover.RoleRecording {
		err = s.w.m.RemoveRecordingServers(gid, id)
	} else {
		err = s.w.m.RemoveStandbyServers(gid, approveAt(s.tb, failover.OpRemoveStandbyServers, s.w.now), id)
	}
	if mem.Peer != "" {
		var ite *failover.InTakeoverError
		if !errors.As(err, &ite) || ite.Server != id || ite.Peer != mem.Peer {
			rt.Fatalf("removing %s, in takeover with %s: %v; want *InTakeoverError", id, mem.Peer, err)
		}
		if after := s.w.m.State(); !reflect.DeepEqual(before, after) {
			rt.Fatalf("a refused removal of %s changed the state", id)
		}
		if after := s.w.m.Snapshot(); !reflect.DeepEqual(beforeSnap, after) {
			rt.Fatalf("a refused removal of %s changed the snapshot", id)
		}
		return
	}
	if err != nil {
		rt.Fatalf("removing %s, in no takeover: %v", id, err)
	}
	s.adminDone(rt)
}

// addGroup adds a group with servers that are in none: removed ones, or
// new ones.
func (s *engineModel) addGroup(rt *rapid.T) {
	if len(s.w.m.Snapshot().Groups) >= 3 {
		rt.Skip("enough groups")
	}
	s.groups++
	g, err := s.w.m.AddGroup(fmt.Sprintf("Added %d", s.groups))
	if err != nil {
		rt.Fatalf("AddGroup: %v", err)
	}
	members := s.members()
	var sbs, recs []nvrha.Facts
	for _, id := range s.ids {
		if _, in := members[id]; in || !rapid.Bool().Draw(rt, "rejoin "+string(id)) {
			continue
		}
		if s.roles[id] == failover.RoleStandby {
			if !s.noSpace[id] {
				sbs = append(sbs, s.facts(id))
			}
		} else {
			recs = append(recs, s.facts(id))
		}
	}
	if len(s.ids) < 12 && rapid.Bool().Draw(rt, "new servers") {
		s.made++
		sb := standbyFacts(nvrha.ServerID(fmt.Sprintf("sb-x%d", s.made)), rapid.SampledFrom(standbyChannelChoices).Draw(rt, "new standby channels"))
		s.made++
		rec := recordingFacts(nvrha.ServerID(fmt.Sprintf("rec-x%d", s.made)), rapid.SampledFrom(channelChoices).Draw(rt, "new recording channels"))
		for _, f := range []nvrha.Facts{sb, rec} {
			s.track(f, roleOf(f))
			s.w.serve(f)
		}
		sbs, recs = append(sbs, sb), append(recs, rec)
	}
	if len(sbs) > 0 {
		if err := s.w.m.AddStandbyServers(g, sbs...); err != nil {
			rt.Fatalf("AddStandbyServers: %v", err)
		}
	}
	if len(recs) > 0 {
		if err := s.w.m.AddRecordingServers(g, recs...); err != nil {
			rt.Fatalf("AddRecordingServers: %v", err)
		}
	}
	s.adminDone(rt)
}

// groupPairs returns the takeover pairs of a group, in member order of
// their recording servers.
func groupPairs(g failover.GroupSnapshot) [][2]nvrha.ServerID {
	var out [][2]nvrha.ServerID
	for _, mem := range g.Members {
		if mem.Role == failover.RoleRecording && mem.Peer != "" {
			out = append(out, [2]nvrha.ServerID{mem.ID, mem.Peer})
		}
	}
	return out
}

func (s *engineModel) deleteGroup(rt *rapid.T) {
	groups := s.w.m.Snapshot().Groups
	g := rapid.SampledFrom(groups).Draw(rt, "delete group")
	got, err := s.w.m.DeleteGroup(g.ID, approveAt(s.tb, failover.OpDeleteGroup, s.w.now))
	if g.Default {
		if !errors.Is(err, failover.ErrDefaultGroup) {
			rt.Fatalf("deleting the default group: %v", err)
		}
		return
	}
	if err != nil {
		rt.Fatalf("DeleteGroup(%v): %v", g.ID, err)
	}
	var want [][2]nvrha.ServerID
	if g.Protection {
		want = groupPairs(g)
	}
	s.wantInterrupted(rt, "deleting a group", got, want)
	s.adminDone(rt)
}

func (s *engineModel) protection(rt *rapid.T) {
	g := rapid.SampledFrom(s.w.m.Snapshot().Groups).Draw(rt, "protection group")
	on := rapid.Bool().Draw(rt, "protection on")
	got, err := s.w.m.SetProtection(g.ID, on)
	if err != nil {
		rt.Fatalf("SetProtection(%v, %v): %v", g.ID, on, err)
	}
	var want [][2]nvrha.ServerID
	if !on {
		want = groupPairs(g)
	}
	s.wantInterrupted(rt, fmt.Sprintf("switching protection of group %v off", g.ID), got, want)
	s.adminDone(rt)
}

func (s *engineModel) failback(rt *rapid.T) {
	id, _ := s.pick(rt, "failback", func(nvrha.ServerID) bool { return true })
	mem, member := s.members()[id]
	err := s.w.m.Failback(id)
	switch {
	case !member:
		if !errors.Is(err, failover.ErrServerNotFound) {
			rt.Fatalf("Failback(%s), not a member: %v", id, err)
		}
	case mem.Role == failover.RoleStandby:
		if !errors.Is(err, failover.ErrNotRecordingServer) {
			rt.Fatalf("Failback(standby %s): %v", id, err)
		}
	case mem.Peer == "":
		if !errors.Is(err, failover.ErrNotTakenOver) {
			rt.Fatalf("Failback(%s), not taken over: %v", id, err)
		}
	case mem.Health != nvrha.HealthUp:
		if !errors.Is(err, failover.ErrNotRecovered) {
			rt.Fatalf("Failback(%s), %v: %v", id, mem.Health, err)
		}
	case err != nil && !errors.Is(err, failover.ErrFailbackBusy):
		rt.Fatalf("Failback(%s), taken over by %s and up: %v", id, mem.Peer, err)
	}
	s.adminDone(rt)
}

// centerRestart restores a new Machine from the last saved State.
func (s *engineModel) centerRestart(rt *rapid.T) {
	// A new Machine publishes every status afresh.
	s.statuses.last = map[nvrha.ServerID]string{}
	s.w.restart()
	s.settleAfterAction(rt)
}

// adminDone runs the Ready loop at once after an admin operation, as the
// Controller does, then lets a little time pass.
func (s *engineModel) adminDone(rt *rapid.T) {
	s.w.flush()
	s.stepCheck()
	s.settleAfterAction(rt)
}

// --- Invariants --------------------------------------------------------------------------

// ready checks the Ready stream: persist before send, and the license rule
// when a takeover starts.
func (s *engineModel) ready(rd failover.Ready) {
	s.persist.ready(rd)
	var members map[nvrha.ServerID]failover.MemberSnapshot
	for _, e := range rd.Events {
		if e.Kind != failover.EventTakeoverStarted {
			continue
		}
		if members == nil {
			members = s.members()
		}
		rec, sb := members[e.Server], members[e.Peer]
		if rec.Role != failover.RoleRecording || sb.Role != failover.RoleStandby {
			s.tb.Errorf("takeover of %s by %s: roles %v and %v", e.Server, e.Peer, rec.Role, sb.Role)
		}
		if sb.LicenseChannels < rec.LicenseChannels {
			s.tb.Errorf("%s (%d channels) started to take over %s (%d channels)", e.Peer, sb.LicenseChannels, e.Server, rec.LicenseChannels)
		}
	}
}

func (s *engineModel) check(rt *rapid.T) { s.stepCheck() }

// stepCheck checks invariants 1, 3, 5 and 6 now.
func (s *engineModel) stepCheck() {
	rt := s.tb.rt
	rt.Helper()
	now := s.w.now
	snap := s.w.m.Snapshot()

	// 6: the default group, limits.
	if len(snap.Groups) == 0 || !snap.Groups[0].Default || snap.Groups[0].ID != failover.DefaultGroupID {
		rt.Fatalf("the default group is gone: %+v", snap.Groups)
	}
	if len(snap.Groups) > failover.MaxGroups {
		rt.Fatalf("%d groups", len(snap.Groups))
	}

	members := map[nvrha.ServerID]failover.MemberSnapshot{}
	groupOfMember := map[nvrha.ServerID]failover.GroupID{}
	for _, g := range snap.Groups {
		if len(g.Members) > g.Capacity {
			rt.Fatalf("group %v has %d members, capacity %d", g.ID, len(g.Members), g.Capacity)
		}
		for _, mem := range g.Members {
			if _, dup := members[mem.ID]; dup {
				rt.Fatalf("%s is in two groups", mem.ID)
			}
			members[mem.ID] = mem
			groupOfMember[mem.ID] = g.ID
		}
	}

	for _, g := range snap.Groups {
		for _, mem := range g.Members {
			// 1: one-to-one pairs within a group.
			if mem.Peer != "" {
				p, ok := members[mem.Peer]
				switch {
				case !ok || groupOfMember[mem.Peer] != g.ID:
					rt.Fatalf("%s is paired with %s, not in its group", mem.ID, mem.Peer)
				case p.Peer != mem.ID:
					rt.Fatalf("%s is paired with %s, which is paired with %q", mem.ID, mem.Peer, p.Peer)
				case p.Role == mem.Role:
					rt.Fatalf("%s and %s are paired with the same role %v", mem.ID, mem.Peer, mem.Role)
				}
			}
			// 5: statuses agree with the facts.
			s.checkStatus(g, mem, members)
		}
	}

	// 3: epochs never go back; agents hold only issued epochs.
	for _, rec := range s.ids {
		if s.roles[rec] != failover.RoleRecording {
			continue
		}
		e := s.w.m.Epoch(rec)
		if e < s.epochs[rec] {
			rt.Fatalf("epoch of %s went back from %d to %d", rec, s.epochs[rec], e)
		}
		s.epochs[rec] = e
		for _, id := range s.ids {
			if n := s.w.servers[id].Newest(rec); n > e {
				rt.Fatalf("%s holds epoch %d for %s; the Machine issued up to %d", id, n, rec, e)
			}
		}
	}

	// 1, on the agents: nobody records cameras the Machine has not given
	// it for longer than fenceBudget while the Machine can reach it.
	for _, id := range s.ids {
		cov, _ := s.w.servers[id].Covering()
		mem, member := members[id]
		if cov == "" || (member && mem.Peer == cov) {
			delete(s.strayFrom, id)
			continue
		}
		since, reachable := s.reachableSince[id]
		if !reachable {
			delete(s.strayFrom, id)
			continue
		}
		from, ok := s.strayFrom[id]
		if !ok {
			from = later(since, now)
			s.strayFrom[id] = from
		}
		if now.Sub(from) > fenceBudget {
			rt.Fatalf("%s has recorded %s's cameras for %v, reachable, and the Machine has not given them to it (member %v, peer %q)",
				id, cov, now.Sub(from), member, mem.Peer)
		}
	}

	s.statuses.check()
}

// checkStatus checks invariant 5 for one member.
func (s *engineModel) checkStatus(g failover.GroupSnapshot, mem failover.MemberSnapshot, members map[nvrha.ServerID]failover.MemberSnapshot) {
	rt := s.tb.rt
	rt.Helper()
	st := mem.Status()
	if !mem.Enabled || !g.Protection {
		if st != "Disabled" {
			rt.Fatalf("%s is disabled (enabled %v, protection %v) but shows %q", mem.ID, mem.Enabled, g.Protection, st)
		}
		return
	}
	if st == "Disabled" {
		rt.Fatalf("%s is enabled with protection on but shows Disabled", mem.ID)
	}
	if mem.Role == failover.RoleStandby {
		switch st {
		case sbReady:
			if !mem.EmptyRecordingSpace || mem.Health != nvrha.HealthUp {
				rt.Fatalf("%s shows %q: space %v, health %v", mem.ID, st, mem.EmptyRecordingSpace, mem.Health)
			}
			// Ordered but not confirmed yet, the standby still shows ready
			// (and its recording server unprotected); once confirmed, it
			// must show protecting.
			if p, ok := members[mem.Peer]; ok && p.Status() == recAbnormalProtected {
				rt.Fatalf("%s shows %q while %s shows %q", mem.ID, st, p.ID, p.Status())
			}
			// The agent tells in every healthy answer whether it has an
			// empty recording space.
			if lost, ok := s.spaceLost[mem.ID]; ok && s.noSpace[mem.ID] && !s.unhealthy[mem.ID] {
				since, reachable := s.reachableSince[mem.ID]
				if from := later(later(lost, since), s.healthyAt[mem.ID]); reachable && s.w.now.Sub(from) > spaceGrace {
					rt.Fatalf("%s shows %q %v after its agent lost its empty recording space", mem.ID, st, s.w.now.Sub(from))
				}
			}
		case sbProtecting:
			if mem.Peer == "" {
				rt.Fatalf("%s shows %q and covers nobody", mem.ID, st)
			}
		}
		return
	}
	switch st {
	case recAbnormalProtected:
		if mem.Peer == "" {
			rt.Fatalf("%s shows %q and no standby covers it", mem.ID, st)
		}
	case recNormalProtected:
		if mem.Health != nvrha.HealthUp {
			rt.Fatalf("%s shows %q, health %v", mem.ID, st, mem.Health)
		}
		fits := false
		for _, sb := range g.Members {
			if sb.Role == failover.RoleStandby && sb.Status() == sbReady && sb.LicenseChannels >= mem.LicenseChannels {
				fits = true
			}
		}
		if !fits {
			rt.Fatalf("%s shows %q but no ready standby of its group fits its %d channels", mem.ID, st, mem.LicenseChannels)
		}
	case recNormalUnprotected:
		if mem.Health != nvrha.HealthUp {
			rt.Fatalf("%s shows %q, health %v", mem.ID, st, mem.Health)
		}
	}
}

// quiet heals every fault, lets the world settle, crashes one recording
// server and checks that it is covered in time if a standby can (4).
func (s *engineModel) quiet(rt *rapid.T) {
	s.heal()
	s.wantSettled(rt)
	s.quietLiveness(rt)
}

// heal lifts every fault, then lets the world settle: long enough for every
// failback (the longest hold-down), every fence, and a fresh detector
// history.
func (s *engineModel) heal() {
	for _, id := range s.ids {
		if s.crashed[id] {
			s.w.servers[id].Restart()
			s.crashed[id] = false
		}
		if s.hooks[id] != hookNone {
			s.w.tr.ClearHook(id)
			s.hooks[id] = hookNone
		}
		s.w.servers[id].SetHealthy(true)
		s.unhealthy[id] = false
		if s.noSpace[id] {
			s.w.servers[id].SetEmptyRecordingSpace(true)
			s.noSpace[id] = false
		}
		s.noteReachability(id)
	}
	s.run(s.cfg.Failback.MaxHoldDown + 10*time.Second)
}

// wantSettled checks that, faults healed, nothing moves any more: no
// server goes down, no takeover or failback starts (invariant 7).
func (s *engineModel) wantSettled(rt *rapid.T) {
	n := len(s.w.events)
	s.run(3 * time.Second)
	for _, e := range s.w.events[n:] {
		switch e.Kind {
		case failover.EventServerDown, failover.EventTakeoverStarted, failover.EventTakeoverFailed, failover.EventFailbackStarted:
			rt.Fatalf("the world does not settle once every fault is healed: %v", e)
		}
	}
}

// quietLiveness crashes one to three recording servers of a healed world at
// once and checks (4) that, livenessBudget later, as many of them are
// covered as the ready standbys can cover under the license rule (a
// brute-force maximum matching, group by group), each by one agent that
// fits, and that the others show "Abnormal, unprotected". A standby that
// failed a takeover while it answered may be tried again once its back-off
// is over, as a last resort: such standbys may cover more, never fewer.
func (s *engineModel) quietLiveness(rt *rapid.T) {
	snap := s.w.m.Snapshot()
	var candidates []nvrha.ServerID
	groupOf := map[nvrha.ServerID]failover.GroupID{}
	channels := map[nvrha.ServerID]int{}
	standbys := map[failover.GroupID][]int{}
	retryable := map[failover.GroupID][]int{} // ready ones and those past their back-off
	for _, g := range snap.Groups {
		for _, mem := range g.Members {
			groupOf[mem.ID], channels[mem.ID] = g.ID, mem.LicenseChannels
			switch {
			case mem.Role == failover.RoleStandby && mem.Status() == sbReady && mem.Peer == "":
				standbys[g.ID] = append(standbys[g.ID], mem.LicenseChannels)
				retryable[g.ID] = append(retryable[g.ID], mem.LicenseChannels)
			case mem.Role == failover.RoleStandby && mem.Status() == sbProtectionFailed && mem.Peer == "" &&
				!mem.RetryAt.IsZero() && !mem.RetryAt.After(s.w.now.Add(livenessBudget)):
				retryable[g.ID] = append(retryable[g.ID], mem.LicenseChannels)
			case mem.Role == failover.RoleRecording && mem.Enabled && g.Protection && mem.Peer == "" && mem.Health == nvrha.HealthUp:
				candidates = append(candidates, mem.ID)
			}
		}
	}
	if len(candidates) == 0 {
		return
	}
	crash := rapid.SliceOfNDistinct(rapid.SampledFrom(candidates), 1, min(3, len(candidates)), rapid.ID[nvrha.ServerID]).Draw(rt, "crash at the end")
	recs := map[failover.GroupID][]int{}
	for _, id := range crash {
		recs[groupOf[id]] = append(recs[groupOf[id]], channels[id])
		s.w.servers[id].Crash()
		s.crashed[id] = true
		s.noteReachability(id)
	}
	want, most := 0, 0
	for g, chs := range recs {
		want += maxCover(chs, standbys[g])
		most += maxCover(chs, retryable[g])
	}
	s.run(livenessBudget)
	members := s.members()
	covered := 0
	for _, id := range crash {
		mem := members[id]
		if mem.Peer == "" {
			if mem.Status() != recAbnormalUnprotected {
				rt.Fatalf("%s crashed, is not covered and shows %q", id, mem.Status())
			}
			continue
		}
		covered++
		if mem.Status() != recAbnormalProtected || members[mem.Peer].LicenseChannels < mem.LicenseChannels {
			rt.Fatalf("%s covered by %s (%d channels) shows %q", id, mem.Peer, members[mem.Peer].LicenseChannels, mem.Status())
		}
		if c := s.w.coverers(id); !slices.Equal(c, []nvrha.ServerID{mem.Peer}) {
			rt.Fatalf("%s is covered by %s for the Machine, by %v for the agents", id, mem.Peer, c)
		}
	}
	if covered < want || covered > most {
		rt.Fatalf("%d of the crashed %v are covered %v later; the ready standbys %v could cover %d, with those past their back-off %v %d:\n%s",
			covered, crash, livenessBudget, standbys, want, retryable, most, eventLines(s.w.events[max(0, len(s.w.events)-40):]))
	}
}

// maxCover returns how many recording servers of the given license channels
// standbys of the given channels can cover at once, by brute force.
func maxCover(recs, sbs []int) int {
	best := 0
	used := make([]bool, len(sbs))
	var try func(i, n int)
	try = func(i, n int) {
		if i == len(recs) {
			best = max(best, n)
			return
		}
		try(i+1, n)
		for j, ch := range sbs {
			if !used[j] && ch >= recs[i] {
				used[j] = true
				try(i+1, n+1)
				used[j] = false
			}
		}
	}
	try(0, 0)
	return best
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// wantRecorded checks, in a healed and settled world, that every recording
// server of a group with protection on has its cameras recorded: by itself,
// or by the one standby that covers it.
func (s *engineModel) wantRecorded(rt *rapid.T) {
	for _, g := range s.w.m.Snapshot().Groups {
		if !g.Protection {
			continue
		}
		for _, mem := range g.Members {
			if mem.Role != failover.RoleRecording || !mem.Enabled {
				continue
			}
			c := s.w.coverers(mem.ID)
			if len(c) > 1 || (len(c) == 0 && !s.w.servers[mem.ID].Recording()) {
				rt.Fatalf("%s (%q, peer %q): records itself %v, covered by %v\n%s", mem.ID, mem.Status(), mem.Peer,
					s.w.servers[mem.ID].Recording(), c, eventLines(s.w.events[max(0, len(s.w.events)-40):]))
			}
		}
	}
}
