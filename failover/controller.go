package failover

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/benbjohnson/clock"
	"github.com/cenkalti/backoff/v4"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/semaphore"
	"golang.org/x/sync/singleflight"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

// DeltaStore is a Store that can persist Changes: the parts of the State
// that changed since the last Save or Apply. A Controller whose Store is one
// runs its Machine incremental (Machine.SetIncremental) and applies each
// change set rather than saving the whole State, so that a change costs
// what changed; the first change set after it starts is the whole State
// (Changes.Full).
//
// Apply must be durable when it returns nil, as Save. A change set applies
// only to the State it was taken after: once an Apply has failed (whether
// or not its write landed), the Controller saves the whole State with Save
// before it applies changes again, and a DeltaStore should refuse changes
// until then (ErrStoreNeedsState).
type DeltaStore interface {
	Store
	Apply(ctx context.Context, c Changes) error
}

// ErrControllerStopped is returned by a Controller's operations once its Run
// has returned, and by a second call of Run.
var ErrControllerStopped = errors.New("failover: controller stopped")

// ErrTermRevoked means this center's term has ended: another center leads,
// or this one can no longer prove it does. A Controller that meets it sends
// no further order and its Run returns an error wrapping it. It is met when
// ControllerConfig.Term returns an error, when an agent refuses an order
// with transport.ErrStaleTerm (it has obeyed a center of a newer term), and
// when the Store's Save returns an error wrapping it (a Store shared by
// several centers refuses the writes of one that no longer leads).
var ErrTermRevoked = errors.New("failover: center term revoked")

// Errors of a Controller's admin operations while its Store refuses saves.
var (
	// ErrStoreFailing means the operation was refused because the Store
	// refuses saves: nothing was applied, and trying again once the Store
	// recovers is safe. The error is a *StoreFailingError.
	ErrStoreFailing = errors.New("failover: store failing")
	// ErrSavePending means the operation was applied but its ctx ended
	// before its change was saved: the change stands, shows in Snapshot,
	// and is saved as soon as the Store accepts it (unless Run stops
	// first). The error wraps ctx's error too.
	ErrSavePending = errors.New("failover: change applied, save pending")
)

// StoreFailingError refuses an admin operation while the Controller's Store
// refuses saves. errors.Is(err, ErrStoreFailing) holds, and so does
// errors.Is with the Store's own error (fs.ErrPermission, say).
type StoreFailingError struct {
	// Since is when the first of the failed saves in a row failed, on the
	// Controller's clock.
	Since time.Time
	// Failures is how many saves have failed in a row.
	Failures int
	// Err is the Store's last error.
	Err error
}

func (e *StoreFailingError) Error() string {
	return fmt.Sprintf("failover: operation refused: the store has refused saves since %s (%d attempts): %v",
		e.Since.Format(time.RFC3339), e.Failures, e.Err)
}

// Unwrap returns ErrStoreFailing and the Store's error.
func (e *StoreFailingError) Unwrap() []error { return []error{ErrStoreFailing, e.Err} }

// StoreHealth is how a Controller's saves are going, for a status page: a
// center whose saves fail keeps showing its servers, but can neither order
// a takeover nor accept a change until they succeed again.
type StoreHealth struct {
	// Err is the error of the last save while saves fail in a row; nil once
	// one succeeds.
	Err error
	// FailingSince is when the first of those failed saves failed; zero
	// when Err is nil.
	FailingSince time.Time
	// Failures is how many saves have failed in a row.
	Failures int
	// UnsavedSince is when the Controller began saving the State it holds
	// commands for; zero when nothing waits for the Store. A save that
	// hangs rather than fails shows here.
	UnsavedSince time.Time
	// LastSaved is when a save last succeeded; zero before the first.
	LastSaved time.Time
}

// Failing reports whether the last save failed.
func (h StoreHealth) Failing() bool { return h.Err != nil }

// DefaultMaxInFlight bounds a Controller's concurrent transport calls unless
// ControllerConfig.MaxInFlight says otherwise.
const DefaultMaxInFlight = 64

// ControllerConfig configures a Controller. Transport and Store are
// required; every other zero field takes its documented default.
type ControllerConfig struct {
	// Machine is the Machine's configuration.
	Machine Config
	// Transport reaches the servers. Required.
	Transport transport.Transport
	// Store keeps the State across restarts. Required; MemoryStore suits
	// tests, FileStore a single center. A DeltaStore (both are) is given
	// the Changes of each Ready rather than the whole State.
	Store Store
	// Clock is where time comes from; nil means the real clock, clock.New().
	// Every timer of the Controller (ticks, command deadlines, retry delays)
	// runs on it, so a mock clock drives all of them.
	Clock clock.Clock
	// Logger receives takeover and failback events at Info, failures at
	// Warn, and probes only at Debug. Nil discards everything.
	Logger *slog.Logger
	// TickInterval is how often the Machine is ticked. The default is a
	// quarter of the detector's probe interval (50ms with the defaults); it
	// may not exceed the probe interval.
	TickInterval time.Duration
	// MaxInFlight bounds concurrent transport calls (DefaultMaxInFlight).
	MaxInFlight int
	// OnEvent, if set, is called with every Event, in order, from the
	// goroutine that owns the Machine. It must not block: the Machine waits
	// for it.
	OnEvent func(Event)
	// OnStoreHealth, if set, is called from the same goroutine when saves
	// begin to fail (with the first error) and when one succeeds again. It
	// must not block either.
	OnStoreHealth func(StoreHealth)
	// Term, if set, returns this center's term, which the Controller
	// stamps on every order (takeover, release, stand-down, resume) just
	// before it is sent, so that agents refuse the orders of a center that
	// has been replaced (see package transport, "Center terms"). It returns
	// an error once the term is revoked (this center no longer leads), and
	// from then on for good: the Controller then sends no further order
	// and Run returns an error wrapping ErrTermRevoked and that error. It is
	// called from many goroutines, once per order, and must be cheap. Nil
	// means term 0: a single center that runs no election.
	Term func() (uint64, error)
}

