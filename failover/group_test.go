package failover_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
	"github.com/nvrha/nvrha/transport"
)

// Tests of Failover Group management, one per rule, limit, operation and
// status of QVR Center's failover management. Every refused operation is
// also checked to leave the Machine exactly as it was.

var t0 = time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)

// --- The default group -------------------------------------------------------

func TestDefaultGroupExistsAndIsNamedFailoverGroup1(t *testing.T) {
	for _, p := range []nvrha.Platform{nvrha.PlatformX86_64, nvrha.PlatformARM64} {
		t.Run(p.String(), func(t *testing.T) {
			m := newMachine(t, p)
			s := m.Snapshot()
			if len(s.Groups) != 1 {
				t.Fatalf("a new center has %d groups, want 1: %+v", len(s.Groups), s)
			}
			g := s.Groups[0]
			if g.ID != failover.DefaultGroupID || g.Name != "Failover Group 1" || failover.DefaultGroupName != "Failover Group 1" {
				t.Errorf("default group = %v %q, want %v %q", g.ID, g.Name, failover.DefaultGroupID, "Failover Group 1")
			}
			if !g.Default {
				t.Error("the default group is not marked Default")
			}
			if !g.Protection {
				t.Error("the default group starts with Failover Protection off")
			}
			if len(g.Members) != 0 {
				t.Errorf("the default group starts with members %v", memberIDs(g))
			}
		})
	}
}

func TestDefaultGroupCannotBeDeleted(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	g := failover.DefaultGroupID
	mustAddRecording(t, m, g, recordingFacts("rec-1", 8))
	mustAddStandby(t, m, g, standbyFacts("sb-1", 8))

	for _, tc := range []struct {
		name string
		a    failover.Approval
	}{
		{"verified", approve(t, failover.OpDeleteGroup)},
		{"not verified", failover.Approval{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := m.Snapshot()
			tks, err := m.DeleteGroup(g, tc.a)
			refused(t, m, before, err, failover.ErrDefaultGroup)
			if len(tks) != 0 {
				t.Errorf("a refused delete interrupted takeovers %v", tks)
			}
		})
	}

	t.Run("after a rename", func(t *testing.T) {
		if err := m.RenameGroup(g, "Headquarters"); err != nil {
			t.Fatalf("RenameGroup(default): %v", err)
		}
		before := m.Snapshot()
		_, err := m.DeleteGroup(g, approve(t, failover.OpDeleteGroup))
		refused(t, m, before, err, failover.ErrDefaultGroup)
		if !groupOf(t, m.Snapshot(), g).Default {
			t.Error("the renamed default group is no longer marked Default")
		}
	})
}

// --- Limits on groups --------------------------------------------------------

func TestAtMost16Groups(t *testing.T) {
	if failover.MaxGroups != 16 {
		t.Fatalf("MaxGroups = %d, want 16", failover.MaxGroups)
	}
	m := newMachine(t, nvrha.PlatformX86_64)
	var ids []failover.GroupID
	for i := 2; i <= 16; i++ {
		ids = append(ids, mustAddGroup(t, m, fmt.Sprintf("Group %d", i)))
	}
	if n := len(m.Snapshot().Groups); n != 16 {
		t.Fatalf("%d groups after adding 15 to the default, want 16", n)
	}

	before := m.Snapshot()
	id, err := m.AddGroup("Group 17")
	refused(t, m, before, err, failover.ErrTooManyGroups)
	if id != 0 {
		t.Errorf("refused AddGroup returned ID %v", id)
	}

	// Deleting a group makes room again; the new group gets an ID that was
	// never used, so a stale ID cannot reach it.
	if _, err := m.DeleteGroup(ids[3], approve(t, failover.OpDeleteGroup)); err != nil {
		t.Fatalf("DeleteGroup: %v", err)
	}
	id = mustAddGroup(t, m, "Group 17")
	if id == failover.DefaultGroupID || slices.Contains(ids, id) {
		t.Errorf("new group reuses ID %v (used: default and %v)", id, ids)
	}
	if err := m.RenameGroup(ids[3], "Stale"); !errors.Is(err, failover.ErrGroupNotFound) {
		t.Errorf("RenameGroup(deleted ID) = %v, want ErrGroupNotFound", err)
	}

	// The group count holds whatever the groups' names or contents.
	before = m.Snapshot()
	_, err = m.AddGroup("Group 18")
	refused(t, m, before, err, failover.ErrTooManyGroups)
}

func TestGroupNameRules(t *testing.T) {
	long := strings.Repeat("x", failover.MaxGroupNameLength)
	wide := strings.Repeat("é", failover.MaxGroupNameLength) // 2 bytes per character
	for _, tc := range []struct {
		name, in string
		want     string // the stored name when accepted
		err      error
	}{
		{"empty", "", "", failover.ErrInvalidGroupName},
		{"whitespace only", " \t\n  ", "", failover.ErrInvalidGroupName},
		{"unicode whitespace only", "\u00a0\u2003\u3000", "", failover.ErrInvalidGroupName},
		{"trimmed", "  Lobby  ", "Lobby", nil},
		{"tabs and newlines trimmed", "\tLoading Dock\n", "Loading Dock", nil},
		{"inner spaces kept", "North  Gate", "North  Gate", nil},
		{"punctuation and digits", "Building A / Floor 2 (east) #3", "Building A / Floor 2 (east) #3", nil},
		{"non-ASCII letters", "倉庫 1 Süd", "倉庫 1 Süd", nil},
		{"longest", long, long, nil},
		{"longest after trimming", "  " + long + "  ", long, nil},
		{"too long", long + "x", "", failover.ErrInvalidGroupName},
		{"length in characters, not bytes", wide, wide, nil},
		{"too many characters", wide + "é", "", failover.ErrInvalidGroupName},
		{"NUL", "Lob\x00by", "", failover.ErrInvalidGroupName},
		{"inner newline", "Lob\nby", "", failover.ErrInvalidGroupName},
		{"inner tab", "Lob\tby", "", failover.ErrInvalidGroupName},
		{"escape sequence", "\x1b[31mLobby", "", failover.ErrInvalidGroupName},
		{"DEL", "Lobby\x7f", "", failover.ErrInvalidGroupName},
		{"C1 control", "Lobby\u0085x", "", failover.ErrInvalidGroupName},
		{"zero-width character", "Lob\u200bby", "", failover.ErrInvalidGroupName},
		{"bidi override", "Lobby\u202e", "", failover.ErrInvalidGroupName},
		{"invalid UTF-8", "Lob\xffby", "", failover.ErrInvalidGroupName},
		{"duplicate of the default", "Failover Group 1", "", failover.ErrDuplicateGroupName},
		{"duplicate in another case", "failover GROUP 1", "", failover.ErrDuplicateGroupName},
		{"duplicate after trimming", "  PARKING ", "", failover.ErrDuplicateGroupName},
		{"duplicate with non-ASCII case", "ärger", "", failover.ErrDuplicateGroupName},
		{"near duplicate", "Parking 2", "Parking 2", nil},
	} {
		// setup returns a center with the default group, "Parking", "Ärger"
		// and "Spare", the group renamed by the RenameGroup half.
		setup := func(t *testing.T) (*failover.Machine, failover.GroupID) {
			m := newMachine(t, nvrha.PlatformX86_64)
			mustAddGroup(t, m, "Parking")
			mustAddGroup(t, m, "Ärger")
			return m, mustAddGroup(t, m, "Spare")
		}
		t.Run("AddGroup/"+tc.name, func(t *testing.T) {
			m, _ := setup(t)
			before := m.Snapshot()
			id, err := m.AddGroup(tc.in)
			if tc.err != nil {
				refused(t, m, before, err, tc.err)
				return
			}
			if err != nil {
				t.Fatalf("AddGroup(%q): %v", tc.in, err)
			}
			if got := groupOf(t, m.Snapshot(), id).Name; got != tc.want {
				t.Errorf("AddGroup(%q) stored name %q, want %q", tc.in, got, tc.want)
			}
		})
		t.Run("RenameGroup/"+tc.name, func(t *testing.T) {
			m, spare := setup(t)
			before := m.Snapshot()
			err := m.RenameGroup(spare, tc.in)
			if tc.err != nil {
				refused(t, m, before, err, tc.err)
				return
			}
			if err != nil {
				t.Fatalf("RenameGroup(%q): %v", tc.in, err)
			}
			if got := groupOf(t, m.Snapshot(), spare).Name; got != tc.want {
				t.Errorf("RenameGroup(%q) stored name %q, want %q", tc.in, got, tc.want)
			}
		})
	}

	t.Run("renaming to its own name is allowed", func(t *testing.T) {
		m := newMachine(t, nvrha.PlatformX86_64)
		parking := mustAddGroup(t, m, "Parking")
		for _, tc := range []struct {
			id        failover.GroupID
			name, got string
		}{
			{parking, "Parking", "Parking"},
			{parking, "PARKING", "PARKING"},
			{parking, " parking ", "parking"},
			{failover.DefaultGroupID, "Failover Group 1", "Failover Group 1"},
			{failover.DefaultGroupID, "FAILOVER group 1", "FAILOVER group 1"},
		} {
			if err := m.RenameGroup(tc.id, tc.name); err != nil {
				t.Fatalf("RenameGroup(%v, %q): %v", tc.id, tc.name, err)
			}
			if got := groupOf(t, m.Snapshot(), tc.id).Name; got != tc.got {
				t.Errorf("RenameGroup(%v, %q) stored %q, want %q", tc.id, tc.name, got, tc.got)
			}
		}
	})

	t.Run("the name checks come before the group count", func(t *testing.T) {
		m := newMachine(t, nvrha.PlatformX86_64)
		for i := 2; i <= failover.MaxGroups; i++ {
			mustAddGroup(t, m, fmt.Sprintf("Group %d", i))
		}
		before := m.Snapshot()
		_, err := m.AddGroup("")
		if !errors.Is(err, failover.ErrInvalidGroupName) && !errors.Is(err, failover.ErrTooManyGroups) {
			t.Fatalf("AddGroup(\"\") on a full center = %v", err)
		}
		unchanged(t, m, before)
	})
}

func TestEditGroupRenames(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	lobby := mustAddGroup(t, m, "Lobby")
	mustAddRecording(t, m, lobby, recordingFacts("rec-1", 8))

	if err := m.RenameGroup(lobby, "Main Entrance"); err != nil {
		t.Fatalf("RenameGroup: %v", err)
	}
	g := groupOf(t, m.Snapshot(), lobby)
	if g.Name != "Main Entrance" {
		t.Errorf("name after rename = %q", g.Name)
	}
	if !reflect.DeepEqual(memberIDs(g), []string{"rec-1/recording"}) || !g.Protection {
		t.Errorf("rename changed more than the name: %+v", g)
	}

	// The old name is free again, and the renamed group's servers report
	// the new name when they are refused elsewhere.
	other := mustAddGroup(t, m, "Lobby")
	err := m.AddRecordingServers(other, recordingFacts("rec-1", 8))
	var rej *failover.RejectedError
	if !errors.As(err, &rej) || !strings.Contains(rej.Servers[0].Reasons.String(), "Main Entrance") {
		t.Errorf("adding rec-1 to another group: %v; want a rejection naming %q", err, "Main Entrance")
	}

	// The default group may be renamed; its old name is then free.
	if err := m.RenameGroup(failover.DefaultGroupID, "Headquarters"); err != nil {
		t.Fatalf("RenameGroup(default): %v", err)
	}
	mustAddGroup(t, m, "Failover Group 1")

	before := m.Snapshot()
	refused(t, m, before, m.RenameGroup(lobby, "headquarters"), failover.ErrDuplicateGroupName)
	refused(t, m, before, m.RenameGroup(failover.GroupID(999), "Nowhere"), failover.ErrGroupNotFound)
}

// --- First admin verification ------------------------------------------------

