package simulator

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// FaultKind names a kind of fault (see package history).
type FaultKind = history.FaultKind

// The fault kinds.
const (
	FaultCrash              = history.FaultCrash
	FaultPauseShort         = history.FaultPauseShort
	FaultPauseLong          = history.FaultPauseLong
	FaultAbnormal           = history.FaultAbnormal
	FaultPartition          = history.FaultPartition
	FaultPartitionOneWay    = history.FaultPartitionOneWay
	FaultPartitionMulti     = history.FaultPartitionMulti
	FaultLossBurst          = history.FaultLossBurst
	FaultDelayBurst         = history.FaultDelayBurst
	FaultStandbyMidTakeover = history.FaultStandbyMidTakeover
	FaultFillSpace          = history.FaultFillSpace
	FaultLicense            = history.FaultLicense
	FaultFlap               = history.FaultFlap
	FaultMultiFail          = history.FaultMultiFail
	FaultCenterCrash        = history.FaultCenterCrash
	FaultCenterMidTakeover  = history.FaultCenterMidTakeover
	FaultAdminDisable       = history.FaultAdminDisable
	FaultAdminRemove        = history.FaultAdminRemove
	FaultAdminDeleteGroup   = history.FaultAdminDeleteGroup
	FaultAdminProtectionOff = history.FaultAdminProtectionOff
)

// FaultKinds returns every fault kind, in a fixed order.
func FaultKinds() []FaultKind { return history.FaultKinds() }

// Recovery names a recovery path the center took (see package history).
type Recovery = history.Recovery

// The recovery paths.
const (
	RecoveryTakeover      = history.RecoveryTakeover
	RecoveryFailback      = history.RecoveryFailback
	RecoveryNextStandby   = history.RecoveryNextStandby
	RecoveryCenterRestart = history.RecoveryCenterRestart
	RecoveryFenceOff      = history.RecoveryFenceOff
	RecoveryStandDown     = history.RecoveryStandDown
	RecoveryInterrupted   = history.RecoveryInterrupted
	RecoveryRemoveRefused = history.RecoveryRemoveRefused
	RecoveryUnprotected   = history.RecoveryUnprotected
)

// Recoveries returns every recovery path, in a fixed order.
func Recoveries() []Recovery { return history.Recoveries() }

// Action is one step of a scenario, of the nemesis or of a trigger (see
// package history).
type Action = history.Action

// undoOf returns the action that ends a, run a.For later, or nil.
func undoOf(a *Action) *Action {
	if a.For <= 0 {
		return nil
	}
	u := &Action{Line: a.Line, Targets: a.Targets, Mode: a.Mode, Undo: true}
	switch a.Verb {
	case "crash":
		u.Verb = "restart"
	case "abnormal":
		u.Verb, u.Mode = "recover", ""
	case "partition":
		u.Verb = "heal"
	case "loss", "delay":
		u.Verb = "burst-end"
	case "fill-space":
		u.Verb = "free-space"
	case "license":
		u.Verb = "license-restore"
	case "center-crash":
		return nil // the restart is scheduled by the crash itself
	case "disable":
		u.Verb = "enable"
	case "remove":
		u.Verb, u.Mode = "add", ""
	case "delete-group":
		u.Verb = "add-group"
	case "protection":
		u.Verb, u.Mode = "protection", "on"
		if a.Mode == "on" {
			u.Mode = "off"
		}
	default:
		return nil
	}
	return u
}

// groupModel is the world's own record of a group, from the admin
// operations the Machine acknowledged.
type groupModel struct {
	index      int // 1-based, as in "g2"
	name       string
	id         failover.GroupID
	exists     bool
	protection bool
	changedAt  time.Duration
	servers    []int // the world's servers that belong to it by spec
}

// schedule adds an event, giving it the next sequence number.
func (w *World) schedule(e event) {
	w.seq++
	e.seq = w.seq
	w.q.push(e)
}

