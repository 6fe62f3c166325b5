package perf

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/failover/detector"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// The environment of the agent process that HTTPProbe starts: how many
// agents to serve and the hex secret of the key they accept.
const (
	AgentsEnv = "NVRHA_PERF_AGENTS"
	KeyEnv    = "NVRHA_PERF_KEY"
)

// probeKeyID names the key of the measurement.
const probeKeyID = "perf"

// ProbeDriver says what drives the probes of an HTTPProbe measurement.
type ProbeDriver uint8

const (
	// DriveController probes with a failover.Controller running a Machine
	// of the agents in groups of 64: the whole center, Machine included.
	DriveController ProbeDriver = iota
	// DriveLoop probes with a bare loop: one goroutine on a ticker starting
	// each agent's probe once per interval, spread over 16 phases as the
	// Machine spreads them, at most failover.DefaultMaxInFlight at a time,
	// each bounded by failover.DefaultProbeTimeout. It isolates the cost of
	// the transport.
	DriveLoop
)

func (d ProbeDriver) String() string {
	switch d {
	case DriveController:
		return "controller"
	case DriveLoop:
		return "loop"
	}
	return "ProbeDriver(" + strconv.Itoa(int(d)) + ")"
}

// HTTPProbeConfig configures an HTTPProbe measurement.
type HTTPProbeConfig struct {
	// Agents is how many agents the agent process serves, each on its own
	// loopback listener. Required.
	Agents int
	// Interval is the probe interval; zero means
	// detector.DefaultProbeInterval.
	Interval time.Duration
	// Warmup runs before the measured window, so that connections are open
	// and the detectors settled; zero means 2 s, at least 4 intervals.
	Warmup time.Duration
	// Window is the measured wall time; zero means 5 s, at least 10
	// intervals.
	Window time.Duration
	// Driver drives the probes (DriveController by default).
	Driver ProbeDriver
	// HTTPOnly sets ClientConfig.DisableUDPProbes: every probe goes over
	// HTTP, as before the UDP probe channel existed.
	HTTPOnly bool
	// NoVerify turns off ClientConfig.VerifyResponses, which is on by
	// default: the measurement includes checking every response's
	// signature.
	NoVerify bool

	// CPUProfile, if set, receives a CPU profile of the window alone (not
	// the set-up and warm-up, as go test's -cpuprofile would).
	CPUProfile io.Writer

	// wrongKey makes the client sign with a key the agents do not know, so
	// that every probe fails: for the test that the measurement cannot pass
	// silently.
	wrongKey bool
}

// HTTPProbeResult is what an HTTPProbe measurement found, over its window.
type HTTPProbeResult struct {
	Agents   int
	Interval time.Duration
	Driver   ProbeDriver
	HTTPOnly bool
	// Wall is the measured window's wall time and CPU the user and system
	// CPU time the controller's process spent in it.
	Wall, CPU time.Duration
	// Probes is how many probes completed in the window; Errors how many
	// failed over the whole run, warm-up included.
	Probes, Errors int64
	// FirstError is the first probe error, if any.
	FirstError error
	// Dials is how many connections the client opened in the window: zero
	// when connections are reused as they should be.
	Dials int64
	// HTTPWrites is how many writes the client made on its HTTP
	// connections in the window, about one per HTTP request: probes that
	// went over UDP make none.
	HTTPWrites int64
	// Saves is how many times the Controller saved its State in the window
	// (DriveController): a steady center saves nothing.
	Saves int
	// Downs is how many times the Controller declared a server down in the
	// window (DriveController).
	Downs int
}

// CPUPercent is the controller's CPU over the window, in percent of one core.
func (r HTTPProbeResult) CPUPercent() float64 {
	return 100 * r.CPU.Seconds() / r.Wall.Seconds()
}

// ProbesPerSecond is the rate of probes achieved in the window.
func (r HTTPProbeResult) ProbesPerSecond() float64 {
	return float64(r.Probes) / r.Wall.Seconds()
}

