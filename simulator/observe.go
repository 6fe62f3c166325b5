package simulator

import (
	"fmt"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/check"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/simulator/report"
)

// attachObservers makes the world's observers: the checker first (a
// violation it finds stops the run), then the measures.
func (w *World) attachObservers() {
	v := &worldView{w}
	w.chk = check.New(v, worldSink{w}, w.cfg.Tolerate)
	w.meas = report.NewMeasures(v)
	for k := range w.obs {
		w.obs[k] = nil
		for _, o := range []history.Observer{w.chk, w.meas} {
			if s, ok := o.(history.Selective); !ok || s.Wants(history.Kind(k)) {
				w.obs[k] = append(w.obs[k], o)
			}
		}
	}
}

// emit shows the current event (w.ev) to every observer that wants its
// kind. The emit helpers below set the fields its Kind uses; the others
// keep whatever an earlier event left, which its Kind does not read.
func (w *World) emit() {
	w.ev.At = w.now
	for _, o := range w.obs[w.ev.Kind] {
		o.Observe(&w.ev)
	}
}

// emitKind emits an event that carries nothing but its kind.
func (w *World) emitKind(k history.Kind) {
	w.ev.Kind = k
	w.emit()
}

// eventDone tells the observers what the event just handled changed, if
// anything, and resets that record for the next one.
func (w *World) eventDone() {
	if !w.stopped && (w.machineTouched || w.machineTicked || w.groundTouched || len(w.touched) > 0) {
		w.ev.Kind, w.ev.Machine, w.ev.Quiet = history.Done, w.machineTouched || w.machineTicked, w.machineTicked && !w.machineTouched
		w.ev.AllServers, w.ev.Touched = w.groundTouched, w.touched
		w.emit()
	}
	w.machineTouched, w.machineTicked, w.groundTouched = false, false, false
	w.touched = w.touched[:0]
}

// touch notes that the current event changed server i's ground truth.
func (w *World) touch(i int) { w.touched = append(w.touched, i) }

func (w *World) emitMachineEvent(e *failover.Event) {
	w.ev.Kind, w.ev.MachineEvent = history.MachineEvent, e
	w.emit()
}

func (w *World) emitFootage(server int, cover, on bool, cams []int, of nvrha.ServerID) {
	w.ev.Kind, w.ev.Server, w.ev.Cover, w.ev.On, w.ev.Cams, w.ev.Of = history.FootageChanged, server, cover, on, cams, of
	w.emit()
}

func (w *World) emitFault(k history.Kind, server int, fault FaultKind) {
	w.ev.Kind, w.ev.Server, w.ev.Fault = k, server, fault
	w.emit()
}

func (w *World) emitCommand(cmd *failover.Command, known, malformed bool, term uint64) {
	w.ev.Kind, w.ev.Command, w.ev.Known, w.ev.Malformed, w.ev.Term = history.CommandSent, cmd, known, malformed, term
	w.emit()
}

// emitDelivered emits a delivery; the caller has set w.ev.Before and After.
func (w *World) emitDelivered(server int, cmd *failover.Command, term uint64, res *failover.Result) {
	w.ev.Kind, w.ev.Server, w.ev.Command, w.ev.Term, w.ev.Result = history.Delivered, server, cmd, term, res
	w.emit()
}

func (w *World) emitRestoredReady(rd *failover.Ready) {
	w.ev.Kind, w.ev.Ready = history.RestoredReady, rd
	w.emit()
}

func (w *World) emitPersisted(prev, cur *failover.State) {
	w.ev.Kind, w.ev.Prev, w.ev.State, w.ev.Changes = history.Persisted, prev, cur, nil
	w.emit()
}

// emitPersistedChanges emits the persisting of changes to prev, before
// they are applied to it.
func (w *World) emitPersistedChanges(prev *failover.State, c *failover.Changes) {
	w.ev.Kind, w.ev.Prev, w.ev.State, w.ev.Changes = history.Persisted, prev, nil, c
	w.emit()
}

func (w *World) emitAction(a *Action, servers []int, fault FaultKind) {
	w.ev.Kind, w.ev.Action, w.ev.Servers, w.ev.Fault = history.ActionTaken, a, servers, fault
	w.emit()
}

func (w *World) emitAdmin(op string, err error) {
	w.ev.Kind, w.ev.Op, w.ev.Err = history.Admin, op, err
	w.emit()
}