func TestDeleteGroupRequiresFirstAdminVerification(t *testing.T) {
	// setup returns a center with group "Lobby" holding a recording and a
	// standby server.
	setup := func(t *testing.T) (*failover.Machine, failover.GroupID) {
		m := newMachine(t, nvrha.PlatformX86_64)
		g := mustAddGroup(t, m, "Lobby")
		mustAddRecording(t, m, g, recordingFacts("rec-1", 16))
		mustAddStandby(t, m, g, standbyFacts("sb-1", 16))
		return m, g
	}

	t.Run("zero Approval", func(t *testing.T) {
		m, g := setup(t)
		before := m.Snapshot()
		_, err := m.DeleteGroup(g, failover.Approval{})
		refused(t, m, before, err, failover.ErrVerificationRequired)
	})

	t.Run("verifier refuses", func(t *testing.T) {
		m, g := setup(t)
		wrongPassword := errors.New("wrong password")
		a, err := failover.VerifyFirstAdmin(context.Background(),
			failover.VerifierFunc(func(context.Context) error { return wrongPassword }), "delete group")
		var verr *failover.VerificationError
		if !errors.As(err, &verr) {
			t.Fatalf("VerifyFirstAdmin = %v (%T), want a *VerificationError", err, err)
		}
		if verr.Op != "delete group" {
			t.Errorf("VerificationError.Op = %q, want %q", verr.Op, "delete group")
		}
		if !errors.Is(err, failover.ErrVerificationFailed) {
			t.Errorf("%v does not wrap ErrVerificationFailed", err)
		}
		if !errors.Is(err, wrongPassword) {
			t.Errorf("%v does not wrap the verifier's error", err)
		}
		if a != (failover.Approval{}) {
			t.Errorf("a failed verification returned a non-zero Approval %+v", a)
		}
		before := m.Snapshot()
		_, err = m.DeleteGroup(g, a)
		refused(t, m, before, err, failover.ErrVerificationRequired)
	})

	t.Run("no verifier", func(t *testing.T) {
		_, err := failover.VerifyFirstAdmin(context.Background(), nil, "delete group")
		if !errors.Is(err, failover.ErrVerificationFailed) {
			t.Errorf("VerifyFirstAdmin(nil verifier) = %v, want ErrVerificationFailed", err)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		called := false
		_, err := failover.VerifyFirstAdmin(ctx, failover.VerifierFunc(func(context.Context) error {
			called = true
			return nil
		}), "delete group")
		if !errors.Is(err, failover.ErrVerificationFailed) || !errors.Is(err, context.Canceled) {
			t.Errorf("VerifyFirstAdmin(cancelled) = %v, want ErrVerificationFailed and context.Canceled", err)
		}
		if called {
			t.Error("the verifier was asked although the context was already cancelled")
		}
	})

	t.Run("the verifier gets the caller's context", func(t *testing.T) {
		type key struct{}
		ctx := context.WithValue(context.Background(), key{}, "admin token")
		var got any
		_, err := failover.VerifyFirstAdmin(ctx, failover.VerifierFunc(func(ctx context.Context) error {
			got = ctx.Value(key{})
			return nil
		}), "delete group")
		if err != nil || got != "admin token" {
			t.Errorf("VerifyFirstAdmin: err %v, verifier saw %v", err, got)
		}
	})

	t.Run("verified", func(t *testing.T) {
		m, g := setup(t)
		tks, err := m.DeleteGroup(g, approve(t, failover.OpDeleteGroup))
		if err != nil {
			t.Fatalf("DeleteGroup: %v", err)
		}
		if len(tks) != 0 {
			t.Errorf("deleting a group without takeovers interrupted %v", tks)
		}
		s := m.Snapshot()
		if hasGroup(s, g) || len(s.Groups) != 1 {
			t.Fatalf("group still there after DeleteGroup: %+v", s)
		}
		// Its servers are free to join another group, in either role.
		mustAddRecording(t, m, failover.DefaultGroupID, recordingFacts("rec-1", 16))
		mustAddStandby(t, m, failover.DefaultGroupID, standbyFacts("sb-1", 16))

		before := m.Snapshot()
		_, err = m.DeleteGroup(g, approve(t, failover.OpDeleteGroup))
		refused(t, m, before, err, failover.ErrGroupNotFound)
	})

	t.Run("an unknown operation is not verified", func(t *testing.T) {
		asked := false
		for _, op := range []failover.Operation{"", "delete", "remove recording servers"} {
			a, err := failover.VerifyFirstAdmin(context.Background(),
				failover.VerifierFunc(func(context.Context) error { asked = true; return nil }), op)
			if !errors.Is(err, failover.ErrVerificationFailed) || a != (failover.Approval{}) {
				t.Errorf("VerifyFirstAdmin(%q) = %+v, %v; want the zero Approval and ErrVerificationFailed", op, a, err)
			}
		}
		if asked {
			t.Error("the verifier was asked to verify an unknown operation")
		}
	})

	t.Run("an approval to remove standbys does not delete a group", func(t *testing.T) {
		m, g := setup(t)
		before := m.Snapshot()
		_, err := m.DeleteGroup(g, approve(t, failover.OpRemoveStandbyServers))
		refused(t, m, before, err, failover.ErrVerificationRequired)
		if !strings.Contains(err.Error(), string(failover.OpRemoveStandbyServers)) {
			t.Errorf("the refusal %q does not say which operation the approval was for", err)
		}
	})
}

func TestRemoveStandbyRequiresFirstAdminVerification(t *testing.T) {
	setup := func(t *testing.T) (*failover.Machine, failover.GroupID) {
		m := newMachine(t, nvrha.PlatformX86_64)
		g := failover.DefaultGroupID
		mustAddRecording(t, m, g, recordingFacts("rec-1", 16))
		mustAddStandby(t, m, g, standbyFacts("sb-1", 16), standbyFacts("sb-2", 32))
		return m, g
	}

	t.Run("zero Approval", func(t *testing.T) {
		m, g := setup(t)
		before := m.Snapshot()
		refused(t, m, before, m.RemoveStandbyServers(g, failover.Approval{}, "sb-1"), failover.ErrVerificationRequired)
	})

	t.Run("verifier refuses", func(t *testing.T) {
		m, g := setup(t)
		locked := errors.New("account locked")
		a, err := failover.VerifyFirstAdmin(context.Background(),
			failover.VerifierFunc(func(context.Context) error { return locked }), failover.OpRemoveStandbyServers)
		if !errors.Is(err, failover.ErrVerificationFailed) || !errors.Is(err, locked) {
			t.Fatalf("VerifyFirstAdmin = %v", err)
		}
		before := m.Snapshot()
		refused(t, m, before, m.RemoveStandbyServers(g, a, "sb-1"), failover.ErrVerificationRequired)
	})

	t.Run("an approval to delete a group does not remove a standby", func(t *testing.T) {
		m, g := setup(t)
		before := m.Snapshot()
		refused(t, m, before, m.RemoveStandbyServers(g, approve(t, failover.OpDeleteGroup), "sb-1"),
			failover.ErrVerificationRequired)
	})

	t.Run("verified", func(t *testing.T) {
		m, g := setup(t)
		if err := m.RemoveStandbyServers(g, approve(t, failover.OpRemoveStandbyServers), "sb-1"); err != nil {
			t.Fatalf("RemoveStandbyServers: %v", err)
		}
		if got, want := memberIDs(groupOf(t, m.Snapshot(), g)), []string{"rec-1/recording", "sb-2/standby"}; !reflect.DeepEqual(got, want) {
			t.Errorf("members after removal = %v, want %v", got, want)
		}
		other := mustAddGroup(t, m, "Parking")
		mustAddStandby(t, m, other, standbyFacts("sb-1", 16))
	})

	t.Run("an approval approves one removal, once", func(t *testing.T) {
		m, g := setup(t)
		a := approve(t, failover.OpRemoveStandbyServers)
		if err := m.RemoveStandbyServers(g, a, "sb-1"); err != nil {
			t.Fatalf("RemoveStandbyServers: %v", err)
		}
		before := m.Snapshot()
		err := m.RemoveStandbyServers(g, a, "sb-2")
		refused(t, m, before, err, failover.ErrApprovalUsed)
		if !errors.Is(err, failover.ErrVerificationRequired) {
			t.Errorf("a spent approval's refusal %v does not ask for verification", err)
		}
	})

	t.Run("a refused removal does not spend the approval", func(t *testing.T) {
		m, g := setup(t)
		a := approve(t, failover.OpRemoveStandbyServers)
		before := m.Snapshot()
		refused(t, m, before, m.RemoveStandbyServers(g, a, "sb-9"), failover.ErrNotMember)
		if err := m.RemoveStandbyServers(g, a, "sb-1"); err != nil {
			t.Fatalf("the approval of a refused removal no longer approves: %v", err)
		}
	})

	t.Run("an approval expires on the Machine's clock", func(t *testing.T) {
		m, g := setup(t)
		m.Tick(t0)
		a := approveAt(t, failover.OpRemoveStandbyServers, t0)
		m.Tick(t0.Add(failover.DefaultApprovalTTL + time.Millisecond))
		before := m.Snapshot()
		refused(t, m, before, m.RemoveStandbyServers(g, a, "sb-1"), failover.ErrApprovalExpired)
		future := approveAt(t, failover.OpRemoveStandbyServers, m.Now().Add(failover.DefaultApprovalTTL+time.Second))
		refused(t, m, before, m.RemoveStandbyServers(g, future, "sb-1"), failover.ErrApprovalExpired)
		fresh := approveAt(t, failover.OpRemoveStandbyServers, m.Now().Add(-time.Second))
		if err := m.RemoveStandbyServers(g, fresh, "sb-1"); err != nil {
			t.Fatalf("a fresh approval: %v", err)
		}
	})

	t.Run("an approval from before a restore is refused", func(t *testing.T) {
		m, g := setup(t)
		m.Tick(t0)
		a := approveAt(t, failover.OpRemoveStandbyServers, t0)
		restored, err := failover.RestoreMachine(m.Config(), m.State(), t0.Add(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		before := restored.Snapshot()
		refused(t, restored, before, restored.RemoveStandbyServers(g, a, "sb-1"), failover.ErrApprovalExpired)
	})

	t.Run("removing a recording server needs no verification", func(t *testing.T) {
		m, g := setup(t)
		if err := m.RemoveRecordingServers(g, "rec-1"); err != nil {
			t.Fatalf("RemoveRecordingServers: %v", err)
		}
	})
}

// --- Servers per group -------------------------------------------------------

func TestGroupCapacity64OnX86(t *testing.T) {
	testGroupCapacity(t, nvrha.PlatformX86_64, 64)
}

func TestGroupCapacity8OnARM64(t *testing.T) {
	testGroupCapacity(t, nvrha.PlatformARM64, 8)
}

// testGroupCapacity checks that a group of a center of platform p holds
// limit servers, recording and standby together, and not one more.
func testGroupCapacity(t *testing.T, p nvrha.Platform, limit int) {
	if got := eligibility.MaxServersPerGroup(p); got != limit {
		t.Fatalf("MaxServersPerGroup(%v) = %d, want %d", p, got, limit)
	}
	// fill returns a group with n servers: a quarter standbys, the rest
	// recording servers.
	fill := func(t *testing.T, m *failover.Machine, name string, n int) failover.GroupID {
		g := mustAddGroup(t, m, name)
		rec := n - n/4
		mustAddRecording(t, m, g, recordingBatch(name+"-rec", rec, 8)...)
		if n-rec > 0 {
			mustAddStandby(t, m, g, standbyBatch(name+"-sb", n-rec, 16)...)
		}
		return g
	}
	wantFull := func(t *testing.T, err error, server nvrha.ServerID) {
		t.Helper()
		var rej *failover.RejectedError
		if !errors.As(err, &rej) || !errors.Is(err, failover.ErrIneligible) {
			t.Fatalf("error %v; want a *RejectedError", err)
		}
		if len(rej.Servers) != 1 || rej.Servers[0].Server != server ||
			!reflect.DeepEqual(rej.Servers[0].Reasons.Codes(), []eligibility.Code{eligibility.CodeGroupFull}) {
			t.Fatalf("rejections %+v; want only %s with %s", rej.Servers, server, eligibility.CodeGroupFull)
		}
	}

	t.Run("full group refuses one more", func(t *testing.T) {
		m := newMachine(t, p)
		g := fill(t, m, "full", limit)
		s := m.Snapshot()
		if gs := groupOf(t, s, g); len(gs.Members) != limit || gs.Capacity != limit {
			t.Fatalf("group has %d members, capacity %d; want %d of %d", len(gs.Members), gs.Capacity, limit, limit)
		}
		err := m.AddRecordingServers(g, recordingFacts("one-more", 8))
		wantFull(t, err, "one-more")
		unchanged(t, m, s)
		err = m.AddStandbyServers(g, standbyFacts("one-more", 16))
		wantFull(t, err, "one-more")
		unchanged(t, m, s)
	})

	t.Run("batch crossing the limit is refused whole", func(t *testing.T) {
		m := newMachine(t, p)
		g := fill(t, m, "almost", limit-2)
		before := m.Snapshot()
		batch := recordingBatch("late", 3, 8)
		wantFull(t, m.AddRecordingServers(g, batch...), "late-3")
		unchanged(t, m, before)
		wantFull(t, m.AddStandbyServers(g, standbyBatch("late-sb", 3, 16)...), "late-sb-3")
		unchanged(t, m, before)

		// Exactly filling the group is fine.
		mustAddRecording(t, m, g, batch[:2]...)
		if n := len(groupOf(t, m.Snapshot(), g).Members); n != limit {
			t.Fatalf("%d members after filling, want %d", n, limit)
		}
	})

	t.Run("disabled servers count", func(t *testing.T) {
		m := newMachine(t, p)
		g := fill(t, m, "disabled", limit)
		for _, mem := range groupOf(t, m.Snapshot(), g).Members {
			if _, err := m.SetServerEnabled(mem.ID, false); err != nil {
				t.Fatalf("SetServerEnabled: %v", err)
			}
		}
		before := m.Snapshot()
		wantFull(t, m.AddRecordingServers(g, recordingFacts("one-more", 8)), "one-more")
		unchanged(t, m, before)
	})

	t.Run("the limit is per group and removal frees a slot", func(t *testing.T) {
		m := newMachine(t, p)
		a := fill(t, m, "a", limit)
		b := fill(t, m, "b", limit)
		if err := m.RemoveRecordingServers(a, "a-rec-1"); err != nil {
			t.Fatalf("RemoveRecordingServers: %v", err)
		}
		mustAddRecording(t, m, a, recordingFacts("newcomer", 8))
		before := m.Snapshot()
		wantFull(t, m.AddRecordingServers(b, recordingFacts("another", 8)), "another")
		unchanged(t, m, before)
	})
}

// --- A server belongs to at most one group -----------------------------------

func TestServerInAtMostOneGroup(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	lobby := mustAddGroup(t, m, "Lobby")
	parking := mustAddGroup(t, m, "Parking")
	mustAddRecording(t, m, lobby, recordingFacts("rec-1", 8))
	mustAddStandby(t, m, lobby, standbyFacts("sb-1", 8))

	for _, tc := range []struct {
		name   string
		group  failover.GroupID
		add    func(failover.GroupID, ...nvrha.Facts) error
		facts  nvrha.Facts
		reason eligibility.Code
	}{
		{"recording server into another group as recording", parking, m.AddRecordingServers, recordingFacts("rec-1", 8), eligibility.CodeInAnotherGroup},
		{"standby into another group as standby", parking, m.AddStandbyServers, standbyFacts("sb-1", 8), eligibility.CodeInAnotherGroup},
		{"standby into another group as recording", parking, m.AddRecordingServers, standbyFacts("sb-1", 8), eligibility.CodeInAnotherGroup},
		{"recording server into its group again", lobby, m.AddRecordingServers, recordingFacts("rec-1", 8), eligibility.CodeAlreadyInGroup},
		{"standby into its group again", lobby, m.AddStandbyServers, standbyFacts("sb-1", 8), eligibility.CodeAlreadyInGroup},
		{"standby into its group as recording", lobby, m.AddRecordingServers, standbyFacts("sb-1", 8), eligibility.CodeAlreadyInGroup},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := m.Snapshot()
			err := tc.add(tc.group, tc.facts)
			var rej *failover.RejectedError
			if !errors.As(err, &rej) {
				t.Fatalf("error %v; want a *RejectedError", err)
			}
			if got := rej.Servers[0].Reasons.Codes(); !reflect.DeepEqual(got, []eligibility.Code{tc.reason}) {
				t.Errorf("reasons %v, want [%s]", got, tc.reason)
			}
			unchanged(t, m, before)
		})
	}

	t.Run("disabled members still belong", func(t *testing.T) {
		if _, err := m.SetServerEnabled("rec-1", false); err != nil {
			t.Fatal(err)
		}
		before := m.Snapshot()
		err := m.AddRecordingServers(parking, recordingFacts("rec-1", 8))
		refused(t, m, before, err, failover.ErrIneligible)
	})

	t.Run("protection off still belongs", func(t *testing.T) {
		if _, err := m.SetProtection(lobby, false); err != nil {
			t.Fatal(err)
		}
		before := m.Snapshot()
		err := m.AddStandbyServers(parking, standbyFacts("sb-1", 8))
		refused(t, m, before, err, failover.ErrIneligible)
	})

	t.Run("free after removal", func(t *testing.T) {
		if err := m.RemoveRecordingServers(lobby, "rec-1"); err != nil {
			t.Fatal(err)
		}
		mustAddRecording(t, m, parking, recordingFacts("rec-1", 8))
		if err := m.RemoveStandbyServers(lobby, approve(t, failover.OpRemoveStandbyServers), "sb-1"); err != nil {
			t.Fatal(err)
		}
		mustAddStandby(t, m, parking, standbyFacts("sb-1", 8))
	})
}

// --- Standby eligibility -----------------------------------------------------

// wantRefusedAs checks that adding f as role to g fails with exactly the
// given reason codes (in any order) and changes nothing.
func wantRefusedAs(t *testing.T, m *failover.Machine, g failover.GroupID, role failover.Role, f nvrha.Facts, codes ...eligibility.Code) eligibility.Reasons {
	t.Helper()
	before := m.Snapshot()
	var err error
	if role == failover.RoleStandby {
		err = m.AddStandbyServers(g, f)
	} else {
		err = m.AddRecordingServers(g, f)
	}
	var rej *failover.RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("adding %s as %s: %v; want a *RejectedError", f.ID, role, err)
	}
	if rej.Role != role || len(rej.Servers) != 1 || rej.Servers[0].Server != f.ID {
		t.Fatalf("rejection %+v; want one %s server %s", rej, role, f.ID)
	}
	got := slices.Clone(rej.Servers[0].Reasons.Codes())
	want := slices.Clone(codes)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("adding %s as %s: reasons %v, want %v", f.ID, role, rej.Servers[0].Reasons.Codes(), codes)
	}
	for _, r := range rej.Servers[0].Reasons {
		if r.Message == "" {
			t.Errorf("reason %s has no message", r.Code)
		}
	}
	unchanged(t, m, before)
	return rej.Servers[0].Reasons
}