func (w *World) scheduleAction(at time.Duration, a *Action) {
	w.schedule(event{at: at, kind: evAction, act: a})
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

func (w *World) resolveGroup(ref string) *groupModel {
	if n, err := strconv.Atoi(strings.TrimPrefix(ref, "g")); err == nil && n >= 1 && n <= len(w.groups) {
		return w.groups[n-1]
	}
	w.traceLine("unknown group " + ref)
	return nil
}

// countFault counts an action under its fault kind.
func (w *World) countFault(a *Action, servers []int) {
	k := a.Fault
	if k == "" && !a.Undo {
		k = w.deriveFault(a, servers)
	}
	if k != "" {
		w.faults[k]++
	}
}

func (w *World) deriveFault(a *Action, servers []int) FaultKind {
	recs := 0
	for _, i := range servers {
		if w.servers[i].role == failover.RoleRecording {
			recs++
		}
	}
	switch a.Verb {
	case "crash":
		switch {
		case recs >= 2:
			return FaultMultiFail
		case len(servers) == 1 && w.servers[servers[0]].role == failover.RoleStandby && w.inTakeover(servers[0]):
			return FaultStandbyMidTakeover
		}
		return FaultCrash
	case "pause":
		if a.For <= w.cfg.Center.Failover.Detector.AcceptablePause {
			return FaultPauseShort
		}
		return FaultPauseLong
	case "abnormal":
		return FaultAbnormal
	case "partition":
		switch {
		case len(servers) >= 2:
			return FaultPartitionMulti
		case a.Mode != "":
			return FaultPartitionOneWay
		}
		return FaultPartition
	case "loss":
		return FaultLossBurst
	case "delay":
		return FaultDelayBurst
	case "fill-space":
		return FaultFillSpace
	case "license":
		return FaultLicense
	case "flap":
		return FaultFlap
	case "center-crash":
		return FaultCenterCrash
	case "disable":
		return FaultAdminDisable
	case "remove":
		return FaultAdminRemove
	case "delete-group":
		return FaultAdminDeleteGroup
	case "protection":
		if a.Mode == "off" {
			return FaultAdminProtectionOff
		}
	}
	return ""
}

// inTakeover reports whether the Machine has server i in a takeover.
func (w *World) inTakeover(i int) bool {
	if !w.c.up {
		return false
	}
	id := w.servers[i].spec.ID
	for _, g := range w.snapshot().Groups {
		for _, m := range g.Members {
			if m.ID == id {
				return m.Peer != ""
			}
		}
	}
	return false
}

// do carries out an action now.
func (w *World) do(a *Action) {
	b := w.tr.start(w.now)
	b = append(b, " action "...)
	b = append(b, a.String()...)
	w.tr.end(b)
	if a.Verb == "expect-status" {
		w.expectStatus(a)
		return
	}
	servers := w.resolveServers(a)
	if !isGroupVerb(a.Verb) && !isGlobalVerb(a.Verb) && len(servers) == 0 {
		return
	}
	if !a.Undo && a.Verb != "flap-cycle" {
		w.countFault(a, servers)
		w.noteDisturbance(a, servers)
	} else {
		w.noteDisturbance(a, servers)
	}
	if u := undoOf(a); u != nil {
		w.scheduleAction(w.now+a.For, u)
	}
	switch a.Verb {
	case "crash":
		k := a.Fault
		if k == "" {
			k = w.deriveFault(a, servers)
		}
		for _, i := range servers {
			w.crashServer(i, k)
		}
	case "restart":
		for _, i := range servers {
			w.restartServer(i)
		}
	case "pause":
		for _, i := range servers {
			w.pauseServer(i, a.For)
		}
	case "abnormal", "recover":
		for _, i := range servers {
			s := w.servers[i]
			if s.abnormal == (a.Verb == "abnormal") {
				continue
			}
			s.abnormal = a.Verb == "abnormal"
			s.degraded = s.abnormal && a.Mode == "recording"
			if s.abnormal {
				s.failedSince = w.now
				w.meas.faultStarts(w, i, FaultAbnormal)
			} else {
				w.meas.faultEnds(w, i)
			}
			s.update()
		}
	case "partition", "heal":
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
				w.meas.faultStarts(w, i, w.deriveFault(a, servers))
			} else {
				w.meas.faultEnds(w, i)
			}
		}
	case "loss", "delay":
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
	case "burst-end":
		w.bursts = slices.DeleteFunc(w.bursts, func(b burst) bool { return b.until <= w.now })
	case "fill-space", "free-space":
		for _, i := range servers {
			w.servers[i].setEmptySpace(a.Verb == "free-space")
			w.servers[i].factsAt = w.now
		}
	case "license":
		for _, i := range servers {
			s := w.servers[i]
			if !a.Undo {
				s.licenseBefore = append(s.licenseBefore, s.facts.LicenseChannels)
			}
			s.facts.LicenseChannels = int(a.Amount)
			s.factsAt = w.now
		}
	case "license-restore":
		for _, i := range servers {
			s := w.servers[i]
			if n := len(s.licenseBefore); n > 0 {
				s.facts.LicenseChannels = s.licenseBefore[n-1]
				s.licenseBefore = s.licenseBefore[:n-1]
				s.factsAt = w.now
			}
		}
	case "flap":
		for _, i := range servers {
			w.flapCycle(i, a, a.Times)
		}
	case "flap-cycle":
		for _, i := range servers {
			w.flapCycle(i, a, a.Times)
		}
	case "center-crash":
		d := a.For
		if d <= 0 {
			d = 3 * time.Second
		}
		w.c.crash(d)
	case "center-restart":
		w.c.restart()
	case "disable", "enable":
		for _, i := range servers {
			w.setEnabled(i, a.Verb == "enable")
		}
	case "remove":
		for _, i := range servers {
			w.removeServer(i, a.Mode == "force")
		}
	case "add":
		for _, i := range servers {
			w.addServer(i, a.Mode)
		}
	case "delete-group", "add-group", "protection":
		if len(a.Targets) == 0 {
			return
		}
		g := w.resolveGroup(a.Targets[0])
		if g == nil {
			return
		}
		switch a.Verb {
		case "delete-group":
			w.deleteGroup(g)
		case "add-group":
			w.addGroup(g)
		default:
			w.setProtection(g, a.Mode != "off")
		}
	case "failback":
		for _, i := range servers {
			if !w.c.up {
				continue
			}
			err := w.c.m.Failback(w.servers[i].spec.ID)
			w.machineTouched = true
			w.adminResult("failback "+string(w.servers[i].spec.ID), err)
			w.c.drain()
		}
	default:
		w.traceLine("unknown verb " + a.Verb)
	}
	w.groundTouched = true
}