// ControllerConfigError reports a ControllerConfig field the Controller
// cannot run with; errors.Is(err, ErrInvalidConfig) holds.
type ControllerConfigError struct {
	Field   string
	Problem string
}

func (e *ControllerConfigError) Error() string {
	return "failover: controller config: " + e.Field + " " + e.Problem
}

// Unwrap makes errors.Is(err, ErrInvalidConfig) hold.
func (e *ControllerConfigError) Unwrap() error { return ErrInvalidConfig }

// Controller runs a Machine: one goroutine owns it, ticks it on the clock,
// applies admin operations and command results to it, and runs its Ready
// loop, persisting each State (or, to a DeltaStore, its Changes) before it
// sends the commands that follow.
// Commands run concurrently through the transport, at most MaxInFlight at a
// time, each bounded by its deadline on the Controller's clock; an order
// whose call ends unreachable is made again within that deadline (see
// Config.RetryBase).
//
// Its methods are safe for concurrent use. Each admin operation runs on the
// Machine's goroutine and waits for it. One called before Run starts waits
// until Run takes it or ctx ends. One whose ctx ends before the Controller
// takes it returns ctx's error and is never applied; one that fails returns
// the Machine's error and changed nothing. One that succeeds returns once its
// change is saved in the Store, so an acknowledged change survives a crash.
// Snapshot and Ledger change nothing and never wait for a save. Once Run has
// returned, every operation returns ErrControllerStopped.
//
// Events are published as the Machine makes them, before their State is
// saved; commands always wait for it. While a save fails (a full disk, a
// read-only volume) or hangs, the Controller retries it with exponential
// backoff and holds the Machine still: no tick, no result applied, no
// command sent. (The first tick after a long outage finds a gap beyond the
// acceptable pause, which the Machine takes for the center's own stall, not
// the servers' silence.) It keeps answering, though:
//   - Snapshot and Ledger answer at once, from the Machine as it stands,
//     including the change that waits to be saved;
//   - StoreHealth reports the failure, and OnStoreHealth hears when saves
//     begin to fail and when they recover;
//   - an admin operation taken while saves fail is refused at once with a
//     *StoreFailingError (ErrStoreFailing) and changes nothing, rather than
//     piling up changes behind a disk nobody can see from the UI; it can be
//     tried again once the Store recovers; while a save merely hangs, an
//     operation waits for its turn instead, as nothing has failed yet;
//   - one applied before its save began failing waits for that save. If
//     its ctx ends first it returns an error wrapping ErrSavePending and
//     ctx's error: the change stands and is saved, and its commands sent,
//     as soon as the Store accepts it. If Run stops first, a caller still
//     waiting gets ErrControllerStopped and the change is lost.
//
// Where several centers stand by for each other, the one elected runs a
// Controller with ControllerConfig.Term, which stamps the election's term on
// every order. Once the term is revoked (see ErrTermRevoked) the Controller
// sends no further order, not even one already queued or being retried, and
// Run returns; a new leader restores the Machine from the shared Store.
type Controller struct {
	m       *Machine // owned by the loop goroutine once Run starts
	tr      transport.Transport
	store   Store
	clock   clock.Clock
	log     *slog.Logger
	tick    time.Duration
	onEvent func(Event)
	onStore func(StoreHealth)
	cmdTTL  time.Duration // the Machine's CommandTimeout
	// retryBase and retryMax shape the backoff of Store saves.
	retryBase, retryMax time.Duration

	sem *semaphore.Weighted
	// calls go to long-lived workers, as many as the semaphore's slots up
	// to maxWorkers: a goroutine per call would grow a new stack for each
	// probe, a fifth of a center's CPU at a thousand servers.
	calls   chan call
	workers int
	// reads and writes are unbuffered: a send is the loop taking it. Reads
	// are taken at any time, writes only when a change can be saved.
	reads   chan *request
	writes  chan *request
	results chan Result
	// delta is the Store as a DeltaStore; nil when it is not one.
	delta DeltaStore
	// saveReq and saveRes carry one save at a time to the saver and back;
	// each has room for it, so neither side ever blocks on them.
	saveReq chan saveJob
	saveRes chan error
	queue   cmdQueue
	flights singleflight.Group
	// shared is the deadline context of the calls the dispatcher started
	// last; owned by the dispatcher.
	shared *sharedDeadline

	// Owned by the loop goroutine: the save under way, and the operations
	// applied since the last Ready that wait for the next save.
	saving  *pendingSave
	waiters []chan error

	healthMu sync.Mutex
	health   StoreHealth

	started atomic.Bool
	stopped chan struct{} // closed when Run returns

	// term is ControllerConfig.Term, nil without one; revoked is closed,
	// and revokedErr set, the first time the term is found revoked.
	term       func() (uint64, error)
	revokeOnce sync.Once
	revoked    chan struct{}
	revokedErr error
}

// request is an admin operation handed to the loop.
type request struct {
	fn    func(*Machine) error
	ran   chan error // fn's own result, as soon as it returns
	saved chan error // for a write: nil once what fn changed is saved
}

