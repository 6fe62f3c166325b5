// Command center runs an nvrha center over HTTP with one Failover Group, and
// crashes one of its servers to show a takeover and then a failback:
//
//	go run ./examples/center
//
// It builds examples/agent (run it from the repository) and starts three
// agents as child processes on loopback, each with its own state file: rec-1
// recording 8 cameras, rec-2 recording 4, and standby-1. The center reaches
// them through an httptransport.Client with a shared key, puts them in
// "Failover Group 1" with failover.Controller, and waits until both recording
// servers are "Normal protected". Then it kills rec-1's process (SIGKILL), and
// the log shows the detection and standby-1 taking over rec-1's cameras. It
// starts rec-1 again, and after the hold-down the log shows the failback:
// rec-1 resumes recording, then standby-1 releases the cameras. Lines from
// the agents' own logs are prefixed with their ID.
//
// Flags: -agent PATH uses a prebuilt agent binary instead of building one;
// -hold-down sets the failback hold-down (5s here, to keep the demo short;
// 30s by default in a real center).
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/httptransport"
)

func main() {
	var o options
	flag.StringVar(&o.agentBin, "agent", "", "agent binary (default: build ./examples/agent)")
	flag.DurationVar(&o.holdDown, "hold-down", 5*time.Second, "failback hold-down")
	flag.DurationVar(&o.wait, "wait", 30*time.Second, "longest wait for each step")
	flag.Parse()
	o.out = os.Stdout
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if _, err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "center:", err)
		os.Exit(1)
	}
}

type options struct {
	agentBin string        // prebuilt agent; built with "go build" if empty
	holdDown time.Duration // failback hold-down
	wait     time.Duration // longest wait for each step
	out      io.Writer
}

// result is what a run saw, for the test.
type result struct {
	Events []failover.Event
	// DuringTakeover and AfterFailback are what the agents themselves
	// answered to probes at those points.
	DuringTakeover, AfterFailback map[nvrha.ServerID]transport.ProbeReport
}

// The group: two recording servers and a standby that fits either.
var servers = []struct {
	id      nvrha.ServerID
	role    string
	cameras int
}{
	{"rec-1", "recording", 8},
	{"rec-2", "recording", 4},
	{"standby-1", "standby", 0},
}

