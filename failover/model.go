package failover

import (
	"strconv"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/status"
)

// GroupID identifies a Failover Group. IDs are never reused, so a stale ID
// cannot reach a group created after the one it named was deleted.
type GroupID uint32

// String returns the decimal ID.
func (id GroupID) String() string { return strconv.FormatUint(uint64(id), 10) }

// Role is a server's role in its group.
type Role uint8

// The roles.
const (
	RoleRecording Role = iota + 1
	RoleStandby
)

// String returns "recording" or "standby".
func (r Role) String() string {
	switch r {
	case RoleRecording:
		return "recording"
	case RoleStandby:
		return "standby"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// MarshalText encodes the role as its name.
func (r Role) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText decodes "recording" or "standby".
func (r *Role) UnmarshalText(b []byte) error {
	switch string(b) {
	case "recording":
		*r = RoleRecording
	case "standby":
		*r = RoleStandby
	default:
		return strconv.ErrSyntax
	}
	return nil
}

// Takeover is a standby recording a recording server's cameras, under an
// epoch that fences out every older order about those cameras.
type Takeover struct {
	Recording nvrha.ServerID `json:"recording"`
	Standby   nvrha.ServerID `json:"standby"`
	Epoch     nvrha.Epoch    `json:"epoch"`
	// Since is when the takeover was ordered.
	Since time.Time `json:"since"`
}

// group is one Failover Group. Members keep their join order, which is the
// order every listing and decision walks them in.
type group struct {
	id         GroupID
	name       string
	protection bool
	members    []*member
	// shown is the Machine's Generation when what the group's snapshot
	// shows may last have changed (GroupSnapshot.Generation); statusDirty
	// is set when its members' statuses may have changed since they were
	// last derived.
	shown       uint64
	statusDirty bool
}

// member is a server in a group: its facts as last reported, its membership
// settings, and what the center has observed of it.
type member struct {
	// quietUntil is when Tick must look at the member again, if nothing
	// else changes it: before then, tickMember would do nothing (see
	// noteQuiet); 0 when it must look at the next Tick. deadline is the
	// earliest deadline of a command in flight, and calmUntil the time
	// its detector cannot fail before (when calmKnown): kept as times,
	// since tickMember compares them as the caller's clock does.
	quietUntil instant
	deadline   time.Time
	calmUntil  time.Time
	calmKnown  bool

	facts nvrha.Facts
	group *group
	det   detector.Detector
	// lastOK is when the server last answered a probe healthy.
	lastOK instant
	// upSince is when health last turned up; failback's hold-down counts from it.
	upSince instant
	// abnormalAt is when a recording server last answered a probe
	// abnormal; the hold-down counts from it too, if later.
	abnormalAt instant

	// tk is the takeover the member is part of, as recording server or
	// standby; nil when none. Either way the member is "in the takeover
	// process" and cannot be removed.
	tk *takeover

	// retryAt is when a standby that failed takeovers while it answered
	// may be ordered again (see refusals).
	retryAt instant
	// failovers holds the recent takeover times of a recording server, newest
	// last, for flap damping.
	failovers []time.Time

	probe op // the outstanding probe, if any
	// olderProbes are the probes sent before probe.prev that are still
	// awaited (0 for none): a suspect is probed faster than its answers
	// may come back, and any answer ends the suspicion.
	olderProbes [6]uint64
	nextProbe   instant
	inventory   op
	nextInv     instant
	// fence is a release owed to a standby that was abandoned mid-takeover,
	// so that it stops recording cameras another standby now owns.
	fence op
	// resume is a resume order owed to a recording server whose takeover
	// ended without a failback.
	resume op
	// standDown is the stand-down order of a covered recording server that
	// answered abnormal; stoodDown (below) records that one was sent, so
	// the server is owed a resume until one is acknowledged.
	standDown op
	// seenRecording is when the latest healthy probe that showed the server
	// recording its own cameras was sent; resumed is when its latest owed
	// resume was acknowledged. They date the footage of a recording server
	// that is found not to record (see checkRecordsItself).
	seenRecording, resumed instant
	// stray is the recording server whose cameras a standby's probes say
	// it records though it has no takeover of it (see checkCover);
	// strayAt is when it may be told again to release them, strayFences
	// how many times it was told in a row. quitAt is when the standby last
	// let go of a cover (its takeover ended, a release was acknowledged):
	// a probe sent before says nothing about a stray cover. quitRec and
	// quitEpoch are the release it acknowledged last.
	stray   nvrha.ServerID
	quitRec nvrha.ServerID
	// orders are when a standby got its last TakeoverAttempts takeover
	// orders, a ring whose oldest is at nextOrder once it is full (see
	// ordersSpent).
	orders    []instant
	nextOrder int
	quitEpoch nvrha.Epoch
	strayAt   instant
	quitAt    instant

	// The small fields last, packed together: a Machine holds one member
	// per server, and padding between them would cost every one.

	// priority orders recording servers when failures outnumber standbys
	// (higher first; within ±MaxPriority); see SetServerPriority.
	priority int16
	role     Role
	enabled  bool
	health   nvrha.Health
	// spaceKnown and spaceEmpty hold what the latest probe said about an
	// empty recording space; probes are newer than the last inventory, so
	// they win until the facts are replaced.
	spaceKnown, spaceEmpty bool
	// reachable reports that the last probe was answered (healthy or not), so
	// a stand-down order can reach the server.
	reachable bool
	// takeoverFailed marks a standby whose last takeover failed; it is
	// cleared when the standby is up again and has acknowledged the release
	// that fences it off, or, for one that failed while it answered, when a
	// probe shows it covering a takeover it confirmed.
	takeoverFailed bool
	// refusals counts the takeovers in a row the standby failed while it
	// answered probes (it refused, never confirmed, or its probes denied
	// what it confirmed); retryNoted records that the end of its back-off
	// was seen. Such a standby stays "Abnormal, protection failed" until a
	// probe shows it covering a takeover it confirmed; see standbyFailed.
	refusals    uint8
	strayFences uint8
	// fenceHeld marks a fence owed but not sent yet (holdFence).
	fenceHeld  bool
	retryNoted bool
	stoodDown  bool
	// standDownRefused counts the stand-downs in a row the server refused
	// as stale under its takeover's epoch standDownEpoch, the last at
	// standDownRefusedAt: the next is ordered after the back-off of a
	// failure (retryDelay), not at every abnormal probe. An agent that
	// claims a newer epoch than any the center issued would refuse it at
	// every probe.
	standDownRefused   int
	standDownEpoch     nvrha.Epoch
	standDownRefusedAt instant

	// last statuses published, to emit StatusChanged events.
	lastRec status.Recording
	lastSb  status.Standby
}

// hasSpace reports whether the server has an empty recording space.
//
// A standby that says it records cameras it has no takeover of (a stray
// cover) has none to offer, whatever its facts say.
func (m *member) hasSpace() bool {
	return m.stray == "" && m.emptySpace()
}

// emptySpace reports whether the server says it has an empty recording
// space: its latest probe, or its facts before one.
func (m *member) emptySpace() bool {
	if m.spaceKnown {
		return m.spaceEmpty
	}
	return m.facts.HasEmptyRecordingSpace()
}

// active reports whether the member takes part in failover: it is enabled
// and its group's Failover Protection is on.
func (m *member) active() bool { return m.enabled && m.group.protection }

// inTakeover returns the other server of the member's takeover, or nil.
func (m *member) inTakeover() *member {
	switch {
	case m.tk == nil:
		return nil
	case m.tk.rec == m:
		return m.tk.sb
	}
	return m.tk.rec
}

// coveredBy returns the standby covering a recording server, or nil.
func (m *member) coveredBy() *member {
	if m.tk != nil && m.tk.rec == m {
		return m.tk.sb
	}
	return nil
}

// covering returns the recording server a standby covers, or nil.
func (m *member) covering() *member {
	if m.tk != nil && m.tk.sb == m {
		return m.tk.rec
	}
	return nil
}

// Phase is where a takeover stands.
type Phase uint8

// The phases of a takeover.
const (
	// PhaseStarting: the takeover order is sent to the standby, not yet confirmed.
	PhaseStarting Phase = iota + 1
	// PhaseActive: the standby records the recording server's cameras.
	PhaseActive
	// PhaseResuming: failback; the recording server is told to record again,
	// and its probes must show it recording.
	PhaseResuming
	// PhaseReleasing: failback; the recording server records, the standby is
	// told to release. Make-before-break: the release is only sent once the
	// recording server is seen recording.
	PhaseReleasing
)

// MarshalText encodes the phase as its name.
func (p Phase) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText decodes a phase from its name.
func (p *Phase) UnmarshalText(b []byte) error {
	for q := PhaseStarting; q <= PhaseReleasing; q++ {
		if q.String() == string(b) {
			*p = q
			return nil
		}
	}
	return strconv.ErrSyntax
}

func (p Phase) String() string {
	switch p {
	case PhaseStarting:
		return "starting"
	case PhaseActive:
		return "active"
	case PhaseResuming:
		return "resuming"
	case PhaseReleasing:
		return "releasing"
	}
	return "Phase(" + strconv.Itoa(int(p)) + ")"
}

// takeover is the live record of one recording server covered by one standby.
type takeover struct {
	rec, sb *member
	epoch   nvrha.Epoch
	phase   Phase
	since   time.Time
	// started is when the order that the standby confirmed was sent: the
	// earliest the standby can have recorded, so the ledger starts there.
	started time.Time
	// giveUp is when a starting takeover abandons its standby.
	giveUp time.Time
	// confirmedAt is when the standby confirmed; a probe sent before it
	// cannot show the standby covering.
	confirmedAt time.Time
	// resumedAt is when a failback's resume was acknowledged (zero while it
	// is not); resumeSent when that resume was sent.
	resumedAt, resumeSent time.Time
	// denied counts the probes in a row that denied the takeover after the
	// standby confirmed it, the last at lastDenied (see coverDenied and
	// Machine.reorderAt).
	lastDenied time.Time
	cmd        op
	denied     uint8
}

var timeZero time.Time

func (t *takeover) public() Takeover {
	return Takeover{Recording: t.rec.facts.ID, Standby: t.sb.facts.ID, Epoch: t.epoch, Since: t.since}
}

// op is one command the Machine waits on: in flight until its deadline, or
// failed and waiting to be sent again at retryAt.
//
// A command sent again unchanged (a retry, or a probe sent while the last
// one is still unanswered) keeps its previous attempt's ID in prev: a late
// success of that attempt is as good as one of the newest, so a slow but
// working server is not given up on because its answers arrive after the
// resend. The ops map holds the op under both IDs.
type op struct {
	cmd      Command
	sentAt   instant
	retryAt  instant
	attempts int
	prev     uint64
	prevSent instant
	// prober is the member whose probe this is, set when the probe is
	// sent: every answer is a probe's, and finding its member by ID in
	// the servers map was a tenth of Step. Nil for every other op.
	prober *member
}

// instant is a time.Time in 8 bytes (Unix nanoseconds; 0 is the zero
// time), so that the ops every member holds stay small. The Unix epoch
// itself is kept as one nanosecond later.
type instant int64

func instantOf(t time.Time) instant {
	if t.IsZero() {
		return 0
	}
	if n := t.UnixNano(); n != 0 {
		return instant(n)
	}
	return 1
}

// time returns the instant as a time.Time in UTC.
func (i instant) time() time.Time {
	if i == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(i)).UTC()
}

func (o *op) pending() bool  { return o.cmd.ID != 0 }
func (o *op) inFlight() bool { return o.cmd.ID != 0 && o.retryAt == 0 }
func (o *op) clear()         { *o = op{} }

// takeoverRecording returns the recording server of the member's takeover:
// itself when it is covered, the server it covers when it is a standby.
func (m *member) takeoverRecording() *member {
	if m.tk == nil {
		return nil
	}
	return m.tk.rec
}

// lastSeen is when a server was last known to work: now if it is up, else
// its last healthy answer. A failed recording server's own footage ends there.
func (m *member) lastSeen(now time.Time) time.Time {
	if m.health == nvrha.HealthUp || m.lastOK == 0 {
		return now
	}
	return m.lastOK.time()
}
