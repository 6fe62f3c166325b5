package failover

import (
	"context"
	"time"

	"github.com/nvrha/nvrha/transport"
)

// Execute makes one Command's call through a transport and returns its
// Result for Step. The call is bounded by the command's deadline as well as
// by ctx.
func Execute(ctx context.Context, tr transport.Transport, c Command) Result {
	if !c.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, c.Deadline)
		defer cancel()
	}
	r := Result{ID: c.ID}
	switch c.Kind {
	case CmdProbe:
		r.Report, r.Err = tr.Probe(ctx, c.Server)
	case CmdInventory:
		r.Facts, r.Err = tr.Inventory(ctx, c.Server)
	case CmdTakeover:
		r.Err = tr.Takeover(ctx, c.Server, c.TakeoverOrder())
	case CmdRelease:
		r.Err = tr.Release(ctx, c.Server, c.ReleaseOrder())
	case CmdStandDown:
		r.Err = tr.StandDown(ctx, c.Server, c.StandDownOrder())
	case CmdResume:
		r.Err = tr.Resume(ctx, c.Server, c.ResumeOrder())
	default:
		r.Err = transport.ErrInvalidOrder
	}
	return r
}

// Exchange runs the Ready loop once, synchronously, at virtual or real time
// now: it persists the Ready's state with save (when it changed; save may be
// nil), sends its commands one by one through tr, steps their results at now,
// and advances. It returns the Ready it handled. Tests, examples and
// single-threaded embeddings use it; the Controller runs the same loop
// concurrently. It saves whole States: a Machine set incremental hands
// Changes instead, which Exchange leaves unsaved.
//
// Commands are made with ctx alone: a command's Deadline is on the Machine's
// clock, which may be virtual, so Exchange does not apply it; bound the
// calls with ctx, or pass a transport that does not wait.
func Exchange(ctx context.Context, m *Machine, tr transport.Transport, save func(State) error, now time.Time) (Ready, error) {
	rd := m.Ready()
	if rd.State != nil && save != nil {
		if err := save(*rd.State); err != nil {
			// Nothing is sent: an epoch must be durable before any server sees it.
			return rd, err
		}
	}
	m.Advance(rd)
	for _, c := range rd.Commands {
		c.Deadline = time.Time{}
		_ = m.Step(now, Execute(ctx, tr, c))
	}
	return rd, nil
}