func TestStandbyEligibilityNeedsAnEmptyRecordingSpace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spaces []nvrha.RecordingSpace
		ok     bool
	}{
		{"no recording space", nil, false},
		{"only space in use", []nvrha.RecordingSpace{{Name: "vol1"}}, false},
		{"every space in use", []nvrha.RecordingSpace{{Name: "vol1"}, {Name: "vol2"}, {Name: "vol3"}}, false},
		{"one empty space", []nvrha.RecordingSpace{{Name: "vol1", Empty: true}}, true},
		{"one of several empty", []nvrha.RecordingSpace{{Name: "vol1"}, {Name: "vol2", Empty: true}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMachine(t, nvrha.PlatformX86_64)
			f := with(standbyFacts("sb-1", 16), func(f *nvrha.Facts) { f.RecordingSpaces = tc.spaces })
			if tc.ok {
				mustAddStandby(t, m, failover.DefaultGroupID, f)
				return
			}
			wantRefusedAs(t, m, failover.DefaultGroupID, failover.RoleStandby, f, eligibility.CodeNoEmptyRecordingSpace)
		})
	}
}

func TestStandbyEligibilityNeedsAnEmptyCameraList(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	g := failover.DefaultGroupID
	for _, cams := range [][]nvrha.CameraID{{"cam-1"}, {"cam-1", "cam-2", "cam-3"}} {
		f := with(standbyFacts("sb-1", 16), func(f *nvrha.Facts) { f.Cameras = cams })
		wantRefusedAs(t, m, g, failover.RoleStandby, f, eligibility.CodeCameraListNotEmpty)
	}
	// A camera list that is empty but not nil is empty.
	mustAddStandby(t, m, g, with(standbyFacts("sb-1", 16), func(f *nvrha.Facts) { f.Cameras = []nvrha.CameraID{} }))
	// The same server with cameras is a fine recording server.
	mustAddRecording(t, m, g, with(standbyFacts("sb-2", 16), func(f *nvrha.Facts) { f.Cameras = []nvrha.CameraID{"cam-9"} }))
}

func TestStandbyEligibilityNotInAnotherGroup(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	lobby := mustAddGroup(t, m, "Lobby")
	parking := mustAddGroup(t, m, "Parking")
	mustAddStandby(t, m, lobby, standbyFacts("sb-1", 16))
	mustAddStandby(t, m, failover.DefaultGroupID, standbyFacts("sb-2", 16))

	rs := wantRefusedAs(t, m, parking, failover.RoleStandby, standbyFacts("sb-1", 16), eligibility.CodeInAnotherGroup)
	if !strings.Contains(rs.String(), "Lobby") {
		t.Errorf("reason %q does not name the group the server is in", rs)
	}
	wantRefusedAs(t, m, parking, failover.RoleStandby, standbyFacts("sb-2", 16), eligibility.CodeInAnotherGroup)
	wantRefusedAs(t, m, lobby, failover.RoleStandby, standbyFacts("sb-1", 16), eligibility.CodeAlreadyInGroup)
}

func TestStandbyEligibilityLicenseChannelsAtLeastEveryRecordingServers(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	g := failover.DefaultGroupID
	other := mustAddGroup(t, m, "Parking")

	// With no recording server in the group, any license count will do.
	mustAddStandby(t, m, g, standbyFacts("sb-zero", 0))

	mustAddRecording(t, m, g, recordingFacts("rec-8", 8), recordingFacts("rec-32", 32), recordingFacts("rec-16", 16))
	// Another group's recording servers do not count.
	mustAddRecording(t, m, other, recordingFacts("rec-64", 64))

	for _, tc := range []struct {
		channels int
		ok       bool
	}{
		{0, false}, {8, false}, {16, false}, {31, false}, {32, true}, {33, true}, {64, true},
	} {
		t.Run(fmt.Sprint(tc.channels), func(t *testing.T) {
			f := standbyFacts(nvrha.ServerID(fmt.Sprintf("sb-%d", tc.channels)), tc.channels)
			if tc.ok {
				mustAddStandby(t, m, g, f)
				return
			}
			rs := wantRefusedAs(t, m, g, failover.RoleStandby, f, eligibility.CodeInsufficientLicense)
			if !strings.Contains(rs.String(), "rec-32") {
				t.Errorf("reason %q does not name the recording server with the most channels", rs)
			}
		})
	}

	// A whole batch is judged against the same recording servers.
	before := m.Snapshot()
	err := m.AddStandbyServers(g, standbyFacts("sb-a", 64), standbyFacts("sb-b", 4), standbyFacts("sb-c", 32))
	var rej *failover.RejectedError
	if !errors.As(err, &rej) || len(rej.Servers) != 1 || rej.Servers[0].Server != "sb-b" {
		t.Fatalf("batch with one short standby: %v", err)
	}
	unchanged(t, m, before)
}

