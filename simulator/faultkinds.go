package simulator

import (
	"slices"
	"time"

	"github.com/nvrha/nvrha/failover"
)

// faultKind is one kind of fault the nemesis draws: its rate and the one
// function that draws a fault of it. Adding a fault kind is a FaultKind
// constant (package history) and an entry here; the Action it draws uses
// the verbs of actions.go (a new mechanism adds a verb there and to the
// scenario parser).
type faultKind struct {
	kind FaultKind
	// perHour is a periodic kind's rate in a world of 16 servers; scaled
	// kinds strike each server, so their rate grows with the world.
	perHour float64
	scaled  bool
	// draw draws one fault of a periodic kind now: the action and the
	// servers it holds, or nil when none can strike now.
	draw func(n *nemesis) (*Action, []int)
	// reactive is the chance that a reactive kind strikes a takeover that
	// just started; strike draws that fault on the takeover of
	// recording server rec by standby sb, to happen after (which it may
	// draw anew), or returns nil.
	reactive float64
	strike   func(n *nemesis, rec, sb int, after *time.Duration) *Action
}

// faultKinds are the nemesis's fault kinds, in the order it draws them.
var faultKinds = []faultKind{
	{kind: FaultCrash, perHour: 6, scaled: true, draw: drawCrash},
	{kind: FaultPauseShort, perHour: 12, scaled: true, draw: drawPause},
	{kind: FaultPauseLong, perHour: 2, scaled: true, draw: drawPause},
	{kind: FaultAbnormal, perHour: 3, scaled: true, draw: drawAbnormal},
	{kind: FaultPartition, perHour: 2, scaled: true, draw: drawPartition},
	{kind: FaultPartitionOneWay, perHour: 2, scaled: true, draw: drawPartition},
	{kind: FaultPartitionMulti, perHour: 1, draw: drawPartition},
	{kind: FaultLossBurst, perHour: 2, draw: drawBurst},
	{kind: FaultDelayBurst, perHour: 2, draw: drawBurst},
	{kind: FaultFillSpace, perHour: 2, scaled: true, draw: drawFillSpace},
	{kind: FaultLicense, perHour: 2, scaled: true, draw: drawLicense},
	{kind: FaultFlap, perHour: 1, draw: drawFlap},
	{kind: FaultMultiFail, perHour: 2, draw: drawMultiFail},
	{kind: FaultCenterCrash, perHour: 1, draw: drawCenterCrash},
	{kind: FaultStandbyMidTakeover, reactive: 0.15, strike: strikeStandby},
	{kind: FaultCenterMidTakeover, reactive: 0.06, strike: strikeCenter},
	{kind: FaultAdminDisable, reactive: 0.06, strike: strikeDisable},
	{kind: FaultAdminRemove, reactive: 0.05, strike: strikeRemove},
	{kind: FaultAdminDeleteGroup, reactive: 0.05, strike: strikeDeleteGroup},
	{kind: FaultAdminProtectionOff, reactive: 0.05, strike: strikeProtectionOff},
}

// faultKindOf returns the table entry of kind k.
func faultKindOf(k FaultKind) faultKind {
	i := slices.IndexFunc(faultKinds, func(f faultKind) bool { return f.kind == k })
	return faultKinds[i]
}

// The periodic kinds. Each draws from the world's random source in a fixed
// order: the same seed draws the same faults.

// oneFree picks one server no fault holds, of a role (0 for any).
func (n *nemesis) oneFree(role failover.Role) []int {
	free := n.free(role)
	if len(free) == 0 {
		return nil
	}
	return []int{n.pick(free)}
}

func drawCrash(n *nemesis) (*Action, []int) {
	targets := n.oneFree(0)
	if targets == nil {
		return nil, nil
	}
	return &Action{Verb: "crash", For: n.span(5*time.Second, 3*time.Minute)}, targets
}