func isGroupVerb(v string) bool { return history.IsGroupVerb(v) }

func isGlobalVerb(v string) bool {
	return v == "loss" || v == "delay" || v == "center-crash" || v == "center-restart" || v == "burst-end"
}

// noteDisturbance records when an action touched each server, for the
// invariants that only hold on calm servers.
func (w *World) noteDisturbance(a *Action, servers []int) {
	switch a.Verb {
	case "pause":
		for _, i := range servers {
			if a.For > w.cfg.Center.Failover.Detector.AcceptablePause {
				w.servers[i].disturbedAt = w.now + a.For
				w.servers[i].faultTimes = append(w.servers[i].faultTimes, w.now)
			}
		}
		w.lastDisturbance = max(w.lastDisturbance, w.now+a.For)
		return
	case "loss", "delay":
		if len(a.Targets) == 0 {
			w.disturbAll()
		}
	case "center-crash", "center-restart", "burst-end":
		w.disturbAll()
	case "delete-group", "add-group", "protection":
		if len(a.Targets) > 0 {
			if g := w.resolveGroup(a.Targets[0]); g != nil {
				g.changedAt = w.now
				for _, i := range g.servers {
					w.servers[i].disturbedAt = w.now
				}
			}
		}
	}
	for _, i := range servers {
		w.servers[i].disturbedAt = w.now
		w.servers[i].faultTimes = append(w.servers[i].faultTimes, w.now)
	}
	w.lastDisturbance = w.now
}

// disturbAll marks every server disturbed now (a center restart, a burst
// on every link).
func (w *World) disturbAll() {
	for _, s := range w.servers {
		s.disturbedAt = w.now
	}
	w.lastDisturbance = w.now
}

