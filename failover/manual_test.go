package failover_test

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
)

// Tests named after the items of QVR Center's failover management page that
// no other test names: adding a Failover Group, adding one or more recording
// and standby servers, the statuses a center shows when a server stops
// working or a standby cannot take over, and that a refused operation of the
// page leaves nothing behind, not even a change to persist.

// manualStatuses returns "id: status" for the given servers, for comparisons
// whose failure message shows the whole picture.
func manualStatuses(t *testing.T, m *failover.Machine, ids ...nvrha.ServerID) []string {
	t.Helper()
	s := m.Snapshot()
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = fmt.Sprintf("%s: %s", id, memberOf(t, s, id).Status())
	}
	return out
}

// manualNothingChanged checks that err wraps want and that the Machine is as
// before: the same snapshot, the same persistent state, and nothing new to
// persist, send or publish.
func manualNothingChanged(t *testing.T, m *failover.Machine, beforeSnap failover.Snapshot, beforeState failover.State, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error %v; want one wrapping %v", err, want)
	}
	if got := m.Snapshot(); !reflect.DeepEqual(got, beforeSnap) {
		t.Errorf("the refused operation changed the snapshot:\nbefore %+v\nafter  %+v", beforeSnap, got)
	}
	if got := m.State(); !reflect.DeepEqual(got, beforeState) {
		t.Errorf("the refused operation changed the persistent state:\nbefore %+v\nafter  %+v", beforeState, got)
	}
	if m.HasReady() {
		rd := m.Ready()
		t.Errorf("the refused operation left something to persist, send or publish: state %v, commands %v, events %v",
			rd.State != nil, rd.Commands, rd.Events)
	}
}

// --- Adding a Failover Group -------------------------------------------------

// "Click + at the side of the tab, enter the name of the Failover Group, click
// Add": the new group stands beside "Failover Group 1" with the entered name,
// its Failover Protection on, no servers, and room for as many servers as the
// center's platform allows.
func TestManual_AddFailoverGroup(t *testing.T) {
	for _, tc := range []struct {
		platform nvrha.Platform
		capacity int
	}{{nvrha.PlatformX86_64, 64}, {nvrha.PlatformARM64, 8}} {
		t.Run(tc.platform.String(), func(t *testing.T) {
			m := newMachine(t, tc.platform)
			id, err := m.AddGroup("  Parking garage ")
			if err != nil {
				t.Fatalf("AddGroup: %v", err)
			}
			if id == failover.DefaultGroupID || id == 0 {
				t.Fatalf("new group has ID %v, the default group's is %v", id, failover.DefaultGroupID)
			}
			s := m.Snapshot()
			if len(s.Groups) != 2 || s.Groups[0].ID != failover.DefaultGroupID || s.Groups[1].ID != id {
				t.Fatalf("groups %+v; want Failover Group 1, then the new one", s.Groups)
			}
			g := s.Groups[1]
			if g.Name != "Parking garage" || g.Default || !g.Protection || len(g.Members) != 0 || g.Capacity != tc.capacity {
				t.Errorf("new group %+v; want \"Parking garage\", not default, protection on, empty, capacity %d", g, tc.capacity)
			}
			if st := m.State(); len(st.Groups) != 2 || st.Groups[1].Name != "Parking garage" || !st.Groups[1].Protection {
				t.Errorf("persistent state %+v does not hold the new group", st.Groups)
			}
			// Servers join it like the default group.
			if err := m.AddRecordingServers(id, recordingFacts("rec-1", 8)); err != nil {
				t.Fatalf("AddRecordingServers to the new group: %v", err)
			}
			if err := m.AddStandbyServers(id, standbyFacts("sb-1", 8)); err != nil {
				t.Fatalf("AddStandbyServers to the new group: %v", err)
			}
			if n := len(groupOf(t, m.Snapshot(), id).Members); n != 2 {
				t.Errorf("new group holds %d servers after adding two", n)
			}
			if n := len(groupOf(t, m.Snapshot(), failover.DefaultGroupID).Members); n != 0 {
				t.Errorf("the default group holds %d servers; the servers went to the new group", n)
			}
		})
	}
}

