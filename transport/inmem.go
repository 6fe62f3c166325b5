package transport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nvrha/nvrha"
)

// Method names a Transport call, so that a [Hook] can pick the calls it
// interferes with.
type Method string

// The methods of [Transport].
const (
	MethodProbe     Method = "probe"
	MethodInventory Method = "inventory"
	MethodTakeover  Method = "takeover"
	MethodRelease   Method = "release"
	MethodStandDown Method = "stand-down"
	MethodResume    Method = "resume"
)

// Call is one call as a [Hook] sees it. Order is the order value
// ([TakeoverOrder], [ReleaseOrder], [StandDownOrder] or [ResumeOrder]), or nil
// for Probe and Inventory. It is a copy: changing it changes nothing that is
// delivered.
type Call struct {
	Server nvrha.ServerID
	Method Method
	Order  any
}

// Hook runs before a call is delivered, standing in for the network between
// the center and one server. A non-nil error fails the call without
// delivering it. It may block (honouring ctx).
type Hook func(ctx context.Context, c Call) error

// Drop returns a Hook under which every call fails with [ErrUnreachable] and
// reaches nobody: a crashed server or a partitioned network.
func Drop() Hook {
	return func(context.Context, Call) error { return ErrUnreachable }
}

// Delay returns a Hook that holds every call for d, or until ctx is done. It
// waits on a time.Timer, so inside a testing/synctest bubble it waits on the
// bubble's virtual clock and a test spends no real time.
func Delay(d time.Duration) Hook {
	return func(ctx context.Context, _ Call) error {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// FailWith returns a Hook under which every call fails with err without being
// delivered. FailWith(nil) delivers every call.
func FailWith(err error) Hook {
	return func(context.Context, Call) error { return err }
}

// DropAfterDelivery returns a Hook under which every call is delivered and
// then fails with [ErrUnreachable] whatever the agent answered: the order took
// effect but its answer was lost. This is the case a center cannot tell apart
// from a call that never arrived, and the one that makes retries carry the
// same epoch.
func DropAfterDelivery() Hook {
	return func(context.Context, Call) error { return errLoseAnswer }
}

// errLoseAnswer is how a Hook asks InMemory to deliver and then report the
// answer lost. It never reaches a caller.
var errLoseAnswer = errors.New("transport: lose the answer")

// InMemory is a Transport that calls agents registered in the same process,
// with a Hook per server to inject faults. Safe for concurrent use; calls are
// not serialised, so an agent sees the concurrency its callers create.
//
// A call honours ctx until it is delivered: if ctx is done first, the call
// fails with an error wrapping ctx.Err() and the agent is not called. After
// delivery, the agent's own result, error or not, is returned as is, unless a
// [DropAfterDelivery] hook loses it. Orders are
// deep-copied on the way in and inventories on the way out, so neither side
// can alias the other's slices, as it could not across a network.
type InMemory struct {
	mu     sync.RWMutex
	agents map[nvrha.ServerID]Agent
	hooks  map[nvrha.ServerID]Hook
}

var _ Transport = (*InMemory)(nil)

// NewInMemory returns an InMemory with no agents and no hooks.
func NewInMemory() *InMemory {
	return &InMemory{
		agents: make(map[nvrha.ServerID]Agent),
		hooks:  make(map[nvrha.ServerID]Hook),
	}
}

// Register makes a reachable under id. It fails for an invalid id (wrapping
// [nvrha.ErrInvalidID]), a nil agent, or an id that already has an agent
// ([ErrAlreadyRegistered]): replacing an agent silently would hide a test's
// mistake.
func (t *InMemory) Register(id nvrha.ServerID, a Agent) error {
	if err := id.Validate(); err != nil {
		return fmt.Errorf("transport: register: %w", err)
	}
	if a == nil {
		return fmt.Errorf("transport: register %s: nil agent", id)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.agents[id]; dup {
		return fmt.Errorf("%w: %s", ErrAlreadyRegistered, id)
	}
	t.agents[id] = a
	return nil
}

// Unregister removes id's agent, if any; later calls to id fail with
// [ErrUnknownServer]. A call already delivered runs to its end. Its hook, if
// any, stays: hooks belong to the path to an ID, not to the agent behind it.
func (t *InMemory) Unregister(id nvrha.ServerID) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.agents, id)
}

// SetHook makes h run before every call to id from now on, replacing any
// earlier hook. A nil h clears it. Calls already past their hook are not
// affected.
func (t *InMemory) SetHook(id nvrha.ServerID, h Hook) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if h == nil {
		delete(t.hooks, id)
		return
	}
	t.hooks[id] = h
}