// WantProbesPerSecond is the rate the interval asks for: Agents/Interval.
func (r HTTPProbeResult) WantProbesPerSecond() float64 {
	return float64(r.Agents) / r.Interval.Seconds()
}

// CPUPerProbe is the controller's CPU time per probe, in microseconds.
func (r HTTPProbeResult) CPUPerProbe() float64 {
	if r.Probes == 0 {
		return 0
	}
	return float64(r.CPU.Microseconds()) / float64(r.Probes)
}

func (r HTTPProbeResult) String() string {
	probes := "udp+http"
	if r.HTTPOnly {
		probes = "http"
	}
	return fmt.Sprintf("%s probes=%s agents=%d interval=%v: cpu %.2f%% of a core, %.1f µs/probe, %.0f probes/s of %.0f wanted, %d errors, %d dials, %d HTTP writes, %d saves, %d downs",
		r.Driver, probes, r.Agents, r.Interval, r.CPUPercent(), r.CPUPerProbe(), r.ProbesPerSecond(), r.WantProbesPerSecond(), r.Errors, r.Dials, r.HTTPWrites, r.Saves, r.Downs)
}

// Check fails a measurement that did not measure what it claims: a probe
// failed, or fewer than 90% of the probes the interval asks for completed.
func (r HTTPProbeResult) Check() error {
	if r.Errors > 0 {
		return fmt.Errorf("perf: %d probes failed; first: %w", r.Errors, r.FirstError)
	}
	if r.Downs > 0 {
		return fmt.Errorf("perf: %d servers declared down", r.Downs)
	}
	if got, want := r.ProbesPerSecond(), r.WantProbesPerSecond(); got < 0.9*want {
		return fmt.Errorf("perf: %.0f probes/s achieved, want at least 90%% of %.0f", got, want)
	}
	return nil
}

// HTTPProbeCost measures the controller's CPU cost of probing n agents every
// interval over HTTP on loopback (see HTTPProbe), driven by a
// failover.Controller, over a window of wall time after a warm-up. It fails
// if the measurement does not hold (see HTTPProbeResult.Check).
func HTTPProbeCost(n int, interval, window time.Duration) (HTTPProbeResult, error) {
	r, err := HTTPProbe(HTTPProbeConfig{Agents: n, Interval: interval, Window: window})
	if err != nil {
		return r, err
	}
	return r, r.Check()
}