// --- Adding servers ----------------------------------------------------------

// "Select one or more servers to be added as recording servers, and then click
// Apply": one server, then several at once, into "Failover Group 1"; each
// joins enabled, as a recording server, in the order given.
func TestManual_AddOneOrMoreRecordingServers(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	g := failover.DefaultGroupID
	if err := m.AddRecordingServers(g, recordingFacts("rec-1", 8)); err != nil {
		t.Fatalf("adding one recording server: %v", err)
	}
	if err := m.AddRecordingServers(g, recordingFacts("rec-2", 16), recordingFacts("rec-3", 32)); err != nil {
		t.Fatalf("adding two recording servers at once: %v", err)
	}
	members := groupOf(t, m.Snapshot(), g).Members
	var got []string
	for _, mem := range members {
		got = append(got, fmt.Sprintf("%s/%s/%d/%d/%v", mem.ID, mem.Role, mem.LicenseChannels, mem.Cameras, mem.Enabled))
	}
	want := []string{"rec-1/recording/8/2/true", "rec-2/recording/16/2/true", "rec-3/recording/32/2/true"}
	if !slices.Equal(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
	for _, mem := range members {
		if !mem.Recording.Valid() || mem.Standby != 0 {
			t.Errorf("%s: recording status %v, standby status %v; want a recording status only", mem.ID, mem.Recording, mem.Standby)
		}
	}

	// Adding one of them again, in a batch, is refused and changes nothing.
	m.Advance(m.Ready())
	beforeSnap, beforeState := m.Snapshot(), m.State()
	err := m.AddRecordingServers(g, recordingFacts("rec-4", 8), recordingFacts("rec-2", 16))
	manualNothingChanged(t, m, beforeSnap, beforeState, err, failover.ErrIneligible)
	var rej *failover.RejectedError
	if !errors.As(err, &rej) || len(rej.Servers) != 1 || rej.Servers[0].Server != "rec-2" ||
		!rej.Servers[0].Reasons.Has(eligibility.CodeAlreadyInGroup) {
		t.Errorf("error %v; want a *RejectedError naming rec-2 as already in the group", err)
	}
}

// "Select one or more servers to be added as standby servers, and click
// Apply": one, then several at once; each joins enabled, as a standby, with no
// cameras and an empty recording space.
func TestManual_AddOneOrMoreStandbyServers(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	g := failover.DefaultGroupID
	mustAddRecording(t, m, g, recordingFacts("rec-1", 16))
	if err := m.AddStandbyServers(g, standbyFacts("sb-1", 16)); err != nil {
		t.Fatalf("adding one standby server: %v", err)
	}
	if err := m.AddStandbyServers(g, standbyFacts("sb-2", 32), standbyFacts("sb-3", 64)); err != nil {
		t.Fatalf("adding two standby servers at once: %v", err)
	}
	members := groupOf(t, m.Snapshot(), g).Members
	var got []string
	for _, mem := range members {
		got = append(got, fmt.Sprintf("%s/%s/%d", mem.ID, mem.Role, mem.LicenseChannels))
		if mem.Role == failover.RoleStandby &&
			(!mem.Enabled || mem.Cameras != 0 || !mem.EmptyRecordingSpace || !mem.Standby.Valid() || mem.Recording != 0) {
			t.Errorf("standby %+v; want enabled, no cameras, an empty recording space and a standby status only", mem)
		}
	}
	want := []string{"rec-1/recording/16", "sb-1/standby/16", "sb-2/standby/32", "sb-3/standby/64"}
	if !slices.Equal(got, want) {
		t.Errorf("members %v, want %v", got, want)
	}
}

// --- A refused operation changes nothing -------------------------------------

// busyCenter returns a center in which sb-1 takes over rec-1 in group
// "Lobby" (rec-1 and rec-2 with 8 channels, sb-1 with 16), with all 16
// Failover Groups in use, quiet: nothing left to persist, send or publish.
func busyCenter(t *testing.T) (*fleet, failover.GroupID) {
	t.Helper()
	m := newMachine(t, nvrha.PlatformX86_64)
	lobby, err := m.AddGroup("Lobby")
	if err != nil {
		t.Fatal(err)
	}
	for i := 3; i <= failover.MaxGroups; i++ {
		if _, err := m.AddGroup(fmt.Sprintf("Site %d", i)); err != nil {
			t.Fatal(err)
		}
	}
	fs := []nvrha.Facts{recordingFacts("rec-1", 8), recordingFacts("rec-2", 8), standbyFacts("sb-1", 16)}
	mustAddRecording(t, m, lobby, fs[0], fs[1])
	mustAddStandby(t, m, lobby, fs[2])
	f := newFleet(t, m, fs...)
	f.run(2 * time.Second)
	f.down["rec-1"] = true
	f.until(10*time.Second, "the takeover of rec-1 by sb-1", func() bool {
		return memberOf(t, m.Snapshot(), "rec-1").Recording == status.RecordingAbnormalProtected
	})
	if f.m.HasReady() {
		t.Fatal("the center is not quiet after flush")
	}
	return f, lobby
}

// Every operation of the page that the rules refuse leaves the center
// exactly as it was: the snapshot a UI shows, the state the center persists,
// and no command, event or state change pending.
func TestManual_RefusedOperationChangesNothing(t *testing.T) {
	ineligibleStandby := standbyFacts("nvr-9", 4) // fewer channels than rec-1
	for _, tc := range []struct {
		name string
		op   func(*testing.T, *failover.Machine, failover.GroupID) error
		want error
	}{
		{"Failover Group 1 cannot be deleted", func(t *testing.T, m *failover.Machine, _ failover.GroupID) error {
			_, err := m.DeleteGroup(failover.DefaultGroupID, approveAt(t, failover.OpDeleteGroup, m.Now()))
			return err
		}, failover.ErrDefaultGroup},
		{"deleting a group needs the first admin user", func(t *testing.T, m *failover.Machine, g failover.GroupID) error {
			_, err := m.DeleteGroup(g, failover.Approval{})
			return err
		}, failover.ErrVerificationRequired},
		{"removing a standby needs the first admin user", func(t *testing.T, m *failover.Machine, g failover.GroupID) error {
			return m.RemoveStandbyServers(g, failover.Approval{}, "sb-1")
		}, failover.ErrVerificationRequired},
		{"at most 16 Failover Groups", func(t *testing.T, m *failover.Machine, _ failover.GroupID) error {
			_, err := m.AddGroup("Site 17")
			return err
		}, failover.ErrTooManyGroups},
		{"a server in the takeover process cannot be removed: recording server", func(t *testing.T, m *failover.Machine, g failover.GroupID) error {
			return m.RemoveRecordingServers(g, "rec-2", "rec-1")
		}, failover.ErrInTakeover},
		{"a server in the takeover process cannot be removed: standby server", func(t *testing.T, m *failover.Machine, g failover.GroupID) error {
			return m.RemoveStandbyServers(g, approveAt(t, failover.OpRemoveStandbyServers, m.Now()), "sb-1")
		}, failover.ErrInTakeover},
		{"a verification expires", func(t *testing.T, m *failover.Machine, g failover.GroupID) error {
			stale := m.Now().Add(-failover.DefaultApprovalTTL - time.Second)
			_, err := m.DeleteGroup(g, approveAt(t, failover.OpDeleteGroup, stale))
			return err
		}, failover.ErrApprovalExpired},
		{"an ineligible standby server", func(t *testing.T, m *failover.Machine, g failover.GroupID) error {
			return m.AddStandbyServers(g, standbyFacts("nvr-8", 16), ineligibleStandby)
		}, failover.ErrIneligible},
		{"a server already in another Failover Group", func(t *testing.T, m *failover.Machine, _ failover.GroupID) error {
			return m.AddRecordingServers(failover.DefaultGroupID, recordingFacts("rec-2", 8))
		}, failover.ErrIneligible},
		{"a duplicate group name", func(t *testing.T, m *failover.Machine, g failover.GroupID) error {
			return m.RenameGroup(g, "failover group 1")
		}, failover.ErrDuplicateGroupName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, lobby := busyCenter(t)
			beforeSnap, beforeState := f.m.Snapshot(), f.m.State()
			err := tc.op(t, f.m, lobby)
			manualNothingChanged(t, f.m, beforeSnap, beforeState, err, tc.want)
			// The takeover goes on untouched.
			i := len(f.sent)
			f.run(time.Second)
			if got := manualStatuses(t, f.m, "rec-1", "sb-1"); !slices.Equal(got, []string{"rec-1: Abnormal, protected", "sb-1: Normal, protecting"}) {
				t.Errorf("after the refused operation: %v", got)
			}
			if f.covering["sb-1"] != "rec-1" {
				t.Errorf("sb-1 no longer records rec-1's cameras (orders since: %v)", f.sent[i:])
			}
		})
	}
}

