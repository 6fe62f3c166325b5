package failover

import (
	"errors"
	"fmt"
	"time"

	"github.com/nvrha/nvrha"
)

// Errors of a manual failback.
var (
	ErrNotTakenOver       = errors.New("failover: server is not taken over")
	ErrNotRecovered       = errors.New("failover: server has not recovered")
	ErrFailbackBusy       = errors.New("failover: takeover is not in a state to fail back")
	ErrNotRecordingServer = errors.New("failover: server is not a recording server")
)

// holdDown is how long r must stay healthy before failback: the policy's
// hold-down, doubled for each earlier outage of r within the flap window,
// capped at MaxHoldDown.
func (m *Machine) holdDown(r *member) time.Duration {
	p := m.cfg.Failback
	d := p.HoldDown
	since := m.now.Add(-p.FlapWindow)
	for _, at := range r.failovers[:max(len(r.failovers)-1, 0)] {
		if at.After(since) && d < p.MaxHoldDown {
			d *= 2
		}
	}
	return min(d, p.MaxHoldDown)
}

// failbackDue reports whether an active takeover should fail back now under
// the policy.
func (m *Machine) failbackDue(t *takeover) bool {
	r := t.rec
	if r.health != nvrha.HealthUp || !r.active() || m.cfg.Failback.Mode == FailbackManual {
		return false
	}
	// The hold-down counts from when the server was last found up, or
	// last answered abnormal (a failback given up for it), if later.
	if m.now.Sub(max(r.upSince, r.abnormalAt).time()) < m.holdDown(r) {
		return false
	}
	return m.cfg.Failback.Mode != FailbackScheduled || m.cfg.Failback.Window.Contains(m.now)
}

// startFailback begins make-before-break failback: the recording server is
// told to resume under a new epoch; the standby is told to release only once
// that is confirmed.
func (m *Machine) startFailback(t *takeover, why string) {
	t.epoch = m.nextEpoch(t.rec.facts.ID)
	t.phase = PhaseResuming
	m.markTakeover(t)
	t.cmd.attempts = 0
	m.send(&t.cmd, resumeCommand(t))
	m.emit(Event{Kind: EventFailbackStarted, Group: t.rec.group.id, Server: t.rec.facts.ID, Peer: t.sb.facts.ID, Epoch: t.epoch, Detail: why})
}

// resumeCommand is the failback's order to t's recording server to record
// its cameras again under t's epoch.
func resumeCommand(t *takeover) Command {
	return Command{Kind: CmdResume, Server: t.rec.facts.ID, Recording: t.rec.facts.ID, Epoch: t.epoch}
}

// Failback starts the failback of a taken-over recording server now, whatever
// the policy and hold-down (the manual failback of FailbackManual). The
// server must be up and its takeover confirmed.
func (m *Machine) Failback(recording nvrha.ServerID) error {
	r, err := m.member(recording)
	if err != nil {
		return err
	}
	switch {
	case r.role != RoleRecording:
		return fmt.Errorf("%w: %s", ErrNotRecordingServer, recording)
	case r.tk == nil:
		return fmt.Errorf("%w: %s", ErrNotTakenOver, recording)
	case r.health != nvrha.HealthUp:
		return fmt.Errorf("%w: %s is %v", ErrNotRecovered, recording, r.health)
	case r.tk.phase != PhaseActive:
		return fmt.Errorf("%w: %s is %v", ErrFailbackBusy, recording, r.tk.phase)
	}
	m.startFailback(r.tk, "manual")
	m.settle()
	return nil
}
