package check

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/simulator/history"
)

// Names names the invariants by number, as docs/invariants.md does; 0 is
// the Ready loop itself (a Machine that never goes quiet).
var Names = [...]string{
	0: "the Machine's Ready loop terminates and its commands are well formed",
	1: "a recording server is taken over by at most one standby at a time; a standby covers at most one recording server",
	2: "a standby never covers a server with more license channels than its own; every eligibility rule holds for every member",
	3: "epochs only grow, per server, across center restarts; a command with a stale epoch changes nothing",
	4: "a failed recording server with an eligible, healthy, enabled standby is taken over within the detection + takeover budget",
	5: "statuses always agree with the facts",
	6: "a server in takeover cannot be removed; the default group cannot be deleted; limits are never exceeded",
	7: "once faults stop, assignments settle and stay; a pause within the acceptable pause triggers no takeover",
	8: "nothing acknowledged is lost across a center crash",
	9: "the same seed gives the same event trace",

	10: "a standby that fails takeovers while it answers is shown \"Abnormal, protection failed\" and held back; no hostile standby is ordered to take over again and again",
}

// Violation is an invariant that failed: where, when, and how to replay it.
type Violation struct {
	Invariant int           `json:"invariant"`
	Name      string        `json:"name"`
	Seed      uint64        `json:"seed"`
	At        time.Duration `json:"at"`
	Detail    string        `json:"detail"`
	// LastEvents are the canonical lines of the last events before it.
	LastEvents []string `json:"last_events"`
	// Replay is a one-line command that runs the same world again.
	Replay string `json:"replay"`
	// Scenario is the scenario text when the world ran one that has no
	// file (a generated plan); save it to FILE for the replay command.
	Scenario string `json:"scenario,omitempty"`
}

func (v *Violation) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "invariant %d violated at %s (seed %d): %s\n  invariant: %s\n  replay: %s\n  last events:\n",
		v.Invariant, fmtDur(v.At), v.Seed, v.Detail, v.Name, v.Replay)
	for _, l := range v.LastEvents {
		b.WriteString("    " + l + "\n")
	}
	if v.Scenario != "" {
		b.WriteString("  scenario (save as FILE):\n")
		for _, l := range strings.Split(strings.TrimRight(v.Scenario, "\n"), "\n") {
			b.WriteString("    " + l + "\n")
		}
	}
	return b.String()
}

// fmtDur renders a simulated offset for messages: "12.345s".
func fmtDur(d time.Duration) string { return d.Round(time.Millisecond).String() }

// Budgets are how long the time-bounded invariants allow, derived from
// the Machine's configuration (docs/invariants.md).
type Budgets struct {
	// Detect: a failed server is declared failed within this.
	Detect time.Duration
	// PerTry: one standby tried and given up.
	PerTry time.Duration
	// Fence: an unwanted standby gets its release within this.
	Fence time.Duration
	// Settle is the fixed part of the time assignments take to settle.
	Settle time.Duration
	// Inventory is the Machine's inventory interval.
	Inventory time.Duration
}

// BudgetsOf derives the budgets from a run's settings.
func BudgetsOf(s *history.Settings) Budgets {
	fc := s.Failover
	d := fc.Detector
	wait := d.AcceptablePause
	if d.Kind == detector.KindConsecutiveMiss {
		wait = max(wait, time.Duration(d.Misses)*d.ProbeInterval)
	}
	b := Budgets{
		Detect:    wait + 2*d.ProbeInterval + fc.ProbeTimeout + 2*time.Second,
		PerTry:    fc.TakeoverTimeout + s.TickInterval,
		Fence:     fc.CommandTimeout + fc.RetryMax + 2*time.Second,
		Inventory: fc.InventoryInterval,
	}
	b.Settle = b.Detect + b.Fence + fc.InventoryInterval + 5*time.Second
	return b
}

// Checker checks the invariants of docs/invariants.md on a running world,
// event by event: it is a history.Observer. The first violation goes to
// its Sink (which stops the run) and the Checker checks nothing more.
type Checker struct {
	v    history.View
	sink history.Sink
	set  *history.Settings
	srv  []*history.ServerTruth
	cams []history.Camera
	b    Budgets
	// byID indexes the servers by ID: the checks look servers up after
	// nearly every event.
	byID map[nvrha.ServerID]int
	// center is the center's state (the world keeps it in one place);
	// now is the time of the event being checked.
	center *history.CenterTruth
	now    time.Duration

	tolerate []string
	known    []KnownIssue
	failed   bool
	checks   uint64

	// What each invariant remembers between events, in its own file's
	// type.
	one     oneStandby
	lic     licenseRule
	ep      epochs
	timely  timelyTakeover
	settle  settling
	durable nothingLost
	hostile hostilePeers

	// The Machine's view, indexed once per check (machine_view.go).
	mv machineView

	// extra are the registered invariants' checkers (register.go), and
	// extraBy those that want each kind of event.
	extra   []invariant
	extraBy [history.Kinds][]invariant
}

