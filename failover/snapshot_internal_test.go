package failover

import (
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
)

// TestStandbyAvailableIsCanCover holds standbyAvailable, which compares
// license channels itself, to the rule it stands for: a free standby with
// free channels is available to a recording server exactly when
// eligibility.CanCover says it covers it.
func TestStandbyAvailableIsCanCover(t *testing.T) {
	for _, channels := range []int{0, 1, 8, 16, 31, 32, 33, 64} {
		r := &member{facts: nvrha.Facts{ID: "rec-1", LicenseChannels: channels}, role: RoleRecording}
		for free := -1; free <= 65; free++ {
			want := free >= 0 && eligibility.CanCover(nvrha.Facts{LicenseChannels: free}, r.facts)
			if got := standbyAvailable(r, free); got != want {
				t.Errorf("a free standby with %d channels for a server with %d: available %v, CanCover says %v", free, channels, got, want)
			}
		}
	}
}
