package daemon

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/center"
	"github.com/nvrha/nvrha/center/demo"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// Run runs nvrcenter with the command line args until ctx ends; it is
// cmd/nvrcenter's main. opts adds what the core module leaves out.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, opts Options) error {
	return run(ctx, args, stdin, stdout, stderr, opts.OnServe, opts)
}

// options are the command line's.
type options struct {
	config       string
	demo         bool
	listen       string
	logFormat    string
	logLevel     string
	hashPassword bool
	checkConfig  bool
}

// serving is told the page's URL once the center serves, for tests.
type serving func(url string)

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, onServe serving, opts ...Options) error {
	var opt Options
	if len(opts) > 0 {
		opt = opts[0]
	}
	var o options
	fs := flag.NewFlagSet("nvrcenter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "configuration file (TOML)")
	fs.BoolVar(&o.demo, "demo", false, "run with simulated servers in the process")
	fs.StringVar(&o.listen, "listen", "", "address to serve on (default: the file's listen, or 127.0.0.1:8080)")
	fs.StringVar(&o.logFormat, "log-format", "", "text or json (default: the file's, or text)")
	fs.StringVar(&o.logLevel, "log-level", "", "debug, info, warn or error (default: the file's, or info)")
	fs.BoolVar(&o.hashPassword, "hash-password", false, "read a password from standard input and print its bcrypt hash")
	fs.BoolVar(&o.checkConfig, "check-config", false, "check the configuration file and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.hashPassword {
		return hashPassword(stdin, stdout)
	}
	switch {
	case o.demo && o.config != "":
		return errors.New("-demo and -config exclude each other")
	case !o.demo && o.config == "":
		return errors.New("give -config FILE, or -demo to try the center with simulated servers")
	}

	var fc *fileConfig
	if !o.demo {
		var err error
		if fc, err = loadConfig(o.config); err != nil {
			return err
		}
		if fc.Store == StoreEtcd && opt.HA == nil {
			return errNeedsHA
		}
		if err := fc.checkServeTLS(); err != nil {
			return err
		}
		if o.checkConfig {
			_, closeTr, err := buildTransport(fc)
			if err != nil {
				return err
			}
			closeTr()
			if fc.Store == StoreEtcd {
				if _, err := fc.etcd(); err != nil {
					return err
				}
			}
			fmt.Fprintf(stdout, "%s: ok (%d agents, %d admin users)\n", o.config, len(fc.Agents), len(fc.Admins))
			return nil
		}
	}
	log, err := newLogger(o, fc, stderr)
	if err != nil {
		return err
	}

	cfg := center.Config{Logger: log}
	var fleet *demo.Fleet
	var demoPassword string
	listen, certFile, keyFile := o.listen, "", ""
	if o.demo {
		fleet = demo.New()
		dir, err := os.MkdirTemp("", "nvrcenter-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		demoPassword = randomPassword()
		hash, err := center.HashPassword(demoPassword)
		if err != nil {
			return err
		}
		cfg.Users = []center.User{{Name: "admin", PasswordHash: hash}}
		cfg.Servers = fleet.Servers()
		cfg.Demo = fleet
		cfg.Controller = failover.ControllerConfig{
			Machine:   failover.Config{Failback: failover.FailbackPolicy{HoldDown: 5 * time.Second}},
			Transport: fleet.Transport(),
			Store:     failover.NewFileStore(dir + "/state.json"),
		}
	} else {
		tr, closeTr, err := buildTransport(fc)
		if err != nil {
			return err
		}
		defer closeTr()
		for _, a := range fc.Admins {
			cfg.Users = append(cfg.Users, center.User{Name: a.User, PasswordHash: []byte(a.Bcrypt)})
		}
		for _, a := range fc.Agents {
			cfg.Servers = append(cfg.Servers, nvrha.ServerID(a.ID))
		}
		cfg.Controller = failover.ControllerConfig{
			Machine:   fc.machine(),
			Transport: tr,
		}
		if fc.Store != StoreEtcd {
			cfg.Controller.Store = failover.NewFileStore(fc.path(fc.Store))
		}
		if listen == "" {
			listen = fc.Listen
		}
		certFile, keyFile = fc.path(fc.TLS.Cert), fc.path(fc.TLS.Key)
		cfg.SecureCookies = certFile != ""
	}
	if listen == "" {
		listen = "127.0.0.1:8080"
	}

	// One center, or one of several (store = "etcd") that serves only
	// while it leads.
	var (
		handler    http.Handler
		runCenter  func(context.Context) error
		endStreams func()
		ctl        func() *failover.Controller
	)
	if fc != nil && fc.Store == StoreEtcd {
		ecfg, err := fc.etcd()
		if err != nil {
			return err
		}
		sw := &switchHandler{}
		handler, endStreams = sw, sw.EndStreams
		runCenter = func(ctx context.Context) error {
			return opt.HA(ctx, ecfg, log, cfg.Controller, leadCenter(cfg, sw, log))
		}
	} else {
		c, err := center.New(ctx, cfg)
		if err != nil {
			return err
		}
		handler, runCenter, endStreams, ctl = c.Handler(), c.Run, c.EndStreams, c.Controller
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second, // the event stream lifts it for itself
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(endStreams)
	scheme := "http"
	if certFile != "" {
		scheme = "https"
	}
	pageURL := fmt.Sprintf("%s://%s/", scheme, ln.Addr())

	runCtx, stopCenter := context.WithCancel(context.WithoutCancel(ctx))
	defer stopCenter()
	runDone := make(chan error, 1)
	go func() { runDone <- runCenter(runCtx) }()
	serveDone := make(chan error, 1)
	go func() {
		if certFile != "" {
			serveDone <- srv.ServeTLS(ln, certFile, keyFile)
		} else {
			serveDone <- srv.Serve(ln)
		}
	}()

	if fleet != nil {
		pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := fleet.Populate(pctx, ctl())
		cancel()
		if err != nil {
			stopCenter()
			_ = srv.Close()
			<-runDone
			return fmt.Errorf("demo: %w", err)
		}
		fmt.Fprintf(stdout, "nvrcenter demo: Failover Management at %s\n", pageURL)
		fmt.Fprintf(stdout, "log in as admin, password %s\n", demoPassword)
		fmt.Fprintf(stdout, "crash a server from its row, watch a standby take over, restore it for the failback; Ctrl-C stops\n")
	} else {
		fmt.Fprintf(stdout, "nvrcenter: Failover Management at %s (%d agents)\n", pageURL, len(cfg.Servers))
	}
	log.Info("nvrcenter: serving", "url", pageURL, "servers", len(cfg.Servers))
	if onServe != nil {
		onServe(pageURL)
	}

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveDone:
		runErr = fmt.Errorf("serving: %w", err)
		serveDone <- err
	case runErr = <-runDone:
		if runErr == nil {
			runErr = errors.New("the controller stopped")
		}
		runDone <- nil
	}
	log.Info("nvrcenter: shutting down")
	shCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(shCtx) }()
	// Requests in flight finish against a running controller; the event
	// streams end at once (EndStreams).
	select {
	case <-shut:
		shut <- nil
	case <-time.After(2 * time.Second):
	}
	stopCenter()
	if err := <-runDone; err != nil && runErr == nil {
		runErr = err
	}
	if err := <-shut; err != nil {
		_ = srv.Close()
	}
	log.Info("nvrcenter: stopped")
	return runErr
}

func newLogger(o options, fc *fileConfig, w io.Writer) (*slog.Logger, error) {
	format, level := "text", slog.LevelInfo
	if fc != nil {
		if fc.Log.Format != "" {
			format = string(fc.Log.Format)
		}
		level = slog.Level(fc.Log.Level)
	}
	if o.logFormat != "" {
		format = o.logFormat
	}
	if o.logLevel != "" {
		if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
			return nil, fmt.Errorf("-log-level: %w", err)
		}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("-log-format %q: want text or json", format)
}

func hashPassword(stdin io.Reader, stdout io.Writer) error {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	h, err := center.HashPassword(strings.TrimRight(line, "\r\n"))
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(h))
	return nil
}