// New returns a Checker of the world v shows, reporting to sink. Known
// issues listed in tolerate are recorded (Known) instead of reported.
func New(v history.View, sink history.Sink, tolerate []string) *Checker {
	c := &Checker{v: v, sink: sink, set: v.Settings(), srv: v.Servers(), cams: v.Cameras(), center: v.Center(), tolerate: tolerate}
	c.b = BudgetsOf(c.set)
	n := len(c.srv)
	c.byID = make(map[nvrha.ServerID]int, n)
	for i, s := range c.srv {
		c.byID[s.ID] = i
	}
	c.one.init(n)
	c.ep.init(n)
	c.timely.init(n)
	c.settle.init(n)
	c.durable.init()
	c.hostile.init(n)
	for _, newInvariant := range registered {
		c.extra = append(c.extra, newInvariant())
	}
	for k := range c.extraBy {
		for _, x := range c.extra {
			if s, ok := x.(selective); !ok || s.wants(c, history.Kind(k)) {
				c.extraBy[k] = append(c.extraBy[k], x)
			}
		}
	}
	return c
}

// Budgets returns the budgets the checker allows.
func (c *Checker) Budgets() Budgets { return c.b }

// Checks counts the invariant evaluations so far.
func (c *Checker) Checks() uint64 { return c.checks }

// Failed reports whether an invariant was violated.
func (c *Checker) Failed() bool { return c.failed }

// Known returns the tolerated known issues the run ran into.
func (c *Checker) Known() []KnownIssue { return c.known }

// Settled reports whether the run settled (invariant 7's settle checks
// applied) and from when.
func (c *Checker) Settled() (bool, time.Duration) { return c.settle.ever, c.settle.at }