func TestStandbyEligibilityNeedsSupportedProductWithAdvancedMode(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	g := failover.DefaultGroupID
	wantRefusedAs(t, m, g, failover.RoleStandby,
		with(standbyFacts("sb-1", 16), func(f *nvrha.Facts) { f.Product = "acme-nvr" }),
		eligibility.CodeUnsupportedProduct)
	wantRefusedAs(t, m, g, failover.RoleStandby,
		with(standbyFacts("sb-1", 16), func(f *nvrha.Facts) { f.AdvancedMode = false }),
		eligibility.CodeAdvancedModeDisabled)
	for _, p := range nvrha.QVRProducts() {
		mustAddStandby(t, m, g, with(standbyFacts(nvrha.ServerID("sb-"+p), 16), func(f *nvrha.Facts) { f.Product = p }))
	}
}

func TestStandbyEligibilityListsEveryFailedRule(t *testing.T) {
	m := newMachine(t, nvrha.PlatformARM64)
	lobby := mustAddGroup(t, m, "Lobby")
	full := mustAddGroup(t, m, "Full")
	mustAddRecording(t, m, lobby, recordingFacts("nvr-7", 8))
	mustAddRecording(t, m, full, recordingBatch("full-rec", 8, 16)...)

	// nvr-7 fails every rule at once: wrong product, no Advanced Mode, in
	// another group, group full, no empty space, cameras, too few channels.
	bad := with(recordingFacts("nvr-7", 8), func(f *nvrha.Facts) {
		f.Product = "acme-nvr"
		f.AdvancedMode = false
	})
	rs := wantRefusedAs(t, m, full, failover.RoleStandby, bad,
		eligibility.CodeUnsupportedProduct, eligibility.CodeAdvancedModeDisabled, eligibility.CodeInAnotherGroup,
		eligibility.CodeGroupFull, eligibility.CodeNoEmptyRecordingSpace, eligibility.CodeCameraListNotEmpty,
		eligibility.CodeInsufficientLicense)
	// In the order package eligibility documents.
	want := []eligibility.Code{
		eligibility.CodeUnsupportedProduct, eligibility.CodeAdvancedModeDisabled, eligibility.CodeInAnotherGroup,
		eligibility.CodeGroupFull, eligibility.CodeNoEmptyRecordingSpace, eligibility.CodeCameraListNotEmpty,
		eligibility.CodeInsufficientLicense,
	}
	if !reflect.DeepEqual(rs.Codes(), want) {
		t.Errorf("reasons in order %v, want %v", rs.Codes(), want)
	}
}

// --- Recording server eligibility --------------------------------------------

func TestRecordingServerNeedsSupportedProductWithAdvancedMode(t *testing.T) {
	t.Run("QVR Center's products", func(t *testing.T) {
		m := newMachine(t, nvrha.PlatformX86_64)
		g := failover.DefaultGroupID
		for _, p := range nvrha.QVRProducts() {
			mustAddRecording(t, m, g, with(recordingFacts(nvrha.ServerID("rec-"+p), 8), func(f *nvrha.Facts) { f.Product = p }))
		}
		for _, tc := range []struct {
			name  string
			edit  func(*nvrha.Facts)
			codes []eligibility.Code
		}{
			{"unsupported product", func(f *nvrha.Facts) { f.Product = "acme-nvr" }, []eligibility.Code{eligibility.CodeUnsupportedProduct}},
			{"product name in another case", func(f *nvrha.Facts) { f.Product = "QVR-PRO" }, []eligibility.Code{eligibility.CodeUnsupportedProduct}},
			{"Advanced Mode off", func(f *nvrha.Facts) { f.AdvancedMode = false }, []eligibility.Code{eligibility.CodeAdvancedModeDisabled}},
			{"both", func(f *nvrha.Facts) { f.Product, f.AdvancedMode = "acme-nvr", false },
				[]eligibility.Code{eligibility.CodeUnsupportedProduct, eligibility.CodeAdvancedModeDisabled}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				wantRefusedAs(t, m, g, failover.RoleRecording, with(recordingFacts("rec-x", 8), tc.edit), tc.codes...)
			})
		}
	})

	t.Run("a vendor's own products", func(t *testing.T) {
		m, err := failover.NewMachine(failover.Config{Rules: eligibility.Rules{SupportedProducts: []nvrha.Product{"acme-nvr"}}})
		if err != nil {
			t.Fatal(err)
		}
		g := failover.DefaultGroupID
		mustAddRecording(t, m, g, with(recordingFacts("rec-acme", 8), func(f *nvrha.Facts) { f.Product = "acme-nvr" }))
		wantRefusedAs(t, m, g, failover.RoleRecording, recordingFacts("rec-qvr", 8), eligibility.CodeUnsupportedProduct)
	})

	t.Run("no standby rule applies", func(t *testing.T) {
		m := newMachine(t, nvrha.PlatformX86_64)
		g := failover.DefaultGroupID
		mustAddStandby(t, m, g, standbyFacts("sb-1", 8))
		// Cameras, no empty recording space, and more channels than any
		// standby: a recording server may have all of these.
		mustAddRecording(t, m, g, with(recordingFacts("rec-big", 64), func(f *nvrha.Facts) { f.RecordingSpaces = nil }))
	})

	t.Run("malformed facts", func(t *testing.T) {
		m := newMachine(t, nvrha.PlatformX86_64)
		for _, f := range []nvrha.Facts{
			{},
			with(recordingFacts("rec-1", 8), func(f *nvrha.Facts) { f.LicenseChannels = -1 }),
			with(recordingFacts("rec-1", 8), func(f *nvrha.Facts) { f.Cameras = append(f.Cameras, f.Cameras[0]) }),
			with(recordingFacts(" rec-1", 8), func(*nvrha.Facts) {}),
		} {
			wantRefusedAs(t, m, failover.DefaultGroupID, failover.RoleRecording, f, eligibility.CodeInvalidFacts)
			wantRefusedAs(t, m, failover.DefaultGroupID, failover.RoleStandby, f, eligibility.CodeInvalidFacts)
		}
	})
}

// --- Batches -----------------------------------------------------------------

