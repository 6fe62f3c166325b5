package check

import (
	"testing"
	"time"

	"github.com/nvrha/nvrha/simulator/history"
)

// TestStandbyRecordsOverLicense: a standby that records more cameras than
// its license channels breaks invariant 2, unless its license was lowered
// under the running takeover.
func TestStandbyRecordsOverLicense(t *testing.T) {
	for _, lowered := range []bool{false, true} {
		v, c, s := small(t)
		v.At = 5 * time.Second
		sb := cover(v, "sb-1", "rec-1", 1)
		sb.Facts.LicenseChannels = 2
		if lowered {
			sb.LicenseBefore = []int{32}
		}
		c.Observe(v.Event(history.Event{Kind: history.Done, AllServers: true}))
		if lowered {
			wantNone(t, s)
		} else {
			wantViolation(t, s, 2, "sb-1 records 4 cameras of rec-1 with 2 license channels")
		}
	}
}
