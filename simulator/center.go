package simulator

import (
	"context"
	"strconv"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// center is the simulated center: it runs the real Machine in the Ready
// loop of package failover's documentation, persists into its store before
// anything is sent, and can crash and restart from that store.
type center struct {
	w   *World
	cfg failover.Config
	m   Machine
	// t is what observers see of it: up or down, since when, its
	// incarnation, the State last persisted.
	t     history.CenterTruth
	store store
	// crashBeforeSend is set by a trigger: crash right after the State of
	// the current Ready is persisted, before its commands leave.
	crashBeforeSend bool
	crashDowntime   time.Duration
	// freezeBeforeSend is set by a trigger (several centers): the leader
	// freezes this long right after it stamped the current Ready's orders.
	freezeBeforeSend time.Duration
	// restoredReady is set from a restore until its first Ready is sent:
	// the orders RestoreMachine queued.
	restoredReady bool
	// cl is the lease store and the election where several centers stand
	// by for each other (multicenter.go); nil for one center. held is the
	// Ready whose State the lease store refused, and the answers that
	// arrived since: the Machine stands still until the store takes it.
	cl   *cluster
	held *heldReady
	// rd is the memory Ready rounds reuse (nextReady).
	rd failover.Ready
}

func (w *World) abs(d time.Duration) time.Time { return history.Abs(d) }

func (c *center) wrap(m *failover.Machine) Machine {
	var out Machine = m
	if c.w.cfg.Center.WrapMachine != nil {
		out = c.w.cfg.Center.WrapMachine(m)
	}
	persistIncrementally(out)
	return out
}

// maxReadyRounds bounds the Ready loop of one event: a Machine that still
// has a Ready after it never goes quiet (invariant 0).
const maxReadyRounds = 64

// drain runs the Ready loop until the Machine has nothing more to say:
// persist the State, publish the events, send the commands, advance.
func (c *center) drain() {
	w := c.w
	for i := 0; c.t.Up && c.held == nil && c.m.HasReady(); i++ {
		if i == maxReadyRounds {
			w.ev.Round = i
			w.emitKind(history.ReadyStuck)
			return
		}
		if c.cl != nil && !c.cl.mayOrder() {
			c.cl.stepDown(causeLeaseLost)
			return
		}
		rd := c.nextReady()
		if rd.State != nil || rd.Changes != nil || len(rd.Events) > 0 {
			// A change the Machine persisted or published: its view is
			// checked after the event, even if the center crashes before
			// the orders leave.
			w.machineTouched = true
		}
		if c.restoredReady {
			w.emitRestoredReady(&rd)
			if w.stopped {
				return
			}
		}
		if (rd.State != nil || rd.Changes != nil) && c.cl != nil && !c.cl.maySave() {
			c.hold(rd)
			return
		}
		if !c.sendReady(rd) {
			return
		}
	}
}

// nextReady returns the Machine's Ready. An unwrapped Machine fills the
// center's own, reused round after round: a Ready lives until the next
// round, or is copied when it is held (hold). A wrapped Machine is asked
// for Ready itself: a wrapper that embeds the Machine and changes its
// Ready would not change a ReadyInto it inherits.
func (c *center) nextReady() failover.Ready {
	if m, ok := c.m.(*failover.Machine); ok {
		m.ReadyInto(&c.rd)
		return c.rd
	}
	return c.m.Ready()
}

// sendReady persists rd's State, publishes its events, sends its commands
// and advances the Machine; it reports whether the center can take the
// next Ready.
func (c *center) sendReady(rd failover.Ready) bool {
	w := c.w
	if rd.State != nil {
		c.persist(*rd.State)
		if w.stopped {
			return false
		}
	}
	if rd.Changes != nil {
		c.persistChanges(*rd.Changes)
		if w.stopped {
			return false
		}
	}
	for i := range rd.Events {
		w.machineEvent(&rd.Events[i])
	}
	if c.crashBeforeSend {
		c.crashBeforeSend = false
		w.traceLine("center crashes after persisting, before sending " + strconv.Itoa(len(rd.Commands)) + " commands")
		c.crash(c.crashDowntime)
		return false
	}
	if c.freezeBeforeSend > 0 {
		c.freezeStamped(rd)
		return false
	}
	for i := range rd.Commands {
		w.sendCommand(&rd.Commands[i])
	}
	c.restoredReady = false
	c.m.Advance(rd)
	return true
}

// persist saves the Machine's State in the store.
func (c *center) persist(st failover.State) {
	prev := c.store.last
	if err := c.store.save(st); err != nil {
		c.w.ev.Err = err
		c.w.emitKind(history.StoreFailed)
		return
	}
	c.t.Persisted = c.store.last
	c.w.emitPersisted(prev, c.store.last)
}

// crash drops the Machine and every reply in flight; the center restarts
// from its store after downtime (never when downtime is negative). With
// several centers it is the leader's host that crashes.
func (c *center) crash(downtime time.Duration) {
	w := c.w
	if c.cl != nil {
		c.cl.crashLeader(downtime)
		return
	}
	if !c.t.Up {
		return
	}
	c.stop(causeCrash)
	w.traceLine("center crash")
	if downtime >= 0 {
		w.schedule(event{at: w.now + downtime, kind: evCenterUp})
	}
}

// stop takes the center down for why (causeCrash, or with several
// centers a leader that stops leading): the observers read its Machine a
// last time, which is then dropped with every reply in flight (they carry
// the incarnation that ends here) and every answer it held.
func (c *center) stop(why string) {
	w := c.w
	w.ev.Detail, w.ev.State = why, nil
	if c.held != nil && c.held.rd != nil {
		w.ev.State = heldState(c.held.rd, c.store.last)
	}
	w.emitKind(history.CenterCrash)
	c.t.Up = false
	c.m = nil
	if c.held != nil {
		for _, m := range c.held.results {
			w.freeMessage(m)
		}
		c.held = nil
	}
	c.t.Incarnation++
	c.t.DownSince = w.now
	w.disturbAll()
}

// restart rebuilds the Machine from the store with failover.RestoreMachine.
func (c *center) restart() {
	w := c.w
	if c.t.Up {
		return
	}
	st, err := c.store.load()
	if err != nil {
		c.restoreFailed("center restart: nothing to restore: ", err)
		return
	}
	m, err := failover.RestoreMachine(c.cfg, st, w.abs(w.now))
	if err != nil {
		c.restoreFailed("center restart: RestoreMachine refused the persisted State: ", err)
		return
	}
	c.m = c.wrap(m)
	c.t.Up = true
	c.t.Incarnation++
	c.t.UpSince = w.now
	c.restoredReady = true
	c.t.Restarts++
	w.disturbAll()
	w.traceLine("center restart (incarnation " + strconv.Itoa(int(c.t.Incarnation)) + ")")
	w.machineTouched = true
	w.ev.State = &st
	w.emitKind(history.CenterRestarted)
	if w.stopped {
		return
	}
	c.drain()
}

func (c *center) restoreFailed(why string, err error) {
	c.w.ev.Detail, c.w.ev.Err = why+err.Error(), err
	c.w.emitKind(history.RestoreFailed)
}

// approval returns a first-admin approval for op, as a vendor's UI would
// after the first admin user verified at now.
func approval(op failover.Operation, now time.Time) failover.Approval {
	a, err := failover.VerifyFirstAdminAt(context.Background(),
		failover.VerifierFunc(func(context.Context) error { return nil }), op, now)
	if err != nil {
		panic(err) // a nil verifier result always approves
	}
	return a
}