// HTTPProbe measures the CPU a center spends probing cfg.Agents agents over
// httptransport on loopback. The agents run in another process, the
// current executable started again with AgentsEnv set, so that the
// controller's own CPU (getrusage of its process) can be measured alone;
// that executable must call MaybeServeAgents first thing (a TestMain does).
// HTTPProbe returns an error only if it could not measure; the caller
// judges the result, with Check for instance.
func HTTPProbe(cfg HTTPProbeConfig) (HTTPProbeResult, error) {
	if cfg.Agents <= 0 {
		return HTTPProbeResult{}, errors.New("perf: HTTPProbe needs at least one agent")
	}
	if cfg.Interval == 0 {
		cfg.Interval = detector.DefaultProbeInterval
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = max(2*time.Second, 4*cfg.Interval)
	}
	if cfg.Window == 0 {
		cfg.Window = max(5*time.Second, 10*cfg.Interval)
	}
	res := HTTPProbeResult{Agents: cfg.Agents, Interval: cfg.Interval, Driver: cfg.Driver, HTTPOnly: cfg.HTTPOnly}
	// Each agent costs a connection, with some slack for redials.
	if err := RaiseFileLimit(uint64(2*cfg.Agents + 256)); err != nil {
		return res, err
	}
	key, err := httptransport.NewKey(probeKeyID)
	if err != nil {
		return res, err
	}
	agents, err := startAgents(cfg.Agents, key)
	if err != nil {
		return res, err
	}
	defer agents.stop()

	clientKey := key
	if cfg.wrongKey {
		if clientKey, err = httptransport.NewKey(probeKeyID); err != nil {
			return res, err
		}
	}
	var dials, writes atomic.Int64
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	client, err := httptransport.NewClient(httptransport.ClientConfig{
		Resolver: agents.urls,
		Auth:     httptransport.Auth{Keys: []httptransport.Key{clientKey}},
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			conn, err := dialer.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &countingConn{Conn: conn, writes: &writes}, nil
		},
		VerifyResponses:  !cfg.NoVerify,
		DisableUDPProbes: cfg.HTTPOnly,
	})
	if err != nil {
		return res, err
	}
	defer client.Close()
	tr := &countingTransport{Transport: client}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	store := &failover.MemoryStore{}
	watch := newUpWatch()
	switch cfg.Driver {
	case DriveController:
		c, err := newProbeController(ctx, tr, store, cfg.Interval, watch)
		if err != nil {
			cancel()
			return res, err
		}
		go func() { done <- c.Run(ctx) }()
		if err := addProbeServers(ctx, c, cfg.Agents, watch); err != nil {
			cancel()
			<-done
			return res, err
		}
	case DriveLoop:
		go func() {
			probeLoop(ctx, tr, agents.ids, cfg.Interval)
			done <- nil
		}()
	default:
		cancel()
		return res, fmt.Errorf("perf: unknown driver %v", cfg.Driver)
	}

	warm := time.NewTimer(cfg.Warmup)
	select {
	case <-warm.C:
	case err := <-done:
		cancel()
		return res, fmt.Errorf("perf: the %v stopped during warm-up: %v", cfg.Driver, err)
	}
	_, downs0 := watch.state()
	probes0, dials0, writes0, saves0 := tr.probes.Load(), dials.Load(), writes.Load(), store.Saves()
	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			cancel()
			<-done
			return res, err
		}
	}
	cpu0, t0 := processCPU(), time.Now()
	end := time.NewTimer(cfg.Window)
	select {
	case <-end.C:
	case err := <-done:
		cancel()
		return res, fmt.Errorf("perf: the %v stopped during the window: %v", cfg.Driver, err)
	}
	cpu1, t1 := processCPU(), time.Now()
	if cfg.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	probes1, dials1, writes1, saves1 := tr.probes.Load(), dials.Load(), writes.Load(), store.Saves()
	_, downs1 := watch.state()
	tr.stopping.Store(true) // what fails from here on is the shutdown
	cancel()
	if err := <-done; err != nil {
		return res, fmt.Errorf("perf: the %v failed: %w", cfg.Driver, err)
	}

	res.Wall, res.CPU = t1.Sub(t0), cpu1-cpu0
	res.Probes, res.Dials, res.Saves = probes1-probes0, dials1-dials0, saves1-saves0
	res.HTTPWrites = writes1 - writes0
	res.Downs = downs1 - downs0
	res.Errors = tr.errors.Load()
	if e := tr.firstErr.Load(); e != nil {
		res.FirstError = *e
	}
	return res, nil
}

// processCPU is the user and system CPU time of this process so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err) // RUSAGE_SELF with a valid pointer cannot fail
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// RaiseFileLimit raises this process's limit of open files to at least
// need, if it is lower, up to the hard limit (or beyond, where the process
// may), and fails if that is not enough.
func RaiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("perf: file limit: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	want := lim
	want.Cur = need
	if want.Max < need {
		want.Max = need // works only with CAP_SYS_RESOURCE
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
		return nil
	}
	if lim.Max >= need {
		want = syscall.Rlimit{Cur: need, Max: lim.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
			return nil
		}
	}
	return fmt.Errorf("perf: %d open files needed, the limit is %d (hard %d)", need, lim.Cur, lim.Max)
}

// countingConn counts the writes on a connection.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// countingTransport counts the probes that complete and those that fail.
type countingTransport struct {
	transport.Transport
	probes, errors atomic.Int64
	firstErr       atomic.Pointer[error]
	stopping       atomic.Bool
}

func (t *countingTransport) Probe(ctx context.Context, server nvrha.ServerID) (transport.ProbeReport, error) {
	r, err := t.Transport.Probe(ctx, server)
	if err == nil && r.Server != server {
		err = fmt.Errorf("probe of %s answered by %q", server, r.Server)
	}
	switch {
	case err == nil:
		t.probes.Add(1)
	case !t.stopping.Load():
		t.errors.Add(1)
		t.firstErr.CompareAndSwap(nil, &err)
	}
	return r, err
}