// The group capacity refusal on an ARM64 center (8 servers a group) leaves
// nothing behind either.
func TestManual_FullGroupRefusalChangesNothing(t *testing.T) {
	m := newMachine(t, nvrha.PlatformARM64)
	g := failover.DefaultGroupID
	var recs []nvrha.Facts
	for i := 1; i <= 7; i++ {
		recs = append(recs, recordingFacts(nvrha.ServerID(fmt.Sprintf("rec-%d", i)), 8))
	}
	mustAddRecording(t, m, g, recs...)
	if err := m.AddStandbyServers(g, standbyFacts("sb-1", 8)); err != nil {
		t.Fatalf("the 8th server of an ARM64 group: %v", err)
	}
	m.Advance(m.Ready())
	beforeSnap, beforeState := m.Snapshot(), m.State()
	err := m.AddStandbyServers(g, standbyFacts("sb-2", 8))
	manualNothingChanged(t, m, beforeSnap, beforeState, err, failover.ErrIneligible)
	var rej *failover.RejectedError
	if !errors.As(err, &rej) || len(rej.Servers) != 1 || !rej.Servers[0].Reasons.Has(eligibility.CodeGroupFull) {
		t.Errorf("error %v; want sb-2 refused as group-full", err)
	}
}

// --- Statuses a center derives ------------------------------------------------

