package check

import (
	"fmt"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
)

// Invariant 5, statuses agree with the facts: no "protected" without a
// ready standby that fits.
//
// Every member's status is the one package status derives from what the
// Machine holds: the snapshot (enabled, protection, health, peer, empty
// recording space) and the persisted State (facts, failed takeovers, owed
// releases, takeover phases). "Normal, protected" thus needs a confirmed
// takeover, an unconfirmed one whose standby is ready (active, up, no
// failed takeover, no owed release, an empty recording space), or a free,
// ready standby that fits. When the persisted State lags the live one the
// live one is used.

// statusesAgree checks every member's status against the one its facts
// give, by QVR Center's manual's tables (package status).
//
// A group whose members the snapshot before this one showed exactly as
// this one does, whose statuses were found right in it against the same
// persisted index, is not derived again: every input of a member's
// expected status is its group's (its own entry, its peer's, the group's
// free standbys, the group's switch) and the persisted index, so it would
// be found right again. Once the live State is read, every member after is
// derived against it, as before.
func (c *Checker) statusesAgree(pf *persisted) {
	mem := c.mv.mem
	snap, skip := c.unchangedGroups()
	live := false
	for i := range mem {
		ms := &mem[i]
		if !ms.in || !live && ms.gi < len(skip) && skip[ms.gi] {
			continue
		}
		want := c.expectedStatus(i, ms, pf)
		if got := ms.Status(); got != want && !live {
			// The persisted State may lag the live one on what is not
			// persisted at once (a takeover ordered again after a probe):
			// judge on the live State.
			st := c.v.Machine().State()
			pf, live = c.indexState(&st), true
			want = c.expectedStatus(i, ms, pf)
		}
		if got := ms.Status(); got != want {
			c.fail(5, fmt.Sprintf("%s shows %q, its facts give %q", ms.ID, got, want))
			return
		}
	}
	c.noteVerified(snap, live)
}

// unchangedGroups returns the snapshot the check reads (nil when it is
// not in a buffer of the checker's) and, by group index in it, whether
// the group is as the snapshot before showed it when its statuses were
// found right there against the same persisted index.
func (c *Checker) unchangedGroups() (*failover.Snapshot, []bool) {
	mv := &c.mv
	cur, prev := &mv.bufs[mv.cur], &mv.bufs[mv.cur^1]
	if mv.memFill != mv.fills[mv.cur] || mv.fills[mv.cur] == 0 {
		return nil, nil // mem indexes no snapshot of the buffers
	}
	mv.skip = mv.skip[:0]
	// Snapshots of one Machine show a group the same when its generation
	// is the same (failover.GroupSnapshot.Generation).
	oneMachine := mv.ats[mv.cur].known && mv.ats[mv.cur].inc == mv.ats[mv.cur^1].inc && mv.ats[mv.cur^1].known
	for gi := range cur.Groups {
		g := &cur.Groups[gi]
		v, ok := mv.verified[g.ID]
		same := ok && v.pver == mv.pver &&
			(v.fill == mv.fills[mv.cur] && v.gi == gi || // this very snapshot
				v.fill == mv.fills[mv.cur^1] && v.gi < len(prev.Groups) && sameGroup(&prev.Groups[v.gi], g, oneMachine))
		mv.skip = append(mv.skip, same)
	}
	return cur, mv.skip
}

// sameGroup reports whether two snapshots show a group the same: its
// switch and every member's entry, in order. Snapshots of one Machine
// (oneMachine) tell by the group's generation.
func sameGroup(a, b *failover.GroupSnapshot, oneMachine bool) bool {
	if a.ID != b.ID {
		return false
	}
	if oneMachine && a.Generation == b.Generation {
		return true
	}
	if a.Protection != b.Protection || len(a.Members) != len(b.Members) {
		return false
	}
	for i := range a.Members {
		if a.Members[i] != b.Members[i] {
			return false
		}
	}
	return true
}

// noteVerified notes, after every status of snap was found right, that
// its groups were: against the persisted index, or (live) not.
func (c *Checker) noteVerified(snap *failover.Snapshot, live bool) {
	mv := &c.mv
	if snap == nil || live {
		clear(mv.verified)
		return
	}
	if mv.verified == nil {
		mv.verified = make(map[failover.GroupID]groupVerified, len(snap.Groups))
	}
	clear(mv.verified)
	for gi := range snap.Groups {
		mv.verified[snap.Groups[gi].ID] = groupVerified{fill: mv.fills[mv.cur], pver: mv.pver, gi: gi}
	}
}

// expectedStatus derives a member's Failover Status from the facts the
// Machine reports (its snapshot) and persisted (facts, failed takeovers,
// owed releases, confirmed takeovers), by QVR Center's manual's rules.
func (c *Checker) expectedStatus(i int, ms *snapMember, p *persisted) string {
	active := ms.Enabled && ms.group.Protection
	if ms.Role == failover.RoleStandby {
		return status.OfStandby(status.StandbyFacts{
			Enabled:           active,
			Functional:        ms.Health == nvrha.HealthUp,
			TakingOver:        ms.Peer != "" && p.confirmed[i],
			HasRecordingSpace: ms.EmptyRecordingSpace,
			TakeoverFailed:    p.failed[i],
		}).Label()
	}
	// Protected: a confirmed takeover; an unconfirmed one whose standby is
	// ready (active, up, no failed takeover, no owed release, an empty
	// recording space) and still fits (its license may have shrunk since
	// the takeover began); or else a free, ready standby of the group that
	// fits.
	available := false
	if ms.Peer != "" {
		if p.confirmed[i] {
			available = true
		} else if j, ok := c.index(ms.Peer, 0); ok && c.mv.mem[j].in {
			s := &c.mv.mem[j]
			available = s.Enabled && s.group.Protection && s.Health == nvrha.HealthUp && s.EmptyRecordingSpace &&
				!p.failed[j] && !p.fence[j] && eligibility.CanCover(p.facts[j], p.facts[i])
		}
	}
	if !available {
		for _, j := range c.freeStandbys(ms, p) {
			if eligibility.CanCover(p.facts[j], p.facts[i]) {
				available = true
				break
			}
		}
	}
	return status.OfRecording(status.RecordingFacts{
		Enabled:          active,
		Functional:       ms.Health == nvrha.HealthUp,
		TakenOver:        ms.Peer != "" && p.confirmed[i],
		StandbyAvailable: available,
	}).Label()
}

// freeStandbys returns the indexes of the free, ready standbys of ms's
// group (by the snapshot and p), in the group's order: the ones a
// recording server's status counts on. They are listed once per group and
// p, not once per recording server.
func (c *Checker) freeStandbys(ms *snapMember, p *persisted) []int {
	mv := &c.mv
	if mv.freeOf != p || mv.freeGen != c.checks {
		mv.freeOf, mv.freeGen = p, c.checks
		for k := range mv.free {
			mv.free[k].done = false
		}
	}
	for len(mv.free) <= ms.gi {
		mv.free = append(mv.free, freeList{})
	}
	f := &mv.free[ms.gi]
	if f.done {
		return f.idx
	}
	f.done, f.idx = true, f.idx[:0]
	for _, s := range ms.group.Members {
		if s.Role != failover.RoleStandby || s.Peer != "" || !s.Enabled || !ms.group.Protection ||
			s.Health != nvrha.HealthUp || !s.EmptyRecordingSpace {
			continue
		}
		j, _ := c.index(s.ID, 0)
		if !p.failed[j] && !p.fence[j] {
			f.idx = append(f.idx, j)
		}
	}
	return f.idx
}

type freeList struct {
	done bool
	idx  []int
}