func TestBatchAddIsAllOrNothingAndListsEveryRejectedServer(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	g := failover.DefaultGroupID
	mustAddRecording(t, m, g, recordingFacts("rec-1", 16))

	good1 := standbyFacts("sb-good-1", 16)
	bad1 := with(standbyFacts("sb-bad-1", 16), func(f *nvrha.Facts) {
		f.Cameras = []nvrha.CameraID{"cam-1"}
		f.RecordingSpaces[0].Empty = false
	})
	good2 := standbyFacts("sb-good-2", 32)
	bad2 := with(standbyFacts("sb-bad-2", 8), func(f *nvrha.Facts) {
		f.Product = "acme-nvr"
		f.AdvancedMode = false
	})

	before := m.Snapshot()
	err := m.AddStandbyServers(g, good1, bad1, good2, bad2)
	if !errors.Is(err, failover.ErrIneligible) {
		t.Fatalf("error %v; want one wrapping ErrIneligible", err)
	}
	var rej *failover.RejectedError
	if !errors.As(err, &rej) {
		t.Fatalf("error %T; want *RejectedError", err)
	}
	if rej.Group != "Failover Group 1" || rej.Role != failover.RoleStandby {
		t.Errorf("rejection of group %q role %v, want %q standby", rej.Group, rej.Role, "Failover Group 1")
	}
	type refusal struct {
		Server nvrha.ServerID
		Codes  []eligibility.Code
	}
	var got []refusal
	for _, r := range rej.Servers {
		got = append(got, refusal{r.Server, r.Reasons.Codes()})
	}
	want := []refusal{
		{"sb-bad-1", []eligibility.Code{eligibility.CodeNoEmptyRecordingSpace, eligibility.CodeCameraListNotEmpty}},
		{"sb-bad-2", []eligibility.Code{eligibility.CodeUnsupportedProduct, eligibility.CodeAdvancedModeDisabled, eligibility.CodeInsufficientLicense}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rejections\n got %+v\nwant %+v", got, want)
	}
	for _, id := range []string{"sb-bad-1", "sb-bad-2"} {
		if !strings.Contains(err.Error(), id) {
			t.Errorf("error text %q does not name %s", err, id)
		}
	}
	for _, id := range []string{"sb-good-1", "sb-good-2"} {
		if strings.Contains(err.Error(), id) {
			t.Errorf("error text %q names eligible server %s", err, id)
		}
	}
	unchanged(t, m, before)

	// Fixed, the whole batch joins, in the order given.
	bad1 = with(bad1, func(f *nvrha.Facts) {
		f.Cameras = nil
		f.RecordingSpaces[0].Empty = true
	})
	bad2 = with(bad2, func(f *nvrha.Facts) {
		f.Product, f.AdvancedMode, f.LicenseChannels = nvrha.ProductQVRSurveillance, true, 16
	})
	mustAddStandby(t, m, g, good1, bad1, good2, bad2)
	wantIDs := []string{"rec-1/recording", "sb-good-1/standby", "sb-bad-1/standby", "sb-good-2/standby", "sb-bad-2/standby"}
	if got := memberIDs(groupOf(t, m.Snapshot(), g)); !reflect.DeepEqual(got, wantIDs) {
		t.Errorf("members %v, want %v", got, wantIDs)
	}

	t.Run("recording batch", func(t *testing.T) {
		before := m.Snapshot()
		err := m.AddRecordingServers(g, recordingFacts("rec-2", 8), recordingFacts("rec-1", 8),
			with(recordingFacts("rec-3", 8), func(f *nvrha.Facts) { f.AdvancedMode = false }))
		var rej *failover.RejectedError
		if !errors.As(err, &rej) || len(rej.Servers) != 2 ||
			rej.Servers[0].Server != "rec-1" || rej.Servers[1].Server != "rec-3" || rej.Role != failover.RoleRecording {
			t.Fatalf("error %v; want rec-1 and rec-3 refused as recording servers", err)
		}
		unchanged(t, m, before)
	})
}

func TestDuplicateServerInBatch(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	g := failover.DefaultGroupID
	mustAddRecording(t, m, g, recordingFacts("rec-1", 8), recordingFacts("rec-2", 8))
	mustAddStandby(t, m, g, standbyFacts("sb-1", 8), standbyFacts("sb-2", 8))
	a := approve(t, failover.OpRemoveStandbyServers)

	before := m.Snapshot()
	for _, tc := range []struct {
		name string
		op   func() error
	}{
		{"add recording", func() error {
			return m.AddRecordingServers(g, recordingFacts("rec-3", 8), recordingFacts("rec-4", 8), recordingFacts("rec-3", 8))
		}},
		{"add recording, facts differ", func() error {
			return m.AddRecordingServers(g, recordingFacts("rec-3", 8), recordingFacts("rec-3", 16))
		}},
		{"add standby", func() error {
			return m.AddStandbyServers(g, standbyFacts("sb-3", 8), standbyFacts("sb-3", 8))
		}},
		{"remove recording", func() error { return m.RemoveRecordingServers(g, "rec-1", "rec-2", "rec-1") }},
		{"remove standby", func() error { return m.RemoveStandbyServers(g, a, "sb-2", "sb-2") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			refused(t, m, before, tc.op(), failover.ErrDuplicateServer)
		})
	}
}

func TestEmptyBatch(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	g := failover.DefaultGroupID
	mustAddRecording(t, m, g, recordingFacts("rec-1", 8))
	mustAddStandby(t, m, g, standbyFacts("sb-1", 8))
	a := approve(t, failover.OpRemoveStandbyServers)

	before := m.Snapshot()
	refused(t, m, before, m.AddRecordingServers(g), failover.ErrEmptyBatch)
	refused(t, m, before, m.AddStandbyServers(g), failover.ErrEmptyBatch)
	refused(t, m, before, m.AddRecordingServers(g, []nvrha.Facts{}...), failover.ErrEmptyBatch)
	refused(t, m, before, m.RemoveRecordingServers(g), failover.ErrEmptyBatch)
	refused(t, m, before, m.RemoveStandbyServers(g, a), failover.ErrEmptyBatch)
}

// --- Removing servers --------------------------------------------------------

func TestRemoveServers(t *testing.T) {
	setup := func(t *testing.T) (m *failover.Machine, lobby, parking failover.GroupID) {
		m = newMachine(t, nvrha.PlatformX86_64)
		lobby = mustAddGroup(t, m, "Lobby")
		parking = mustAddGroup(t, m, "Parking")
		mustAddRecording(t, m, lobby, recordingBatch("rec", 4, 8)...)
		mustAddStandby(t, m, lobby, standbyBatch("sb", 2, 8)...)
		mustAddRecording(t, m, parking, recordingFacts("rec-9", 8))
		mustAddStandby(t, m, parking, standbyFacts("sb-9", 8))
		return m, lobby, parking
	}
	a := approve(t, failover.OpRemoveStandbyServers)

	t.Run("recording servers, order of the rest kept", func(t *testing.T) {
		m, lobby, parking := setup(t)
		if err := m.RemoveRecordingServers(lobby, "rec-4", "rec-2"); err != nil {
			t.Fatalf("RemoveRecordingServers: %v", err)
		}
		want := []string{"rec-1/recording", "rec-3/recording", "sb-1/standby", "sb-2/standby"}
		if got := memberIDs(groupOf(t, m.Snapshot(), lobby)); !reflect.DeepEqual(got, want) {
			t.Errorf("members %v, want %v", got, want)
		}
		mustAddRecording(t, m, parking, recordingFacts("rec-2", 8))
	})

	t.Run("standby servers", func(t *testing.T) {
		m, lobby, _ := setup(t)
		if err := m.RemoveStandbyServers(lobby, a, "sb-2", "sb-1"); err != nil {
			t.Fatalf("RemoveStandbyServers: %v", err)
		}
		want := []string{"rec-1/recording", "rec-2/recording", "rec-3/recording", "rec-4/recording"}
		if got := memberIDs(groupOf(t, m.Snapshot(), lobby)); !reflect.DeepEqual(got, want) {
			t.Errorf("members %v, want %v", got, want)
		}
	})

	t.Run("disabled servers", func(t *testing.T) {
		m, lobby, _ := setup(t)
		for _, id := range []nvrha.ServerID{"rec-1", "sb-1"} {
			if _, err := m.SetServerEnabled(id, false); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.RemoveRecordingServers(lobby, "rec-1"); err != nil {
			t.Errorf("removing a disabled recording server: %v", err)
		}
		if err := m.RemoveStandbyServers(lobby, a, "sb-1"); err != nil {
			t.Errorf("removing a disabled standby: %v", err)
		}
	})

	for _, tc := range []struct {
		name string
		op   func(m *failover.Machine, lobby, parking failover.GroupID) error
		want error
	}{
		{"one unknown server refuses the batch", func(m *failover.Machine, lobby, _ failover.GroupID) error {
			return m.RemoveRecordingServers(lobby, "rec-1", "rec-nope", "rec-2")
		}, failover.ErrNotMember},
		{"standby removed as recording", func(m *failover.Machine, lobby, _ failover.GroupID) error {
			return m.RemoveRecordingServers(lobby, "rec-1", "sb-1")
		}, failover.ErrNotMember},
		{"recording removed as standby", func(m *failover.Machine, lobby, _ failover.GroupID) error {
			return m.RemoveStandbyServers(lobby, a, "sb-1", "rec-1")
		}, failover.ErrNotMember},
		{"recording server of another group", func(m *failover.Machine, lobby, _ failover.GroupID) error {
			return m.RemoveRecordingServers(lobby, "rec-1", "rec-9")
		}, failover.ErrNotMember},
		{"standby of another group", func(m *failover.Machine, _, parking failover.GroupID) error {
			return m.RemoveStandbyServers(parking, a, "sb-9", "sb-1")
		}, failover.ErrNotMember},
		{"empty server ID", func(m *failover.Machine, lobby, _ failover.GroupID) error {
			return m.RemoveRecordingServers(lobby, "")
		}, failover.ErrNotMember},
		{"unknown group", func(m *failover.Machine, _, _ failover.GroupID) error {
			return m.RemoveRecordingServers(failover.GroupID(77), "rec-1")
		}, failover.ErrGroupNotFound},
		{"unknown group, standby", func(m *failover.Machine, _, _ failover.GroupID) error {
			return m.RemoveStandbyServers(failover.GroupID(77), a, "sb-1")
		}, failover.ErrGroupNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, lobby, parking := setup(t)
			before := m.Snapshot()
			refused(t, m, before, tc.op(m, lobby, parking), tc.want)
		})
	}
}

// --- Disabling ---------------------------------------------------------------

func TestDisableServerShowsDisabled(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	g := failover.DefaultGroupID
	mustAddRecording(t, m, g, recordingFacts("rec-1", 8), recordingFacts("rec-2", 8))
	mustAddStandby(t, m, g, standbyFacts("sb-1", 8), standbyFacts("sb-2", 8))

	for _, id := range []nvrha.ServerID{"rec-1", "sb-1"} {
		tks, err := m.SetServerEnabled(id, false)
		if err != nil || len(tks) != 0 {
			t.Fatalf("SetServerEnabled(%s, false) = %v, %v", id, tks, err)
		}
	}
	s := m.Snapshot()
	for _, tc := range []struct {
		id       nvrha.ServerID
		disabled bool
	}{{"rec-1", true}, {"rec-2", false}, {"sb-1", true}, {"sb-2", false}} {
		mem := memberOf(t, s, tc.id)
		if mem.Enabled == tc.disabled {
			t.Errorf("%s: Enabled = %v", tc.id, mem.Enabled)
		}
		if got := mem.Status() == "Disabled"; got != tc.disabled {
			t.Errorf("%s: status %q (disabled: %v)", tc.id, mem.Status(), tc.disabled)
		}
	}
	if got := memberOf(t, s, "rec-1").Recording; got != status.RecordingDisabled {
		t.Errorf("disabled recording server status %v", got)
	}
	if got := memberOf(t, s, "sb-1").Standby; got != status.StandbyDisabled {
		t.Errorf("disabled standby status %v", got)
	}

	// Disabling twice is harmless; enabling brings the status back.
	if _, err := m.SetServerEnabled("rec-1", false); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m.Snapshot(), s) {
		t.Error("disabling a disabled server changed the state")
	}
	for _, id := range []nvrha.ServerID{"rec-1", "sb-1"} {
		if _, err := m.SetServerEnabled(id, true); err != nil {
			t.Fatal(err)
		}
	}
	s = m.Snapshot()
	if a, b := memberOf(t, s, "rec-1"), memberOf(t, s, "rec-2"); !a.Enabled || a.Recording != b.Recording {
		t.Errorf("re-enabled rec-1 = %+v, like rec-2 = %+v expected", a, b)
	}
	if a, b := memberOf(t, s, "sb-1"), memberOf(t, s, "sb-2"); !a.Enabled || a.Standby != b.Standby {
		t.Errorf("re-enabled sb-1 = %+v, like sb-2 = %+v expected", a, b)
	}

	for _, id := range []nvrha.ServerID{"nobody", ""} {
		before := m.Snapshot()
		_, err := m.SetServerEnabled(id, false)
		refused(t, m, before, err, failover.ErrServerNotFound)
	}
}

