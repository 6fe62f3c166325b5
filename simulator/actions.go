package simulator

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// verb is what an action's verb does to the world. Every fault, the end
// of one and every admin operation is an Action; do looks its verb up
// here.
type verb struct {
	// scope says what the action needs: servers (it does nothing without
	// one), a group reference, or nothing (it acts on the whole world).
	scope scope
	// apply carries the action out on its servers.
	apply func(w *World, a *Action, servers []int)
	// undo is the verb that ends the action a.For later, "" for none.
	undo string
	// fault is the kind a scripted action counts as, when it does not
	// name one.
	fault func(w *World, a *Action, servers []int) FaultKind
}

type scope uint8

const (
	onServers scope = iota
	onGroup
	onWorld
	// onCenters: centers (c1, c2, ... or "leader"; the leader when it
	// names none); with one center, the center.
	onCenters
)

// kindOf returns a fault function for a verb that is always one kind.
func kindOf(k FaultKind) func(*World, *Action, []int) FaultKind {
	return func(*World, *Action, []int) FaultKind { return k }
}

// eachServer applies f to every server of an action.
func eachServer(f func(w *World, a *Action, i int)) func(*World, *Action, []int) {
	return func(w *World, a *Action, servers []int) {
		for _, i := range servers {
			f(w, a, i)
		}
	}
}

// verbs are the actions of scenarios, triggers and the nemesis, by verb.
// The scenario format (package scenario) parses them; a new fault kind
// that needs a new verb adds it here and to the parser. It is set in
// init: the verbs' effects reach the Machine's events, whose handling
// looks verbs up again.
var verbs map[string]verb

func init() {
	verbs = map[string]verb{
		"crash":   {apply: crash, undo: "restart", fault: crashFault},
		"restart": {apply: eachServer(func(w *World, _ *Action, i int) { w.restartServer(i) })},
		"pause":   {apply: eachServer(func(w *World, a *Action, i int) { w.pauseServer(i, a.For) }), fault: pauseFault},
		"abnormal": {apply: eachServer(func(w *World, a *Action, i int) { w.setAbnormal(i, true, a.Mode == "recording") }),
			undo: "recover", fault: kindOf(FaultAbnormal)},
		"recover":         {apply: eachServer(func(w *World, _ *Action, i int) { w.setAbnormal(i, false, false) })},
		"partition":       {apply: partition, undo: "heal", fault: partitionFault},
		"heal":            {apply: partition},
		"loss":            {scope: onWorld, apply: startBurst, undo: "burst-end", fault: kindOf(FaultLossBurst)},
		"delay":           {scope: onWorld, apply: startBurst, undo: "burst-end", fault: kindOf(FaultDelayBurst)},
		"burst-end":       {scope: onWorld, apply: endBursts},
		"fill-space":      {apply: eachServer(fillSpace), undo: "free-space", fault: kindOf(FaultFillSpace)},
		"free-space":      {apply: eachServer(fillSpace)},
		"license":         {apply: eachServer(license), undo: "license-restore", fault: kindOf(FaultLicense)},
		"license-restore": {apply: eachServer(licenseRestore)},
		"flap":            {apply: eachServer(func(w *World, a *Action, i int) { w.flapCycle(i, a, a.Times) }), fault: kindOf(FaultFlap)},
		"flap-cycle":      {apply: eachServer(func(w *World, a *Action, i int) { w.flapCycle(i, a, a.Times) })},
		"center-crash":    {scope: onCenters, apply: centerCrash, fault: centerCrashFault},
		"center-restart":  {scope: onCenters, apply: centerRestart},
		"center-freeze":   {scope: onCenters, apply: centerFreeze, fault: kindOf(FaultLeaderFreeze)},
		"cut-store":       {scope: onCenters, apply: cutStore, undo: "heal-store", fault: kindOf(FaultLeaderCutOff)},
		"heal-store":      {scope: onCenters, apply: cutStore},
		"store-down":      {scope: onWorld, apply: storeDown, undo: "store-up", fault: kindOf(FaultStoreUnavailable)},
		"store-up":        {scope: onWorld, apply: storeDown},
		"disable": {apply: eachServer(func(w *World, _ *Action, i int) { w.setEnabled(i, false) }), undo: "enable",
			fault: kindOf(FaultAdminDisable)},
		"enable": {apply: eachServer(func(w *World, _ *Action, i int) { w.setEnabled(i, true) })},
		"remove": {apply: eachServer(func(w *World, a *Action, i int) { w.removeServer(i, a.Mode == "force") }), undo: "add",
			fault: kindOf(FaultAdminRemove)},
		"add":          {apply: eachServer(func(w *World, a *Action, i int) { w.addServer(i, a.Mode) })},
		"delete-group": {scope: onGroup, apply: onGroupRef((*World).deleteGroup), undo: "add-group", fault: kindOf(FaultAdminDeleteGroup)},
		"add-group":    {scope: onGroup, apply: onGroupRef((*World).addGroup)},
		"protection": {scope: onGroup, undo: "protection", fault: protectionFault,
			apply: func(w *World, a *Action, s []int) {
				onGroupRef(func(w *World, g *history.GroupTruth) { w.setProtection(g, a.Mode != "off") })(w, a, s)
			}},
		"failback": {apply: eachServer(func(w *World, _ *Action, i int) { w.failback(i) })},
		"broken": {apply: eachServer(func(w *World, a *Action, i int) { w.setHostile(i, a) }), undo: "mend",
			fault: kindOf(FaultHostilePeer)},
		"mend": {apply: eachServer(func(w *World, _ *Action, i int) { w.setHostile(i, &Action{Verb: "mend"}) })},
	}
}

