package transporttest

import (
	"context"
	"slices"
	"sync"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

// spy is an Agent that records every call it receives, with the order exactly
// as delivered, and answers with what the test set.
type spy struct {
	id nvrha.ServerID

	mu     sync.Mutex
	calls  []transport.Call
	report transport.ProbeReport
	facts  nvrha.Facts
	err    error
	// block, when set, makes every call wait until it is closed or the
	// call's context is done; started gets a value once a call is waiting.
	block   chan struct{}
	started chan struct{}
}

var _ transport.Agent = (*spy)(nil)

func newSpy(id nvrha.ServerID) *spy {
	return &spy{
		id:     id,
		report: transport.ProbeReport{Server: id, Healthy: true},
		facts:  nvrha.Facts{ID: id, Product: nvrha.ProductQVRPro},
	}
}

// answerWith makes every later call fail with err (nil: succeed).
func (s *spy) answerWith(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// blockCalls makes every later call wait for release or its context; the
// returned started channel gets a value each time a call starts waiting.
func (s *spy) blockCalls() (started <-chan struct{}, release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.block = make(chan struct{})
	s.started = make(chan struct{}, 64)
	block := s.block
	var once sync.Once
	return s.started, func() { once.Do(func() { close(block) }) }
}

func (s *spy) delivered() []transport.Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func (s *spy) record(ctx context.Context, m transport.Method, order any) error {
	s.mu.Lock()
	s.calls = append(s.calls, transport.Call{Server: s.id, Method: m, Order: order})
	err, block, started := s.err, s.block, s.started
	s.mu.Unlock()
	if block == nil {
		return err
	}
	select {
	case started <- struct{}{}:
	default:
	}
	select {
	case <-block:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *spy) Probe(ctx context.Context) (transport.ProbeReport, error) {
	err := s.record(ctx, transport.MethodProbe, nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.report, err
}

func (s *spy) Inventory(ctx context.Context) (nvrha.Facts, error) {
	err := s.record(ctx, transport.MethodInventory, nil)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.facts.Clone(), err
}

func (s *spy) Takeover(ctx context.Context, o transport.TakeoverOrder) error {
	return s.record(ctx, transport.MethodTakeover, o)
}

func (s *spy) Release(ctx context.Context, o transport.ReleaseOrder) error {
	return s.record(ctx, transport.MethodRelease, o)
}

func (s *spy) StandDown(ctx context.Context, o transport.StandDownOrder) error {
	return s.record(ctx, transport.MethodStandDown, o)
}

func (s *spy) Resume(ctx context.Context, o transport.ResumeOrder) error {
	return s.record(ctx, transport.MethodResume, o)
}