func randomPassword() string {
	const letters = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// buildTransport makes one httptransport.Client per set of credentials and
// routes each agent's calls to its own.
func buildTransport(fc *fileConfig) (transport.Transport, func(), error) {
	clients := map[string]*httptransport.Client{}
	closeAll := func() {
		for _, cl := range clients {
			cl.Close()
		}
	}
	dirs := map[string]*httptransport.Directory{}
	r := router{}
	for i, a := range fc.Agents {
		ac, err := fc.agentClient(i)
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		cl, ok := clients[ac.credKey]
		if !ok {
			dirs[ac.credKey] = &httptransport.Directory{}
			cl, err = httptransport.NewClient(httptransport.ClientConfig{
				Resolver:        dirs[ac.credKey],
				Auth:            httptransport.Auth{Keys: []httptransport.Key{ac.key}},
				TLSConfig:       ac.tls,
				VerifyResponses: ac.verify,
			})
			if err != nil {
				closeAll()
				return nil, nil, fmt.Errorf("agent %s: %w", a.ID, err)
			}
			clients[ac.credKey] = cl
		}
		dirs[ac.credKey].Set(nvrha.ServerID(a.ID), strings.TrimRight(a.URL, "/"))
		r[nvrha.ServerID(a.ID)] = cl
	}
	return r, closeAll, nil
}
