package failover

import (
	"slices"

	"github.com/nvrha/nvrha"
)

// unverified is a release that a server in no group acknowledged.
//
// An agent may acknowledge a release it never carries out (a broken one
// that replays its old answers, a bug). A member's probes show that, and
// checkCover tells it again; a server in no group is not probed, and
// would record the cameras on where no ledger finds the footage. So a
// server in no group that acknowledges a release stays owed it, in the
// State, and is probed until a probe shows that it let go; while one
// shows that it did not, it is told again, under the same epoch, after a
// back-off that doubles each time (Config.RetryBase up to RetryMax): an
// agent that acknowledges every order and claims the cover at every probe
// costs a probe and a release every RetryMax at most. A Machine restored
// from a State that owes the release sends it again, and verifies the
// acknowledgement in turn.
type unverified struct {
	// release is the orphan's owed release, acknowledged; it is sent
	// again, rather than probed for, while resent is set.
	release *op
	resent  bool
	probe   op
	// next is when the next probe is due; told counts the times a probe
	// found the server still recording, for the back-off.
	next instant
	told int
}

// verifyRelease starts, or goes on, probing the server in no group that
// acknowledged the orphan release o.
func (m *Machine) verifyRelease(o *op) {
	for _, u := range m.unverified {
		if u.release == o {
			u.resent = false
			u.next = instantOf(m.now.Add(m.retryDelay(u.told)))
			return
		}
	}
	m.unverified = append(m.unverified, &unverified{release: o, next: instantOf(m.now)})
}

// verifying reports whether the orphan release o is acknowledged and
// waits for a probe: it is not sent again until a probe asks for it.
func (m *Machine) verifying(o *op) bool {
	for _, u := range m.unverified {
		if u.release == o {
			return !u.resent
		}
	}
	return false
}

// tickUnverified sends the probes that are due, and again those that
// timed out.
func (m *Machine) tickUnverified() {
	for _, u := range m.unverified {
		switch {
		case u.resent:
		case u.probe.pending():
			if m.due(&u.probe) {
				m.send(&u.probe, u.probe.cmd)
			}
		case m.reached(u.next):
			m.send(&u.probe, Command{Kind: CmdProbe, Server: u.release.cmd.Server})
		}
	}
}

// unverifiedResult takes the answer r to o, if o is the probe of an
// unverified release: a server that no longer claims the cover owes
// nothing more; one that still does is told again. A failed probe is
// tried again after the back-off.
func (m *Machine) unverifiedResult(o *op, r Result) {
	i := slices.IndexFunc(m.unverified, func(u *unverified) bool { return &u.probe == o })
	if i < 0 {
		return
	}
	u := m.unverified[i]
	if r.Err != nil {
		m.failed(&u.probe)
		return
	}
	u.probe.clear()
	if r.Report.Covering != u.release.cmd.Recording {
		m.unverified = slices.Delete(m.unverified, i, i+1)
		m.orphans = slices.DeleteFunc(m.orphans, func(x *op) bool { return x == u.release })
		m.markOrphans()
		m.stateGen++
		return
	}
	u.told++
	u.resent = true
	m.send(u.release, u.release.cmd)
}

// dropUnverified stops verifying the releases server acknowledged: it
// joined a group, and took its owed orders with it (adopt).
func (m *Machine) dropUnverified(server nvrha.ServerID) {
	m.unverified = slices.DeleteFunc(m.unverified, func(u *unverified) bool {
		if u.release.cmd.Server != server {
			return false
		}
		m.drop(&u.probe)
		return true
	})
}