func TestProtectionSwitch(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	lobby := mustAddGroup(t, m, "Lobby")
	parking := mustAddGroup(t, m, "Parking")
	mustAddRecording(t, m, lobby, recordingFacts("rec-1", 8), recordingFacts("rec-2", 8))
	mustAddStandby(t, m, lobby, standbyFacts("sb-1", 8))
	mustAddRecording(t, m, parking, recordingFacts("rec-9", 8))
	if _, err := m.SetServerEnabled("rec-2", false); err != nil {
		t.Fatal(err)
	}
	on := m.Snapshot()

	tks, err := m.SetProtection(lobby, false)
	if err != nil || len(tks) != 0 {
		t.Fatalf("SetProtection(off) = %v, %v", tks, err)
	}
	off := m.Snapshot()
	g := groupOf(t, off, lobby)
	if g.Protection {
		t.Error("Protection still on")
	}
	for _, mem := range g.Members {
		if mem.Status() != "Disabled" {
			t.Errorf("%s: status %q with protection off, want Disabled", mem.ID, mem.Status())
		}
		if want := memberOf(t, on, mem.ID).Enabled; mem.Enabled != want {
			t.Errorf("%s: switching protection changed the server's own switch to %v", mem.ID, mem.Enabled)
		}
	}
	if !reflect.DeepEqual(groupOf(t, off, parking), groupOf(t, on, parking)) {
		t.Error("switching one group's protection changed another group")
	}

	// A server added while protection is off shows Disabled too.
	mustAddStandby(t, m, lobby, standbyFacts("sb-2", 8))
	if got := memberOf(t, m.Snapshot(), "sb-2").Status(); got != "Disabled" {
		t.Errorf("server added with protection off: status %q", got)
	}
	if err := m.RemoveStandbyServers(lobby, approve(t, failover.OpRemoveStandbyServers), "sb-2"); err != nil {
		t.Fatal(err)
	}

	// Off again is harmless; on brings back every status, and rec-2, which
	// was disabled on its own, stays Disabled.
	if _, err := m.SetProtection(lobby, false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.SetProtection(lobby, true); err != nil {
		t.Fatal(err)
	}
	// The group shows as it did, at a generation of its own.
	back := m.Snapshot()
	if g := groupOf(t, back, lobby); g.Generation <= groupOf(t, on, lobby).Generation {
		t.Errorf("the group's generation went from %d to %d across two switches", groupOf(t, on, lobby).Generation, g.Generation)
	}
	if !reflect.DeepEqual(withoutGenerations(back), withoutGenerations(on)) {
		t.Errorf("protection back on:\n got %+v\nwant %+v", back, on)
	}
	if got := memberOf(t, m.Snapshot(), "rec-2").Status(); got != "Disabled" {
		t.Errorf("rec-2, disabled on its own, is %q after protection on", got)
	}

	before := m.Snapshot()
	_, err = m.SetProtection(failover.GroupID(42), false)
	refused(t, m, before, err, failover.ErrGroupNotFound)
}

// --- Snapshots ---------------------------------------------------------------

// TestSnapshotIntoReusesItsMemory: SnapshotInto gives what Snapshot gives
// as groups and members come and go, and allocates nothing once its
// snapshot has grown to the center's size.
func TestSnapshotIntoReusesItsMemory(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	var s failover.Snapshot
	same := func(when string) {
		t.Helper()
		m.SnapshotInto(&s)
		if want := m.Snapshot(); !reflect.DeepEqual(s, want) {
			t.Fatalf("%s: SnapshotInto gave\n%+v\nSnapshot gives\n%+v", when, s, want)
		}
	}
	same("an empty center")
	g := failover.DefaultGroupID
	mustAddRecording(t, m, g, recordingFacts("rec-1", 8), recordingFacts("rec-2", 8))
	mustAddStandby(t, m, g, standbyFacts("sb-1", 16))
	g2, err := m.AddGroup("Second")
	if err != nil {
		t.Fatal(err)
	}
	mustAddRecording(t, m, g2, recordingFacts("rec-3", 8))
	same("two groups")
	if err := m.RemoveRecordingServers(g, "rec-1"); err != nil {
		t.Fatal(err)
	}
	same("a member fewer")
	if _, err := m.DeleteGroup(g2, approve(t, failover.OpDeleteGroup)); err != nil {
		t.Fatal(err)
	}
	same("a group fewer")
	if n := testing.AllocsPerRun(100, func() { m.SnapshotInto(&s) }); n != 0 {
		t.Errorf("SnapshotInto allocates %v times a call once grown; want 0", n)
	}
}

func TestSnapshotIsACopy(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	g := failover.DefaultGroupID
	rec := recordingFacts("rec-1", 8)
	sb := standbyFacts("sb-1", 16)
	mustAddRecording(t, m, g, rec)
	mustAddStandby(t, m, g, sb)
	want := m.Snapshot()

	t.Run("changing the snapshot", func(t *testing.T) {
		s := m.Snapshot()
		s.Groups[0].Name = "Changed"
		s.Groups[0].Protection = false
		s.Groups[0].Members[0].Enabled = false
		s.Groups[0].Members[1].Role = failover.RoleRecording
		s.Groups[0].Members = append(s.Groups[0].Members[:0], s.Groups[0].Members[1:]...)
		s.Groups = append(s.Groups, failover.GroupSnapshot{ID: 99})
		if got := m.Snapshot(); !reflect.DeepEqual(got, want) {
			t.Errorf("changing a snapshot reached the Machine:\n got %+v\nwant %+v", got, want)
		}
	})

	t.Run("changing the facts passed in", func(t *testing.T) {
		rec.Cameras[0] = "stolen"
		rec.Cameras = append(rec.Cameras, "extra")
		rec.RecordingSpaces[0].Empty = true
		sb.RecordingSpaces[0].Empty = false
		sb.Cameras = append(sb.Cameras, "cam-x")
		sb.Name = "renamed"
		if got := m.Snapshot(); !reflect.DeepEqual(got, want) {
			t.Errorf("changing the caller's facts reached the Machine:\n got %+v\nwant %+v", got, want)
		}
		// The standby's recording space is still empty: once it is probed
		// healthy it is ready, not Warning.
		bringUp(t, m, t0, "rec-1", "sb-1")
		if got := memberOf(t, m.Snapshot(), "sb-1").Standby; got != status.StandbyNormalProtectionReady {
			t.Errorf("standby status %v after the caller emptied its copy of the recording spaces", got)
		}
	})

	t.Run("changing facts passed to UpdateFacts", func(t *testing.T) {
		upd := standbyFacts("sb-1", 32)
		if err := m.UpdateFacts(upd); err != nil {
			t.Fatal(err)
		}
		before := m.Snapshot()
		upd.RecordingSpaces[0].Empty = false
		upd.Cameras = append(upd.Cameras, "cam-y")
		if got := m.Snapshot(); !reflect.DeepEqual(got, before) {
			t.Errorf("changing facts after UpdateFacts reached the Machine")
		}
	})
}

// bringUp lets the Machine send its due probes at now and answers those of
// the given servers healthy. The other probes stay unanswered, so their
// servers keep the health they had.
func bringUp(t testing.TB, m *failover.Machine, now time.Time, up ...nvrha.ServerID) {
	t.Helper()
	m.Tick(now)
	rd := m.Ready()
	m.Advance(rd)
	answered := map[nvrha.ServerID]bool{}
	for _, c := range rd.Commands {
		if c.Kind != failover.CmdProbe || !slices.Contains(up, c.Server) {
			continue
		}
		// The server reports its recording space as the Machine last knew it.
		space := memberOf(t, m.Snapshot(), c.Server).EmptyRecordingSpace
		r := failover.Result{ID: c.ID, Report: transport.ProbeReport{Server: c.Server, Healthy: true, HasEmptyRecordingSpace: space}}
		if err := m.Step(now, r); err != nil {
			t.Fatalf("Step(probe result of %s): %v", c.Server, err)
		}
		answered[c.Server] = true
	}
	for _, id := range up {
		if !answered[id] {
			t.Fatalf("no probe of %s was due at %v", id, now)
		}
		if h := memberOf(t, m.Snapshot(), id).Health; h != nvrha.HealthUp {
			t.Fatalf("%s answered healthy but its health is %v", id, h)
		}
	}
}

func TestStatusesInSnapshot(t *testing.T) {
	type want struct {
		id  nvrha.ServerID
		rec status.Recording
		sb  status.Standby
	}
	check := func(t *testing.T, m *failover.Machine, ws ...want) {
		t.Helper()
		s := m.Snapshot()
		for _, w := range ws {
			mem := memberOf(t, s, w.id)
			if mem.Recording != w.rec || mem.Standby != w.sb {
				t.Errorf("%s: recording status %v, standby status %v; want %v, %v", w.id, mem.Recording, mem.Standby, w.rec, w.sb)
			}
			label := w.rec.Label()
			if mem.Role == failover.RoleStandby {
				label = w.sb.Label()
			}
			if mem.Status() != label {
				t.Errorf("%s: Status() = %q, want %q", w.id, mem.Status(), label)
			}
		}
	}
	// setup returns a center whose default group holds rec-1 (8 channels)
	// and sb-1 (16 channels), never probed.
	setup := func(t *testing.T) *failover.Machine {
		m := newMachine(t, nvrha.PlatformX86_64)
		mustAddRecording(t, m, failover.DefaultGroupID, recordingFacts("rec-1", 8))
		mustAddStandby(t, m, failover.DefaultGroupID, standbyFacts("sb-1", 16))
		return m
	}

	t.Run("not probed yet is not functional", func(t *testing.T) {
		m := setup(t)
		s := m.Snapshot()
		for _, id := range []nvrha.ServerID{"rec-1", "sb-1"} {
			if h := memberOf(t, s, id).Health; h != nvrha.HealthUnknown {
				t.Errorf("%s: health %v before any probe", id, h)
			}
		}
		check(t, m,
			want{"rec-1", status.RecordingAbnormalUnprotected, 0},
			want{"sb-1", 0, status.StandbyAbnormal})
	})

	t.Run("Normal, protected and Normal, protection ready", func(t *testing.T) {
		m := setup(t)
		bringUp(t, m, t0, "rec-1", "sb-1")
		check(t, m,
			want{"rec-1", status.RecordingNormalProtected, 0},
			want{"sb-1", 0, status.StandbyNormalProtectionReady})
	})

	t.Run("Normal, unprotected: no standby", func(t *testing.T) {
		m := newMachine(t, nvrha.PlatformX86_64)
		mustAddRecording(t, m, failover.DefaultGroupID, recordingFacts("rec-1", 8))
		bringUp(t, m, t0, "rec-1")
		check(t, m, want{"rec-1", status.RecordingNormalUnprotected, 0})
	})

	t.Run("Normal, unprotected: standby not functional", func(t *testing.T) {
		m := setup(t)
		bringUp(t, m, t0, "rec-1")
		check(t, m,
			want{"rec-1", status.RecordingNormalUnprotected, 0},
			want{"sb-1", 0, status.StandbyAbnormal})
	})

	t.Run("Normal, unprotected: standby disabled", func(t *testing.T) {
		m := setup(t)
		bringUp(t, m, t0, "rec-1", "sb-1")
		if _, err := m.SetServerEnabled("sb-1", false); err != nil {
			t.Fatal(err)
		}
		check(t, m,
			want{"rec-1", status.RecordingNormalUnprotected, 0},
			want{"sb-1", 0, status.StandbyDisabled})
	})

	t.Run("Normal, unprotected: license change leaves the standby short", func(t *testing.T) {
		m := setup(t)
		bringUp(t, m, t0, "rec-1", "sb-1")
		if err := m.UpdateFacts(recordingFacts("rec-1", 32)); err != nil {
			t.Fatal(err)
		}
		check(t, m,
			want{"rec-1", status.RecordingNormalUnprotected, 0},
			want{"sb-1", 0, status.StandbyNormalProtectionReady})
		// A license upgrade of the standby protects it again.
		if err := m.UpdateFacts(standbyFacts("sb-1", 32)); err != nil {
			t.Fatal(err)
		}
		check(t, m, want{"rec-1", status.RecordingNormalProtected, 0})
	})

	t.Run("Normal, unprotected: recording server joined with more channels", func(t *testing.T) {
		m := setup(t)
		mustAddRecording(t, m, failover.DefaultGroupID, recordingFacts("rec-big", 64))
		bringUp(t, m, t0, "rec-1", "sb-1", "rec-big")
		check(t, m,
			want{"rec-1", status.RecordingNormalProtected, 0},
			want{"rec-big", status.RecordingNormalUnprotected, 0})
	})

	t.Run("standby Warning without an empty recording space", func(t *testing.T) {
		m := setup(t)
		bringUp(t, m, t0, "rec-1", "sb-1")
		full := with(standbyFacts("sb-1", 16), func(f *nvrha.Facts) { f.RecordingSpaces[0].Empty = false })
		if err := m.UpdateFacts(full); err != nil {
			t.Fatal(err)
		}
		check(t, m,
			want{"rec-1", status.RecordingNormalUnprotected, 0},
			want{"sb-1", 0, status.StandbyWarning})
		// The same server stays a member: eligibility was judged when it joined.
		if got := memberIDs(groupOf(t, m.Snapshot(), failover.DefaultGroupID)); !reflect.DeepEqual(got, []string{"rec-1/recording", "sb-1/standby"}) {
			t.Errorf("members %v after the standby's space filled", got)
		}
	})

	t.Run("Abnormal, protected and Normal, protecting", func(t *testing.T) {
		f, _ := inTakeover(t)
		check(t, f.m,
			want{"rec-1", status.RecordingAbnormalProtected, 0},
			want{"sb-1", 0, status.StandbyNormalProtecting},
			// The only standby is busy: rec-2 has no available standby.
			want{"rec-2", status.RecordingNormalUnprotected, 0})
	})

	t.Run("Abnormal, protection failed", func(t *testing.T) {
		m := setup(t)
		f := newFleet(t, m, recordingFacts("rec-1", 8), standbyFacts("sb-1", 16))
		f.run(2 * time.Second)
		check(t, m, want{"rec-1", status.RecordingNormalProtected, 0})
		// sb-1 answers probes but never confirms a takeover, nor the
		// release that fences it off afterwards.
		f.lost[failover.CmdTakeover] = true
		f.lost[failover.CmdRelease] = true
		f.down["rec-1"] = true
		for i := 0; i < 300 && memberOf(t, m.Snapshot(), "sb-1").Standby != status.StandbyAbnormalProtectionFailed; i++ {
			f.run(50 * time.Millisecond)
		}
		check(t, m,
			want{"rec-1", status.RecordingAbnormalUnprotected, 0},
			want{"sb-1", 0, status.StandbyAbnormalProtectionFailed})
	})

	t.Run("Disabled", func(t *testing.T) {
		m := setup(t)
		bringUp(t, m, t0, "rec-1", "sb-1")
		if _, err := m.SetProtection(failover.DefaultGroupID, false); err != nil {
			t.Fatal(err)
		}
		check(t, m,
			want{"rec-1", status.RecordingDisabled, 0},
			want{"sb-1", 0, status.StandbyDisabled})
	})
}

// --- Facts updates -----------------------------------------------------------

func TestUpdateFacts(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	g := failover.DefaultGroupID
	mustAddRecording(t, m, g, recordingFacts("rec-1", 8), recordingFacts("rec-2", 8))
	mustAddStandby(t, m, g, standbyFacts("sb-1", 16))

	t.Run("valid change shows", func(t *testing.T) {
		f := with(recordingFacts("rec-1", 16), func(f *nvrha.Facts) {
			f.Name = "Front door NVR"
			f.Cameras = append(f.Cameras, "rec-1-cam-3")
		})
		if err := m.UpdateFacts(f); err != nil {
			t.Fatalf("UpdateFacts: %v", err)
		}
		mem := memberOf(t, m.Snapshot(), "rec-1")
		if mem.Name != "Front door NVR" || mem.LicenseChannels != 16 || mem.Cameras != 3 {
			t.Errorf("after UpdateFacts: %+v", mem)
		}
		if mem.Role != failover.RoleRecording || !mem.Enabled {
			t.Errorf("UpdateFacts changed membership: %+v", mem)
		}
		if got := memberIDs(groupOf(t, m.Snapshot(), g)); !reflect.DeepEqual(got, []string{"rec-1/recording", "rec-2/recording", "sb-1/standby"}) {
			t.Errorf("UpdateFacts changed the member order: %v", got)
		}
	})

	t.Run("a change that breaks eligibility keeps the server", func(t *testing.T) {
		f := with(standbyFacts("sb-1", 16), func(f *nvrha.Facts) {
			f.Cameras = []nvrha.CameraID{"cam-1"}
			f.Product = "acme-nvr"
			f.AdvancedMode = false
		})
		if err := m.UpdateFacts(f); err != nil {
			t.Fatalf("UpdateFacts: %v", err)
		}
		if mem := memberOf(t, m.Snapshot(), "sb-1"); mem.Role != failover.RoleStandby || mem.Cameras != 1 {
			t.Errorf("after UpdateFacts: %+v", mem)
		}
	})

	for _, tc := range []struct {
		name string
		f    nvrha.Facts
		want []error
	}{
		{"unknown server", recordingFacts("rec-nope", 8), []error{failover.ErrServerNotFound}},
		{"zero facts", nvrha.Facts{}, []error{failover.ErrServerNotFound}},
		{"negative license channels", with(recordingFacts("rec-2", 8), func(f *nvrha.Facts) { f.LicenseChannels = -1 }),
			[]error{failover.ErrFactsChanged, nvrha.ErrInvalidFacts}},
		{"too many license channels", with(recordingFacts("rec-2", 8), func(f *nvrha.Facts) { f.LicenseChannels = nvrha.MaxLicenseChannels + 1 }),
			[]error{failover.ErrFactsChanged, nvrha.ErrInvalidFacts}},
		{"camera listed twice", with(recordingFacts("rec-2", 8), func(f *nvrha.Facts) { f.Cameras = []nvrha.CameraID{"c", "c"} }),
			[]error{failover.ErrFactsChanged, nvrha.ErrInvalidFacts}},
		{"bad camera ID", with(recordingFacts("rec-2", 8), func(f *nvrha.Facts) { f.Cameras = []nvrha.CameraID{"\x00"} }),
			[]error{failover.ErrFactsChanged, nvrha.ErrInvalidID}},
		{"empty product", with(recordingFacts("rec-2", 8), func(f *nvrha.Facts) { f.Product = "" }),
			[]error{failover.ErrFactsChanged, nvrha.ErrInvalidFacts}},
		{"name too long", with(recordingFacts("rec-2", 8), func(f *nvrha.Facts) { f.Name = strings.Repeat("n", nvrha.MaxNameLength+1) }),
			[]error{failover.ErrFactsChanged, nvrha.ErrInvalidFacts}},
		{"negative capacity", with(standbyFacts("sb-1", 16), func(f *nvrha.Facts) { f.RecordingSpaces[0].CapacityBytes = -1 }),
			[]error{failover.ErrFactsChanged, nvrha.ErrInvalidFacts}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := m.Snapshot()
			err := m.UpdateFacts(tc.f)
			for _, w := range tc.want {
				refused(t, m, before, err, w)
			}
		})
	}
}

