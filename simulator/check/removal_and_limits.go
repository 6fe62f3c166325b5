package check

import (
	"errors"
	"fmt"

	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
)

// Invariant 6, removal and limits: a server in takeover cannot be
// removed; the default group cannot be deleted; limits are never
// exceeded.
//
// Removing a server the Machine shows in a takeover must fail with
// ErrInTakeover (removed); deleting the default group with ErrDefaultGroup
// (groupDeleted); at most 16 groups, at most the platform's capacity per
// group, a server in one group only, the default group always there
// (limits, withinCapacity, and indexMembers in machine_view.go).

// limits checks the number of groups and the default group.
func (c *Checker) limits(snap *failover.Snapshot) bool {
	if len(snap.Groups) > failover.MaxGroups {
		c.fail(6, fmt.Sprintf("%d groups, the limit is %d", len(snap.Groups), failover.MaxGroups))
		return false
	}
	if len(snap.Groups) == 0 || snap.Groups[0].ID != failover.DefaultGroupID || !snap.Groups[0].Default {
		c.fail(6, "the default group is gone")
		return false
	}
	return true
}

// withinCapacity checks a group's members against its capacity, and its
// capacity against the platform's.
func (c *Checker) withinCapacity(g *failover.GroupSnapshot) bool {
	if len(g.Members) > g.Capacity || g.Capacity > eligibility.MaxServersPerGroup(c.set.Failover.Platform) {
		c.fail(6, fmt.Sprintf("group %q holds %d servers, capacity %d", g.Name, len(g.Members), g.Capacity))
		return false
	}
	return true
}

// removed checks the answer to removing server i: refused with
// ErrInTakeover when the Machine showed it in a takeover.
func (c *Checker) removed(i int, inTakeover bool, err error) {
	id := string(c.srv[i].ID)
	switch {
	case !inTakeover:
	case err == nil:
		c.fail(6, "the Machine removed "+id+", which was in the takeover process")
	case !errors.Is(err, failover.ErrInTakeover):
		c.fail(6, "removing "+id+" in the takeover process failed with "+err.Error()+", want ErrInTakeover")
	}
}

// groupDeleted checks the answer to deleting group gi: the default group
// is refused with ErrDefaultGroup.
func (c *Checker) groupDeleted(gi int, err error) {
	if c.v.Groups()[gi].ID != failover.DefaultGroupID {
		return
	}
	if err == nil || !errors.Is(err, failover.ErrDefaultGroup) {
		msg := "no error"
		if err != nil {
			msg = err.Error()
		}
		c.fail(6, "deleting the default group gave "+msg+", want ErrDefaultGroup")
	}
}