// "Abnormal, unprotected ... because there are no available standby server":
// a recording server alone in its group that stops working.
func TestManual_AbnormalUnprotectedWithoutAvailableStandby(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	rec := recordingFacts("rec-1", 8)
	mustAddRecording(t, m, failover.DefaultGroupID, rec)
	f := newFleet(t, m, rec)
	f.run(2 * time.Second)
	if got := memberOf(t, m.Snapshot(), "rec-1").Recording; got != status.RecordingNormalUnprotected {
		t.Fatalf("working rec-1 without a standby is %v, want Normal, unprotected", got)
	}
	f.down["rec-1"] = true
	f.until(10*time.Second, "rec-1 failing", func() bool {
		return memberOf(t, m.Snapshot(), "rec-1").Health == nvrha.HealthDown
	})
	f.run(5 * time.Second)
	mem := memberOf(t, m.Snapshot(), "rec-1")
	if mem.Recording != status.RecordingAbnormalUnprotected || mem.Peer != "" {
		t.Errorf("failed rec-1 without a standby: %v, peer %q; want Abnormal, unprotected", mem.Recording, mem.Peer)
	}
}

// "Abnormal, unprotected ... the standby server does not have enough licensed
// channel quota to fully take over this server": the only standby was
// eligible when it joined, but a recording server added later has more
// channels. When that server fails, the standby is never ordered to take it
// over, and stays ready for the servers it does fit.
func TestManual_AbnormalUnprotectedWithoutEnoughLicensedChannels(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	g := failover.DefaultGroupID
	small, sb, big := recordingFacts("rec-small", 8), standbyFacts("sb-1", 16), recordingFacts("rec-big", 32)
	mustAddRecording(t, m, g, small)
	mustAddStandby(t, m, g, sb)
	mustAddRecording(t, m, g, big)
	f := newFleet(t, m, small, sb, big)
	f.run(2 * time.Second)
	want := []string{"rec-small: Normal, protected", "sb-1: Normal, protection ready", "rec-big: Normal, unprotected"}
	if got := manualStatuses(t, m, "rec-small", "sb-1", "rec-big"); !slices.Equal(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}

	i := len(f.sent)
	f.down["rec-big"] = true
	f.until(10*time.Second, "rec-big failing", func() bool {
		return memberOf(t, m.Snapshot(), "rec-big").Health == nvrha.HealthDown
	})
	f.run(5 * time.Second)
	want = []string{"rec-small: Normal, protected", "sb-1: Normal, protection ready", "rec-big: Abnormal, unprotected"}
	if got := manualStatuses(t, m, "rec-small", "sb-1", "rec-big"); !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if tk := f.sentSince(i, failover.CmdTakeover, "sb-1"); len(tk) != 0 {
		t.Errorf("sb-1 (16 channels) was ordered to take over rec-big (32 channels): %v", tk)
	}
}