// pendingSave is a Ready whose State is being saved; its commands wait for
// the save, and so do the operations whose change it holds.
type pendingSave struct {
	rd      Ready
	waiters []chan error
	// whole is set when an Apply of rd's Changes failed: the store may
	// hold them or not, so the whole State is saved instead.
	whole    bool
	b        *backoff.ExponentialBackOff
	failures int
	inFlight bool         // a Save is out with the saver
	timer    *clock.Timer // the next attempt's, while none is out
}

// NewController validates cfg, loads the Store and returns a Controller
// ready to Run. A Store with nothing saved (ErrNoState) starts a new center;
// a saved State is restored with RestoreMachine. Any other error of Load or
// RestoreMachine is returned: a center is never silently started empty.
// Configuration errors wrap ErrInvalidConfig.
func NewController(ctx context.Context, cfg ControllerConfig) (*Controller, error) {
	switch {
	case cfg.Transport == nil:
		return nil, &ControllerConfigError{Field: "Transport", Problem: "is nil"}
	case cfg.Store == nil:
		return nil, &ControllerConfigError{Field: "Store", Problem: "is nil"}
	case cfg.TickInterval < 0:
		return nil, &ControllerConfigError{Field: "TickInterval", Problem: "is negative"}
	case cfg.MaxInFlight < 0:
		return nil, &ControllerConfigError{Field: "MaxInFlight", Problem: "is negative"}
	}
	mcfg := cfg.Machine.WithDefaults()
	if err := mcfg.Validate(); err != nil {
		return nil, err
	}
	probe := mcfg.Detector.ProbeInterval
	if cfg.TickInterval == 0 {
		cfg.TickInterval = max(probe/4, time.Millisecond)
	}
	if cfg.TickInterval > probe {
		return nil, &ControllerConfigError{Field: "TickInterval",
			Problem: fmt.Sprintf("%v exceeds the probe interval %v", cfg.TickInterval, probe)}
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.New()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	var m *Machine
	st, err := cfg.Store.Load(ctx)
	switch {
	case errors.Is(err, ErrNoState):
		if m, err = NewMachine(cfg.Machine); err != nil {
			return nil, err
		}
		cfg.Logger.Info("failover: no saved state; starting a new center")
	case err != nil:
		return nil, fmt.Errorf("failover: load state: %w", err)
	default:
		if m, err = RestoreMachine(cfg.Machine, st, cfg.Clock.Now()); err != nil {
			return nil, fmt.Errorf("failover: restore state: %w", err)
		}
		cfg.Logger.Info("failover: state restored", "groups", len(st.Groups), "takeovers", len(st.Takeovers))
	}

	ds, _ := cfg.Store.(DeltaStore)
	if ds != nil {
		m.SetIncremental(true)
	}
	c := &Controller{
		m:         m,
		delta:     ds,
		tr:        cfg.Transport,
		store:     cfg.Store,
		clock:     cfg.Clock,
		log:       cfg.Logger,
		tick:      cfg.TickInterval,
		onEvent:   cfg.OnEvent,
		onStore:   cfg.OnStoreHealth,
		cmdTTL:    mcfg.CommandTimeout,
		retryBase: mcfg.RetryBase,
		retryMax:  mcfg.RetryMax,
		sem:       semaphore.NewWeighted(int64(cfg.MaxInFlight)),
		calls:     make(chan call, min(cfg.MaxInFlight, maxWorkers)),
		workers:   min(cfg.MaxInFlight, maxWorkers),
		reads:     make(chan *request),
		writes:    make(chan *request),
		results:   make(chan Result, min(cfg.MaxInFlight, 1024)),
		saveReq:   make(chan saveJob, 1),
		saveRes:   make(chan error, 1),
		queue:     cmdQueue{wake: make(chan struct{}, 1)},
		stopped:   make(chan struct{}),
		term:      cfg.Term,
		revoked:   make(chan struct{}),
	}
	if cfg.Term != nil {
		c.tr = &termTransport{Transport: cfg.Transport, c: c}
	}
	return c, nil
}

// Run runs the Controller until ctx is done, then cancels the calls in
// flight, waits for its goroutines and returns nil; it returns early with an
// error only if something fatal happens. Run may be called once; a second
// call returns ErrControllerStopped.
//
// While the Store refuses a State, Run retries the save with exponential
// backoff and sends nothing (an epoch must be durable before any server sees
// it); see Controller for what it still answers.
func (c *Controller) Run(ctx context.Context) error {
	if !c.started.CompareAndSwap(false, true) {
		return fmt.Errorf("%w: Run called twice", ErrControllerStopped)
	}
	defer close(c.stopped)
	g, gctx := errgroup.WithContext(ctx)
	for range c.workers {
		g.Go(func() error {
			c.work(gctx)
			return nil
		})
	}
	g.Go(func() error { return c.dispatch(gctx) })
	g.Go(func() error {
		c.saver(gctx)
		return nil
	})
	g.Go(func() error { return c.loop(gctx) })
	err := g.Wait()
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}

// revoke records that this center's term has ended, for cause: the loop
// stops at its next turn, and termTransport sends nothing from now on.
func (c *Controller) revoke(cause error) {
	c.revokeOnce.Do(func() {
		if errors.Is(cause, ErrTermRevoked) {
			c.revokedErr = cause
		} else {
			c.revokedErr = fmt.Errorf("%w: %w", ErrTermRevoked, cause)
		}
		close(c.revoked)
		c.log.Warn("failover: center term revoked; sending no further order", "err", cause)
	})
}

// checkTerm revokes the term if ControllerConfig.Term says it has ended.
func (c *Controller) checkTerm() {
	if c.term == nil {
		return
	}
	if _, err := c.term(); err != nil {
		c.revoke(err)
	}
}

// termTransport stamps the Controller's term on every order and sends none
// once the term is revoked.
type termTransport struct {
	transport.Transport
	c *Controller
}

// stamp returns the term to send an order with, or the error that refuses
// to send it.
func (t *termTransport) stamp() (uint64, error) {
	select {
	case <-t.c.revoked:
		return 0, t.c.revokedErr
	default:
	}
	term, err := t.c.term()
	if err != nil {
		t.c.revoke(err)
		return 0, t.c.revokedErr
	}
	return term, nil
}

func (t *termTransport) Takeover(ctx context.Context, standby nvrha.ServerID, o transport.TakeoverOrder) error {
	var err error
	if o.Term, err = t.stamp(); err != nil {
		return err
	}
	return t.Transport.Takeover(ctx, standby, o)
}

func (t *termTransport) Release(ctx context.Context, standby nvrha.ServerID, o transport.ReleaseOrder) error {
	var err error
	if o.Term, err = t.stamp(); err != nil {
		return err
	}
	return t.Transport.Release(ctx, standby, o)
}

func (t *termTransport) StandDown(ctx context.Context, recording nvrha.ServerID, o transport.StandDownOrder) error {
	var err error
	if o.Term, err = t.stamp(); err != nil {
		return err
	}
	return t.Transport.StandDown(ctx, recording, o)
}

func (t *termTransport) Resume(ctx context.Context, recording nvrha.ServerID, o transport.ResumeOrder) error {
	var err error
	if o.Term, err = t.stamp(); err != nil {
		return err
	}
	return t.Transport.Resume(ctx, recording, o)
}

// loop owns the Machine. It takes ticks, results and writes only when no
// save is under way, so that the Machine stands still between a Ready and
// its Advance; reads are answered whatever the Store does.
func (c *Controller) loop(ctx context.Context) error {
	ticker := c.clock.Ticker(c.tick)
	defer ticker.Stop()
	defer c.abandon()
	c.m.Tick(c.clock.Now())
	for {
		if c.saving == nil {
			c.pump()
		}
		if ctx.Err() != nil {
			return nil
		}
		var (
			ticks   <-chan time.Time
			results <-chan Result
			writes  <-chan *request
			saved   <-chan error
			retry   <-chan time.Time
		)
		if s := c.saving; s == nil {
			ticks, results, writes = ticker.C, c.results, c.writes
		} else {
			if s.inFlight {
				saved = c.saveRes
			} else {
				retry = s.timer.C
			}
			if s.failures > 0 {
				// Taken only to be refused: waiting for the Store would
				// leave the caller guessing until its ctx ends.
				writes = c.writes
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.revoked:
			return c.revokedErr
		case <-ticks:
			c.checkTerm()
			c.m.Tick(c.clock.Now())
		case r := <-results:
			c.step(r)
			// Apply the results already waiting before the next Ready: one
			// save then covers them all, so a burst (a center restart, a
			// thousand servers coming up) costs one State, not one each.
			c.drainResults()
		case req := <-c.reads:
			req.ran <- req.fn(c.m)
		case req := <-writes:
			c.serveWrite(req)
		case err := <-saved:
			c.saveDone(ctx, err)
		case <-retry:
			c.attempt()
		}
	}
}

func (c *Controller) step(r Result) {
	if err := c.m.Step(c.clock.Now(), r); err != nil {
		c.log.Warn("failover: result not applied", "err", err)
	}
}

// drainResults steps the results that are waiting, at most a channel's
// worth, so that the loop still ticks and serves requests under a flood.
func (c *Controller) drainResults() {
	for range cap(c.results) {
		select {
		case r := <-c.results:
			c.step(r)
		default:
			return
		}
	}
}

// serveWrite applies an admin operation, or refuses it while saves fail.
// An applied one waits for the save of the next Ready, which the loop takes
// at once, so that what it started (the release of an interrupted takeover)
// goes out now.
func (c *Controller) serveWrite(req *request) {
	if c.saving != nil {
		h := c.StoreHealth()
		req.ran <- &StoreFailingError{Since: h.FailingSince, Failures: h.Failures, Err: h.Err}
		return
	}
	err := req.fn(c.m)
	req.ran <- err
	if err == nil {
		c.waiters = append(c.waiters, req.saved)
	}
}

// pump runs the Ready loop (publish, persist, send, advance) until a State
// needs saving, which it starts, or the Machine has nothing more.
func (c *Controller) pump() {
	for c.m.HasReady() {
		rd := c.m.Ready()
		// Events report what the Machine decided, which a status page
		// needs most when the disk is full: they do not wait for the save.
		for _, e := range rd.Events {
			c.publish(e)
		}
		if rd.State != nil || rd.Changes != nil {
			c.startSave(rd)
			return
		}
		if len(rd.Commands) > 0 {
			c.queue.push(rd.Commands)
		}
		c.m.Advance(rd)
	}
	// Nothing the waiting operations changed needs saving (any more).
	for _, w := range c.waiters {
		w <- nil
	}
	c.waiters = c.waiters[:0]
}

// startSave begins saving rd's State; its commands wait for the save.
func (c *Controller) startSave(rd Ready) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = c.retryBase
	b.MaxInterval = c.retryMax
	b.Multiplier = 2
	b.MaxElapsedTime = 0 // until it works or Run stops
	b.Clock = c.clock
	b.Reset()
	c.saving = &pendingSave{rd: rd, waiters: c.waiters, b: b}
	c.waiters = nil
	c.healthMu.Lock()
	c.health.UnsavedSince = c.clock.Now()
	c.healthMu.Unlock()
	c.attempt()
}

// saveJob is what the saver writes: a whole State, or Changes.
type saveJob struct {
	st *State
	ch *Changes
}

// attempt hands the pending State, or its changes, to the saver.
func (c *Controller) attempt() {
	s := c.saving
	s.inFlight = true
	switch {
	case s.rd.Changes != nil && !s.whole:
		c.saveReq <- saveJob{ch: s.rd.Changes}
	case s.rd.Changes != nil:
		// The Machine stands still while its Ready is saved: its State
		// is the one the Changes lead to.
		st := c.m.State()
		c.saveReq <- saveJob{st: &st}
	default:
		c.saveReq <- saveJob{st: s.rd.State}
	}
}

// saver makes the saves the loop asks for, so that a Store that is slow or
// hangs never keeps the loop from answering.
func (c *Controller) saver(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-c.saveReq:
			var err error
			if job.ch != nil {
				err = c.delta.Apply(ctx, *job.ch)
			} else {
				err = c.store.Save(ctx, *job.st)
			}
			if errors.Is(err, ErrTermRevoked) {
				// A shared Store refused the write of a center that no
				// longer leads: retrying cannot help.
				c.revoke(err)
			}
			c.saveRes <- err
		}
	}
}