// do carries out an action now: it counts it as a fault (when it is one)
// and notes whom it disturbed, schedules its undo, and applies it.
func (w *World) do(a *Action) {
	b := w.tr.start(w.now)
	b = append(b, " action "...)
	b = append(b, a.String()...)
	w.tr.end(b)
	if a.Verb == "expect-status" {
		w.expectStatus(a)
		return
	}
	v, known := verbs[a.Verb]
	var servers []int
	switch {
	case v.scope == onCenters && w.c.cl != nil:
		// The centers it names now, "leader" resolved: its undo names
		// the same ones whoever leads then.
		hosts := w.c.cl.resolve(a)
		if len(hosts) == 0 {
			return
		}
		r := *a
		r.Targets = make([]string, len(hosts))
		for i, h := range hosts {
			r.Targets[i] = h.name()
		}
		a = &r
	case v.scope == onCenters:
	default:
		servers = w.resolveServers(a)
	}
	if v.scope == onServers && len(servers) == 0 {
		return
	}
	k := FaultKind("")
	if !a.Undo && a.Verb != "flap-cycle" {
		k = w.faultOf(a, servers)
	}
	w.emitAction(a, servers, k)
	w.noteDisturbance(a, servers)
	if u := undoOf(a); u != nil {
		w.scheduleAction(w.now+a.For, u)
	}
	switch {
	case !known:
		w.traceLine("unknown verb " + a.Verb)
	case v.scope == onGroup && (len(a.Targets) == 0 || w.resolveGroup(a.Targets[0]) == nil):
		return
	default:
		v.apply(w, a, servers)
	}
	w.groundTouched = true
}

// faultOf returns the fault kind an action counts as: the one it names,
// or the one its verb derives.
func (w *World) faultOf(a *Action, servers []int) FaultKind {
	if a.Fault != "" {
		return a.Fault
	}
	if v, ok := verbs[a.Verb]; ok && v.fault != nil {
		return v.fault(w, a, servers)
	}
	return ""
}

// undoOf returns the action that ends a, run a.For later, or nil.
func undoOf(a *Action) *Action {
	v := verbs[a.Verb]
	if a.For <= 0 || v.undo == "" {
		return nil
	}
	u := &Action{Line: a.Line, Verb: v.undo, Targets: a.Targets, Mode: a.Mode, Undo: true}
	switch a.Verb {
	case "abnormal", "remove", "broken":
		u.Mode = ""
	case "protection":
		u.Mode = "on"
		if a.Mode == "on" {
			u.Mode = "off"
		}
	}
	return u
}

// resolveServers returns the server indexes an action names; unknown names
// are reported in the trace and skipped.
func (w *World) resolveServers(a *Action) []int {
	var out []int
	for _, t := range a.Targets {
		if i, ok := w.byID[nvrha.ServerID(t)]; ok {
			out = append(out, i)
		} else {
			w.traceLine("unknown server " + t + " in " + a.String())
		}
	}
	return out
}

