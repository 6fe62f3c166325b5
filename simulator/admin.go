package simulator

import (
	"errors"

	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// The admin operations the scenarios and the nemesis perform, as QVR
// Center's manual describes them, each approved where the Machine asks for
// it. The world keeps its own record of what the Machine acknowledged
// (ServerTruth's membership, GroupTruth), which invariant 8 compares with
// the Machine's view.

// adminResult traces an admin operation's outcome and shows it to the
// observers.
func (w *World) adminResult(op string, err error) {
	w.emitAdmin(op, err)
	if err != nil {
		w.traceLine("admin " + op + ": " + err.Error())
	} else {
		w.traceLine("admin " + op + ": ok")
	}
}

// setEnabled switches a member on or off.
func (w *World) setEnabled(i int, on bool) {
	s := w.servers[i]
	if !w.c.takesAdmin() || !s.t.Member {
		return
	}
	_, err := w.c.m.SetServerEnabled(s.t.ID, on)
	w.machineTouched = true
	op := "disable "
	if on {
		op = "enable "
	}
	w.adminResult(op+string(s.t.ID), err)
	if err == nil {
		s.t.Enabled = on
		s.t.AdminAt = w.now
	}
	w.c.drain()
}

// removeServer removes a member from its group; in the takeover process
// it must be refused, and force disables it first as QVR Center's manual
// says.
func (w *World) removeServer(i int, force bool) {
	s := w.servers[i]
	if !w.c.takesAdmin() || !s.t.Member {
		return
	}
	inTk := w.inTakeover(i)
	err := w.removeCall(s)
	w.machineTouched = true
	w.adminResult("remove "+string(s.t.ID), err)
	w.ev.InTakeover = inTk
	w.emitServer(history.Removed, i, s.t.Group.Index-1, err)
	if inTk && !errors.Is(err, failover.ErrInTakeover) {
		return // a Machine that removed it, or refused it otherwise, broke invariant 6
	}
	if inTk && force {
		w.c.drain()
		w.setEnabled(i, false)
		if !w.c.takesAdmin() {
			return
		}
		err = w.removeCall(s)
		w.adminResult("remove "+string(s.t.ID)+" after disabling it", err)
	}
	if err == nil {
		s.t.Member = false
		s.t.AdminAt = w.now
	}
	w.c.drain()
}

func (w *World) removeCall(s *Server) error {
	if s.t.Role == failover.RoleRecording {
		return w.c.m.RemoveRecordingServers(s.t.Group.ID, s.t.ID)
	}
	return w.c.m.RemoveStandbyServers(s.t.Group.ID, approval(failover.OpRemoveStandbyServers, w.abs(w.now)), s.t.ID)
}

// addServer joins a server to its group (or the group ref given) with its
// current facts; a refusal carries the eligibility rules it failed.
func (w *World) addServer(i int, ref string) {
	s := w.servers[i]
	if !w.c.takesAdmin() || s.t.Member {
		return
	}
	g := s.t.Group
	if ref != "" {
		if x := w.resolveGroup(ref); x != nil {
			g = x
		}
	}
	if !g.Exists {
		w.traceLine("add " + string(s.t.ID) + ": group " + groupRef(g.Index) + " does not exist")
		return
	}
	w.emitServer(history.JoinRequested, i, g.Index-1, nil)
	f := s.t.Facts.Clone()
	var err error
	if s.t.Role == failover.RoleRecording {
		err = w.c.m.AddRecordingServers(g.ID, f)
	} else {
		err = w.c.m.AddStandbyServers(g.ID, f)
	}
	w.machineTouched = true
	w.adminResult("add "+string(s.t.ID)+" to "+groupRef(g.Index), err)
	var rej *failover.RejectedError
	switch {
	case err == nil:
		w.emitServer(history.Joined, i, g.Index-1, nil)
		s.t.Member, s.t.Enabled, s.t.Group, s.t.AdminAt = true, true, g, w.now
		g.ChangedAt = w.now
	case errors.As(err, &rej):
		for _, r := range rej.Servers {
			if j, ok := w.byID[r.Server]; ok {
				w.ev.Role, w.ev.Reasons = s.t.Role, reasonTexts(r.Reasons)
				w.emitServer(history.Refused, j, g.Index-1, err)
			}
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
func (w *World) deleteGroup(g *history.GroupTruth) {
	if !w.c.takesAdmin() || !g.Exists {
		return
	}
	_, err := w.c.m.DeleteGroup(g.ID, approval(failover.OpDeleteGroup, w.abs(w.now)))
	w.machineTouched = true
	w.adminResult("delete-group "+groupRef(g.Index), err)
	w.emitServer(history.GroupDeleted, -1, g.Index-1, err)
	if g.ID != failover.DefaultGroupID && err == nil {
		g.Exists = false
		g.ChangedAt = w.now
		for _, s := range w.servers {
			if s.t.Member && s.t.Group == g {
				s.t.Member = false
				s.t.AdminAt = w.now
			}
		}
	}
	w.c.drain()
}

// addGroup creates a deleted group again and joins its servers.
func (w *World) addGroup(g *history.GroupTruth) {
	if !w.c.takesAdmin() || g.Exists {
		return
	}
	id, err := w.c.m.AddGroup(g.Name)
	w.machineTouched = true
	w.adminResult("add-group "+groupRef(g.Index), err)
	if err != nil {
		w.c.drain()
		return
	}
	g.ID, g.Exists, g.Protection, g.ChangedAt = id, true, true, w.now
	w.c.drain()
	for _, role := range []failover.Role{failover.RoleRecording, failover.RoleStandby} {
		for _, i := range g.Servers {
			if w.servers[i].t.Role == role && !w.servers[i].t.Member {
				w.servers[i].t.Group = g
				w.addServer(i, "")
			}
		}
	}
}

// setProtection switches a group's Failover Protection on or off.
func (w *World) setProtection(g *history.GroupTruth, on bool) {
	if !w.c.takesAdmin() || !g.Exists {
		return
	}
	_, err := w.c.m.SetProtection(g.ID, on)
	w.machineTouched = true
	op := " off"
	if on {
		op = " on"
	}
	w.adminResult("protection "+groupRef(g.Index)+op, err)
	if err == nil {
		g.Protection = on
		g.ChangedAt = w.now
	}
	w.c.drain()
}

// failback asks the Machine for a manual failback of recording server i.
func (w *World) failback(i int) {
	if !w.c.takesAdmin() {
		return
	}
	id := w.servers[i].t.ID
	err := w.c.m.Failback(id)
	w.machineTouched = true
	w.adminResult("failback "+string(id), err)
	w.c.drain()
}