// saveDone takes the outcome of a save: on success the held commands go
// out and the waiting operations return; on failure the next attempt is
// scheduled.
func (c *Controller) saveDone(ctx context.Context, err error) {
	s := c.saving
	s.inFlight = false
	now := c.clock.Now()
	if err == nil {
		if len(s.rd.Commands) > 0 {
			c.queue.push(s.rd.Commands)
		}
		c.m.Advance(s.rd)
		c.saving = nil
		for _, w := range s.waiters {
			w <- nil
		}
		c.healthMu.Lock()
		was := c.health
		c.health = StoreHealth{LastSaved: now}
		h := c.health
		c.healthMu.Unlock()
		if was.Err != nil {
			c.log.Info("failover: state saved after failures; commands go out",
				"failures", was.Failures, "held", now.Sub(was.UnsavedSince))
			c.storeHealthChanged(h)
		}
		return
	}
	if ctx.Err() != nil {
		return // Run is stopping; the loop ends at its next turn.
	}
	s.failures++
	if s.rd.Changes != nil {
		// Whether the changes landed is unknown: the whole State is
		// right either way.
		s.whole = true
	}
	next := s.b.NextBackOff()
	if s.timer == nil {
		s.timer = c.clock.Timer(next)
	} else {
		s.timer.Reset(next)
	}
	c.healthMu.Lock()
	first := c.health.Err == nil
	if first {
		c.health.FailingSince = now
	}
	c.health.Err = err
	c.health.Failures = s.failures
	h := c.health
	c.healthMu.Unlock()
	c.log.Warn("failover: saving state failed; commands held and admin operations refused until it succeeds",
		"err", err, "attempt", s.failures, "retry_in", next)
	if first {
		c.storeHealthChanged(h)
	}
}