// emitServer emits an event about one server and an error: Joined,
// Removed, JoinRequested.
func (w *World) emitServer(k history.Kind, server, group int, err error) {
	w.ev.Kind, w.ev.Server, w.ev.Group, w.ev.Err = k, server, group, err
	w.emit()
}

// worldSink takes the checker's findings: notes join the trace, a
// violation stops the run.
type worldSink struct{ w *World }

func (s worldSink) Note(line string) { s.w.traceLine(line) }

// Violated stops the run with a violation of invariant inv: seed,
// simulated time, the last events, and the replay command.
func (s worldSink) Violated(inv int, detail string) {
	w := s.w
	if w.violation != nil {
		return
	}
	w.traceLine(fmt.Sprintf("VIOLATION invariant %d: %s", inv, detail))
	v := &Violation{
		Invariant: inv, Name: check.Name(inv), Seed: w.cfg.Seed, At: w.now, Detail: detail,
		LastEvents: w.tr.last(), Replay: w.cfg.ReplayCommand(),
	}
	if w.cfg.Scenario != nil && w.cfg.ScenarioPath == "" {
		v.Scenario = w.cfg.Scenario.String()
	}
	w.violation = v
	w.stopped = true
}

// worldView is the observers' read-only view of the world.
type worldView struct{ w *World }

var _ history.View = (*worldView)(nil)

func (v *worldView) Settings() *history.Settings       { return &v.w.set }
func (v *worldView) Now() time.Duration                { return v.w.now }
func (v *worldView) Servers() []*history.ServerTruth   { return v.w.truths }
func (v *worldView) Cameras() []history.Camera         { return v.w.cams }
func (v *worldView) Groups() []*history.GroupTruth     { return v.w.groups }
func (v *worldView) CalmSince(i int) time.Duration     { return v.w.calmSince(i) }
func (v *worldView) LinkCalmSince(i int) time.Duration { return v.w.linkCalmSince(i) }
func (v *worldView) LastDisturbance() time.Duration    { return v.w.lastDisturbance }
func (v *worldView) Center() *history.CenterTruth      { return &v.w.c.t }

func (v *worldView) ServerIndex(id nvrha.ServerID) (int, bool) {
	i, ok := v.w.byID[id]
	return i, ok
}

func (v *worldView) Machine() history.MachineView {
	if !v.w.c.t.Up {
		return nil
	}
	return v.w.c.m
}

// SnapshotInto brings buf up to date with the real Machine's snapshot,
// writing only the groups that changed (failover.Machine.UpdateSnapshot); a
// wrapped Machine (a test's broken one) is asked for its Snapshot, which
// it may change.
func (v *worldView) SnapshotInto(buf *failover.Snapshot) {
	if m, ok := v.w.c.m.(*failover.Machine); ok {
		m.UpdateSnapshot(buf)
		return
	}
	*buf = v.w.c.m.Snapshot()
}

// MachineGeneration is the real Machine's Generation; a wrapped one (a
// test's broken Machine) may show what its Machine's does not count.
func (v *worldView) MachineGeneration() (uint64, bool) {
	if m, ok := v.w.c.m.(*failover.Machine); ok {
		return m.Generation(), true
	}
	return 0, false
}

// calmSince returns since when server i has been calm: not crashed,
// abnormal, paused for long, cut off, in a burst, hostile, or touched by a
// lost message or an admin operation. It returns now for a server that is
// not calm now.
func (w *World) calmSince(i int) time.Duration {
	if s := &w.servers[i].t; s.Abnormal || s.Hostile != "" {
		return w.now
	}
	return w.linkCalmSince(i)
}

// linkCalmSince is calmSince for a server that is up but abnormal or
// hostile: since when its link and control plane have been calm (no long
// pause, cut, burst, lost message or admin operation), or now.
func (w *World) linkCalmSince(i int) time.Duration {
	s := &w.servers[i].t
	if s.Crashed || (s.Paused && s.PauseUntil-w.now > 0 && s.PausedLong) || w.links[i].cutIn > 0 || w.links[i].cutOut > 0 {
		return w.now
	}
	for j := range w.bursts {
		if w.bursts[j].until > w.now && w.bursts[j].covers(i) {
			return w.now
		}
	}
	return max(s.DisturbedAt, s.AdminAt)
}
