package etcdha_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/etcdha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// fleet is the servers the centers protect: two recording servers and two
// standbys behind one in-memory transport, each call logged with its term.
type fleet struct {
	tr     *transport.InMemory
	agents map[nvrha.ServerID]*agenttest.Server

	mu    sync.Mutex
	log   []sent
	block func(c transport.Call) error // run before every order, if set
}

// sent is one order as it left for its agent.
type sent struct {
	at     time.Time
	server nvrha.ServerID
	method transport.Method
	term   uint64
	epoch  nvrha.Epoch
	err    error // the block's, if it stopped the order
}

var (
	fleetRecording = []nvrha.Facts{recFacts("rec-1", "rec-1/cam-1", "rec-1/cam-2"), recFacts("rec-2", "rec-2/cam-1")}
	fleetStandby   = []nvrha.Facts{sbFacts("sb-1"), sbFacts("sb-2")}
)

func recFacts(id nvrha.ServerID, cams ...nvrha.CameraID) nvrha.Facts {
	return nvrha.Facts{ID: id, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 16, Cameras: cams,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1"}}}
}

func sbFacts(id nvrha.ServerID) nvrha.Facts {
	return nvrha.Facts{ID: id, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 32,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: true}}}
}

func newFleet(t testing.TB) *fleet {
	f := &fleet{tr: transport.NewInMemory(), agents: map[nvrha.ServerID]*agenttest.Server{}}
	for _, facts := range append(append([]nvrha.Facts(nil), fleetRecording...), fleetStandby...) {
		a := agenttest.New(facts)
		if err := f.tr.Register(facts.ID, a); err != nil {
			t.Fatal(err)
		}
		f.agents[facts.ID] = a
		f.tr.SetHook(facts.ID, f.hook)
	}
	return f
}

func (f *fleet) hook(_ context.Context, c transport.Call) error {
	s := sent{at: time.Now(), server: c.Server, method: c.Method}
	switch o := c.Order.(type) {
	case transport.TakeoverOrder:
		s.term, s.epoch = o.Term, o.Epoch
	case transport.ReleaseOrder:
		s.term, s.epoch = o.Term, o.Epoch
	case transport.StandDownOrder:
		s.term, s.epoch = o.Term, o.Epoch
	case transport.ResumeOrder:
		s.term, s.epoch = o.Term, o.Epoch
	default:
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.block != nil {
		s.err = f.block(c)
	}
	f.log = append(f.log, s)
	return s.err
}

func (f *fleet) setBlock(b func(c transport.Call) error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.block = b
}

func (f *fleet) sent() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]sent(nil), f.log...)
}

