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

// ErrControllerStopped is returned by a Controller's operations once its Run
// has returned, and by a second call of Run.
var ErrControllerStopped = errors.New("failover: controller stopped")

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
	// tests, FileStore a single center.
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
	MaxInFlight int64
	// OnEvent, if set, is called with every Event, in order, from the
	// goroutine that owns the Machine. It must not block: the Machine waits
	// for it.
	OnEvent func(Event)
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
// loop, persisting each State before it sends the commands that follow.
// Commands run concurrently through the transport, at most MaxInFlight at a
// time, each bounded by its deadline on the Controller's clock.
//
// Its methods are safe for concurrent use. Each admin operation runs on the
// Machine's goroutine and waits for it. One called before Run starts waits
// until Run takes it or ctx ends. One whose ctx ends before the Controller
// takes it returns ctx's error and is never applied; one that fails returns
// the Machine's error and changed nothing. One that succeeds returns once its
// change is saved in the Store, so an acknowledged change survives a crash.
// If ctx ends while that save waits (the Store keeps refusing it), it returns
// ctx's error and the change stands: it is saved as soon as the Store
// accepts it, unless Run stops first. Snapshot and Ledger change nothing and
// return without waiting for a save. Once Run has returned, every operation
// returns ErrControllerStopped.
type Controller struct {
	m       *Machine // owned by the loop goroutine once Run starts
	tr      transport.Transport
	store   Store
	clock   clock.Clock
	log     *slog.Logger
	tick    time.Duration
	onEvent func(Event)
	cmdTTL  time.Duration // the Machine's CommandTimeout
	// retryBase and retryMax shape the backoff of Store saves.
	retryBase, retryMax time.Duration

	sem *semaphore.Weighted
	// calls go to long-lived workers, as many as the semaphore's slots up
	// to maxWorkers: a goroutine per call would grow a new stack for each
	// probe, a fifth of a center's CPU at a thousand servers.
	calls   chan call
	workers int
	reqs    chan *request // unbuffered: a send is the loop taking it
	results chan Result
	queue   cmdQueue
	flights singleflight.Group
	// shared is the deadline context of the calls the dispatcher started
	// last; owned by the dispatcher.
	shared *sharedDeadline

	started atomic.Bool
	stopped chan struct{} // closed when Run returns
}

// request is an admin operation handed to the loop.
type request struct {
	fn func(*Machine) error
	// readOnly operations change nothing, so they are answered without
	// waiting for a save.
	readOnly bool
	ran      chan error // fn's own result, as soon as it returns
	saved    chan error // nil once what fn changed is saved
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

	return &Controller{
		m:         m,
		tr:        cfg.Transport,
		store:     cfg.Store,
		clock:     cfg.Clock,
		log:       cfg.Logger,
		tick:      cfg.TickInterval,
		onEvent:   cfg.OnEvent,
		cmdTTL:    mcfg.CommandTimeout,
		retryBase: mcfg.RetryBase,
		retryMax:  mcfg.RetryMax,
		sem:       semaphore.NewWeighted(cfg.MaxInFlight),
		calls:     make(chan call, min(cfg.MaxInFlight, maxWorkers)),
		workers:   int(min(cfg.MaxInFlight, maxWorkers)),
		reqs:      make(chan *request),
		results:   make(chan Result, min(cfg.MaxInFlight, 1024)),
		queue:     cmdQueue{wake: make(chan struct{}, 1)},
		stopped:   make(chan struct{}),
	}, nil
}

// Run runs the Controller until ctx is done, then cancels the calls in
// flight, waits for its goroutines and returns nil; it returns early with an
// error only if something fatal happens. Run may be called once; a second
// call returns ErrControllerStopped.
//
// While the Store refuses a State, Run retries the save with exponential
// backoff and sends nothing, takes no admin operation and does not tick:
// an epoch must be durable before any server sees it.
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
	g.Go(func() error { return c.loop(gctx) })
	err := g.Wait()
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil
	}
	return err
}

// loop owns the Machine.
func (c *Controller) loop(ctx context.Context) error {
	ticker := c.clock.Ticker(c.tick)
	defer ticker.Stop()
	c.m.Tick(c.clock.Now())
	for {
		if err := c.flush(ctx); err != nil {
			return stopErr(ctx, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			c.m.Tick(c.clock.Now())
		case r := <-c.results:
			c.step(r)
			// Apply the results already waiting before the next flush: one
			// save then covers them all, so a burst (a center restart, a
			// thousand servers coming up) costs one State, not one each.
			c.drainResults()
		case req := <-c.reqs:
			if err := c.serve(ctx, req); err != nil {
				return stopErr(ctx, err)
			}
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

// stopErr turns an error caused by ctx ending into a clean stop.
func stopErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// serve applies an admin operation, then runs the Ready loop at once so
// that what it started (the release of an interrupted takeover) goes out
// now, and answers once its change is saved.
func (c *Controller) serve(ctx context.Context, req *request) error {
	err := req.fn(c.m)
	req.ran <- err
	if req.readOnly {
		return nil
	}
	if ferr := c.flush(ctx); ferr != nil {
		req.saved <- fmt.Errorf("%w: the change was not saved", ErrControllerStopped)
		return ferr
	}
	req.saved <- nil
	return nil
}

// flush runs the Ready loop: persist, send, publish, advance. It returns an
// error only when ctx ends while a save is being retried; then nothing of
// that Ready is sent.
func (c *Controller) flush(ctx context.Context) error {
	for c.m.HasReady() {
		rd := c.m.Ready()
		if rd.State != nil {
			if err := c.save(ctx, *rd.State); err != nil {
				return err
			}
		}
		if len(rd.Commands) > 0 {
			c.queue.push(rd.Commands)
		}
		for _, e := range rd.Events {
			c.publish(e)
		}
		c.m.Advance(rd)
	}
	return nil
}

// save persists st, retrying with exponential backoff on the Controller's
// clock until the Store accepts it or ctx ends.
func (c *Controller) save(ctx context.Context, st State) error {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = c.retryBase
	b.MaxInterval = c.retryMax
	b.Multiplier = 2
	b.MaxElapsedTime = 0 // until it works or ctx ends
	b.Clock = c.clock
	attempts := 0
	op := func() error {
		attempts++
		err := c.store.Save(ctx, st)
		if err != nil && ctx.Err() != nil {
			return backoff.Permanent(ctx.Err())
		}
		return err
	}
	notify := func(err error, next time.Duration) {
		c.log.Warn("failover: saving state failed; commands held until it succeeds",
			"err", err, "attempt", attempts, "retry_in", next)
	}
	err := backoff.RetryNotifyWithTimer(op, backoff.WithContext(b, ctx), notify, &clockTimer{clock: c.clock})
	if err == nil && attempts > 1 {
		c.log.Info("failover: state saved after retries", "attempts", attempts)
	}
	return err
}

func (c *Controller) publish(e Event) {
	if c.onEvent != nil {
		c.onEvent(e)
	}
	level := slog.LevelInfo
	switch e.Kind {
	case EventServerDown, EventTakeoverFailed, EventUnprotected:
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
	req := &request{fn: fn, readOnly: readOnly, ran: make(chan error, 1), saved: make(chan error, 1)}
	select {
	case c.reqs <- req:
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
			return ctx.Err()
		}
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
