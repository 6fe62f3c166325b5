// Command agent is a recording or standby server's nvrha agent, with a few
// simulated cameras, served over HTTP on loopback: the piece a vendor runs on
// each of its servers, reduced to what the center needs.
//
//	go run ./examples/agent -id rec-1 -role recording -cameras 8 -listen 127.0.0.1:0 -secret "$NVRHA_SECRET"
//	go run ./examples/agent -id standby-1 -role standby -listen 127.0.0.1:0 -secret "$NVRHA_SECRET"
//	go run ./examples/agent -id standby-1 -role standby -listen 127.0.0.1:7443 -secret-file center.key
//
// It prints "nvrha agent ID listening on URL" on standard output once it
// serves, and logs every order it receives, and what it did with it, on
// standard error. The secret (at least 32 bytes; the NVRHA_SECRET environment
// variable if -secret is empty, or the contents of -secret-file) must be the
// center's.
//
// What a real agent does in place of the simulation: Takeover adds the
// recording server's cameras to this server's recording schedule, Release
// removes them, StandDown stops recording the server's own cameras, Resume
// starts them again, Probe reports the server's own health. Everything else
// here (fencing every order by its epoch, keeping the epochs in a state file
// written before acting, validating orders, serving the handler with bounded
// timeouts and connections, answering probes over UDP too) is what any agent
// should do as well.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/httptransport"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "agent:", err)
		os.Exit(1)
	}
}

// config is what the flags say.
type config struct {
	id       nvrha.ServerID
	role     string
	cameras  int
	channels int
	listen   string
	keyID    string
	secret   string
	state    string
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	id := fs.String("id", "", "this server's ID (required)")
	fs.StringVar(&c.role, "role", "recording", "recording or standby")
	fs.IntVar(&c.cameras, "cameras", 8, "simulated cameras of a recording server")
	fs.IntVar(&c.channels, "channels", 32, "license channels")
	fs.StringVar(&c.listen, "listen", "127.0.0.1:0", "address to serve on")
	fs.StringVar(&c.keyID, "key-id", "center", "ID of the shared key")
	fs.StringVar(&c.secret, "secret", "", "shared secret, at least 32 bytes (default $NVRHA_SECRET); -secret-file keeps it out of the process list")
	secretFile := fs.String("secret-file", "", "file holding the shared secret (a trailing newline is ignored), as the center's secret_file")
	fs.StringVar(&c.state, "state", "", "file that keeps accepted epochs across restarts (default: none, for demos only)")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	c.id = nvrha.ServerID(*id)
	switch {
	case *secretFile != "" && c.secret != "":
		return config{}, errors.New("-secret and -secret-file: give one")
	case *secretFile != "":
		b, err := os.ReadFile(*secretFile)
		if err != nil {
			return config{}, fmt.Errorf("-secret-file: %w", err)
		}
		c.secret = string(bytes.TrimRight(b, "\r\n"))
	case c.secret == "":
		c.secret = os.Getenv("NVRHA_SECRET")
	}
	switch {
	case c.id.Validate() != nil:
		return config{}, fmt.Errorf("-id: %w", c.id.Validate())
	case c.role != "recording" && c.role != "standby":
		return config{}, fmt.Errorf("-role %q: want recording or standby", c.role)
	case c.cameras < 0 || c.cameras > c.channels:
		return config{}, fmt.Errorf("-cameras %d: want 0 to -channels (%d)", c.cameras, c.channels)
	}
	return c, nil
}