// drawPause draws a pause within the acceptable pause (pause-short) or
// well beyond it (pause-long).
func drawPause(n *nemesis) (*Action, []int) {
	targets := n.oneFree(0)
	if targets == nil {
		return nil, nil
	}
	ap := n.w.cfg.pauseScale
	a := &Action{Verb: "pause"}
	if n.kind == FaultPauseShort {
		a.For = n.span(50*time.Millisecond, ap)
	} else {
		a.For = n.span(ap*3/2, ap+20*time.Second)
	}
	return a, targets
}

// drawAbnormal fails a disk; half the time it still takes writes
// (degraded) and the server records until it is stood down.
func drawAbnormal(n *nemesis) (*Action, []int) {
	targets := n.oneFree(0)
	if targets == nil {
		return nil, nil
	}
	a := &Action{Verb: "abnormal", For: n.span(10*time.Second, 2*time.Minute)}
	if n.w.rng.chance(0.5) {
		a.Mode = "recording"
	}
	return a, targets
}

// drawPartition cuts one server's link both ways (partition), one way
// (partition-one-way), or the links of two to four servers.
func drawPartition(n *nemesis) (*Action, []int) {
	w := n.w
	free := n.free(0)
	if len(free) == 0 {
		return nil, nil
	}
	targets := []int{n.pick(free)}
	if n.kind == FaultPartitionMulti {
		for range 1 + w.rng.intn(3) {
			if c := n.pick(free); !slices.Contains(targets, c) {
				targets = append(targets, c)
			}
		}
		if len(targets) < 2 {
			return nil, nil
		}
	}
	a := &Action{}
	if n.kind == FaultPartitionOneWay {
		a.Mode = []string{"in", "out"}[w.rng.intn(2)]
	}
	a.Verb, a.For = "partition", n.span(3*time.Second, time.Minute)
	return a, targets
}

// drawBurst raises the loss or the latency on one link or all of them.
func drawBurst(n *nemesis) (*Action, []int) {
	w := n.w
	a := &Action{For: n.span(2*time.Second, 20*time.Second)}
	if n.kind == FaultLossBurst {
		a.Verb, a.Amount = "loss", 0.3+0.6*w.rng.r.Float64()
	} else {
		a.Verb, a.Delay = "delay", w.rng.between(50*time.Millisecond, 800*time.Millisecond)
	}
	var targets []int
	if w.rng.chance(0.5) {
		targets = []int{w.rng.intn(len(w.servers))}
	}
	return a, targets
}

func drawFillSpace(n *nemesis) (*Action, []int) {
	targets := n.oneFree(failover.RoleStandby)
	if targets == nil {
		return nil, nil
	}
	return &Action{Verb: "fill-space", For: n.span(20*time.Second, 3*time.Minute)}, targets
}

// drawLicense changes a server's license channels so that the license
// rule bites: a standby gets too few for the largest recording server of
// its group, a recording server more than some standby has.
func drawLicense(n *nemesis) (*Action, []int) {
	w := n.w
	free := n.free(0)
	if len(free) == 0 {
		return nil, nil
	}
	i := n.pick(free)
	s := w.servers[i]
	top, low := 0, 1<<30
	for _, j := range s.t.Group.Servers {
		o := w.servers[j]
		if o.t.Role != s.t.Role {
			if o.t.Role == failover.RoleRecording {
				top = max(top, o.t.Facts.LicenseChannels)
			} else {
				low = min(low, o.t.Facts.LicenseChannels)
			}
		}
	}
	ch := s.t.Facts.LicenseChannels
	if s.t.Role == failover.RoleStandby {
		ch = max(1, top-8) // too few for the largest recording server
	} else if low < 1<<30 {
		ch = max(ch, low+8) // more than some standby has
	}
	return &Action{Verb: "license", Amount: float64(ch), For: n.span(30*time.Second, 3*time.Minute)}, []int{i}
}