func (c *Controller) storeHealthChanged(h StoreHealth) {
	if c.onStore != nil {
		c.onStore(h)
	}
	if c.onEvent != nil {
		e := Event{Kind: EventStoreRecovered, At: h.LastSaved}
		if h.Err != nil {
			e = Event{Kind: EventStoreFailing, At: h.FailingSince, Detail: h.Err.Error()}
		}
		c.onEvent(e)
	}
}

// abandon answers the operations still waiting for a save when the loop
// ends: their change was not saved.
func (c *Controller) abandon() {
	waiters := c.waiters
	if s := c.saving; s != nil {
		if s.timer != nil {
			s.timer.Stop()
		}
		waiters = append(waiters, s.waiters...)
	}
	for _, w := range waiters {
		w <- fmt.Errorf("%w: the change was not saved", ErrControllerStopped)
	}
	c.saving, c.waiters = nil, nil
}

// StoreHealth returns how the Controller's saves are going. It does not wait
// for the Controller and may be called at any time.
func (c *Controller) StoreHealth() StoreHealth {
	c.healthMu.Lock()
	defer c.healthMu.Unlock()
	return c.health
}

func (c *Controller) publish(e Event) {
	if c.onEvent != nil {
		c.onEvent(e)
	}
	level := slog.LevelInfo
	switch e.Kind {
	case EventServerDown, EventTakeoverFailed, EventUnprotected, EventNotRecording:
		level = slog.LevelWarn
	}
	if !c.log.Enabled(context.Background(), level) {
		return
	}
	attrs := []slog.Attr{slog.String("kind", e.Kind.String()), slog.String("server", string(e.Server))}
	if e.Group != 0 {
		attrs = append(attrs, slog.Int("group", int(e.Group)))
	}
	if e.Peer != "" {
		attrs = append(attrs, slog.String("peer", string(e.Peer)))
	}
	if e.Epoch != 0 {
		attrs = append(attrs, slog.Uint64("epoch", uint64(e.Epoch)))
	}
	if e.From != "" || e.To != "" {
		attrs = append(attrs, slog.String("from", e.From), slog.String("to", e.To))
	}
	if e.Detail != "" {
		attrs = append(attrs, slog.String("detail", e.Detail))
	}
	c.log.LogAttrs(context.Background(), level, "failover: "+e.Kind.String(), attrs...)
}