func (w *World) resolveGroup(ref string) *history.GroupTruth {
	if n, err := strconv.Atoi(strings.TrimPrefix(ref, "g")); err == nil && n >= 1 && n <= len(w.groups) {
		return w.groups[n-1]
	}
	w.traceLine("unknown group " + ref)
	return nil
}

// onGroupRef applies f to the group an action's first target names.
func onGroupRef(f func(w *World, g *history.GroupTruth)) func(*World, *Action, []int) {
	return func(w *World, a *Action, _ []int) {
		if len(a.Targets) == 0 {
			return
		}
		if g := w.resolveGroup(a.Targets[0]); g != nil {
			f(w, g)
		}
	}
}

// noteDisturbance records when an action touched each server, for the
// invariants that only hold on calm servers.
func (w *World) noteDisturbance(a *Action, servers []int) {
	switch a.Verb {
	case "pause":
		for _, i := range servers {
			if a.For > w.cfg.Center.Failover.Detector.AcceptablePause {
				disturbed(&w.servers[i].t, w.now+a.For)
			}
		}
		w.lastDisturbance = max(w.lastDisturbance, w.now+a.For)
		return
	case "loss", "delay":
		if len(a.Targets) == 0 {
			w.disturbAll()
		}
	case "center-crash", "center-restart", "center-freeze", "burst-end":
		w.disturbAll()
	case "delete-group", "add-group", "protection":
		if len(a.Targets) > 0 {
			if g := w.resolveGroup(a.Targets[0]); g != nil {
				g.ChangedAt = w.now
				for _, i := range g.Servers {
					disturbed(&w.servers[i].t, w.now)
				}
			}
		}
	}
	for _, i := range servers {
		disturbed(&w.servers[i].t, w.now)
	}
	w.lastDisturbance = max(w.lastDisturbance, w.now)
}

// disturbed notes that server s was disturbed until at. It never moves the
// disturbance back: a long pause disturbs until it ends, whatever touches
// the server meanwhile.
func disturbed(s *history.ServerTruth, at time.Duration) { s.DisturbedAt = max(s.DisturbedAt, at) }

// disturbAll marks every server disturbed now (a center restart, a burst
// on every link).
func (w *World) disturbAll() {
	for _, s := range w.servers {
		disturbed(&s.t, w.now)
	}
	w.lastDisturbance = max(w.lastDisturbance, w.now)
}

// The fault kinds scripted actions derive from their verbs.

func crashFault(w *World, _ *Action, servers []int) FaultKind {
	recs := 0
	for _, i := range servers {
		if w.servers[i].t.Role == failover.RoleRecording {
			recs++
		}
	}
	switch {
	case recs >= 2:
		return FaultMultiFail
	case len(servers) == 1 && w.servers[servers[0]].t.Role == failover.RoleStandby && w.inTakeover(servers[0]):
		return FaultStandbyMidTakeover
	}
	return FaultCrash
}

// centerCrashFault: a crash of the center, or with several centers of
// the one that leads, a leader crash.
func centerCrashFault(w *World, a *Action, _ []int) FaultKind {
	if cl := w.c.cl; cl != nil && cl.leader != nil && (len(a.Targets) == 0 || slices.Contains(a.Targets, cl.leader.name())) {
		return FaultLeaderCrash
	}
	return FaultCenterCrash
}

func pauseFault(w *World, a *Action, _ []int) FaultKind {
	if a.For <= w.cfg.Center.Failover.Detector.AcceptablePause {
		return FaultPauseShort
	}
	return FaultPauseLong
}

func partitionFault(_ *World, a *Action, servers []int) FaultKind {
	switch {
	case len(servers) >= 2:
		return FaultPartitionMulti
	case a.Mode != "":
		return FaultPartitionOneWay
	}
	return FaultPartition
}

func protectionFault(_ *World, a *Action, _ []int) FaultKind {
	if a.Mode == "off" {
		return FaultAdminProtectionOff
	}
	return ""
}

