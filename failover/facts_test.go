package failover_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// Factories for server facts. Each returns new slices, so a test may change
// what it gets without touching any other test's facts.

// recordingFacts returns the facts of a server that may join any group as a
// recording server: QVR Pro with Advanced Mode on, the given license
// channels, two cameras of its own and its only recording space in use. It
// fails every standby rule but the license one, so it is also a handy
// "refused as standby" server.
func recordingFacts(id nvrha.ServerID, channels int) nvrha.Facts {
	return nvrha.Facts{
		ID:              id,
		Product:         nvrha.ProductQVRPro,
		AdvancedMode:    true,
		LicenseChannels: channels,
		Cameras:         []nvrha.CameraID{nvrha.CameraID(id + "-cam-1"), nvrha.CameraID(id + "-cam-2")},
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", CapacityBytes: 8 << 40, Empty: false}},
	}
}

// standbyFacts returns the facts of a server that meets every standby rule
// of a group whose recording servers have at most the given license
// channels: QVR Elite with Advanced Mode on, an empty camera list and one
// empty recording space.
func standbyFacts(id nvrha.ServerID, channels int) nvrha.Facts {
	return nvrha.Facts{
		ID:              id,
		Product:         nvrha.ProductQVRElite,
		AdvancedMode:    true,
		LicenseChannels: channels,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", CapacityBytes: 8 << 40, Empty: true}},
	}
}

// with returns a deep copy of f changed by edit.
func with(f nvrha.Facts, edit func(*nvrha.Facts)) nvrha.Facts {
	f = f.Clone()
	edit(&f)
	return f
}

// serverIDs returns prefix-1 ... prefix-n.
func serverIDs(prefix string, n int) []nvrha.ServerID {
	ids := make([]nvrha.ServerID, n)
	for i := range ids {
		ids[i] = nvrha.ServerID(fmt.Sprintf("%s-%d", prefix, i+1))
	}
	return ids
}

// recordingBatch returns n recording servers named prefix-1 ... prefix-n.
func recordingBatch(prefix string, n, channels int) []nvrha.Facts {
	var fs []nvrha.Facts
	for _, id := range serverIDs(prefix, n) {
		fs = append(fs, recordingFacts(id, channels))
	}
	return fs
}

// standbyBatch returns n standby servers named prefix-1 ... prefix-n.
func standbyBatch(prefix string, n, channels int) []nvrha.Facts {
	var fs []nvrha.Facts
	for _, id := range serverIDs(prefix, n) {
		fs = append(fs, standbyFacts(id, channels))
	}
	return fs
}

// newMachine returns a Machine with default settings for a center of
// platform p.
func newMachine(t testing.TB, p nvrha.Platform) *failover.Machine {
	t.Helper()
	m, err := failover.NewMachine(failover.Config{Platform: p})
	if err != nil {
		t.Fatalf("NewMachine(%v): %v", p, err)
	}
	return m
}

// approve returns the Approval of a first admin verification that
// succeeded at epoch0, for Machines that have not been given a time.
func approve(t testing.TB, op failover.Operation) failover.Approval {
	t.Helper()
	return approveAt(t, op, epoch0)
}

// approveAt returns the Approval of a first admin verification that
// succeeded at now, on the Machine's clock.
func approveAt(t testing.TB, op failover.Operation, now time.Time) failover.Approval {
	t.Helper()
	a, err := failover.VerifyFirstAdminAt(context.Background(),
		failover.VerifierFunc(func(context.Context) error { return nil }), op, now)
	if err != nil {
		t.Fatalf("VerifyFirstAdmin(%q) with a verifier that accepts: %v", op, err)
	}
	return a
}

// mustAddGroup adds a group or fails the test.
func mustAddGroup(t testing.TB, m *failover.Machine, name string) failover.GroupID {
	t.Helper()
	id, err := m.AddGroup(name)
	if err != nil {
		t.Fatalf("AddGroup(%q): %v", name, err)
	}
	return id
}

// mustAddRecording adds recording servers or fails the test.
func mustAddRecording(t testing.TB, m *failover.Machine, g failover.GroupID, fs ...nvrha.Facts) {
	t.Helper()
	if err := m.AddRecordingServers(g, fs...); err != nil {
		t.Fatalf("AddRecordingServers(%v, %d servers): %v", g, len(fs), err)
	}
}

// mustAddStandby adds standby servers or fails the test.
func mustAddStandby(t testing.TB, m *failover.Machine, g failover.GroupID, fs ...nvrha.Facts) {
	t.Helper()
	if err := m.AddStandbyServers(g, fs...); err != nil {
		t.Fatalf("AddStandbyServers(%v, %d servers): %v", g, len(fs), err)
	}
}

// groupOf returns the group with the given ID from a snapshot.
func groupOf(t testing.TB, s failover.Snapshot, id failover.GroupID) failover.GroupSnapshot {
	t.Helper()
	for _, g := range s.Groups {
		if g.ID == id {
			return g
		}
	}
	t.Fatalf("group %v not in snapshot %+v", id, s)
	return failover.GroupSnapshot{}
}

// withoutGenerations returns s with every group's Generation zeroed, for
// comparing what two snapshots show.
func withoutGenerations(s failover.Snapshot) failover.Snapshot {
	out := failover.Snapshot{Groups: slices.Clone(s.Groups)}
	for i := range out.Groups {
		out.Groups[i].Generation = 0
	}
	return out
}

// hasGroup reports whether a snapshot holds the group with the given ID.
func hasGroup(s failover.Snapshot, id failover.GroupID) bool {
	for _, g := range s.Groups {
		if g.ID == id {
			return true
		}
	}
	return false
}

// memberOf returns a member from a snapshot, wherever it is.
func memberOf(t testing.TB, s failover.Snapshot, id nvrha.ServerID) failover.MemberSnapshot {
	t.Helper()
	for _, g := range s.Groups {
		for _, mem := range g.Members {
			if mem.ID == id {
				return mem
			}
		}
	}
	t.Fatalf("server %s not in snapshot %+v", id, s)
	return failover.MemberSnapshot{}
}

// memberIDs lists a group's members in order, with their roles.
func memberIDs(g failover.GroupSnapshot) []string {
	var out []string
	for _, mem := range g.Members {
		out = append(out, fmt.Sprintf("%s/%s", mem.ID, mem.Role))
	}
	return out
}

// refused checks that err wraps want and that the operation left the
// Machine exactly as it was before.
func refused(t testing.TB, m *failover.Machine, before failover.Snapshot, err, want error) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want an error wrapping %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("error %v; want one wrapping %v", err, want)
	}
	unchanged(t, m, before)
}

// unchanged fails the test if the Machine's snapshot differs from before.
func unchanged(t testing.TB, m *failover.Machine, before failover.Snapshot) {
	t.Helper()
	if after := m.Snapshot(); !reflect.DeepEqual(before, after) {
		t.Fatalf("a refused operation changed the state:\nbefore %+v\nafter  %+v", before, after)
	}
}