func run(ctx context.Context, o options) (*result, error) {
	out := &lockedWriter{w: o.out}
	start := time.Now()
	say := func(format string, args ...any) {
		fmt.Fprintf(out, "%6.2fs  == %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	dir, err := os.MkdirTemp("", "nvrha-center-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	bin := o.agentBin
	if bin == "" {
		say("building the agent")
		if bin, err = buildAgent(ctx, dir); err != nil {
			return nil, err
		}
	}

	// One shared key, handed to the agents through their environment.
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	key := httptransport.Key{ID: "center", Secret: []byte(hex.EncodeToString(raw))}

	var dirBook httptransport.Directory
	agents := map[nvrha.ServerID]*agentProc{}
	defer func() {
		for _, a := range agents {
			a.stop()
		}
	}()
	startAgent := func(id nvrha.ServerID, role string, cameras int) error {
		a, err := startAgentProc(ctx, bin, id, role, cameras, filepath.Join(dir, string(id)+".json"), key, out, o.wait)
		if err != nil {
			return err
		}
		agents[id] = a
		dirBook.Set(id, a.url)
		say("%s (%s, %d cameras) is up at %s, pid %d", id, role, cameras, a.url, a.cmd.Process.Pid)
		return nil
	}
	for _, s := range servers {
		if err := startAgent(s.id, s.role, s.cameras); err != nil {
			return nil, err
		}
	}

	client, err := httptransport.NewClient(httptransport.ClientConfig{
		Resolver:        &dirBook,
		Auth:            httptransport.Auth{Keys: []httptransport.Key{key}},
		VerifyResponses: true,
	})
	if err != nil {
		return nil, err
	}
	defer client.Close()

	events := &eventLog{wake: make(chan struct{}, 1)}
	ctl, err := failover.NewController(ctx, failover.ControllerConfig{
		Machine:   failover.Config{Failback: failover.FailbackPolicy{HoldDown: o.holdDown}},
		Transport: client,
		Store:     &failover.MemoryStore{}, // failover.NewFileStore(path) in production
		Logger:    slog.New(slog.NewTextHandler(out, nil)).With("who", "center"),
		OnEvent:   events.add,
	})
	if err != nil {
		return nil, err
	}
	runCtx, stopController := context.WithCancel(ctx)
	runDone := make(chan error, 1)
	go func() { runDone <- ctl.Run(runCtx) }()
	defer func() {
		stopController()
		<-runDone
	}()

	// Build the group from what the servers say about themselves.
	var recs, standbys []nvrha.Facts
	for _, s := range servers {
		f, err := client.Inventory(ctx, s.id)
		if err != nil {
			return nil, err
		}
		if s.role == "standby" {
			standbys = append(standbys, f)
		} else {
			recs = append(recs, f)
		}
	}
	if err := ctl.AddRecordingServers(ctx, failover.DefaultGroupID, recs...); err != nil {
		return nil, err
	}
	if err := ctl.AddStandbyServers(ctx, failover.DefaultGroupID, standbys...); err != nil {
		return nil, err
	}
	say("Failover Group 1: rec-1 and rec-2 recording, standby-1 standing by")
	if err := waitUntil(ctx, o.wait, func() (bool, error) {
		snap, err := ctl.Snapshot(ctx)
		if err != nil {
			return false, err
		}
		return statusOf(snap, "rec-1") == status.RecordingNormalProtected.Label() &&
			statusOf(snap, "rec-2") == status.RecordingNormalProtected.Label(), nil
	}); err != nil {
		return nil, fmt.Errorf("waiting for protection: %w", err)
	}
	if err := printStatuses(ctx, ctl, out); err != nil {
		return nil, err
	}

	say("killing rec-1 (pid %d)", agents["rec-1"].cmd.Process.Pid)
	agents["rec-1"].kill()
	took, err := events.waitFor(ctx, o.wait, failover.EventTakeoverSucceeded, "rec-1")
	if err != nil {
		return nil, fmt.Errorf("waiting for the takeover: %w", err)
	}
	say("standby-1 took over rec-1's cameras %.2fs after the kill", took.Seconds())
	res := &result{}
	if res.DuringTakeover, err = probeAll(ctx, client); err != nil {
		return nil, err
	}
	if err := printStatuses(ctx, ctl, out); err != nil {
		return nil, err
	}

	say("starting rec-1 again")
	if err := startAgent("rec-1", "recording", 8); err != nil {
		return nil, err
	}
	took, err = events.waitFor(ctx, o.wait+o.holdDown, failover.EventFailbackCompleted, "rec-1")
	if err != nil {
		return nil, fmt.Errorf("waiting for the failback: %w", err)
	}
	say("rec-1's cameras are back %.2fs after its restart (hold-down %v)", took.Seconds(), o.holdDown)
	if res.AfterFailback, err = probeAll(ctx, client); err != nil {
		return nil, err
	}
	if err := printStatuses(ctx, ctl, out); err != nil {
		return nil, err
	}
	res.Events = events.all()
	say("done")
	return res, nil
}

// buildAgent builds examples/agent into dir.
func buildAgent(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "agent")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/nvrha/nvrha/examples/agent")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the agent (run from the repository): %w\n%s", err, b)
	}
	return bin, nil
}

// agentProc is one agent child process.
type agentProc struct {
	id   nvrha.ServerID
	cmd  *exec.Cmd
	url  string
	done chan struct{} // closed once the process has exited
}