// inTakeover reports whether the Machine has server i in a takeover.
func (w *World) inTakeover(i int) bool {
	if !w.c.t.Up {
		return false
	}
	id := w.servers[i].t.ID
	for _, g := range w.c.m.Snapshot().Groups {
		for _, m := range g.Members {
			if m.ID == id {
				return m.Peer != ""
			}
		}
	}
	return false
}

// The verbs' effects.

// crash crashes every server of a; the fault kind it counts as labels
// the incident.
func crash(w *World, a *Action, servers []int) {
	k := a.Fault
	if k == "" {
		k = crashFault(w, a, servers)
	}
	for _, i := range servers {
		w.crashServer(i, k)
	}
}

// partition cuts (partition) or heals (heal) the links of every server of
// a, in one direction ("in": center to server, "out") or both.
func partition(w *World, a *Action, servers []int) {
	d := 1
	if a.Verb == "heal" {
		d = -1
	}
	for _, i := range servers {
		l := &w.links[i]
		if a.Mode != "out" {
			l.cutIn = max(0, l.cutIn+d)
		}
		if a.Mode != "in" {
			l.cutOut = max(0, l.cutOut+d)
		}
		if d > 0 {
			w.emitFault(history.FaultStarted, i, partitionFault(w, a, servers))
		} else {
			w.emitFault(history.FaultEnded, i, "")
		}
	}
}

// startBurst raises the loss or the latency on a's links (every link
// when a names none) for a.For.
func startBurst(w *World, a *Action, servers []int) {
	w.nextBurst++
	bu := burst{id: w.nextBurst, loss: a.Amount, until: w.now + a.For}
	if a.Verb == "delay" {
		bu.loss, bu.delay = 0, a.Delay
	}
	if len(a.Targets) > 0 {
		bu.servers = servers
	}
	if a.For <= 0 {
		bu.until = w.cfg.Duration + time.Hour
	}
	w.bursts = append(w.bursts, bu)
}

// endBursts drops the bursts that are over.
func endBursts(w *World, _ *Action, _ []int) {
	w.bursts = slices.DeleteFunc(w.bursts, func(b burst) bool { return b.until <= w.now })
}

// fillSpace fills every recording space of server i (fill-space), or
// empties one (free-space).
func fillSpace(w *World, a *Action, i int) {
	w.servers[i].setEmptySpace(a.Verb == "free-space")
	w.servers[i].t.FactsAt = w.now
}

// license sets server i's license channels, remembering the ones before
// unless this is an undo.
func license(w *World, a *Action, i int) {
	s := w.servers[i]
	if !a.Undo {
		s.t.LicenseBefore = append(s.t.LicenseBefore, s.t.Facts.LicenseChannels)
	}
	s.t.Facts.LicenseChannels = int(a.Amount)
	s.t.FactsAt = w.now
}

// licenseRestore gives server i back the license channels it had before
// its last license change.
func licenseRestore(w *World, _ *Action, i int) {
	s := w.servers[i]
	if n := len(s.t.LicenseBefore); n > 0 {
		s.t.Facts.LicenseChannels = s.t.LicenseBefore[n-1]
		s.t.LicenseBefore = s.t.LicenseBefore[:n-1]
		s.t.FactsAt = w.now
	}
}

// centerCrash crashes the center (with several, the centers a names) for
// a.For (3 s when zero).
func centerCrash(w *World, a *Action, _ []int) {
	d := a.For
	if d <= 0 {
		d = 3 * time.Second
	}
	if w.c.cl == nil {
		w.c.crash(d)
		return
	}
	for _, h := range w.c.cl.resolve(a) {
		w.c.cl.crashHost(h, d)
	}
}

// centerRestart restarts the center (with several, the centers a names,
// every crashed one when it names none).
func centerRestart(w *World, a *Action, _ []int) {
	cl := w.c.cl
	if cl == nil {
		w.c.restart()
		return
	}
	for _, h := range cl.hosts {
		if !h.up && (len(a.Targets) == 0 || slices.Contains(a.Targets, h.name())) {
			cl.restartHost(h.n)
		}
	}
}

// centerFreeze freezes the centers a names for a.For (several centers).
func centerFreeze(w *World, a *Action, _ []int) {
	if w.c.cl == nil || a.For <= 0 {
		return
	}
	for _, h := range w.c.cl.resolve(a) {
		w.c.cl.freeze(h, a.For)
	}
}