// facts describes the simulated server.
func (c config) facts() nvrha.Facts {
	f := nvrha.Facts{ID: c.id, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: c.channels,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", CapacityBytes: 8 << 40}}}
	if c.role == "standby" {
		f.RecordingSpaces[0].Empty = true // a standby keeps one space free for taken-over cameras
		return f
	}
	for i := 1; i <= c.cameras; i++ {
		f.Cameras = append(f.Cameras, nvrha.CameraID(fmt.Sprintf("%s/cam-%02d", c.id, i)))
	}
	return f
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, nil)).With("server", string(cfg.id))
	a, err := newAgent(cfg.facts(), cfg.state, log)
	if err != nil {
		return err
	}
	h, err := httptransport.NewHandler(a, httptransport.HandlerConfig{
		Server: cfg.id,
		Auth:   httptransport.Auth{Keys: []httptransport.Key{{ID: cfg.keyID, Secret: []byte(cfg.secret)}}},
		Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		return err
	}
	// Probes over UDP on the same port: a datagram each way instead of an
	// HTTP exchange, which costs the center far less; the center falls
	// back to HTTP wherever datagrams do not get through.
	probes, err := httptransport.ListenProbes(ln.Addr().String(), h)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer probes.Close()
	srv := httptransport.NewServer(ln.Addr().String(), h)
	srv.ErrorLog = slog.NewLogLogger(log.Handler(), slog.LevelWarn)
	fmt.Fprintf(stdout, "nvrha agent %s listening on http://%s\n", cfg.id, ln.Addr())
	log.Info("serving", "role", cfg.role, "cameras", len(a.facts.Cameras), "recording", a.recording())

	errc := make(chan error, 1)
	// At most ServerMaxConns connections at once: each costs memory
	// whether or not it ever authenticates.
	go func() { errc <- srv.Serve(httptransport.LimitListener(ln, httptransport.ServerMaxConns)) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// The agent's own refusals, sent to the center as agent_error.
var (
	errBusy = errors.New("already covers another recording server")
)

// state is what the agent keeps across restarts: the center term and the
// epochs it has accepted (without them it would accept the very orders
// fencing exists to refuse) and the orders in force.
type state struct {
	Term      uint64                         `json:"term,omitempty"`
	Epochs    map[nvrha.ServerID]nvrha.Epoch `json:"epochs"`
	StoodDown bool                           `json:"stood_down"`
	Covering  nvrha.ServerID                 `json:"covering,omitempty"`
	Cameras   []nvrha.CameraID               `json:"cameras,omitempty"`
}

// agent is a simulated server. One mutex covers each order's checks, the
// state file and the effect, so an order is accepted and carried out as one
// step and a refused order leaves no trace.
type agent struct {
	facts nvrha.Facts
	path  string
	log   *slog.Logger

	mu    sync.Mutex
	fence transport.Fence
	st    state
}

var _ transport.Agent = (*agent)(nil)

func newAgent(f nvrha.Facts, path string, log *slog.Logger) (*agent, error) {
	a := &agent{facts: f, path: path, log: log}
	if path == "" {
		return a, nil
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return a, nil
	case err != nil:
		return nil, err
	}
	if err := json.Unmarshal(b, &a.st); err != nil {
		return nil, fmt.Errorf("state file %s: %w", path, err)
	}
	for key, e := range a.st.Epochs {
		if err := a.fence.Admit(key, e); err != nil {
			return nil, err
		}
	}
	if err := a.fence.AdmitTerm(a.st.Term); err != nil {
		return nil, err
	}
	log.Info("state restored", "term", a.st.Term, "epochs", len(a.st.Epochs), "stood_down", a.st.StoodDown, "covering", string(a.st.Covering))
	return a, nil
}

// commit saves next with the order's term and key's epoch e, then makes it
// the agent's state: a term and an epoch are on disk before the order they
// came with takes effect.
func (a *agent) commit(term uint64, key nvrha.ServerID, e nvrha.Epoch, next state) error {
	next.Epochs = a.fence.Snapshot()
	if e > next.Epochs[key] {
		next.Epochs[key] = e
	}
	next.Term = max(a.fence.Term(), term)
	if a.path != "" {
		b, err := json.Marshal(next)
		if err != nil {
			return err
		}
		tmp := a.path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return fmt.Errorf("saving state: %w", err)
		}
		if err := os.Rename(tmp, a.path); err != nil {
			return fmt.Errorf("saving state: %w", err)
		}
		if d, err := os.Open(filepath.Dir(a.path)); err == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	if err := a.fence.AdmitOrder(term, key, e); err != nil {
		return err // cannot happen: stale was checked under a.mu
	}
	a.st = next
	return nil
}

// stale refuses an order of an older center term than the newest accepted,
// or with an older epoch than the newest accepted for key.
func (a *agent) stale(term uint64, key nvrha.ServerID, e nvrha.Epoch) error {
	return a.fence.Check(term, key, e)
}

func (a *agent) recording() bool { return !a.st.StoodDown && len(a.facts.Cameras) > 0 }

// refused logs a refusal and returns it.
func (a *agent) refused(order string, o any, err error) error {
	a.log.Warn("order refused", "order", order, "detail", fmt.Sprintf("%+v", o), "err", err)
	return err
}

func (a *agent) Probe(ctx context.Context) (transport.ProbeReport, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	key := a.facts.ID
	if a.st.Covering != "" {
		key = a.st.Covering
	}
	return transport.ProbeReport{
		Server:                 a.facts.ID,
		Healthy:                true,
		Recording:              a.recording(),
		Covering:               a.st.Covering,
		Epoch:                  a.fence.Newest(key),
		HasEmptyRecordingSpace: a.facts.HasEmptyRecordingSpace(),
	}, nil
}

func (a *agent) Inventory(ctx context.Context) (nvrha.Facts, error) {
	return a.facts.Clone(), nil
}

func (a *agent) Takeover(ctx context.Context, o transport.TakeoverOrder) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := o.Validate(); err != nil {
		return a.refused("takeover", o, err)
	}
	if o.Recording == a.facts.ID {
		return a.refused("takeover", o, fmt.Errorf("%w: %s cannot take over itself", transport.ErrInvalidOrder, a.facts.ID))
	}
	if err := a.stale(o.Term, o.Recording, o.Epoch); err != nil {
		return a.refused("takeover", o, err)
	}
	if a.st.Covering != "" && a.st.Covering != o.Recording {
		return a.refused("takeover", o, fmt.Errorf("%w: covers %s", errBusy, a.st.Covering))
	}
	next := a.st
	next.Covering, next.Cameras = o.Recording, slices.Clone(o.Cameras)
	if err := a.commit(o.Term, o.Recording, o.Epoch, next); err != nil {
		return a.refused("takeover", o, err)
	}
	a.log.Info("TAKEOVER: recording another server's cameras", "for", string(o.Recording), "epoch", o.Epoch, "term", o.Term, "cameras", len(o.Cameras))
	return nil
}

func (a *agent) Release(ctx context.Context, o transport.ReleaseOrder) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := o.Validate(); err != nil {
		return a.refused("release", o, err)
	}
	if err := a.stale(o.Term, o.Recording, o.Epoch); err != nil {
		return a.refused("release", o, err)
	}
	next := a.st
	released := next.Covering == o.Recording
	if released {
		next.Covering, next.Cameras = "", nil
	}
	if err := a.commit(o.Term, o.Recording, o.Epoch, next); err != nil {
		return a.refused("release", o, err)
	}
	if released {
		a.log.Info("RELEASE: stopped recording another server's cameras", "for", string(o.Recording), "epoch", o.Epoch, "term", o.Term)
	} else {
		a.log.Info("release: nothing to stop", "for", string(o.Recording), "epoch", o.Epoch, "term", o.Term)
	}
	return nil
}