// probeLoop probes every server once per interval until ctx ends: see
// DriveLoop.
func probeLoop(ctx context.Context, tr transport.Transport, servers []nvrha.ServerID, interval time.Duration) {
	const phases = 16
	tick := time.NewTicker(interval / phases)
	defer tick.Stop()
	sem := make(chan struct{}, failover.DefaultMaxInFlight)
	var wg sync.WaitGroup
	defer wg.Wait()
	for phase := 0; ; phase = (phase + 1) % phases {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for i := phase; i < len(servers); i += phases {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Add(1)
			go func(s nvrha.ServerID) {
				defer wg.Done()
				pctx, cancel := context.WithTimeout(ctx, failover.DefaultProbeTimeout)
				_, _ = tr.Probe(pctx, s)
				cancel()
				<-sem
			}(servers[i])
		}
	}
}

// upWatch follows which servers a Controller says are up, from its events.
type upWatch struct {
	mu     sync.Mutex
	up     map[nvrha.ServerID]bool
	downs  int
	change chan struct{} // capacity 1: something changed
}

func newUpWatch() *upWatch {
	return &upWatch{up: make(map[nvrha.ServerID]bool), change: make(chan struct{}, 1)}
}

// onEvent is the Controller's OnEvent; it does not block.
func (w *upWatch) onEvent(e failover.Event) {
	w.mu.Lock()
	switch e.Kind {
	case failover.EventServerUp:
		w.up[e.Server] = true
	case failover.EventServerDown:
		delete(w.up, e.Server)
		w.downs++
	}
	w.mu.Unlock()
	select {
	case w.change <- struct{}{}:
	default:
	}
}

func (w *upWatch) state() (up, downs int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.up), w.downs
}

// await returns once n servers are up, or fails when timeout passes first.
func (w *upWatch) await(n int, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		up, _ := w.state()
		if up >= n {
			return nil
		}
		select {
		case <-w.change:
		case <-t.C:
			return fmt.Errorf("perf: %d servers of %d up after %v", up, n, timeout)
		}
	}
}

// newProbeController returns a Controller probing every interval, with
// every other setting at its default.
func newProbeController(ctx context.Context, tr transport.Transport, store failover.Store, interval time.Duration, w *upWatch) (*failover.Controller, error) {
	cfg := failover.ControllerConfig{
		Machine:   failover.Config{Detector: detector.Config{ProbeInterval: interval}},
		Transport: tr,
		Store:     store,
		OnEvent:   w.onEvent,
	}
	return failover.NewController(ctx, cfg)
}

// addProbeServers adds the n servers of probeFacts to c, in groups of 64,
// each group once the servers before it are up: a center adding its
// servers, not one restarting with all of them at once.
func addProbeServers(ctx context.Context, c *failover.Controller, n int, w *upWatch) error {
	per := min(n, 64)
	for g := 0; g*per < n; g++ {
		gid := failover.DefaultGroupID
		if g > 0 {
			if err := w.await(g*per, time.Minute); err != nil {
				return err
			}
			var err error
			if gid, err = c.AddGroup(ctx, fmt.Sprintf("Group %d", g+1)); err != nil {
				return err
			}
		}
		var recs, sbs []nvrha.Facts
		for i := g * per; i < min((g+1)*per, n); i++ {
			if f := probeFacts(i); f.HasEmptyRecordingSpace() {
				sbs = append(sbs, f)
			} else {
				recs = append(recs, f)
			}
		}
		if len(recs) > 0 {
			if err := c.AddRecordingServers(ctx, gid, recs...); err != nil {
				return err
			}
		}
		if len(sbs) > 0 {
			if err := c.AddStandbyServers(ctx, gid, sbs...); err != nil {
				return err
			}
		}
	}
	return w.await(n, time.Minute)
}

