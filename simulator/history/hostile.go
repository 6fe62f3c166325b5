package history

import (
	"fmt"
	"slices"
)

// Hostility is how a broken or hostile server's agent misbehaves (the
// fault kind FaultHostilePeer, the action "broken"). The server is
// otherwise as it was: it records what it records, crashes, pauses and
// can be cut off like any other.
type Hostility string

// The hostilities.
const (
	// HostileAbsurdEpoch: every order is refused as stale, claiming a
	// newest epoch no center issued (in turn 2^64-1, past
	// failover.MaxEpoch, and four times failover.MaxEpochJump ahead of the
	// order's); probe reports carry an absurd Epoch. The orders change
	// nothing.
	HostileAbsurdEpoch Hostility = "absurd-epoch"
	// HostileLeapEpoch: every order is refused as stale, claiming a
	// newest epoch just within failover.MaxEpochJump ahead of the order's,
	// one a center of ours could have issued; the orders change nothing.
	HostileLeapEpoch Hostility = "leap-epoch"
	// HostileAbsurdReport: probe reports claim to cover a recording
	// server the agent does not cover, inventories claim license channels
	// out of range; orders are carried out as usual.
	HostileAbsurdReport Hostility = "absurd-report"
	// HostileRefuseTakeover: every takeover order is refused while probes
	// answer healthy.
	HostileRefuseTakeover Hostility = "refuse-takeover"
	// HostileFakeTakeover: every takeover order is acknowledged and
	// dropped: the agent records nothing, and its probes say truthfully
	// that it covers nothing.
	HostileFakeTakeover Hostility = "fake-takeover"
	// HostileLate: every answer leaves ServerTruth.LateBy (minutes) after
	// the order was carried out, far past its command's deadline.
	HostileLate Hostility = "late"
	// HostileReplay: a command of a kind the agent answered before the
	// hostility began is not carried out; the earlier answer is delivered
	// again as this command's.
	HostileReplay Hostility = "replay"
)

// Hostilities returns every hostility, in a fixed order.
func Hostilities() []Hostility {
	return []Hostility{HostileAbsurdEpoch, HostileLeapEpoch, HostileAbsurdReport, HostileRefuseTakeover,
		HostileFakeTakeover, HostileLate, HostileReplay}
}

// ParseHostility parses a hostility's name.
func ParseHostility(s string) (Hostility, error) {
	if h := Hostility(s); slices.Contains(Hostilities(), h) {
		return h, nil
	}
	return "", fmt.Errorf("unknown hostility %q (known: %v)", s, Hostilities())
}

// FailsTakeovers reports whether a standby with this hostility makes
// every takeover order it gets fail while it answers its probes: it
// refuses the order, or acknowledges it and its probes deny it
// (fake-takeover, absurd-report).
func (h Hostility) FailsTakeovers() bool {
	switch h {
	case HostileAbsurdEpoch, HostileLeapEpoch, HostileRefuseTakeover, HostileFakeTakeover, HostileAbsurdReport:
		return true
	}
	return false
}