// cmdQueue hands commands from the loop to the dispatcher without ever
// blocking the loop: the dispatcher may be waiting for a free slot while
// the calls holding the slots wait for the loop to take their results.
type cmdQueue struct {
	mu   sync.Mutex
	cmds []Command
	wake chan struct{} // capacity 1
}

func (q *cmdQueue) push(cmds []Command) {
	q.mu.Lock()
	q.cmds = append(q.cmds, cmds...)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

func (q *cmdQueue) take() []Command {
	q.mu.Lock()
	defer q.mu.Unlock()
	cmds := q.cmds
	q.cmds = nil
	return cmds
}

// dispatch starts the queued commands in order, each once it has a slot of
// the semaphore, so calls start in the order the Machine issued them.
func (c *Controller) dispatch(ctx context.Context) error {
	defer func() {
		if c.shared != nil {
			c.shared.release()
			c.shared = nil
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.queue.wake:
		}
		for _, cmd := range c.queue.take() {
			if ctx.Err() != nil {
				return nil
			}
			c.start(ctx, cmd)
		}
	}
}

// maxWorkers caps the worker goroutines; a larger MaxInFlight still
// bounds the calls in flight, which then wait for a worker.
const maxWorkers = 1024

// call is one command handed to a worker, with the slot it holds.
type call struct {
	ctx    context.Context
	cancel context.CancelFunc
	cmd    Command
}

// sharedDeadline is one deadline context for the calls started with the
// same deadline: the Machine gives every probe of a Tick the same one, and
// a context with its own timer for each probe was a twentieth of a
// center's CPU at a thousand servers. The last call to release it (or the
// dispatcher moving on to another deadline) cancels it.
type sharedDeadline struct {
	deadline time.Time
	ctx      context.Context
	cancel   context.CancelFunc
	refs     atomic.Int32
}

func (d *sharedDeadline) release() {
	if d.refs.Add(-1) == 0 {
		d.cancel()
	}
}

// callContext returns the context of a call with the given deadline: the
// shared one of the calls started just before when their deadline is the
// same, else a new one the next calls may share. The dispatcher holds a
// reference to the newest until the deadline changes, so that the calls
// ending before the next one starts do not cancel it.
func (c *Controller) callContext(ctx context.Context, deadline time.Time) (context.Context, context.CancelFunc) {
	if deadline.IsZero() {
		return context.WithCancel(ctx)
	}
	d := c.shared
	if d == nil || !d.deadline.Equal(deadline) {
		if d != nil {
			d.release()
		}
		d = &sharedDeadline{deadline: deadline}
		// On the Controller's clock, the one the Machine's deadlines
		// were computed from.
		d.ctx, d.cancel = c.clock.WithDeadline(ctx, deadline)
		d.refs.Store(1)
		c.shared = d
	}
	d.refs.Add(1)
	return d.ctx, d.release
}

// start hands one command to a worker once a slot is free. A command that
// gets no slot before its deadline is dropped: the Machine counts it as
// failed when the deadline passes.
func (c *Controller) start(ctx context.Context, cmd Command) {
	callCtx, cancel := c.callContext(ctx, cmd.Deadline)
	if err := c.sem.Acquire(callCtx, 1); err != nil {
		cancel()
		if ctx.Err() == nil {
			c.log.Debug("failover: command dropped: no free slot before its deadline", "cmd", cmd.String())
		}
		return
	}
	select {
	case c.calls <- call{ctx: callCtx, cancel: cancel, cmd: cmd}:
	case <-ctx.Done():
		cancel()
		c.sem.Release(1)
	}
}

// work runs calls until ctx ends, then releases the ones still queued.
func (c *Controller) work(ctx context.Context) {
	for {
		select {
		case cl := <-c.calls:
			c.run(ctx, cl)
		case <-ctx.Done():
			for {
				select {
				case cl := <-c.calls:
					cl.cancel()
					c.sem.Release(1)
				default:
					return
				}
			}
		}
	}
}

// run makes one call and hands its result to the loop.
func (c *Controller) run(ctx context.Context, cl call) {
	defer cl.cancel()
	r := c.execute(cl.ctx, cl.cmd)
	c.sem.Release(1)
	if ctx.Err() != nil {
		return
	}
	if errors.Is(r.Err, ErrTermRevoked) || errors.Is(r.Err, transport.ErrStaleTerm) {
		// Not the Machine's business: the order was not sent, or the
		// agent obeys a newer center. This center stops; the Machine must
		// not take the refusal for a standby's and order another.
		c.revoke(fmt.Errorf("%s: %w", cl.cmd, r.Err))
		return
	}
	c.logResult(cl.cmd, r)
	select {
	case c.results <- r:
	case <-ctx.Done():
	}
}

// execute makes cmd's call within ctx, which carries its deadline. A probe
// is made once: a lost probe is what the failure detector feeds on. Any
// other call whose outcome is unknown (transport.ErrUnreachable) is made
// again, with the same epoch, after an exponential backoff, until it gets a
// definite answer or ctx ends; a definite refusal (a stale epoch, an invalid
// order, the agent's own reason) goes straight back to the Machine, which
// decides what comes next.
func (c *Controller) execute(ctx context.Context, cmd Command) Result {
	// ctx carries the deadline on the Controller's clock; Execute would
	// apply it again on the real one.
	cmd.Deadline = time.Time{}
	if cmd.Kind == CmdProbe {
		return Execute(ctx, c.tr, cmd)
	}
	var last Result
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = max(c.retryBase/2, time.Millisecond)
	b.MaxInterval = max(c.cmdTTL/4, b.InitialInterval)
	b.Multiplier = 2
	b.MaxElapsedTime = 0 // bounded by ctx
	b.Clock = c.clock
	attempt := 0
	op := func() error {
		attempt++
		last = Execute(ctx, c.tr, cmd)
		switch {
		case last.Err == nil:
			return nil
		case ctx.Err() == nil && errors.Is(last.Err, transport.ErrUnreachable):
			return last.Err
		default:
			return backoff.Permanent(last.Err)
		}
	}
	notify := func(err error, next time.Duration) {
		c.log.Debug("failover: retrying call", "cmd", cmd.String(), "attempt", attempt, "err", err, "retry_in", next)
	}
	// The outcome is the last call's, whatever stopped the retries.
	_ = backoff.RetryNotifyWithTimer(op, backoff.WithContext(b, ctx), notify, &clockTimer{clock: c.clock})
	return last
}

func (c *Controller) logResult(cmd Command, r Result) {
	switch {
	case cmd.Kind == CmdProbe || cmd.Kind == CmdInventory:
		if r.Err != nil {
			c.log.Debug("failover: "+cmd.Kind.String()+" failed", "server", string(cmd.Server), "err", r.Err)
		}
	case r.Err != nil:
		c.log.Warn("failover: command failed", "cmd", cmd.String(), "err", r.Err)
	default:
		c.log.Debug("failover: command done", "cmd", cmd.String())
	}
}

// clockTimer is a backoff.Timer on a clock.Clock.
type clockTimer struct {
	clock clock.Clock
	t     *clock.Timer
}

func (t *clockTimer) Start(d time.Duration) {
	if t.t == nil {
		t.t = t.clock.Timer(d)
		return
	}
	t.t.Reset(d)
}

func (t *clockTimer) Stop() {
	if t.t != nil {
		t.t.Stop()
	}
}

func (t *clockTimer) C() <-chan time.Time { return t.t.C }

// submit hands fn to the loop and waits as the Controller's documentation
// describes.
func (c *Controller) submit(ctx context.Context, readOnly bool, fn func(*Machine) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case <-c.stopped:
		return ErrControllerStopped
	default:
	}
	req := &request{fn: fn, ran: make(chan error, 1), saved: make(chan error, 1)}
	to := c.writes
	if readOnly {
		to = c.reads
	}
	select {
	case to <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.stopped:
		return ErrControllerStopped
	}
	// The loop runs fn as soon as it takes it, without waiting on anything.
	if err := <-req.ran; err != nil || readOnly {
		return err
	}
	select {
	case err := <-req.saved:
		return err
	case <-ctx.Done():
		select {
		case err := <-req.saved:
			return err
		default:
		}
		if h := c.StoreHealth(); h.Err != nil {
			return fmt.Errorf("%w (the store has refused saves since %s: %v): %w",
				ErrSavePending, h.FailingSince.Format(time.RFC3339), h.Err, ctx.Err())
		}
		return fmt.Errorf("%w: %w", ErrSavePending, ctx.Err())
	}
}