// --- Robustness --------------------------------------------------------------

func TestNoPanicOnBadInput(t *testing.T) {
	t.Run("invalid config", func(t *testing.T) {
		for _, cfg := range []failover.Config{
			{Platform: nvrha.Platform(2)},
			{Platform: nvrha.Platform(math.MaxUint8)},
			{Rules: eligibility.Rules{SupportedProducts: []nvrha.Product{nvrha.ProductQVRPro, ""}}},
			{Platform: nvrha.PlatformARM64, Rules: eligibility.Rules{SupportedProducts: []nvrha.Product{""}}},
		} {
			m, err := failover.NewMachine(cfg)
			if !errors.Is(err, failover.ErrInvalidConfig) {
				t.Errorf("NewMachine(%+v) error %v, want ErrInvalidConfig", cfg, err)
			}
			if m != nil {
				t.Errorf("NewMachine(%+v) returned a Machine with its error", cfg)
			}
		}
	})

	m := newMachine(t, nvrha.PlatformARM64)
	mustAddRecording(t, m, failover.DefaultGroupID, recordingFacts("rec-1", 8))
	mustAddStandby(t, m, failover.DefaultGroupID, standbyFacts("sb-1", 8))
	deleted := mustAddGroup(t, m, "Gone")
	if _, err := m.DeleteGroup(deleted, approve(t, failover.OpDeleteGroup)); err != nil {
		t.Fatal(err)
	}
	a, rm := approve(t, failover.OpDeleteGroup), approve(t, failover.OpRemoveStandbyServers)

	t.Run("unknown group IDs", func(t *testing.T) {
		for _, id := range []failover.GroupID{0, deleted, 1000, math.MaxUint32} {
			before := m.Snapshot()
			refused(t, m, before, m.RenameGroup(id, "X"), failover.ErrGroupNotFound)
			_, err := m.DeleteGroup(id, a)
			refused(t, m, before, err, failover.ErrGroupNotFound)
			_, err = m.SetProtection(id, false)
			refused(t, m, before, err, failover.ErrGroupNotFound)
			refused(t, m, before, m.AddRecordingServers(id, recordingFacts("rec-2", 8)), failover.ErrGroupNotFound)
			refused(t, m, before, m.AddStandbyServers(id, standbyFacts("sb-2", 8)), failover.ErrGroupNotFound)
			refused(t, m, before, m.RemoveRecordingServers(id, "rec-1"), failover.ErrGroupNotFound)
			refused(t, m, before, m.RemoveStandbyServers(id, rm, "sb-1"), failover.ErrGroupNotFound)
		}
	})

	t.Run("unknown servers", func(t *testing.T) {
		for _, id := range []nvrha.ServerID{"", "nobody", " rec-1", "REC-1", nvrha.ServerID(strings.Repeat("x", 1000))} {
			before := m.Snapshot()
			_, err := m.SetServerEnabled(id, false)
			refused(t, m, before, err, failover.ErrServerNotFound)
			refused(t, m, before, m.UpdateFacts(nvrha.Facts{ID: id}), failover.ErrServerNotFound)
			refused(t, m, before, m.RemoveRecordingServers(failover.DefaultGroupID, id), failover.ErrNotMember)
			refused(t, m, before, m.RemoveStandbyServers(failover.DefaultGroupID, rm, id), failover.ErrNotMember)
		}
	})

	t.Run("zero and malformed facts", func(t *testing.T) {
		before := m.Snapshot()
		for _, f := range []nvrha.Facts{
			{},
			{ID: "x"},
			{ID: "x", Product: nvrha.ProductQVRPro, LicenseChannels: math.MinInt},
			{ID: "x", Product: nvrha.ProductQVRPro, RecordingSpaces: make([]nvrha.RecordingSpace, nvrha.MaxRecordingSpaces+1)},
		} {
			refused(t, m, before, m.AddRecordingServers(failover.DefaultGroupID, f), failover.ErrIneligible)
			refused(t, m, before, m.AddStandbyServers(failover.DefaultGroupID, f), failover.ErrIneligible)
			refused(t, m, before, m.AddStandbyServers(failover.DefaultGroupID, f, f), failover.ErrDuplicateServer)
		}
		refused(t, m, before, m.AddRecordingServers(failover.DefaultGroupID, nil...), failover.ErrEmptyBatch)
		refused(t, m, before, m.RemoveStandbyServers(failover.DefaultGroupID, failover.Approval{}), failover.ErrVerificationRequired)
	})

	t.Run("zero Approval", func(t *testing.T) {
		before := m.Snapshot()
		refused(t, m, before, m.RemoveStandbyServers(failover.DefaultGroupID, failover.Approval{}, "sb-1"), failover.ErrVerificationRequired)
		g := mustAddGroup(t, m, "Temp")
		before = m.Snapshot()
		_, err := m.DeleteGroup(g, failover.Approval{})
		refused(t, m, before, err, failover.ErrVerificationRequired)
	})
}

// --- Servers in the takeover process -----------------------------------------

// fleet answers a Machine's commands in process, on virtual time: servers
// marked down do not answer, the others do as they are told.
type fleet struct {
	t        testing.TB
	m        *failover.Machine
	now      time.Time
	facts    map[nvrha.ServerID]nvrha.Facts
	down     map[nvrha.ServerID]bool
	lost     map[failover.CommandKind]bool // commands of these kinds are lost
	noSpace  map[nvrha.ServerID]bool       // these report no empty recording space
	covering map[nvrha.ServerID]nvrha.ServerID
	liars    map[nvrha.ServerID]bool // these acknowledge releases they never carry out
	sent     []failover.Command
	saved    *failover.State // the last State a Ready handed
}

func newFleet(t testing.TB, m *failover.Machine, fs ...nvrha.Facts) *fleet {
	f := &fleet{t: t, m: m, now: t0, facts: map[nvrha.ServerID]nvrha.Facts{}, down: map[nvrha.ServerID]bool{},
		lost: map[failover.CommandKind]bool{}, noSpace: map[nvrha.ServerID]bool{}, covering: map[nvrha.ServerID]nvrha.ServerID{},
		liars: map[nvrha.ServerID]bool{}}
	for _, x := range fs {
		f.facts[x.ID] = x.Clone()
	}
	return f
}

// run advances virtual time by d in steps of 50ms.
func (f *fleet) run(d time.Duration) {
	f.t.Helper()
	for end := f.now.Add(d); f.now.Before(end); {
		f.now = f.now.Add(50 * time.Millisecond)
		f.m.Tick(f.now)
		f.flush()
	}
}

// until runs until cond holds, for at most limit of virtual time.
func (f *fleet) until(limit time.Duration, what string, cond func() bool) {
	f.t.Helper()
	for end := f.now.Add(limit); !cond(); {
		if !f.now.Before(end) {
			f.t.Fatalf("after %v: %s never happened", limit, what)
		}
		f.run(50 * time.Millisecond)
	}
}

// flush answers commands until the Machine is quiet.
func (f *fleet) flush() {
	f.t.Helper()
	for i := 0; f.m.HasReady(); i++ {
		if i > 1000 {
			f.t.Fatal("the Machine never became quiet")
		}
		rd := f.m.Ready()
		f.m.Advance(rd)
		if rd.State != nil {
			f.saved = rd.State
		}
		for _, c := range rd.Commands {
			f.sent = append(f.sent, c)
			if f.down[c.Server] || f.lost[c.Kind] {
				if err := f.m.Step(f.now, failover.Result{ID: c.ID, Err: transport.ErrUnreachable}); err != nil {
					f.t.Fatalf("Step(%v): %v", c, err)
				}
				continue
			}
			r := failover.Result{ID: c.ID}
			switch c.Kind {
			case failover.CmdProbe:
				fs := f.facts[c.Server]
				r.Report = transport.ProbeReport{Server: c.Server, Healthy: true, Covering: f.covering[c.Server],
					Recording: len(fs.Cameras) > 0, HasEmptyRecordingSpace: fs.HasEmptyRecordingSpace() && !f.noSpace[c.Server]}
			case failover.CmdInventory:
				r.Facts = f.facts[c.Server].Clone()
			case failover.CmdTakeover:
				f.covering[c.Server] = c.Recording
			case failover.CmdRelease:
				if f.covering[c.Server] == c.Recording && !f.liars[c.Server] {
					delete(f.covering, c.Server)
				}
			}
			if err := f.m.Step(f.now, r); err != nil {
				f.t.Fatalf("Step(%v): %v", c, err)
			}
		}
	}
}

// sentSince returns the commands of a kind to a server sent from index i of
// f.sent on.
func (f *fleet) sentSince(i int, kind failover.CommandKind, server nvrha.ServerID) []failover.Command {
	var out []failover.Command
	for _, c := range f.sent[i:] {
		if c.Kind == kind && c.Server == server {
			out = append(out, c)
		}
	}
	return out
}

// inTakeover returns a center whose group "Lobby" holds rec-1 and rec-2 (8
// channels) and sb-1 (16 channels), with sb-1 taking over rec-1, which
// stopped answering.
func inTakeover(t *testing.T) (*fleet, failover.GroupID) {
	t.Helper()
	m := newMachine(t, nvrha.PlatformX86_64)
	g := mustAddGroup(t, m, "Lobby")
	recs := []nvrha.Facts{recordingFacts("rec-1", 8), recordingFacts("rec-2", 8)}
	sb := standbyFacts("sb-1", 16)
	mustAddRecording(t, m, g, recs...)
	mustAddStandby(t, m, g, sb)
	f := newFleet(t, m, append(recs, sb)...)
	f.run(2 * time.Second)
	if got := memberOf(t, m.Snapshot(), "rec-1").Recording; got != status.RecordingNormalProtected {
		t.Fatalf("rec-1 settled as %v", got)
	}
	f.down["rec-1"] = true
	for i := 0; i < 200 && memberOf(t, m.Snapshot(), "rec-1").Recording != status.RecordingAbnormalProtected; i++ {
		f.run(50 * time.Millisecond)
	}
	s := m.Snapshot()
	if rec, sb := memberOf(t, s, "rec-1"), memberOf(t, s, "sb-1"); rec.Peer != "sb-1" || sb.Peer != "rec-1" ||
		rec.Recording != status.RecordingAbnormalProtected || sb.Standby != status.StandbyNormalProtecting {
		t.Fatalf("no takeover of rec-1 by sb-1: %+v, %+v", rec, sb)
	}
	return f, g
}