// probeFacts returns the facts of agent i: a quarter of them are standbys,
// the others recording servers of 16 cameras.
func probeFacts(i int) nvrha.Facts {
	id := nvrha.ServerID(fmt.Sprintf("nvr-%04d", i))
	if i%4 == 3 {
		return nvrha.Facts{ID: id, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 64,
			RecordingSpaces: []nvrha.RecordingSpace{{Name: "v", Empty: true}}}
	}
	f := nvrha.Facts{ID: id, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 32,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "v"}}}
	for k := 0; k < 16; k++ {
		f.Cameras = append(f.Cameras, nvrha.CameraID(fmt.Sprintf("%s-c%d", id, k)))
	}
	return f
}

// agentProcess is the process serving the agents.
type agentProcess struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	ids   []nvrha.ServerID
	urls  httptransport.StaticResolver
}

// startAgents starts the current executable again as the agent process and
// reads the agents' addresses from it.
func startAgents(n int, key httptransport.Key) (*agentProcess, error) {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	// MaybeServeAgents takes over before any flag is parsed.
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), AgentsEnv+"="+strconv.Itoa(n), KeyEnv+"="+hex.EncodeToString(key.Secret))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("perf: starting the agent process: %w", err)
	}
	p := &agentProcess{cmd: cmd, stdin: stdin, urls: make(httptransport.StaticResolver, n)}
	sc := bufio.NewScanner(stdout)
	for i := 0; i < n; i++ {
		if !sc.Scan() {
			p.stop()
			return nil, fmt.Errorf("perf: the agent process gave %d addresses of %d (%v)", i, n, sc.Err())
		}
		id := probeFacts(i).ID
		p.ids = append(p.ids, id)
		p.urls[id] = "http://" + strings.TrimSpace(sc.Text())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return p, nil
}

// stop closes the agent process's stdin, which makes it exit, and waits.
func (p *agentProcess) stop() {
	_ = p.stdin.Close()
	_ = p.cmd.Wait()
}

// MaybeServeAgents serves agents and exits if this process is the agent
// process of an HTTPProbe measurement (AgentsEnv is set), and returns
// otherwise. Call it first thing in the TestMain or main of any executable
// that runs HTTPProbe.
//
// The agent process serves AgentsEnv agenttest servers, each with its own
// httptransport handler on its own loopback listener and its UDP probe
// channel on the same port, accepting the key
// whose secret is KeyEnv; it prints their addresses on stdout, one a line,
// in order, and exits when its stdin closes.
func MaybeServeAgents() {
	v, ok := os.LookupEnv(AgentsEnv)
	if !ok {
		return
	}
	if err := serveAgents(v, os.Getenv(KeyEnv), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "perf: agent process:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

func serveAgents(count, secret string, stdin io.Reader, stdout io.Writer) error {
	n, err := strconv.Atoi(count)
	if err != nil || n <= 0 {
		return fmt.Errorf("%s=%q: want a positive number", AgentsEnv, count)
	}
	key := httptransport.Key{ID: probeKeyID}
	if key.Secret, err = hex.DecodeString(secret); err != nil {
		return fmt.Errorf("%s: %w", KeyEnv, err)
	}
	// A listener and a connection per agent, and some slack.
	if err := RaiseFileLimit(uint64(2*n + 256)); err != nil {
		return err
	}
	out := bufio.NewWriter(stdout)
	for i := 0; i < n; i++ {
		f := probeFacts(i)
		h, err := httptransport.NewHandler(agenttest.New(f), httptransport.HandlerConfig{
			Server: f.ID,
			Auth:   httptransport.Auth{Keys: []httptransport.Key{key}},
		})
		if err != nil {
			return err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		// The probe channel over UDP, on the HTTP listener's port; it
		// lives as long as the process.
		if _, err := httptransport.ListenProbes(ln.Addr().String(), h); err != nil {
			return err
		}
		srv := httptransport.NewServer("", h)
		go func() { _ = srv.Serve(ln) }()
		fmt.Fprintln(out, ln.Addr())
	}
	if err := out.Flush(); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, stdin)
	return nil
}