// "Abnormal: this standby server is not functioning properly, and is unable
// to take over recording server". Its recording servers lose their
// protection until it works again.
func TestManual_StandbyAbnormalWhenNotFunctioning(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	rec, sb := recordingFacts("rec-1", 8), standbyFacts("sb-1", 8)
	mustAddRecording(t, m, failover.DefaultGroupID, rec)
	mustAddStandby(t, m, failover.DefaultGroupID, sb)
	f := newFleet(t, m, rec, sb)
	f.run(2 * time.Second)
	f.down["sb-1"] = true
	f.until(10*time.Second, "sb-1 showing Abnormal", func() bool {
		return memberOf(t, m.Snapshot(), "sb-1").Standby == status.StandbyAbnormal
	})
	if got := memberOf(t, m.Snapshot(), "rec-1").Recording; got != status.RecordingNormalUnprotected {
		t.Errorf("rec-1 with its only standby abnormal is %v, want Normal, unprotected", got)
	}
	f.down["sb-1"] = false
	f.until(10*time.Second, "sb-1 recovering", func() bool {
		return memberOf(t, m.Snapshot(), "sb-1").Standby == status.StandbyNormalProtectionReady
	})
	if got := memberOf(t, m.Snapshot(), "rec-1").Recording; got != status.RecordingNormalProtected {
		t.Errorf("rec-1 with its standby working again is %v, want Normal, protected", got)
	}
}

// "Warning: this standby server is functional, but is unable to take over
// recording server because it does not have a recording space", as its own
// probe reports. It is not ordered to take over a failed recording server.
func TestManual_StandbyWarningWithoutRecordingSpace(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	rec, sb := recordingFacts("rec-1", 8), standbyFacts("sb-1", 8)
	mustAddRecording(t, m, failover.DefaultGroupID, rec)
	mustAddStandby(t, m, failover.DefaultGroupID, sb)
	f := newFleet(t, m, rec, sb)
	f.noSpace["sb-1"] = true
	f.run(2 * time.Second)
	want := []string{"rec-1: Normal, unprotected", "sb-1: Warning"}
	if got := manualStatuses(t, m, "rec-1", "sb-1"); !slices.Equal(got, want) {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	i := len(f.sent)
	f.down["rec-1"] = true
	f.until(10*time.Second, "rec-1 failing", func() bool {
		return memberOf(t, m.Snapshot(), "rec-1").Health == nvrha.HealthDown
	})
	f.run(5 * time.Second)
	want = []string{"rec-1: Abnormal, unprotected", "sb-1: Warning"}
	if got := manualStatuses(t, m, "rec-1", "sb-1"); !slices.Equal(got, want) {
		t.Errorf("statuses %v, want %v", got, want)
	}
	if tk := f.sentSince(i, failover.CmdTakeover, "sb-1"); len(tk) != 0 {
		t.Errorf("sb-1 without a recording space was ordered to take over: %v", tk)
	}
	// Space freed: it takes over at once.
	f.noSpace["sb-1"] = false
	f.until(10*time.Second, "the takeover of rec-1 once sb-1 has space", func() bool {
		return memberOf(t, m.Snapshot(), "rec-1").Recording == status.RecordingAbnormalProtected
	})
	if got := memberOf(t, m.Snapshot(), "sb-1").Standby; got != status.StandbyNormalProtecting {
		t.Errorf("sb-1 covering rec-1 is %v, want Normal, protecting", got)
	}
}
