package simulator

import (
	"slices"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
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
	// draw plans one fault of a periodic kind now: the action and the
	// servers it holds, or nil when none can strike now.
	draw func(p *planner) (*Action, []int)
	// reactive is the chance that a reactive kind strikes the takeover a
	// fault of a recording server causes; strike plans that fault on the
	// takeover of recording server rec (its targets "recording" and
	// "standby", resolved when the takeover starts), and may change when
	// it strikes (pf's After and HasAfter), or returns nil.
	reactive float64
	strike   func(p *planner, rec int, pf *PlannedFault) *Action
	// centers is the fewest centers a world must have for the nemesis to
	// draw the kind (0: any world).
	centers int
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
	{kind: FaultHostilePeer, perHour: 2, scaled: true, draw: drawHostile},
	{kind: FaultStandbyMidTakeover, reactive: 0.15, strike: strikeStandby},
	{kind: FaultCenterMidTakeover, reactive: 0.06, strike: strikeCenter},
	{kind: FaultAdminDisable, reactive: 0.06, strike: strikeDisable},
	{kind: FaultAdminRemove, reactive: 0.05, strike: strikeRemove},
	{kind: FaultAdminDeleteGroup, reactive: 0.05, strike: strikeDeleteGroup},
	{kind: FaultAdminProtectionOff, reactive: 0.05, strike: strikeProtectionOff},
	// The kinds of several centers, last: a world of one center draws
	// exactly what it drew before they existed.
	{kind: FaultLeaderCrash, perHour: 2, centers: 2, draw: drawLeaderCrash},
	{kind: FaultLeaderCutOff, perHour: 2, centers: 2, draw: drawLeaderCutOff},
	{kind: FaultStoreUnavailable, perHour: 2, centers: 2, draw: drawStoreDown},
	{kind: FaultLeaderMidTakeover, reactive: 0.06, centers: 2, strike: strikeLeader},
	{kind: FaultLeaderFreeze, reactive: 0.06, centers: 2, strike: strikeFreeze},
}

// faultKindOf returns the table entry of kind k.
func faultKindOf(k FaultKind) faultKind {
	i := slices.IndexFunc(faultKinds, func(f faultKind) bool { return f.kind == k })
	return faultKinds[i]
}

// The periodic kinds. Each draws from the plan's random source in a fixed
// order: the same seed draws the same faults.

// oneFree picks one server no fault holds, of a role (0 for any).
func (p *planner) oneFree(role failover.Role) []int {
	free := p.free(role)
	if len(free) == 0 {
		return nil
	}
	return []int{p.pick(free)}
}

func drawCrash(p *planner) (*Action, []int) {
	targets := p.oneFree(0)
	if targets == nil {
		return nil, nil
	}
	return &Action{Verb: "crash", For: p.span(5*time.Second, 3*time.Minute)}, targets
}

// drawPause draws a pause within the acceptable pause (pause-short) or
// well beyond it (pause-long).
func drawPause(p *planner) (*Action, []int) {
	targets := p.oneFree(0)
	if targets == nil {
		return nil, nil
	}
	ap := p.pauseScale
	a := &Action{Verb: "pause"}
	if p.kind == FaultPauseShort {
		a.For = p.span(50*time.Millisecond, ap)
	} else {
		a.For = p.span(ap*3/2, ap+20*time.Second)
	}
	return a, targets
}

// drawAbnormal fails a disk; half the time it still takes writes
// (degraded) and the server records until it is stood down.
func drawAbnormal(p *planner) (*Action, []int) {
	targets := p.oneFree(0)
	if targets == nil {
		return nil, nil
	}
	a := &Action{Verb: "abnormal", For: p.span(10*time.Second, 2*time.Minute)}
	if p.rng.chance(0.5) {
		a.Mode = "recording"
	}
	return a, targets
}

// drawPartition cuts one server's link both ways (partition), one way
// (partition-one-way), or the links of two to four servers.
func drawPartition(p *planner) (*Action, []int) {
	free := p.free(0)
	if len(free) == 0 {
		return nil, nil
	}
	targets := []int{p.pick(free)}
	if p.kind == FaultPartitionMulti {
		for range 1 + p.rng.intn(3) {
			if c := p.pick(free); !slices.Contains(targets, c) {
				targets = append(targets, c)
			}
		}
		if len(targets) < 2 {
			return nil, nil
		}
	}
	a := &Action{}
	if p.kind == FaultPartitionOneWay {
		a.Mode = []string{"in", "out"}[p.rng.intn(2)]
	}
	a.Verb, a.For = "partition", p.span(3*time.Second, time.Minute)
	return a, targets
}

// drawBurst raises the loss or the latency on one link or all of them.
func drawBurst(p *planner) (*Action, []int) {
	a := &Action{For: p.span(2*time.Second, 20*time.Second)}
	if p.kind == FaultLossBurst {
		a.Verb, a.Amount = "loss", 0.3+0.6*p.rng.r.Float64()
	} else {
		a.Verb, a.Delay = "delay", p.rng.between(50*time.Millisecond, 800*time.Millisecond)
	}
	var targets []int
	if p.rng.chance(0.5) {
		targets = []int{p.rng.intn(len(p.servers))}
	}
	return a, targets
}