func (a *agent) StandDown(ctx context.Context, o transport.StandDownOrder) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := o.Validate(); err != nil {
		return a.refused("stand-down", o, err)
	}
	if err := a.stale(o.Term, a.facts.ID, o.Epoch); err != nil {
		return a.refused("stand-down", o, err)
	}
	next := a.st
	next.StoodDown = true
	if err := a.commit(o.Term, a.facts.ID, o.Epoch, next); err != nil {
		return a.refused("stand-down", o, err)
	}
	a.log.Info("STAND-DOWN: stopped recording own cameras", "epoch", o.Epoch, "term", o.Term, "cameras", len(a.facts.Cameras))
	return nil
}

func (a *agent) Resume(ctx context.Context, o transport.ResumeOrder) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := o.Validate(); err != nil {
		return a.refused("resume", o, err)
	}
	if err := a.stale(o.Term, a.facts.ID, o.Epoch); err != nil {
		return a.refused("resume", o, err)
	}
	next := a.st
	next.StoodDown = false
	if err := a.commit(o.Term, a.facts.ID, o.Epoch, next); err != nil {
		return a.refused("resume", o, err)
	}
	a.log.Info("RESUME: recording own cameras", "epoch", o.Epoch, "term", o.Term, "cameras", len(a.facts.Cameras))
	return nil
}
