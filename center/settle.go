package center

import (
	"context"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// settleBound is how long a recording server is held as Checking at most
// while its group's standbys wait for their first probe: twice what the
// failure detector takes to judge a server that never answers (its
// acceptable pause, a probe timeout and a probe interval). The detector
// settles a standby well within it; past it the truth is shown, whatever
// it is.
func (c *Center) settleBound() time.Duration {
	d := c.machine.Detector
	return 2 * (d.AcceptablePause + c.machine.ProbeTimeout + d.ProbeInterval)
}

// settle runs beside the Controller until ctx ends. A recording server's
// protection depends on its group's standbys: until they have been probed
// it derives "Normal, unprotected" for a moment and then "Normal,
// protected", which would alarm on every restart. The event hub shows such
// a server as Checking; settle releases it once every enabled standby of
// its group has had its first probe (answered or missed), or after
// settleBound. It reads a snapshot for that, which it cannot do from the
// event hook that runs on the Controller's own goroutine.
func (c *Center) settle(ctx context.Context) {
	bound := c.settleBound()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.events.wake:
		case <-timer.C:
		}
		held := c.events.heldSince()
		if len(held) == 0 {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		snap, err := c.ctl.Snapshot(sctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			timer.Reset(bound / 8) // the Controller is busy or starting: look again soon
			continue
		}
		now := time.Now()
		release, drop, next := settled(snap, held, now, bound)
		c.events.release(now, release, drop)
		if next > 0 {
			timer.Reset(next)
		}
	}
}

// settled sorts the held servers into those to show now (their group's
// enabled standbys are all probed, or they were held for bound) and those
// no longer in a group; next is when the first of the rest reaches bound,
// 0 if none is left.
func settled(snap failover.Snapshot, held map[nvrha.ServerID]time.Time, now time.Time, bound time.Duration) (release, drop []nvrha.ServerID, next time.Duration) {
	found := map[nvrha.ServerID]bool{}
	for _, g := range snap.Groups {
		standbysProbed := true
		for _, ms := range g.Members {
			if ms.Role == failover.RoleStandby && ms.Enabled && ms.Health == nvrha.HealthUnknown {
				standbysProbed = false
			}
		}
		for _, ms := range g.Members {
			since, ok := held[ms.ID]
			if !ok {
				continue
			}
			found[ms.ID] = true
			left := bound - now.Sub(since)
			if standbysProbed || ms.Role != failover.RoleRecording || left <= 0 {
				release = append(release, ms.ID)
				continue
			}
			if next == 0 || left < next {
				next = left
			}
		}
	}
	for id := range held {
		if !found[id] {
			drop = append(drop, id)
		}
	}
	return release, drop, next
}