// Do runs fn on the goroutine that owns the Machine, for anything the other
// methods do not cover, and returns its error. fn must not keep m, block, or
// call the Controller. Do waits as the Controller's admin operations do: an
// error from fn is returned at once, and otherwise Do returns once whatever
// fn changed is saved.
func (c *Controller) Do(ctx context.Context, fn func(m *Machine) error) error {
	return c.submit(ctx, false, fn)
}

// AddGroup runs Machine.AddGroup.
func (c *Controller) AddGroup(ctx context.Context, name string) (GroupID, error) {
	var id GroupID
	err := c.submit(ctx, false, func(m *Machine) (err error) {
		id, err = m.AddGroup(name)
		return err
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// RenameGroup runs Machine.RenameGroup.
func (c *Controller) RenameGroup(ctx context.Context, id GroupID, name string) error {
	return c.submit(ctx, false, func(m *Machine) error { return m.RenameGroup(id, name) })
}

// DeleteGroup verifies the first admin user with v, then runs
// Machine.DeleteGroup. The releases of the takeovers it interrupts are sent
// at once.
func (c *Controller) DeleteGroup(ctx context.Context, id GroupID, v FirstAdminVerifier) ([]Takeover, error) {
	a, err := VerifyFirstAdminAt(ctx, v, OpDeleteGroup, c.clock.Now())
	if err != nil {
		return nil, err
	}
	return c.takeovers(ctx, func(m *Machine) ([]Takeover, error) { return m.DeleteGroup(id, a) })
}

// SetProtection runs Machine.SetProtection. The releases of the takeovers
// it interrupts are sent at once.
func (c *Controller) SetProtection(ctx context.Context, id GroupID, on bool) ([]Takeover, error) {
	return c.takeovers(ctx, func(m *Machine) ([]Takeover, error) { return m.SetProtection(id, on) })
}

// AddRecordingServers runs Machine.AddRecordingServers.
func (c *Controller) AddRecordingServers(ctx context.Context, g GroupID, servers ...nvrha.Facts) error {
	return c.submit(ctx, false, func(m *Machine) error { return m.AddRecordingServers(g, servers...) })
}

// AddStandbyServers runs Machine.AddStandbyServers.
func (c *Controller) AddStandbyServers(ctx context.Context, g GroupID, servers ...nvrha.Facts) error {
	return c.submit(ctx, false, func(m *Machine) error { return m.AddStandbyServers(g, servers...) })
}

// RemoveRecordingServers runs Machine.RemoveRecordingServers.
func (c *Controller) RemoveRecordingServers(ctx context.Context, g GroupID, servers ...nvrha.ServerID) error {
	return c.submit(ctx, false, func(m *Machine) error { return m.RemoveRecordingServers(g, servers...) })
}

// RemoveStandbyServers verifies the first admin user with v, then runs
// Machine.RemoveStandbyServers.
func (c *Controller) RemoveStandbyServers(ctx context.Context, g GroupID, v FirstAdminVerifier, servers ...nvrha.ServerID) error {
	a, err := VerifyFirstAdminAt(ctx, v, OpRemoveStandbyServers, c.clock.Now())
	if err != nil {
		return err
	}
	return c.submit(ctx, false, func(m *Machine) error { return m.RemoveStandbyServers(g, a, servers...) })
}

// SetServerEnabled runs Machine.SetServerEnabled. The release of a takeover
// that disabling interrupts is sent at once.
func (c *Controller) SetServerEnabled(ctx context.Context, server nvrha.ServerID, enabled bool) ([]Takeover, error) {
	return c.takeovers(ctx, func(m *Machine) ([]Takeover, error) { return m.SetServerEnabled(server, enabled) })
}

// UpdateFacts runs Machine.UpdateFacts.
func (c *Controller) UpdateFacts(ctx context.Context, f nvrha.Facts) error {
	return c.submit(ctx, false, func(m *Machine) error { return m.UpdateFacts(f) })
}

// Failback runs Machine.Failback: the failback of a taken-over recording
// server starts now.
func (c *Controller) Failback(ctx context.Context, recording nvrha.ServerID) error {
	return c.submit(ctx, false, func(m *Machine) error { return m.Failback(recording) })
}

// Snapshot returns Machine.Snapshot.
func (c *Controller) Snapshot(ctx context.Context) (Snapshot, error) {
	var s Snapshot
	err := c.submit(ctx, true, func(m *Machine) error {
		s = m.Snapshot()
		return nil
	})
	if err != nil {
		return Snapshot{}, err
	}
	return s, nil
}

// Member returns the snapshot of one server, without copying the whole
// center: ok is false when the server is in no group.
func (c *Controller) Member(ctx context.Context, id nvrha.ServerID) (ms MemberSnapshot, ok bool, err error) {
	err = c.submit(ctx, true, func(m *Machine) error {
		ms, ok = m.Member(id)
		return nil
	})
	return ms, ok, err
}

// Epoch returns Machine.Epoch: the newest epoch issued for a recording
// server's cameras.
func (c *Controller) Epoch(ctx context.Context, recording nvrha.ServerID) (nvrha.Epoch, error) {
	var e nvrha.Epoch
	err := c.submit(ctx, true, func(m *Machine) error {
		e = m.Epoch(recording)
		return nil
	})
	return e, err
}

// Ledger returns Machine.Ledger for a camera.
func (c *Controller) Ledger(ctx context.Context, camera nvrha.CameraID) ([]Interval, error) {
	var ivs []Interval
	err := c.submit(ctx, true, func(m *Machine) error {
		ivs = m.Ledger(camera)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ivs, nil
}

func (c *Controller) takeovers(ctx context.Context, fn func(*Machine) ([]Takeover, error)) ([]Takeover, error) {
	var tks []Takeover
	err := c.submit(ctx, false, func(m *Machine) (err error) {
		tks, err = fn(m)
		return err
	})
	if err != nil {
		return nil, err
	}
	return tks, nil
}

// RefreshInventory reads a server's facts through the transport now and
// applies them with Machine.UpdateFacts, as the Machine's periodic inventory
// does, and returns them. Concurrent calls for the same server share one
// read and one update. The shared work does not end when one caller's ctx
// does: it is bounded by the Machine's CommandTimeout, on the Controller's
// clock, and needs a running Controller to apply the facts.
func (c *Controller) RefreshInventory(ctx context.Context, server nvrha.ServerID) (nvrha.Facts, error) {
	if err := ctx.Err(); err != nil {
		return nvrha.Facts{}, err
	}
	select {
	case <-c.stopped:
		return nvrha.Facts{}, ErrControllerStopped
	default:
	}
	ch := c.flights.DoChan(string(server), func() (any, error) {
		fctx, cancel := c.clock.WithTimeout(context.WithoutCancel(ctx), c.cmdTTL)
		defer cancel()
		f, err := c.fetchInventory(fctx, server)
		if err != nil {
			return nvrha.Facts{}, err
		}
		if err := c.UpdateFacts(fctx, f); err != nil {
			return nvrha.Facts{}, err
		}
		return f, nil
	})
	select {
	case r := <-ch:
		if r.Err != nil {
			return nvrha.Facts{}, r.Err
		}
		return r.Val.(nvrha.Facts).Clone(), nil
	case <-ctx.Done():
		return nvrha.Facts{}, ctx.Err()
	}
}

func (c *Controller) fetchInventory(ctx context.Context, server nvrha.ServerID) (nvrha.Facts, error) {
	if err := c.sem.Acquire(ctx, 1); err != nil {
		return nvrha.Facts{}, fmt.Errorf("failover: inventory of %s: %w", server, err)
	}
	r := c.execute(ctx, Command{Kind: CmdInventory, Server: server})
	c.sem.Release(1)
	if r.Err != nil {
		return nvrha.Facts{}, fmt.Errorf("failover: inventory of %s: %w", server, r.Err)
	}
	if r.Facts.ID != server {
		return nvrha.Facts{}, fmt.Errorf("%w: inventory of %s names server %q", ErrFactsChanged, server, r.Facts.ID)
	}
	return r.Facts, nil
}