func (w *World) crashServer(i int, k FaultKind) {
	s := w.servers[i]
	if s.crashed {
		return
	}
	s.crashed = true
	s.failedSince = w.now
	s.inbox = nil
	s.paused, s.pausedLong = false, false
	s.pauseGen++
	s.update()
	w.meas.faultStarts(w, i, k)
}

func (w *World) restartServer(i int) {
	s := w.servers[i]
	if !s.crashed {
		return
	}
	s.crashed = false
	s.update()
	w.meas.faultEnds(w, i)
}

func (w *World) pauseServer(i int, d time.Duration) {
	s := w.servers[i]
	if s.crashed || d <= 0 {
		return
	}
	if !s.paused {
		s.pauseUntil = 0
	}
	s.paused = true
	s.pauseGen++
	s.pauseUntil = max(s.pauseUntil, w.now+d)
	s.pausedLong = s.pausedLong || d > w.cfg.Center.Failover.Detector.AcceptablePause
	if d > w.cfg.Center.Failover.Detector.AcceptablePause {
		w.meas.faultStarts(w, i, FaultPauseLong)
	}
	w.schedule(event{at: s.pauseUntil, kind: evUnpause, a: i, gen: s.pauseGen})
}

func (w *World) unpause(i int, gen uint64) {
	s := w.servers[i]
	if !s.paused || s.pauseGen != gen {
		return
	}
	s.paused = false
	if s.pausedLong {
		w.meas.faultEnds(w, i)
	}
	s.pausedLong = false
	inbox := s.inbox
	s.inbox = nil
	for _, m := range inbox {
		if s.crashed || s.paused {
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
		next := &Action{Line: a.Line, Verb: "flap-cycle", Targets: []string{string(w.servers[i].spec.ID)},
			Delay: a.Delay, Up: a.Up, Times: n - 1, Undo: true}
		w.scheduleAction(w.now+a.Delay+a.Up, next)
	}
}

// pendingRestart schedules the restart of one server.
func (w *World) pendingRestart(i int, at time.Duration) {
	w.scheduleAction(at, &Action{Verb: "restart", Targets: []string{string(w.servers[i].spec.ID)}, Undo: true})
}

// adminResult traces an admin operation's outcome.
func (w *World) adminResult(op string, err error) {
	r := AdminResult{At: w.now, Op: op}
	if err != nil {
		r.Err = err.Error()
	}
	w.admin = append(w.admin, r)
	if err != nil {
		w.traceLine("admin " + op + ": " + err.Error())
	} else {
		w.traceLine("admin " + op + ": ok")
	}
}

// setEnabled switches a member on or off.
func (w *World) setEnabled(i int, on bool) {
	s := w.servers[i]
	if !w.c.up || !s.member {
		return
	}
	_, err := w.c.m.SetServerEnabled(s.spec.ID, on)
	w.machineTouched = true
	w.adminResult(map[bool]string{true: "enable ", false: "disable "}[on]+string(s.spec.ID), err)
	if err == nil {
		s.enabled = on
		s.adminAt = w.now
	}
	w.c.drain()
}

// removeServer removes a member from its group; in the takeover process
// it must be refused, and force disables it first as the manual says.
func (w *World) removeServer(i int, force bool) {
	s := w.servers[i]
	if !w.c.up || !s.member {
		return
	}
	inTk := w.inTakeover(i)
	err := w.removeCall(s)
	w.machineTouched = true
	w.adminResult("remove "+string(s.spec.ID), err)
	switch {
	case inTk && err == nil:
		w.fail(6, "the Machine removed "+string(s.spec.ID)+", which was in the takeover process")
		return
	case inTk && !errors.Is(err, failover.ErrInTakeover):
		w.fail(6, "removing "+string(s.spec.ID)+" in the takeover process failed with "+errString(err)+", want ErrInTakeover")
		return
	case inTk:
		w.recoveries[RecoveryRemoveRefused]++
		if force {
			w.c.drain()
			w.setEnabled(i, false)
			if !w.c.up {
				return
			}
			err = w.removeCall(s)
			w.adminResult("remove "+string(s.spec.ID)+" after disabling it", err)
		}
	}
	if err == nil {
		s.member = false
		s.adminAt = w.now
		w.removedAt = w.now
	}
	w.c.drain()
}

func (w *World) removeCall(s *Server) error {
	if s.role == failover.RoleRecording {
		return w.c.m.RemoveRecordingServers(s.group.id, s.spec.ID)
	}
	return w.c.m.RemoveStandbyServers(s.group.id, approval(failover.OpRemoveStandbyServers), s.spec.ID)
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}

// addServer joins a server to its group (or the group ref given) with its
// current facts; a refusal must carry the eligibility rules it failed.
func (w *World) addServer(i int, ref string) {
	s := w.servers[i]
	if !w.c.up || s.member {
		return
	}
	g := s.group
	if ref != "" {
		if x := w.resolveGroup(ref); x != nil {
			g = x
		}
	}
	if !g.exists {
		w.traceLine("add " + string(s.spec.ID) + ": group " + groupRef(g.index) + " does not exist")
		return
	}
	pre := w.c.store.last
	snap := w.snapshot()
	f := s.facts.Clone()
	var err error
	if s.role == failover.RoleRecording {
		err = w.c.m.AddRecordingServers(g.id, f)
	} else {
		err = w.c.m.AddStandbyServers(g.id, f)
	}
	w.machineTouched = true
	w.adminResult("add "+string(s.spec.ID)+" to "+groupRef(g.index), err)
	var rej *failover.RejectedError
	switch {
	case err == nil:
		w.checkEligibleJoin(s, g, pre, snap)
		s.member, s.enabled, s.group, s.adminAt = true, true, g, w.now
		g.changedAt = w.now
	case errors.As(err, &rej):
		for _, r := range rej.Servers {
			w.refused = append(w.refused, Refusal{At: w.now, Server: r.Server, Group: groupRef(g.index), Role: s.role.String(), Reasons: reasonTexts(r.Reasons)})
		}
	}
	w.c.drain()
}

func reasonTexts(rs eligibility.Reasons) []string {
	var out []string
	for _, r := range rs {
		out = append(out, string(r.Code)+": "+r.Message)
	}
	return out
}

// deleteGroup deletes a group; the default group must be refused.
func (w *World) deleteGroup(g *groupModel) {
	if !w.c.up || !g.exists {
		return
	}
	_, err := w.c.m.DeleteGroup(g.id, approval(failover.OpDeleteGroup))
	w.machineTouched = true
	w.adminResult("delete-group "+groupRef(g.index), err)
	if g.id == failover.DefaultGroupID {
		if err == nil || !errors.Is(err, failover.ErrDefaultGroup) {
			w.fail(6, "deleting the default group gave "+errString(err)+", want ErrDefaultGroup")
		}
		w.c.drain()
		return
	}
	if err == nil {
		g.exists = false
		g.changedAt = w.now
		for _, s := range w.servers {
			if s.member && s.group == g {
				s.member = false
				s.adminAt = w.now
			}
		}
		w.removedAt = w.now
	}
	w.c.drain()
}

// addGroup creates a deleted group again and joins its servers.
func (w *World) addGroup(g *groupModel) {
	if !w.c.up || g.exists {
		return
	}
	id, err := w.c.m.AddGroup(g.name)
	w.machineTouched = true
	w.adminResult("add-group "+groupRef(g.index), err)
	if err != nil {
		w.c.drain()
		return
	}
	g.id, g.exists, g.protection, g.changedAt = id, true, true, w.now
	w.c.drain()
	for _, role := range []failover.Role{failover.RoleRecording, failover.RoleStandby} {
		for _, i := range g.servers {
			if w.servers[i].role == role && !w.servers[i].member {
				w.servers[i].group = g
				w.addServer(i, "")
			}
		}
	}
}

func (w *World) setProtection(g *groupModel, on bool) {
	if !w.c.up || !g.exists {
		return
	}
	_, err := w.c.m.SetProtection(g.id, on)
	w.machineTouched = true
	w.adminResult("protection "+groupRef(g.index)+" "+map[bool]string{true: "on", false: "off"}[on], err)
	if err == nil {
		g.protection = on
		g.changedAt = w.now
	}
	w.c.drain()
}