func TestServerInTakeoverCannotBeRemoved(t *testing.T) {
	f, g := inTakeover(t)
	m := f.m
	a := approveAt(t, failover.OpRemoveStandbyServers, m.Now())
	for _, tc := range []struct {
		name         string
		op           func() error
		server, peer nvrha.ServerID
	}{
		{"recording server", func() error { return m.RemoveRecordingServers(g, "rec-1") }, "rec-1", "sb-1"},
		{"recording server in a batch", func() error { return m.RemoveRecordingServers(g, "rec-2", "rec-1") }, "rec-1", "sb-1"},
		{"standby", func() error { return m.RemoveStandbyServers(g, a, "sb-1") }, "sb-1", "rec-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := m.Snapshot()
			err := tc.op()
			refused(t, m, before, err, failover.ErrInTakeover)
			var ite *failover.InTakeoverError
			if !errors.As(err, &ite) || ite.Server != tc.server || ite.Peer != tc.peer {
				t.Errorf("error %v; want an *InTakeoverError for %s with %s", err, tc.server, tc.peer)
			}
		})
	}
}

func TestDisableServerInTakeoverThenRemove(t *testing.T) {
	for _, tc := range []struct {
		name    string
		disable nvrha.ServerID
		remove  func(*failover.Machine, failover.GroupID) error
	}{
		{"recording server", "rec-1", func(m *failover.Machine, g failover.GroupID) error {
			return m.RemoveRecordingServers(g, "rec-1")
		}},
		{"standby", "sb-1", func(m *failover.Machine, g failover.GroupID) error {
			return m.RemoveStandbyServers(g, approveAt(t, failover.OpRemoveStandbyServers, m.Now()), "sb-1")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, g := inTakeover(t)
			tks, err := f.m.SetServerEnabled(tc.disable, false)
			if err != nil {
				t.Fatal(err)
			}
			if len(tks) != 1 || tks[0].Recording != "rec-1" || tks[0].Standby != "sb-1" || tks[0].Epoch == 0 {
				t.Fatalf("disabling %s interrupted %+v; want rec-1 by sb-1", tc.disable, tks)
			}
			s := f.m.Snapshot()
			if p := memberOf(t, s, "rec-1").Peer; p != "" {
				t.Errorf("rec-1 still has peer %s", p)
			}
			if got := memberOf(t, s, tc.disable).Status(); got != "Disabled" {
				t.Errorf("%s is %q after disabling", tc.disable, got)
			}
			if err := tc.remove(f.m, g); err != nil {
				t.Fatalf("removing %s after disabling it: %v", tc.disable, err)
			}
			// sb-1 is told to stop recording rec-1's cameras.
			i := len(f.sent)
			f.flush()
			if rel := f.sentSince(i, failover.CmdRelease, "sb-1"); len(rel) == 0 || rel[0].Recording != "rec-1" || rel[0].Epoch <= tks[0].Epoch {
				t.Errorf("release orders to sb-1 after the interruption: %v", rel)
			}
		})
	}
}

func TestDeleteGroupInterruptsTakeovers(t *testing.T) {
	f, g := inTakeover(t)
	tks, err := f.m.DeleteGroup(g, approveAt(t, failover.OpDeleteGroup, f.m.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if len(tks) != 1 || tks[0].Recording != "rec-1" || tks[0].Standby != "sb-1" {
		t.Fatalf("DeleteGroup interrupted %+v; want rec-1 by sb-1", tks)
	}
	if hasGroup(f.m.Snapshot(), g) {
		t.Fatal("group still there")
	}
	i := len(f.sent)
	f.flush()
	if rel := f.sentSince(i, failover.CmdRelease, "sb-1"); len(rel) == 0 || rel[0].Recording != "rec-1" {
		t.Errorf("sb-1 was not told to release rec-1's cameras: %v", f.sent[i:])
	}
	if _, ok := f.covering["sb-1"]; ok {
		t.Errorf("sb-1 still records %s after its group was deleted", f.covering["sb-1"])
	}
	// The servers are free again.
	mustAddStandby(t, f.m, failover.DefaultGroupID, standbyFacts("sb-1", 16))
	mustAddRecording(t, f.m, failover.DefaultGroupID, recordingFacts("rec-1", 8))
}

// A standby that left its group while it covered (its group deleted) is
// owed a release; one whose agent acknowledges it without carrying it out
// is found out by probes, though it is in no group, and told again, under
// the same epoch and with a back-off, until a probe shows that it let go.
// Only then does the State stop owing it the release, so a center
// restored meanwhile sends it again.
func TestOrphanReleaseIsVerifiedByProbes(t *testing.T) {
	owes := func(m *failover.Machine) bool {
		for _, o := range m.State().Owed {
			if o.Server == "sb-1" && o.Kind == failover.CmdRelease && o.Recording == "rec-1" {
				return true
			}
		}
		return false
	}
	// Every change, the ledger's end of the standby's interval at its
	// acknowledgement included, is handed to be persisted (all but the
	// next command ID, which moves with every command).
	persisted := func(t *testing.T, f *fleet) {
		t.Helper()
		live, saved := f.m.State(), *f.saved
		live.NextCommandID, saved.NextCommandID = 0, 0
		if !reflect.DeepEqual(live, saved) {
			t.Fatalf("the Machine holds changes its Readies never handed to be persisted:\nlive  %+v\nsaved %+v", live.Ledger, saved.Ledger)
		}
	}
	deleted := func(t *testing.T) *fleet {
		f, g := inTakeover(t)
		if _, err := f.m.DeleteGroup(g, approveAt(t, failover.OpDeleteGroup, f.m.Now())); err != nil {
			t.Fatal(err)
		}
		return f
	}

	t.Run("an honest agent", func(t *testing.T) {
		f := deleted(t)
		i := len(f.sent)
		f.run(10 * time.Second)
		if _, ok := f.covering["sb-1"]; ok || owes(f.m) {
			t.Fatalf("sb-1 covers %q; the State owes it the release: %v", f.covering["sb-1"], owes(f.m))
		}
		if rel, probes := f.sentSince(i, failover.CmdRelease, "sb-1"), f.sentSince(i, failover.CmdProbe, "sb-1"); len(rel) != 1 || len(probes) != 1 {
			t.Errorf("an honest release cost %d releases and %d probes; want one of each", len(rel), len(probes))
		}
		persisted(t, f)
	})

	t.Run("a lying agent", func(t *testing.T) {
		f := deleted(t)
		f.liars["sb-1"] = true
		i := len(f.sent)
		f.run(30 * time.Second)
		rel := f.sentSince(i, failover.CmdRelease, "sb-1")
		if len(rel) < 3 || len(f.sentSince(i, failover.CmdProbe, "sb-1")) < 3 {
			t.Fatalf("in 30 s, a standby in no group that lies about its release was told %d times and probed %d times",
				len(rel), len(f.sentSince(i, failover.CmdProbe, "sb-1")))
		}
		for _, c := range rel[1:] {
			if c.Epoch != rel[0].Epoch {
				t.Errorf("the release told again carries epoch %d, the first %d", c.Epoch, rel[0].Epoch)
			}
		}
		// Told again only when a probe says it still records.
		probed := true
		for _, c := range f.sent[i:] {
			switch {
			case c.Server != "sb-1":
			case c.Kind == failover.CmdProbe:
				probed = true
			case c.Kind == failover.CmdRelease && !probed:
				t.Fatalf("sb-1 was told again (#%d) with no probe since the last time", c.ID)
			case c.Kind == failover.CmdRelease:
				probed = false
			}
		}
		// Backed off to RetryMax: 10 s holds 5 rounds at most, and one
		// started before.
		j := len(f.sent)
		f.run(10 * time.Second)
		if n := len(f.sentSince(j, failover.CmdRelease, "sb-1")); n > 6 {
			t.Errorf("%d releases in 10 s to an agent that lies at once; the back-off allows 6", n)
		}
		if !owes(f.m) {
			t.Fatal("the State no longer owes the release its agent never carried out")
		}
		persisted(t, f)

		// A center restored now owes it still, and tells it again.
		r, err := failover.RestoreMachine(failover.Config{Platform: nvrha.PlatformX86_64}, f.m.State(), f.now)
		if err != nil {
			t.Fatal(err)
		}
		f.m = r
		f.liars["sb-1"] = false
		k := len(f.sent)
		f.run(failover.DefaultRetryMax + 2*time.Second)
		if sb, ok := f.covering["sb-1"]; ok {
			t.Fatalf("sb-1 still records %s's cameras after the restored center told it again: %v", sb, f.sentSince(k, failover.CmdRelease, "sb-1"))
		}
		f.run(time.Second)
		if owes(f.m) {
			t.Error("the State owes the release a probe showed carried out")
		}
		l := len(f.sent)
		f.run(10 * time.Second)
		if n := len(f.sentSince(l, failover.CmdProbe, "sb-1")); n != 0 {
			t.Errorf("sb-1, in no group, was probed %d times after a probe showed it let go", n)
		}
	})
}

func TestProtectionOffInterruptsTakeovers(t *testing.T) {
	f, g := inTakeover(t)
	tks, err := f.m.SetProtection(g, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(tks) != 1 || tks[0].Recording != "rec-1" || tks[0].Standby != "sb-1" {
		t.Fatalf("SetProtection(off) interrupted %+v; want rec-1 by sb-1", tks)
	}
	f.run(2 * time.Second)
	for _, mem := range groupOf(t, f.m.Snapshot(), g).Members {
		if mem.Status() != "Disabled" || mem.Peer != "" {
			t.Errorf("%s: %q, peer %q with protection off", mem.ID, mem.Status(), mem.Peer)
		}
	}
	if _, ok := f.covering["sb-1"]; ok {
		t.Error("sb-1 still records rec-1's cameras with protection off")
	}
	// With protection off, nothing is taken over, and servers can be removed.
	if err := f.m.RemoveRecordingServers(g, "rec-1"); err != nil {
		t.Errorf("removing rec-1 with protection off: %v", err)
	}
}

// An interrupted standby must be told to stop recording even when the
// first release is lost, also after it left the group (removed, or its group
// deleted): otherwise it records a server's cameras nobody assigned it.
func TestReleaseOfRemovedStandbyIsRetried(t *testing.T) {
	for _, tc := range []struct {
		name  string
		leave func(*testing.T, *failover.Machine, failover.GroupID)
	}{
		{"disabled, still a member", func(t *testing.T, m *failover.Machine, _ failover.GroupID) {
			if _, err := m.SetServerEnabled("sb-1", false); err != nil {
				t.Fatal(err)
			}
		}},
		{"disabled and removed", func(t *testing.T, m *failover.Machine, g failover.GroupID) {
			if _, err := m.SetServerEnabled("sb-1", false); err != nil {
				t.Fatal(err)
			}
			if err := m.RemoveStandbyServers(g, approveAt(t, failover.OpRemoveStandbyServers, m.Now()), "sb-1"); err != nil {
				t.Fatal(err)
			}
		}},
		{"group deleted", func(t *testing.T, m *failover.Machine, g failover.GroupID) {
			if _, err := m.DeleteGroup(g, approveAt(t, failover.OpDeleteGroup, m.Now())); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, g := inTakeover(t)
			f.lost[failover.CmdRelease] = true
			tc.leave(t, f.m, g)
			f.run(time.Second)
			f.lost[failover.CmdRelease] = false
			i := len(f.sent)
			f.run(10 * time.Second)
			if _, ok := f.covering["sb-1"]; ok {
				t.Fatalf("the release of a standby that left its group during a takeover was not retried; "+
					"sb-1 still records rec-1's cameras (releases after the first was lost: %v)", f.sentSince(i, failover.CmdRelease, "sb-1"))
			}
		})
	}
}
