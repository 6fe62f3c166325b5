package check

import (
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/status"
)

// persistAll makes the persisted State, and the live one of m, list every
// member of v's default group with its facts, as a Machine that has seen
// them all persists it.
func persistAll(v *history.Static, m *history.Canned) *failover.State {
	g := failover.GroupState{ID: failover.DefaultGroupID, Protection: true}
	for _, s := range v.Truth {
		g.Members = append(g.Members, failover.MemberState{Facts: s.Facts, Role: s.Role, Enabled: true})
	}
	st := &failover.State{Groups: []failover.GroupState{g}}
	v.Centre.Persisted, m.St = st, *st
	return st
}

// setStatuses sets the statuses of the Canned Machine's snapshot: rec for
// every recording server, sb for every standby.
func setStatuses(m *history.Canned, rec status.Recording, sb status.Standby) {
	for gi := range m.Snap.Groups {
		for mi := range m.Snap.Groups[gi].Members {
			ms := &m.Snap.Groups[gi].Members[mi]
			if ms.Role == failover.RoleStandby {
				ms.Standby = sb
			} else {
				ms.Recording = rec
			}
		}
	}
}

// TestStatusesAgreeWithFacts: every member's Failover Status is the one
// QVR Center's manual's tables give for the facts the Machine shows and
// persisted (invariant 5). A recording server shown protected while no
// standby of its group can take it over, or unprotected while one can, is
// a violation; so is a standby shown ready without a recording space.
func TestStatusesAgreeWithFacts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(v *history.Static, m *history.Canned)
		want   string
	}{
		{name: "as the manual says"},
		{name: "protected without a standby that fits",
			change: func(v *history.Static, m *history.Canned) {
				// Both standbys lose their license channels: neither can
				// take over a recording server of 4 cameras.
				for _, id := range []nvrha.ServerID{"sb-1", "sb-2"} {
					v.S(id).Facts.LicenseChannels = 2
				}
				persistAll(v, m)
			},
			want: `rec-1 shows "Normal, protected", its facts give "Normal, unprotected"`},
		{name: "unprotected with a standby that fits",
			change: func(_ *history.Static, m *history.Canned) {
				setStatuses(m, status.RecordingNormalUnprotected, status.StandbyNormalProtectionReady)
			},
			want: `rec-1 shows "Normal, unprotected", its facts give "Normal, protected"`},
		{name: "ready without recording space",
			change: func(_ *history.Static, m *history.Canned) {
				m.Snap.Groups[0].Members[2].EmptyRecordingSpace = false
			},
			want: `sb-1 shows "Normal, protection ready", its facts give "Warning"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, c, s := small(t)
			m := withMachine(v)
			setStatuses(m, status.RecordingNormalProtected, status.StandbyNormalProtectionReady)
			st := persistAll(v, m)
			c.Observe(v.Event(history.Event{Kind: history.Persisted, State: st}))
			c.Observe(v.Event(history.Event{Kind: history.Done, Machine: true}))
			wantNone(t, s)
			if tc.change == nil {
				return
			}
			tc.change(v, m)
			c.Observe(v.Event(history.Event{Kind: history.Done, Machine: true}))
			wantViolation(t, s, 5, tc.want)
		})
	}
}