// testCenter is one center: a Node with its own etcd client.
type testCenter struct {
	t      testing.TB
	name   string
	node   *etcdha.Node
	cli    *clientv3.Client
	cancel context.CancelFunc
	done   chan error

	mu     sync.Mutex
	ctl    *failover.Controller
	ready  chan struct{} // closed once ctl is first set
	runErr error
	events chan failover.Event
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("NVRHA_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startCenter runs a center named name over endpoints (e's first member if
// none) with a lease of ttl.
func startCenter(t testing.TB, e *testEtcd, f *fleet, name, prefix string, ttl time.Duration, endpoints ...string) *testCenter {
	t.Helper()
	c := &testCenter{t: t, name: name, cli: e.client(endpoints...), done: make(chan error, 1), events: make(chan failover.Event, 4096), ready: make(chan struct{})}
	node, err := etcdha.New(etcdha.Config{
		Client:   c.cli,
		Name:     name,
		Store:    etcdha.StoreConfig{Prefix: prefix},
		LeaseTTL: ttl,
		Logger:   testLogger(t).With("test-center", name),
		Controller: failover.ControllerConfig{
			Transport: f.tr,
			Logger:    testLogger(t).With("test-center", name),
			OnEvent: func(ev failover.Event) {
				select {
				case c.events <- ev:
				default:
				}
			},
		},
		Lead: func(ctx context.Context, cc failover.ControllerConfig) error {
			ctl, err := failover.NewController(ctx, cc)
			if err != nil {
				return err
			}
			c.mu.Lock()
			if c.ctl == nil {
				close(c.ready)
			}
			c.ctl = ctl
			c.mu.Unlock()
			err = ctl.Run(ctx)
			c.mu.Lock()
			c.runErr = err
			c.mu.Unlock()
			return err
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.node = node
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	go func() { c.done <- node.Run(ctx) }()
	t.Cleanup(c.stop)
	return c
}

// stop ends the center gracefully: it resigns.
func (c *testCenter) stop() {
	c.cancel()
	select {
	case <-c.done:
		c.done <- nil
	case <-time.After(10 * time.Second):
		c.t.Errorf("center %s did not stop within 10s", c.name)
	}
}

// kill ends the center as a crash of its host would: its etcd connection
// goes first, so it can neither resign nor revoke its lease.
func (c *testCenter) kill() {
	_ = c.cli.Close()
	c.cancel()
}

// controller returns the Controller of the center's latest term, waiting
// for its first.
func (c *testCenter) controller() *failover.Controller {
	c.t.Helper()
	select {
	case <-c.ready:
	case <-time.After(10 * time.Second):
		c.t.Fatalf("center %s ran no Controller within 10s", c.name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctl
}

// waitRole waits for the center to take role and returns its status.
func (c *testCenter) waitRole(role etcdha.Role, limit time.Duration) etcdha.Status {
	c.t.Helper()
	deadline := time.After(limit)
	for {
		s, changed := c.node.Status()
		if s.Role == role {
			return s
		}
		select {
		case <-changed:
		case <-deadline:
			c.t.Fatalf("center %s is %v, not %v, after %v", c.name, s.Role, role, limit)
		}
	}
}

// waitEvent waits for an event of the center's Controller that match
// accepts, and returns it.
func (c *testCenter) waitEvent(limit time.Duration, what string, match func(failover.Event) bool) failover.Event {
	c.t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case ev := <-c.events:
			if match(ev) {
				return ev
			}
		case <-deadline:
			c.t.Fatalf("center %s: no %s within %v", c.name, what, limit)
		}
	}
}

// join adds the fleet to the default group through c, which leads, and
// waits until both recording servers are protected.
func (c *testCenter) join(f *fleet) {
	c.t.Helper()
	ctl := c.controller()
	ctx := context.Background()
	if err := ctl.AddRecordingServers(ctx, failover.DefaultGroupID, fleetRecording...); err != nil {
		c.t.Fatal(err)
	}
	if err := ctl.AddStandbyServers(ctx, failover.DefaultGroupID, fleetStandby...); err != nil {
		c.t.Fatal(err)
	}
	protected := map[nvrha.ServerID]bool{}
	c.waitEvent(10*time.Second, "protected recording servers", func(ev failover.Event) bool {
		if ev.Kind == failover.EventStatusChanged && ev.To == status.RecordingNormalProtected.Label() {
			protected[ev.Server] = true
		}
		return len(protected) == len(fleetRecording)
	})
}

// proxy forwards TCP connections to an address until stopped, so that a
// test can cut one center from etcd while the others still reach it.
type proxy struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	held  chan struct{} // closed by hold
}

func startProxy(t testing.TB, to string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, held: make(chan struct{})}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, p.gate(c)); u.Close() }()
			go func() { _, _ = io.Copy(c, p.gate(u)); c.Close() }()
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *proxy) endpoint() string { return "http://" + p.ln.Addr().String() }

// hold makes the proxy a black hole: the connections stay open, and what
// is sent either way from then on is read and dropped.
func (p *proxy) hold() { close(p.held) }

// gate returns r, read until hold and drained afterwards.
func (p *proxy) gate(r io.Reader) io.Reader { return &gated{r: r, held: p.held} }

type gated struct {
	r    io.Reader
	held chan struct{}
}

func (g *gated) Read(b []byte) (int, error) {
	for {
		n, err := g.r.Read(b)
		select {
		case <-g.held:
			if err != nil {
				return 0, err
			}
			continue // dropped
		default:
			return n, err
		}
	}
}

// stop closes the listener and every connection: the other side is
// unreachable from then on.
func (p *proxy) stop() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
