package check

import (
	"errors"
	"fmt"
	"slices"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/transport"
)

// Invariant 3, epochs: epochs only grow, per server, across center
// restarts; a command with a stale epoch changes nothing.
//
//   - The Machine's epoch of every recording server never goes down
//     (epochsGrow), also across a restart, where it must be at least every
//     epoch ever sent (epochsRestored).
//   - Every order's epoch was persisted before the order left, and the
//     persisted epochs never fall below one sent (commandEpoch,
//     epochsPersisted).
//   - No epoch of a recording server serves two changes of who records its
//     cameras: one epoch is a takeover by one standby (with its
//     stand-down), or a failback (resume and release of one standby), or a
//     fence-off release, or a resume (commandEpoch).
//   - An order a server refuses as stale (its epoch, or its center term)
//     leaves the server exactly as it was, its term included
//     (staleChangedNothing).
//   - Epochs stay far below the end of their range, whatever epochs a
//     broken or hostile agent claims: no epoch of the Machine's, nor of an
//     order, is above failover.MaxEpoch + failover.MaxEpochJump
//     (epochsGrow, commandEpoch).

// maxEpoch is the highest epoch a Machine may hold or send: it adopts an
// agent's epoch only up to failover.MaxEpoch, and a run issues far fewer
// than MaxEpochJump epochs past it.
const maxEpoch = failover.MaxEpoch + failover.MaxEpochJump

// epochs is what invariant 3 remembers.
type epochs struct {
	// maxSent is the newest epoch sent in any command, per recording
	// server; sentKeys its keys, sorted.
	maxSent  map[nvrha.ServerID]nvrha.Epoch
	sentKeys []nvrha.ServerID
	// intents are what each epoch of each recording server was used for.
	intents map[epochKey]*intent
	// persEp are the epochs of the persisted State.
	persEp map[nvrha.ServerID]nvrha.Epoch
	// seen is the newest epoch seen from the live Machine, by server.
	seen []nvrha.Epoch
}

func (ep *epochs) init(n int) {
	ep.maxSent = map[nvrha.ServerID]nvrha.Epoch{}
	ep.intents = map[epochKey]*intent{}
	ep.persEp = map[nvrha.ServerID]nvrha.Epoch{}
	ep.seen = make([]nvrha.Epoch, n)
}

// epochKey is one epoch of one recording server.
type epochKey struct {
	rec nvrha.ServerID
	e   nvrha.Epoch
}

// intent is what one epoch of one recording server was used for.
type intent struct {
	takeover  nvrha.ServerID // the standby ordered to take over
	standDown bool
	resume    bool
	release   nvrha.ServerID // the standby ordered to release
}

// epochsGrow checks that the Machine's epochs never go down.
func (c *Checker) epochsGrow() bool {
	m := c.v.Machine()
	for i, s := range c.srv {
		if s.Role != failover.RoleRecording {
			continue
		}
		e := m.Epoch(s.ID)
		if e < c.ep.seen[i] {
			c.fail(3, fmt.Sprintf("the Machine's epoch for %s went from %d down to %d", s.ID, c.ep.seen[i], e))
			return false
		}
		if e > maxEpoch {
			c.fail(3, fmt.Sprintf("the Machine's epoch for %s is %d, near the end of the range (above %d)", s.ID, e, maxEpoch))
			return false
		}
		c.ep.seen[i] = e
	}
	return true
}

// commandEpoch checks every order sent: its epoch was persisted before it
// left, and no epoch serves two conflicting changes of who records a
// recording server's cameras.
func (c *Checker) commandEpoch(cmd *failover.Command) {
	ep := &c.ep
	var rec nvrha.ServerID
	switch cmd.Kind {
	case failover.CmdTakeover, failover.CmdRelease:
		rec = cmd.Recording
	case failover.CmdStandDown, failover.CmdResume:
		rec = cmd.Server
	default:
		return
	}
	if cmd.Epoch > maxEpoch {
		c.fail(3, fmt.Sprintf("%s carries epoch %d, near the end of the range (above %d)", cmd, cmd.Epoch, maxEpoch))
		return
	}
	if cmd.Epoch > ep.persEp[rec] {
		c.fail(3, fmt.Sprintf("%s carries epoch %d for %s, but only %d was persisted before it was sent", cmd, cmd.Epoch, rec, ep.persEp[rec]))
		return
	}
	if _, ok := ep.maxSent[rec]; !ok {
		i, _ := slices.BinarySearch(ep.sentKeys, rec)
		ep.sentKeys = slices.Insert(ep.sentKeys, i, rec)
	}
	ep.maxSent[rec] = max(ep.maxSent[rec], cmd.Epoch)
	k := epochKey{rec, cmd.Epoch}
	in := ep.intents[k]
	if in == nil {
		in = &intent{}
		ep.intents[k] = in
	}
	if conflict := in.add(cmd); conflict != "" {
		c.fail(3, fmt.Sprintf("%s reuses epoch %d of %s, already used for %s: an order that changes who records must carry a newer epoch",
			cmd, cmd.Epoch, rec, conflict))
	}
}

