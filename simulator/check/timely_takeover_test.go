package check

import (
	"testing"
	"time"
)

// TestFailedServerTakenOverInTime: a crashed recording server with a free,
// fitting standby must be taken over within the budget (invariant 4).
func TestFailedServerTakenOverInTime(t *testing.T) {
	v, c, s := small(t)
	withMachine(v)
	v.At = 10 * time.Minute // past the first inventory of every server's facts
	rec := v.S("rec-1")
	rec.Crashed, rec.FailedSince, rec.Own.On = true, v.At, false
	b := c.Budgets()
	budget := b.Detect + 3*b.PerTry + b.Fence // two standbys in the group, plus one try
	ticks(v, c, rec.FailedSince+budget)
	wantNone(t, s)
	ticks(v, c, v.At+time.Second)
	wantViolation(t, s, 4, "rec-1 failed at 10m0s and is still not taken over")
}
