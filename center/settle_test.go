package center

import (
	"slices"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// A held recording server is shown once its group's enabled standbys have
// all been probed, or once it has waited for the bound, whichever comes
// first; one that left its group is forgotten.
func TestSettledWaitsForTheGroupsStandbys(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bound := 3 * time.Second
	rec := func(id nvrha.ServerID) failover.MemberSnapshot {
		return failover.MemberSnapshot{ID: id, Role: failover.RoleRecording, Enabled: true, Health: nvrha.HealthUp}
	}
	sb := func(id nvrha.ServerID, enabled bool, h nvrha.Health) failover.MemberSnapshot {
		return failover.MemberSnapshot{ID: id, Role: failover.RoleStandby, Enabled: enabled, Health: h}
	}
	snap := failover.Snapshot{Groups: []failover.GroupSnapshot{
		// Its standbys probed; the disabled one is not waited for.
		{ID: 1, Members: []failover.MemberSnapshot{rec("a"), sb("s1", true, nvrha.HealthUp), sb("s2", false, nvrha.HealthUnknown)}},
		// One standby not probed yet: wait, unless held too long.
		{ID: 2, Members: []failover.MemberSnapshot{rec("b"), rec("c"), sb("s3", true, nvrha.HealthDown), sb("s4", true, nvrha.HealthUnknown)}},
		// No standby: nothing to wait for.
		{ID: 3, Members: []failover.MemberSnapshot{rec("d")}},
	}}
	held := map[nvrha.ServerID]time.Time{
		"a": at, "b": at.Add(-time.Second), "c": at.Add(-bound), "d": at, "gone": at,
	}
	release, drop, next := settled(snap, held, at, bound)
	slices.Sort(release)
	if !slices.Equal(release, []nvrha.ServerID{"a", "c", "d"}) {
		t.Errorf("released %v, want a (standbys probed), c (held for the bound) and d (no standby)", release)
	}
	if !slices.Equal(drop, []nvrha.ServerID{"gone"}) {
		t.Errorf("dropped %v, want gone", drop)
	}
	if next != 2*time.Second {
		t.Errorf("next look in %v, want 2s (b reaches the bound)", next)
	}
}