// drawFlap crashes a recording server two to five times in a row; the
// whole flap must end before the quiet tail.
func drawFlap(n *nemesis) (*Action, []int) {
	w := n.w
	targets := n.oneFree(failover.RoleRecording)
	if targets == nil {
		return nil, nil
	}
	a := &Action{Verb: "flap", Times: 2 + w.rng.intn(4)}
	a.Delay, a.Up = w.rng.between(2*time.Second, 8*time.Second), w.rng.between(5*time.Second, 40*time.Second)
	total := time.Duration(a.Times) * (a.Delay + a.Up)
	if w.now+total > n.stopAt {
		return nil, nil
	}
	n.hold(targets, total)
	return a, targets
}

// drawMultiFail crashes two to four recording servers together.
func drawMultiFail(n *nemesis) (*Action, []int) {
	w := n.w
	free := n.free(failover.RoleRecording)
	if len(free) < 2 {
		return nil, nil
	}
	var targets []int
	want := 2 + w.rng.intn(3)
	for len(targets) < want && len(free) > 0 {
		j := w.rng.intn(len(free))
		targets = append(targets, free[j])
		free = slices.Delete(free, j, j+1)
	}
	return &Action{Verb: "crash", For: n.span(10*time.Second, 2*time.Minute)}, targets
}

func drawCenterCrash(n *nemesis) (*Action, []int) {
	if !n.w.c.t.Up {
		return nil, nil
	}
	return &Action{Verb: "center-crash", For: n.w.rng.between(time.Second, 10*time.Second)}, nil
}

// The reactive kinds, which strike a takeover that just started.

// strikeStandby crashes the standby within 300 ms of the start.
func strikeStandby(n *nemesis, _, sb int, after *time.Duration) *Action {
	*after = n.w.rng.between(0, 300*time.Millisecond)
	return &Action{Verb: "crash", Targets: []string{n.id(sb)}, For: n.span(5*time.Second, time.Minute)}
}

// strikeCenter crashes the center: half the time right after it persisted
// the takeover and before its orders leave, else within 500 ms.
func strikeCenter(n *nemesis, _, _ int, after *time.Duration) *Action {
	w := n.w
	d := w.rng.between(time.Second, 8*time.Second)
	if w.rng.chance(0.5) {
		a := &Action{Fault: FaultCenterMidTakeover}
		w.emitAction(a, nil, w.faultOf(a, nil))
		w.noteDisturbance(&Action{Verb: "center-crash"}, nil)
		w.c.crashBeforeSend, w.c.crashDowntime = true, d
		return nil
	}
	*after = w.rng.between(0, 500*time.Millisecond)
	return &Action{Verb: "center-crash", For: d}
}

// strikeDisable disables the recording server or the standby.
func strikeDisable(n *nemesis, rec, sb int, _ *time.Duration) *Action {
	pair := []string{n.id(rec), n.id(sb)}
	return &Action{Verb: "disable", Targets: []string{pair[n.w.rng.intn(2)]}, For: n.span(5*time.Second, time.Minute)}
}

// strikeRemove removes the recording server or the standby, disabling it
// first when the Machine refuses (it is in the takeover process).
func strikeRemove(n *nemesis, rec, sb int, _ *time.Duration) *Action {
	pair := []string{n.id(rec), n.id(sb)}
	return &Action{Verb: "remove", Targets: []string{pair[n.w.rng.intn(2)]}, Mode: "force", For: n.span(10*time.Second, time.Minute)}
}

// strikeDeleteGroup deletes the takeover's group, unless it is the
// default group.
func strikeDeleteGroup(n *nemesis, rec, _ int, _ *time.Duration) *Action {
	g := n.w.servers[rec].t.Group
	if g.Index == 1 {
		return nil
	}
	return &Action{Verb: "delete-group", Targets: []string{groupRef(g.Index)}, For: n.span(10*time.Second, time.Minute)}
}

// strikeProtectionOff switches the takeover's group's protection off.
func strikeProtectionOff(n *nemesis, rec, _ int, _ *time.Duration) *Action {
	g := n.w.servers[rec].t.Group
	return &Action{Verb: "protection", Targets: []string{groupRef(g.Index)}, Mode: "off", For: n.span(5*time.Second, time.Minute)}
}