// Orphans returns the standbys that recorded a recording server's cameras
// outside any group, sorted.
func (c *Checker) Orphans() []nvrha.ServerID {
	out := make([]nvrha.ServerID, 0, len(c.one.orphans))
	for id := range c.one.orphans {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// IsOrphan reports whether standby id recorded cameras outside any group.
func (c *Checker) IsOrphan(id nvrha.ServerID) bool { return c.one.orphans[id] }

// fail reports a violation of invariant inv, once.
func (c *Checker) fail(inv int, detail string) {
	if c.failed {
		return
	}
	c.failed = true
	c.sink.Violated(inv, detail)
}

// Wants tells the world which events the checks need: all but the
// record of actions, admin results and refusals, which the built-in
// invariants do not read, unless a registered invariant wants them.
func (c *Checker) Wants(k history.Kind) bool {
	if int(k) < len(c.extraBy) && len(c.extraBy[k]) > 0 {
		return true
	}
	return k != history.ActionTaken && k != history.Admin && k != history.Refused
}

// Observe checks the invariants one event may have broken.
func (c *Checker) Observe(e *history.Event) {
	if c.failed {
		return
	}
	c.now = e.At
	switch e.Kind {
	case history.Done:
		c.afterEvent(e)
		c.hostile.restoring = false
	case history.Tick:
		c.timed()
	case history.MachineEvent:
		c.machineEvent(e.MachineEvent)
	case history.RestoredReady:
		c.restoredReady(e.Ready)
		c.hostile.restoring = true
	case history.ReadyStuck:
		c.readyStuck(e.Round)
	case history.Persisted:
		c.notePersisted(e.Prev, e.Changes)
		if e.Changes != nil {
			c.persistedChanges(e.Prev, e.Changes)
		} else {
			c.persisted(e.Prev, e.State)
		}
	case history.StoreFailed:
		c.fail(8, "the store refused the Machine's State: "+e.Err.Error())
	case history.CommandSent:
		c.commandSent(e.Command, e.Known, e.Malformed)
	case history.Delivered:
		c.delivered(e)
	case history.FootageChanged:
		c.durable.footage(c, e)
	case history.CenterCrash:
		c.unpersisted(e.State)
	case history.CenterRestarted:
		c.restored(e.State)
	case history.RestoreFailed:
		c.fail(8, e.Detail)
	case history.JoinRequested:
		c.lic.joinRequested(c, e.Server)
	case history.Joined:
		c.eligibleJoin(e.Server, e.Group)
	case history.Removed:
		c.removed(e.Server, e.InTakeover, e.Err)
	case history.GroupDeleted:
		c.groupDeleted(e.Group, e.Err)
	case history.Finish:
		c.end()
		if !c.failed {
			c.ledgerAtEnd()
		}
	}
	for _, x := range c.extraBy[e.Kind] {
		if c.failed {
			return
		}
		x.observe(c, e)
	}
}

// afterEvent runs the invariants an event may have changed, and only
// those:
//
//   - The Machine's view (checkMachine) after an event whose Machine call
//     published a change (a Ready with a State or Events), after every
//     admin operation and restart, and at every tick. The Machine's view
//     changes only through what it persists or publishes: epochs, peers,
//     facts, groups, members, switches and failed takeovers are State (a
//     Ready carries it when it changes); health and statuses change with
//     an Event. A call whose Ready loop published nothing (most answers: a
//     probe of a healthy server) therefore leaves every input of these
//     checks as it was after the last one, which passed. The one thing a
//     Machine learns without publishing it is a member's empty recording
//     space from a probe; it enters the checks only through the statuses,
//     which the Machine publishes when they change, and the check at the
//     next tick (at most a tick later) sees it either way. A tick that
//     published nothing is checked only if the Machine's generation
//     moved since the last check (checkMachine): it moves with any change
//     of what the Machine shows, that one included.
//   - The ground truth (checkGround) after an event that changed a server:
//     only that server's side of it (checkGroundAt) when the event touched
//     one server (an order it carried out, its footage starting, its pause
//     ending), the full walk after an action (a fault, an admin operation,
//     a license change), which may change several.
func (c *Checker) afterEvent(e *history.Event) {
	if e.Machine && c.center.Up {
		c.checkMachine(e.Quiet)
	}
	c.lic.started = c.lic.started[:0]
	c.durable.holders = c.durable.holders[:0]
	c.mv.tickSnap = nil
	switch {
	case c.failed:
	case e.AllServers:
		c.checkGround()
	case len(e.Touched) > 0:
		// Each frequent event touches one server; should one touch
		// several, the full walk keeps the order of the reports.
		one := true
		for _, i := range e.Touched[1:] {
			one = one && i == e.Touched[0]
		}
		if one {
			c.checkGroundAt(e.Touched[0])
		} else {
			c.checkGround()
		}
	}
}

// machineEvent checks one event the Machine published and notes what
// the checks after the event need.
func (c *Checker) machineEvent(e *failover.Event) {
	c.durable.takeovers.Event(e, c.now)
	switch e.Kind {
	case failover.EventTakeoverStarted:
		c.lic.started = append(c.lic.started, *e)
	case failover.EventTakeoverSucceeded, failover.EventFailbackCompleted:
		c.durable.holders = append(c.durable.holders, *e)
	case failover.EventServerDown:
		// A holder declared down later in the same event holds nothing
		// now: its interval ends where it was last seen, which may be
		// before the takeover or failback was confirmed (a failback that
		// completes because its standby went down, in the tick that finds
		// the recording server down too).
		c.durable.holders = slices.DeleteFunc(c.durable.holders, func(h failover.Event) bool {
			return holderOf(&h) == e.Server
		})
	}
	c.settlingEvent(e)
	if !c.failed {
		c.hostileEvent(e)
	}
}

// commandSent checks a command about to leave: well formed (invariant 0),
// a fresh ID (8), an epoch persisted, not reused and in range (3), not one
// takeover order too many for a hostile standby (10).
func (c *Checker) commandSent(cmd *failover.Command, known, malformed bool) {
	if malformed {
		c.malformed(cmd)
		return
	}
	if !known {
		return
	}
	c.commandID(cmd)
	c.commandEpoch(cmd)
	if !c.failed {
		c.takeoverOrdersBounded(cmd)
	}
}

// delivered checks an order a server carried out: refused as stale, it
// changed nothing (invariant 3); a failback's release breaks nothing (7)
// and is carried out (1).
func (c *Checker) delivered(e *history.Event) {
	if c.staleChangedNothing(e) || e.Result.Err != nil {
		return
	}
	if e.Command.Kind == failover.CmdRelease {
		c.makeBeforeBreak(e)
	}
}

// index returns the index of server id, trying guess first.
func (c *Checker) index(id nvrha.ServerID, guess int) (int, bool) {
	if guess >= 0 && guess < len(c.srv) && c.srv[guess].ID == id {
		return guess, true
	}
	i, ok := c.byID[id]
	return i, ok
}