// cutStore cuts the centers a names from the lease store (cut-store) or
// heals them (heal-store); with one center it does nothing.
func cutStore(w *World, a *Action, _ []int) {
	if w.c.cl == nil {
		return
	}
	for _, h := range w.c.cl.resolve(a) {
		w.c.cl.cutStore(h, a.Verb == "cut-store")
	}
}

// storeDown makes the lease store unavailable (store-down) or brings it
// back (store-up); with one center it does nothing.
func storeDown(w *World, a *Action, _ []int) {
	if w.c.cl != nil {
		w.c.cl.storeDown(a.Verb == "store-down")
	}
}

// crashServer crashes server i: it answers nothing and records nothing,
// and forgets what its pause queued.
func (w *World) crashServer(i int, k FaultKind) {
	s := w.servers[i]
	if s.t.Crashed {
		return
	}
	s.t.Crashed = true
	s.t.FailedSince = w.now
	s.inbox = nil
	s.t.Paused, s.t.PausedLong = false, false
	s.pauseGen++
	s.update()
	w.emitFault(history.FaultStarted, i, k)
}

func (w *World) restartServer(i int) {
	s := w.servers[i]
	if !s.t.Crashed {
		return
	}
	s.t.Crashed = false
	s.update()
	w.emitFault(history.FaultEnded, i, "")
}

// setAbnormal fails server i's disk (degraded: it still takes writes) or
// mends it.
func (w *World) setAbnormal(i int, abnormal, degraded bool) {
	s := w.servers[i]
	if s.t.Abnormal == abnormal {
		return
	}
	s.t.Abnormal = abnormal
	s.t.Degraded = abnormal && degraded
	if abnormal {
		s.t.FailedSince = w.now
		w.emitFault(history.FaultStarted, i, FaultAbnormal)
	} else {
		w.emitFault(history.FaultEnded, i, "")
	}
	s.update()
}

// pauseServer hangs server i for d: messages queue until it ends.
func (w *World) pauseServer(i int, d time.Duration) {
	s := w.servers[i]
	if s.t.Crashed || d <= 0 {
		return
	}
	if !s.t.Paused {
		s.t.PausedAt, s.t.PauseUntil = w.now, 0
	}
	s.t.Paused = true
	s.pauseGen++
	s.t.PauseUntil = max(s.t.PauseUntil, w.now+d)
	long := d > w.cfg.Center.Failover.Detector.AcceptablePause
	s.t.PausedLong = s.t.PausedLong || long
	if long {
		w.emitFault(history.FaultStarted, i, FaultPauseLong)
	}
	w.schedule(event{at: s.t.PauseUntil, kind: evUnpause, a: i, gen: s.pauseGen})
}

// unpause ends server i's pause (unless a newer one holds it) and carries
// out what queued, in order.
func (w *World) unpause(i int, gen uint64) {
	s := w.servers[i]
	if !s.t.Paused || s.pauseGen != gen {
		return
	}
	s.t.Paused = false
	if s.t.PausedLong {
		w.emitFault(history.FaultEnded, i, "")
	}
	s.t.PausedLong = false
	inbox := s.inbox
	s.inbox = nil
	for _, m := range inbox {
		if s.t.Crashed || s.t.Paused {
			break
		}
		w.execute(s, m)
		w.freeMessage(m)
	}
}

// flapCycle crashes server i for a.Delay, restarts it, and schedules the
// next of n cycles a.Up after the restart.
func (w *World) flapCycle(i int, a *Action, n int) {
	if n <= 0 {
		return
	}
	w.crashServer(i, FaultFlap)
	w.pendingRestart(i, w.now+a.Delay)
	if n > 1 {
		next := &Action{Line: a.Line, Verb: "flap-cycle", Targets: []string{string(w.servers[i].t.ID)},
			Delay: a.Delay, Up: a.Up, Times: n - 1, Undo: true}
		w.scheduleAction(w.now+a.Delay+a.Up, next)
	}
}

// pendingRestart schedules the restart of one server.
func (w *World) pendingRestart(i int, at time.Duration) {
	w.scheduleAction(at, &Action{Verb: "restart", Targets: []string{string(w.servers[i].t.ID)}, Undo: true})
}