func drawFillSpace(p *planner) (*Action, []int) {
	targets := p.oneFree(failover.RoleStandby)
	if targets == nil {
		return nil, nil
	}
	return &Action{Verb: "fill-space", For: p.span(20*time.Second, 3*time.Minute)}, targets
}

// drawLicense changes a server's license channels so that the license
// rule bites: a standby gets too few for the largest recording server of
// its group, a recording server more than some standby has.
func drawLicense(p *planner) (*Action, []int) {
	free := p.free(0)
	if len(free) == 0 {
		return nil, nil
	}
	i := p.pick(free)
	s := p.servers[i]
	top, low := 0, 1<<30
	for _, j := range s.Group.Servers {
		o := p.servers[j]
		if o.Role != s.Role {
			if o.Role == failover.RoleRecording {
				top = max(top, p.channels(j))
			} else {
				low = min(low, p.channels(j))
			}
		}
	}
	ch := p.channels(i)
	if s.Role == failover.RoleStandby {
		ch = max(1, top-8) // too few for the largest recording server
	} else if low < 1<<30 {
		ch = max(ch, low+8) // more than some standby has
	}
	a := &Action{Verb: "license", Amount: float64(ch), For: p.span(30*time.Second, 3*time.Minute)}
	p.licenses = append(p.licenses, plannedLicense{server: i, channels: ch, from: p.now, to: p.now + a.For})
	return a, []int{i}
}

// drawFlap crashes a recording server two to five times in a row; the
// whole flap must end before the quiet tail.
func drawFlap(p *planner) (*Action, []int) {
	targets := p.oneFree(failover.RoleRecording)
	if targets == nil {
		return nil, nil
	}
	a := &Action{Verb: "flap", Times: 2 + p.rng.intn(4)}
	a.Delay, a.Up = p.rng.between(2*time.Second, 8*time.Second), p.rng.between(5*time.Second, 40*time.Second)
	total := time.Duration(a.Times) * (a.Delay + a.Up)
	if p.now+total > p.stopAt {
		return nil, nil
	}
	p.hold(targets, total)
	return a, targets
}

// drawMultiFail crashes two to four recording servers together.
func drawMultiFail(p *planner) (*Action, []int) {
	free := p.free(failover.RoleRecording)
	if len(free) < 2 {
		return nil, nil
	}
	var targets []int
	want := 2 + p.rng.intn(3)
	for len(targets) < want && len(free) > 0 {
		j := p.rng.intn(len(free))
		targets = append(targets, free[j])
		free = slices.Delete(free, j, j+1)
	}
	return &Action{Verb: "crash", For: p.span(10*time.Second, 2*time.Minute)}, targets
}

// drawCenterCrash crashes the center for 1 to 10 s, unless a crash it
// planned before still holds it down.
func drawCenterCrash(p *planner) (*Action, []int) {
	if p.now < p.centerBack {
		return nil, nil
	}
	a := &Action{Verb: "center-crash", For: p.rng.between(time.Second, 10*time.Second)}
	p.centerBack = p.now + a.For
	return a, nil
}

// The hostilities the nemesis gives a standby (every one) and a recording
// server (those that concern the orders a recording server gets).
var (
	standbyHostilities   = history.Hostilities()
	recordingHostilities = []history.Hostility{history.HostileAbsurdEpoch, history.HostileAbsurdReport, history.HostileLate,
		history.HostileReplay}
)

// drawHostile breaks a server's agent for 20 s to 3 min: a standby half
// the time (a hostile standby matters when it is ordered to take over),
// else any server.
func drawHostile(p *planner) (*Action, []int) {
	var targets []int
	if p.rng.chance(0.5) {
		targets = p.oneFree(failover.RoleStandby)
	}
	if targets == nil {
		targets = p.oneFree(0)
	}
	if targets == nil {
		return nil, nil
	}
	modes := standbyHostilities
	if p.servers[targets[0]].Role == failover.RoleRecording {
		modes = recordingHostilities
	}
	h := modes[p.rng.intn(len(modes))]
	a := &Action{Verb: "broken", Mode: string(h), For: p.span(20*time.Second, 3*time.Minute)}
	if h == history.HostileLate {
		a.Delay = p.rng.between(time.Minute, 5*time.Minute)
	}
	return a, targets
}

// The reactive kinds, which strike the takeover a fault causes. Their
// targets are the placeholders "recording" and "standby": the takeover's
// pair on the side that runs it.

// strikeStandby crashes the standby within 300 ms of the start.
func strikeStandby(p *planner, _ int, pf *PlannedFault) *Action {
	pf.After = p.rng.between(0, 300*time.Millisecond)
	return &Action{Verb: "crash", Targets: []string{"standby"}, For: p.span(5*time.Second, time.Minute)}
}