// add records cmd under its epoch and returns the earlier use it conflicts
// with, or "".
func (in *intent) add(cmd *failover.Command) string {
	conflict := ""
	switch cmd.Kind {
	case failover.CmdTakeover:
		switch {
		case in.takeover != "" && in.takeover != cmd.Server:
			conflict = "takeover by " + string(in.takeover)
		case in.resume || in.release != "":
			conflict = "a failback or release"
		}
		in.takeover = cmd.Server
	case failover.CmdStandDown:
		if in.resume || in.release != "" {
			conflict = "a failback or release"
		}
		in.standDown = true
	case failover.CmdResume:
		if in.takeover != "" || in.standDown {
			conflict = "a takeover by " + string(in.takeover)
		}
		in.resume = true
	case failover.CmdRelease:
		switch {
		case in.takeover != "" || in.standDown:
			conflict = "a takeover by " + string(in.takeover)
		case in.release != "" && in.release != cmd.Server:
			conflict = "a release of " + string(in.release)
		}
		in.release = cmd.Server
	}
	return conflict
}

// epochsPersisted remembers the epochs of a State just persisted and
// checks that none fell below one already sent.
func (c *Checker) epochsPersisted(cur *failover.State, first bool) bool {
	ep := &c.ep
	clear(ep.persEp)
	for _, e := range cur.Epochs {
		ep.persEp[e.Server] = e.Epoch
	}
	if first {
		return true
	}
	for _, s := range ep.sentKeys {
		if e := ep.maxSent[s]; ep.persEp[s] < e {
			c.fail(3, fmt.Sprintf("the persisted epoch of %s went down to %d after %d was sent", s, ep.persEp[s], e))
			return false
		}
	}
	return true
}

// epochsChanged remembers the epochs persisted Changes raise and checks
// that none fell below one already sent.
func (c *Checker) epochsChanged(epochs []failover.EpochState) bool {
	ep := &c.ep
	for _, e := range epochs {
		ep.persEp[e.Server] = e.Epoch
		if sent := ep.maxSent[e.Server]; e.Epoch < sent {
			c.fail(3, fmt.Sprintf("the persisted epoch of %s went down to %d after %d was sent", e.Server, e.Epoch, sent))
			return false
		}
	}
	return true
}

// epochsRestored checks, at a restart, that the restored Machine's epochs
// are at least every epoch ever sent.
func (c *Checker) epochsRestored() {
	m := c.v.Machine()
	for i, s := range c.srv {
		if e := m.Epoch(s.ID); e < c.ep.maxSent[s.ID] {
			c.fail(3, fmt.Sprintf("after the restart the epoch of %s is %d, but %d was sent before the crash", s.ID, e, c.ep.maxSent[s.ID]))
			return
		}
		c.ep.seen[i] = m.Epoch(s.ID)
	}
}

// staleChangedNothing checks that an order a server refused for a stale
// epoch, or a stale center term, changed nothing, and reports whether it
// was refused so.
func (c *Checker) staleChangedNothing(e *history.Event) bool {
	if err := e.Result.Err; err == nil || !errors.Is(err, transport.ErrStaleEpoch) && !errors.Is(err, transport.ErrStaleTerm) {
		return false
	}
	if e.After != e.Before {
		c.fail(3, fmt.Sprintf("%s was refused as stale by %s but changed its state: %+v -> %+v", e.Command, c.srv[e.Server].ID, e.Before, e.After))
	}
	return true
}
