package failover_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
)

// A recording server with more cameras than a takeover order can carry is
// refused where it joins, with a reason, instead of joining and never being
// taken over.
func TestServerTooLargeToTakeOverIsRefusedAtJoin(t *testing.T) {
	m := newMachine(t, nvrha.PlatformX86_64)
	big := recordingFacts("rec-big", 16)
	big.Cameras = make([]nvrha.CameraID, nvrha.MaxCamerasPerServer+1)
	for i := range big.Cameras {
		big.Cameras[i] = nvrha.CameraID(fmt.Sprintf("rec-big-cam-%d", i))
	}
	before := m.Snapshot()
	err := m.AddRecordingServers(failover.DefaultGroupID, big)
	var rejected *failover.RejectedError
	if !errors.As(err, &rejected) || len(rejected.Servers) != 1 || !rejected.Servers[0].Reasons.Has(eligibility.CodeInvalidFacts) {
		t.Fatalf("AddRecordingServers(%d cameras) = %v, want a rejection for invalid facts", len(big.Cameras), err)
	}
	unchanged(t, m, before)
	big.Cameras = big.Cameras[:nvrha.MaxCamerasPerServer]
	mustAddRecording(t, m, failover.DefaultGroupID, big)
}
