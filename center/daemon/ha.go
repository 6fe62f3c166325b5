package daemon

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync/atomic"
	"time"

	"github.com/nvrha/nvrha/center"
	"github.com/nvrha/nvrha/failover"
)

// StoreEtcd is the value of the file's store key that keeps the State in
// etcd, shared by several centers of which one at a time leads.
const StoreEtcd = "etcd"

// Options adds to nvrcenter what the core module leaves out.
type Options struct {
	// HA runs the center as one of several that stand by for each other,
	// when the file says store = "etcd": it campaigns with the [etcd]
	// table's settings and, whenever this center is elected, calls lead
	// with cc (the Controller configuration the file describes) completed
	// with the term's Store and Term, until lead returns or its ctx ends.
	// HA returns when ctx ends. Nil refuses such a file.
	HA func(ctx context.Context, cfg EtcdConfig, log *slog.Logger, cc failover.ControllerConfig,
		lead func(ctx context.Context, cc failover.ControllerConfig) error) error
	// OnServe, if set, is told the page's URL once the center serves.
	OnServe func(url string)
}

// EtcdConfig is the file's [etcd] table, checked, with the files it names
// read.
type EtcdConfig struct {
	Endpoints   []string
	TLS         *tls.Config // nil for http endpoints
	Name        string      // this center's name among the others
	Prefix      string      // where the State and the election live
	LeaseTTL    time.Duration
	DialTimeout time.Duration
}

// etcdConfig is the [etcd] table.
type etcdConfig struct {
	Endpoints   []string `toml:"endpoints"`
	Name        string   `toml:"name"`
	Prefix      string   `toml:"prefix"`
	LeaseTTL    duration `toml:"lease_ttl"`
	DialTimeout duration `toml:"dial_timeout"`
	// CA verifies the etcd servers' certificates; Cert and Key are this
	// center's client certificate where etcd asks for one.
	CA   string `toml:"ca"`
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

// checkEtcd checks the [etcd] table against the store key.
func (c *fileConfig) checkEtcd(lines lineFinder, bad func(int, string, ...any) error) error {
	e := c.Etcd
	line := lines.table("etcd", 0)
	set := len(e.Endpoints) > 0 || e.Name != "" || e.Prefix != "" || e.LeaseTTL != 0 || e.CA != "" || e.Cert != "" || e.Key != ""
	if c.Store != StoreEtcd {
		if set {
			return bad(line, "etcd: the [etcd] table is for store = %q", StoreEtcd)
		}
		return nil
	}
	if len(e.Endpoints) == 0 {
		return bad(line, "etcd: store = %q needs endpoints, such as [\"https://10.0.0.1:2379\"]", StoreEtcd)
	}
	tlsWanted := e.CA != "" || e.Cert != ""
	for _, ep := range e.Endpoints {
		u, err := url.Parse(ep)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" && u.Path != "/" {
			return bad(line, "etcd: endpoint %q: want http://host:port or https://host:port", ep)
		}
		if tlsWanted && u.Scheme != "https" {
			return bad(line, "etcd: endpoint %q: ca, cert and key need https endpoints", ep)
		}
	}
	if (e.Cert == "") != (e.Key == "") {
		return bad(line, "etcd: give both cert and key, or neither")
	}
	if ttl := time.Duration(e.LeaseTTL); ttl%time.Second != 0 {
		return bad(line, "etcd: lease_ttl %v: etcd counts leases in whole seconds", ttl)
	}
	return nil
}

// etcd returns the checked [etcd] table with its files read.
func (c *fileConfig) etcd() (EtcdConfig, error) {
	e := c.Etcd
	out := EtcdConfig{Endpoints: e.Endpoints, Name: e.Name, Prefix: e.Prefix,
		LeaseTTL: time.Duration(e.LeaseTTL), DialTimeout: time.Duration(e.DialTimeout)}
	if out.Name == "" {
		host, err := os.Hostname()
		if err != nil {
			return EtcdConfig{}, fmt.Errorf("etcd: no name, and the host has none: %w", err)
		}
		out.Name = host
	}
	if out.DialTimeout == 0 {
		out.DialTimeout = 5 * time.Second
	}
	if e.CA != "" || e.Cert != "" {
		out.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		if e.CA != "" {
			pool, err := readCA(c.path(e.CA))
			if err != nil {
				return EtcdConfig{}, c.fileError("etcd", 0, "ca", fmt.Errorf("etcd: ca %s: %w", e.CA, err))
			}
			out.TLS.RootCAs = pool
		}
		if e.Cert != "" {
			cert, err := tls.LoadX509KeyPair(c.path(e.Cert), c.path(e.Key))
			if err != nil {
				return EtcdConfig{}, c.fileError("etcd", 0, "cert", fmt.Errorf("etcd: cert %s, key %s: %w", e.Cert, e.Key, err))
			}
			out.TLS.Certificates = []tls.Certificate{cert}
		}
	}
	return out, nil
}

// errNeedsHA refuses store = "etcd" in a build without etcd.
var errNeedsHA = errors.New(`store = "etcd" needs nvrcenter-ha (go install github.com/nvrha/nvrha/etcdha/cmd/nvrcenter-ha@latest); this nvrcenter keeps its State in a file`)

// switchHandler serves the elected center's Handler while this center
// leads, and the follower's answer otherwise.
type switchHandler struct {
	current atomic.Pointer[center.Center]
}

// EndStreams ends the event streams of the center serving now.
func (s *switchHandler) EndStreams() {
	if c := s.current.Load(); c != nil {
		c.EndStreams()
	}
}

func (s *switchHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if c := s.current.Load(); c != nil {
		c.Handler().ServeHTTP(w, r)
		return
	}
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
		return
	}
	// Not ready and not serving: a load balancer in front of the centers
	// sends operators to the one that leads.
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Retry-After", "1")
	w.WriteHeader(http.StatusServiceUnavailable)
	_ = json.NewEncoder(w).Encode(map[string]string{
		"error": "this center stands by: another center leads and serves the page and the API",
	})
}

// leadCenter returns what HA calls each time this center is elected: a
// Center over that term's Controller configuration, served until the term
// ends.
func leadCenter(base center.Config, sw *switchHandler, log *slog.Logger) func(ctx context.Context, cc failover.ControllerConfig) error {
	return func(ctx context.Context, cc failover.ControllerConfig) error {
		cfg := base
		cfg.Controller = cc
		cfg.Registry = nil // a Center's metrics are registered afresh each term
		c, err := center.New(ctx, cfg)
		if err != nil {
			return err
		}
		sw.current.Store(c)
		defer func() {
			sw.current.Store(nil)
			c.EndStreams()
		}()
		log.Info("nvrcenter: elected; serving the page and the API")
		return c.Run(ctx)
	}
}