// ClearHook removes id's hook, if any.
func (t *InMemory) ClearHook(id nvrha.ServerID) { t.SetHook(id, nil) }

// Probe asks server for a ProbeReport.
func (t *InMemory) Probe(ctx context.Context, server nvrha.ServerID) (ProbeReport, error) {
	var r ProbeReport
	err := t.call(ctx, server, MethodProbe, nil, func(ctx context.Context, a Agent) (err error) {
		r, err = a.Probe(ctx)
		return err
	})
	if err != nil {
		return ProbeReport{}, err
	}
	return r, nil
}

// Inventory asks server for its facts.
func (t *InMemory) Inventory(ctx context.Context, server nvrha.ServerID) (nvrha.Facts, error) {
	var f nvrha.Facts
	err := t.call(ctx, server, MethodInventory, nil, func(ctx context.Context, a Agent) (err error) {
		f, err = a.Inventory(ctx)
		return err
	})
	if err != nil {
		return nvrha.Facts{}, err
	}
	return f.Clone(), nil
}

// Takeover delivers o to standby.
func (t *InMemory) Takeover(ctx context.Context, standby nvrha.ServerID, o TakeoverOrder) error {
	return t.call(ctx, standby, MethodTakeover, o.Clone(), func(ctx context.Context, a Agent) error {
		return a.Takeover(ctx, o.Clone())
	})
}

// Release delivers o to standby.
func (t *InMemory) Release(ctx context.Context, standby nvrha.ServerID, o ReleaseOrder) error {
	return t.call(ctx, standby, MethodRelease, o, func(ctx context.Context, a Agent) error {
		return a.Release(ctx, o)
	})
}

// StandDown delivers o to recording.
func (t *InMemory) StandDown(ctx context.Context, recording nvrha.ServerID, o StandDownOrder) error {
	return t.call(ctx, recording, MethodStandDown, o, func(ctx context.Context, a Agent) error {
		return a.StandDown(ctx, o)
	})
}

// Resume delivers o to recording.
func (t *InMemory) Resume(ctx context.Context, recording nvrha.ServerID, o ResumeOrder) error {
	return t.call(ctx, recording, MethodResume, o, func(ctx context.Context, a Agent) error {
		return a.Resume(ctx, o)
	})
}

// call is the one path every method takes: context, hook, context again (a
// hook may have waited), agent lookup, delivery. The agent is looked up after
// the hook so that a call delayed across an Unregister finds nobody, as a
// message in flight to a server that has gone would.
func (t *InMemory) call(ctx context.Context, server nvrha.ServerID, m Method, order any, deliver func(context.Context, Agent) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("transport: %s %s: %w", m, server, err)
	}
	t.mu.RLock()
	h := t.hooks[server]
	t.mu.RUnlock()
	loseAnswer := false
	if h != nil {
		if err := h(ctx, Call{Server: server, Method: m, Order: order}); err != nil {
			if !errors.Is(err, errLoseAnswer) {
				return fmt.Errorf("transport: %s %s: %w", m, server, err)
			}
			loseAnswer = true
		}
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("transport: %s %s: %w", m, server, err)
	}
	t.mu.RLock()
	a, ok := t.agents[server]
	t.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownServer, server)
	}
	err := deliver(ctx, a)
	if loseAnswer {
		return fmt.Errorf("transport: %s %s: answer lost: %w", m, server, ErrUnreachable)
	}
	return err
}
