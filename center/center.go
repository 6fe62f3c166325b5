package center

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// Config configures a Center. Controller.Transport, Controller.Store and at
// least one of Users are required.
type Config struct {
	// Controller configures the failover.Controller the Center runs. The
	// Center wraps its Transport and Store to count calls and saves, sets
	// OnEvent (a function set here is still called, after the Center has
	// taken the event) and gives it a Logger that leaves event records to
	// the Center, which logs them itself without the statuses of servers
	// not yet probed.
	Controller failover.ControllerConfig
	// Servers are the servers this center can reach that may join a group:
	// the Add dialogs offer them, each with its eligibility. Members of a
	// group that are not listed are shown as members all the same.
	Servers []nvrha.ServerID
	// Users are the admin users who may log in. The first is the first
	// admin user, whose password approves removing standby servers and
	// deleting a group.
	Users []User
	// Logger receives the Center's logs; nil discards them.
	Logger *slog.Logger
	// SecureCookies marks the session cookie Secure: set it whenever the
	// page is served over TLS, or behind a proxy that terminates it.
	SecureCookies bool
	// SessionTTL is how long a login lasts without use (default 12h).
	SessionTTL time.Duration
	// ApprovalTTL is how long a first-admin verification may wait for
	// the operation it approves (default 60s).
	ApprovalTTL time.Duration
	// Registry receives the Center's metrics; nil means a new registry.
	// /metrics serves whatever it gathers.
	Registry *prometheus.Registry
	// EventHistory is how many events the event stream replays to a new
	// subscriber (default 512).
	EventHistory int
	// Demo, if set, adds the demo's crash and restore operations to the
	// API and the page.
	Demo Demo
	// Now is the Center's clock for sessions and approvals; nil means
	// time.Now.
	Now func() time.Time
}

// Demo is a simulated fleet whose servers an operator may crash and
// restore from the page.
type Demo interface {
	// Crash makes a server unreachable, as if it lost power.
	Crash(server nvrha.ServerID) error
	// Restore brings a crashed server back.
	Restore(server nvrha.ServerID) error
	// Crashed reports whether the server is crashed now.
	Crashed(server nvrha.ServerID) bool
}

// ErrInvalidConfig is wrapped by every error New returns for a Config it
// cannot run with.
var ErrInvalidConfig = errors.New("center: invalid config")

// Center is an operator's view of a failover.Controller: the admin API, the
// Failover Management page, the event stream and the metrics, all from
// Handler. Safe for concurrent use.
type Center struct {
	ctl     *failover.Controller
	cfg     Config
	machine failover.Config // with defaults, for the eligibility rules
	log     *slog.Logger
	now     func() time.Time
	tr      *meteredTransport
	store   *meteredStore
	events  *eventHub
	metrics *metrics
	auth    *auth
	servers []nvrha.ServerID
	handler http.Handler

	running atomic.Bool
	done    chan struct{}
	runOnce sync.Once
	// streamsEnd is closed by EndStreams.
	streamsEnd  chan struct{}
	streamsOnce sync.Once
}

// New builds the Controller from cfg.Controller and the Center around it.
// Run runs both.
func New(ctx context.Context, cfg Config) (*Center, error) {
	if cfg.Controller.Transport == nil {
		return nil, fmt.Errorf("%w: Controller.Transport is nil", ErrInvalidConfig)
	}
	if cfg.Controller.Store == nil {
		return nil, fmt.Errorf("%w: Controller.Store is nil", ErrInvalidConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.ApprovalTTL <= 0 {
		cfg.ApprovalTTL = time.Minute
	}
	if cfg.EventHistory <= 0 {
		cfg.EventHistory = 512
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	a, err := newAuth(cfg.Users, cfg.SessionTTL, cfg.ApprovalTTL, cfg.Now)
	if err != nil {
		return nil, err
	}
	seen := map[nvrha.ServerID]bool{}
	for _, id := range cfg.Servers {
		if err := id.Validate(); err != nil {
			return nil, fmt.Errorf("%w: server %q: %w", ErrInvalidConfig, id, err)
		}
		if seen[id] {
			return nil, fmt.Errorf("%w: server %q listed twice", ErrInvalidConfig, id)
		}
		seen[id] = true
	}
	c := &Center{
		cfg:     cfg,
		machine: cfg.Controller.Machine.WithDefaults(),
		log:     cfg.Logger,
		now:     cfg.Now,
		auth:    a,
		servers: slices.Clone(cfg.Servers),
		done:    make(chan struct{}),

		streamsEnd: make(chan struct{}),
	}
	c.metrics = newMetrics(c)
	if err := c.metrics.register(cfg.Registry); err != nil {
		return nil, fmt.Errorf("%w: metrics: %w", ErrInvalidConfig, err)
	}
	c.events = newEventHub(cfg.EventHistory, c.log)
	c.tr = &meteredTransport{next: cfg.Controller.Transport, m: c.metrics}

	cc := cfg.Controller
	cc.Transport = c.tr
	c.store = &meteredStore{next: cfg.Controller.Store, m: c.metrics}
	cc.Store = c.store.asStore()
	userHook := cc.OnEvent
	cc.OnEvent = func(e failover.Event) {
		c.observe(e)
		if userHook != nil {
			userHook(e)
		}
	}
	ctlLog := cc.Logger
	if ctlLog == nil {
		ctlLog = c.log
	}
	cc.Logger = slog.New(dropEventRecords{ctlLog.Handler()})
	if c.ctl, err = failover.NewController(ctx, cc); err != nil {
		return nil, err
	}
	c.handler = c.routes()
	return c, nil
}

// Controller returns the Controller the Center runs, for what the API does
// not cover.
func (c *Center) Controller() *failover.Controller { return c.ctl }

// Run runs the Controller until ctx is done; see failover.Controller.Run.
// The Handler serves meanwhile, and /readyz reports ready from the first
// snapshot the running Controller answers.
func (c *Center) Run(ctx context.Context) error {
	c.running.Store(true)
	sctx, stopSettle := context.WithCancel(ctx)
	var settling sync.WaitGroup
	settling.Go(func() { c.settle(sctx) })
	defer func() {
		stopSettle()
		settling.Wait()
		c.running.Store(false)
		c.runOnce.Do(func() { close(c.done) })
		c.events.close()
	}()
	return c.ctl.Run(ctx)
}

// Handler serves the page, the admin API under /api/v1/, /metrics, /healthz
// and /readyz.
func (c *Center) Handler() http.Handler { return c.handler }

// EndStreams ends the open event streams and refuses new ones, so that an
// http.Server's Shutdown, which waits for every request, need not wait
// for them: register it with the server's RegisterOnShutdown. A page whose
// stream ends reconnects to whichever center serves next.
func (c *Center) EndStreams() {
	c.streamsOnce.Do(func() { close(c.streamsEnd) })
}

// observe is the Controller's OnEvent: it must not block.
func (c *Center) observe(e failover.Event) {
	c.metrics.observeEvent(e)
	c.events.machineEvent(e)
}