func startAgentProc(ctx context.Context, bin string, id nvrha.ServerID, role string, cameras int, state string,
	key httptransport.Key, out io.Writer, wait time.Duration) (*agentProc, error) {
	cmd := exec.Command(bin, "-id", string(id), "-role", role, "-cameras", strconv.Itoa(cameras),
		"-listen", "127.0.0.1:0", "-key-id", key.ID, "-state", state)
	cmd.Env = append(os.Environ(), "NVRHA_SECRET="+string(key.Secret))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	a := &agentProc{id: id, cmd: cmd, done: make(chan struct{})}
	urlc := make(chan string, 1)
	var pipes sync.WaitGroup
	pipes.Go(func() { forward(stderr, out, id) })
	pipes.Go(func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if _, u, ok := strings.Cut(sc.Text(), " listening on "); ok {
				select {
				case urlc <- u:
				default:
				}
			}
		}
	})
	go func() {
		pipes.Wait() // Wait must not run before the pipes are drained
		_ = cmd.Wait()
		close(a.done)
	}()
	select {
	case a.url = <-urlc:
		return a, nil
	case <-a.done:
		return nil, fmt.Errorf("agent %s exited before serving", id)
	case <-time.After(wait):
	case <-ctx.Done():
	}
	a.kill()
	return nil, fmt.Errorf("agent %s did not start serving", id)
}

// kill ends the process at once, as a crash would, and waits for it.
func (a *agentProc) kill() {
	_ = a.cmd.Process.Kill()
	<-a.done
}

// stop asks the process to shut down, and kills it if it does not.
func (a *agentProc) stop() {
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(5 * time.Second):
		a.kill()
	}
}

// forward copies an agent's log lines to out, prefixed with its ID.
func forward(r io.Reader, out io.Writer, id nvrha.ServerID) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fmt.Fprintf(out, "    [%s] %s\n", id, sc.Text())
	}
}

// eventLog keeps the Controller's events. add never blocks, as OnEvent must
// not.
type eventLog struct {
	mu     sync.Mutex
	events []failover.Event
	wake   chan struct{}
}

func (l *eventLog) add(e failover.Event) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *eventLog) all() []failover.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]failover.Event(nil), l.events...)
}

// waitFor waits for an event of kind about server after now, and returns how
// long it took.
func (l *eventLog) waitFor(ctx context.Context, limit time.Duration, kind failover.EventKind, server nvrha.ServerID) (time.Duration, error) {
	begin := time.Now()
	l.mu.Lock()
	seen := len(l.events)
	l.mu.Unlock()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	for {
		l.mu.Lock()
		for _, e := range l.events[seen:] {
			if e.Kind == kind && e.Server == server {
				l.mu.Unlock()
				return time.Since(begin), nil
			}
		}
		seen = len(l.events)
		l.mu.Unlock()
		select {
		case <-l.wake:
		case <-deadline.C:
			return 0, fmt.Errorf("no %s event for %s within %v", kind, server, limit)
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
}

// waitUntil polls cond every 100 ms until it holds or limit passes.
func waitUntil(ctx context.Context, limit time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(limit)
	for {
		ok, err := cond()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not within %v", limit)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func statusOf(s failover.Snapshot, id nvrha.ServerID) string {
	for _, g := range s.Groups {
		for _, m := range g.Members {
			if m.ID == id {
				return m.Status()
			}
		}
	}
	return ""
}

func printStatuses(ctx context.Context, ctl *failover.Controller, out io.Writer) error {
	s, err := ctl.Snapshot(ctx)
	if err != nil {
		return err
	}
	for _, g := range s.Groups {
		for _, m := range g.Members {
			peer := ""
			if m.Peer != "" {
				peer = " (" + string(m.Peer) + ")"
			}
			fmt.Fprintf(out, "          %-10s %-10s %s%s\n", m.ID, m.Role, m.Status(), peer)
		}
	}
	return nil
}

// probeAll asks every server how it is, as the agents see themselves.
func probeAll(ctx context.Context, c *httptransport.Client) (map[nvrha.ServerID]transport.ProbeReport, error) {
	reports := map[nvrha.ServerID]transport.ProbeReport{}
	for _, s := range servers {
		r, err := c.Probe(ctx, s.id)
		if err != nil && !errors.Is(err, transport.ErrUnreachable) {
			return nil, err
		}
		if err == nil {
			reports[s.id] = r
		}
	}
	return reports, nil
}

// lockedWriter serialises writes from the center's and the agents' logs.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