// strikeCenter crashes the center: half the time right after it persisted
// the takeover and before its orders leave, else within 500 ms.
func strikeCenter(p *planner, _ int, pf *PlannedFault) *Action {
	d := p.rng.between(time.Second, 8*time.Second)
	if p.rng.chance(0.5) {
		pf.After, pf.HasAfter = 0, false
	} else {
		pf.After = p.rng.between(0, 500*time.Millisecond)
	}
	return &Action{Verb: "center-crash", For: d}
}

// strikeDisable disables the recording server or the standby.
func strikeDisable(p *planner, _ int, _ *PlannedFault) *Action {
	who := []string{"recording", "standby"}[p.rng.intn(2)]
	return &Action{Verb: "disable", Targets: []string{who}, For: p.span(5*time.Second, time.Minute)}
}

// strikeRemove removes the recording server or the standby, disabling it
// first when the Machine refuses (it is in the takeover process).
func strikeRemove(p *planner, _ int, _ *PlannedFault) *Action {
	who := []string{"recording", "standby"}[p.rng.intn(2)]
	return &Action{Verb: "remove", Targets: []string{who}, Mode: "force", For: p.span(10*time.Second, time.Minute)}
}

// strikeDeleteGroup deletes the takeover's group, unless it is the
// default group (on every side: the group is the recording server's).
func strikeDeleteGroup(p *planner, rec int, _ *PlannedFault) *Action {
	g := p.servers[rec].Group
	if g.Index == 1 {
		return nil
	}
	return &Action{Verb: "delete-group", Targets: []string{groupRef(g.Index)}, For: p.span(10*time.Second, time.Minute)}
}

// strikeProtectionOff switches the takeover's group's protection off.
func strikeProtectionOff(p *planner, rec int, _ *PlannedFault) *Action {
	g := p.servers[rec].Group
	return &Action{Verb: "protection", Targets: []string{groupRef(g.Index)}, Mode: "off", For: p.span(5*time.Second, time.Minute)}
}

// The kinds of several centers.

// drawLeaderCrash crashes the leading center's host for 20 s to 3 min: a
// follower takes over once its lease expires. Half the time a recording
// server crashes too, within the lease after it (alongside), so that one
// fails while no center leads.
func drawLeaderCrash(p *planner) (*Action, []int) {
	if p.now < p.centerBack {
		return nil, nil
	}
	a := &Action{Verb: "center-crash", For: p.span(20*time.Second, 3*time.Minute)}
	p.centerBack = p.now + p.lease + 2*time.Second
	if p.rng.chance(0.5) {
		p.alongside(p.rng.between(0, p.lease+time.Second))
	}
	return a, nil
}

// alongside plans a crash of a free recording server after d, for 20 s to
// 2 min: a periodic fault of its own (a crash), which no reactive kind
// strikes.
func (p *planner) alongside(d time.Duration) {
	targets := p.oneFree(failover.RoleRecording)
	at := p.now + d
	if targets == nil || at >= p.stopAt {
		return
	}
	i := targets[0]
	dur := p.rng.between(20*time.Second, 2*time.Minute)
	dur = min(dur, max(p.stopAt-at, time.Millisecond))
	p.busy[i] = at + dur + 2*time.Second
	p.plan = append(p.plan, PlannedFault{At: at, Kind: FaultCrash,
		Action: Action{Verb: "crash", Targets: []string{string(p.servers[i].ID)}, For: dur, Fault: FaultCrash}})
}

// drawLeaderCutOff cuts the leader from the lease store, not from the
// servers, for 3 s to a minute: a short cut ends before its term does.
func drawLeaderCutOff(p *planner) (*Action, []int) {
	return &Action{Verb: "cut-store", Targets: []string{history.LeaderRef}, For: p.span(3*time.Second, time.Minute)}, nil
}

// drawStoreDown makes the lease store unavailable for 1 to 30 s: no
// center saves, renews or is elected; a short outage ends before the
// leader's term does.
func drawStoreDown(p *planner) (*Action, []int) {
	return &Action{Verb: "store-down", For: p.span(time.Second, 30*time.Second)}, nil
}

// strikeLeader crashes the leader's host for 20 s to 2 min, half the time
// right after it persisted the takeover and before its orders leave, else
// within 2 s: a follower carries the takeover on.
func strikeLeader(p *planner, _ int, pf *PlannedFault) *Action {
	if p.rng.chance(0.5) {
		pf.After, pf.HasAfter = 0, false
	} else {
		pf.After = p.rng.between(0, 2*time.Second)
	}
	return &Action{Verb: "center-crash", For: p.span(20*time.Second, 2*time.Minute)}
}

// strikeFreeze freezes the leader for a second more than its lease up to
// three leases, half the time right after it persisted the takeover and
// stamped its orders (they leave when it wakes, its term long over), else
// within 2 s: a follower is elected meanwhile, and the agents that obeyed
// it refuse the stamped orders.
func strikeFreeze(p *planner, _ int, pf *PlannedFault) *Action {
	if p.rng.chance(0.5) {
		pf.After, pf.HasAfter = 0, false
	} else {
		pf.After = p.rng.between(0, 2*time.Second)
	}
	return &Action{Verb: "center-freeze", For: p.rng.between(p.lease+time.Second, 3*p.lease)}
}
