// Command threecenters starts everything of a three-center deployment on
// one machine, in one process: a three-member etcd cluster (embedded), three
// centers that stand by for each other through it, and simulated servers.
// It then shows what the deployment is for: a recording server fails and a
// standby takes over; the leading center dies with its host mid-way and
// another carries on; the recording server comes back and the new leader
// fails back.
//
//	go run ./examples/threecenters            # from the etcdha directory
//	go run ./examples/threecenters -lease 1s  # shorter: a dead center is replaced sooner
//	go run ./examples/threecenters -etcd http://127.0.0.1:2379,http://127.0.0.1:22379,http://127.0.0.1:32379
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/etcdha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "threecenters:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("threecenters", flag.ContinueOnError)
	lease := fs.Duration("lease", etcdha.DefaultLeaseTTL, "the centers' lease, in whole seconds")
	verbose := fs.Bool("v", false, "log what the centers do")
	etcdURLs := fs.String("etcd", "", "comma-separated client URLs of a running etcd cluster, one per center (default: start one in this process)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "threecenters-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	say := func(format string, a ...any) {
		fmt.Fprintf(out, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
	}

	var endpoints []string
	prefix := etcdha.DefaultPrefix
	if *etcdURLs != "" {
		endpoints = strings.Split(*etcdURLs, ",")
		// A run of its own, whatever earlier runs left in that cluster.
		prefix = fmt.Sprintf("/threecenters-%d/", time.Now().UnixNano())
		say("etcd: using %v, prefix %s", endpoints, prefix)
	} else {
		var stopEtcd func()
		if endpoints, stopEtcd, err = startEtcdCluster(dir, 3); err != nil {
			return err
		}
		defer stopEtcd()
		say("etcd: three members at %v", endpoints)
	}

	// The servers: two recording servers and two standbys, simulated.
	tr := transport.NewInMemory()
	servers := map[nvrha.ServerID]*agenttest.Server{}
	recording := []nvrha.Facts{
		{ID: "rec-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 16, Cameras: []nvrha.CameraID{"rec-1/cam-1", "rec-1/cam-2"}},
		{ID: "rec-2", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 16, Cameras: []nvrha.CameraID{"rec-2/cam-1"}},
	}
	standby := []nvrha.Facts{
		{ID: "sb-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 32, RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: true}}},
		{ID: "sb-2", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 32, RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: true}}},
	}
	for _, f := range append(append([]nvrha.Facts(nil), recording...), standby...) {
		servers[f.ID] = agenttest.New(f)
		if err := tr.Register(f.ID, servers[f.ID]); err != nil {
			return err
		}
	}

	log := slog.New(slog.DiscardHandler)
	if *verbose {
		log = slog.New(slog.NewTextHandler(out, nil))
	}
	events := make(chan string, 1024)
	var centers []*center
	for i, ep := range endpoints {
		c, err := startCenter(ctx, fmt.Sprintf("center-%d", i+1), ep, prefix, *lease, tr, log, events)
		if err != nil {
			return err
		}
		defer c.stop()
		centers = append(centers, c)
	}
	leader := func() *center {
		for {
			for _, c := range centers {
				if st, _ := c.node.Status(); st.Role == etcdha.RoleLeader && c.controller() != nil {
					return c
				}
			}
			// A center leads within a moment of the last one's end.
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor := func(what string, ok func(string) bool) {
		for ev := range events {
			if ok(ev) {
				say("%s", ev)
				return
			}
		}
	}

	l := leader()
	st, _ := l.node.Status()
	say("%s leads (term %d); the others stand by", l.name, st.Term)
	ctl := l.controller()
	if err := ctl.AddRecordingServers(ctx, failover.DefaultGroupID, recording...); err != nil {
		return err
	}
	if err := ctl.AddStandbyServers(ctx, failover.DefaultGroupID, standby...); err != nil {
		return err
	}
	say("%s: Failover Group 1 has rec-1, rec-2 and standbys sb-1, sb-2", l.name)
	waitFor("protected", func(ev string) bool {
		return strings.Contains(ev, "rec-1") && strings.Contains(ev, "Normal, protected")
	})

	say("rec-1 fails")
	servers["rec-1"].Crash()
	waitFor("takeover", func(ev string) bool { return strings.Contains(ev, "takeover-succeeded") })
	cov, cams := servers["sb-1"].Covering()
	say("sb-1 records %s's cameras %v (term %d)", cov, cams, servers["sb-1"].Term())

	say("%s dies with its host; the others wait for its lease (%v) to expire", l.name, *lease)
	killed := time.Now()
	l.kill()
	l2 := leader()
	st2, _ := l2.node.Status()
	say("%s leads (term %d), %v after %s died", l2.name, st2.Term, time.Since(killed).Round(time.Millisecond), l.name)

	say("rec-1 comes back")
	servers["rec-1"].Restart()
	waitFor("failback", func(ev string) bool { return strings.Contains(ev, "failback-completed") })
	cov, _ = servers["sb-1"].Covering()
	say("rec-1 records its cameras again: %v; sb-1 covers %q; every server is at term %d", servers["rec-1"].Recording(), cov, servers["rec-1"].Term())
	if cov != "" || !servers["rec-1"].Recording() || servers["rec-1"].Term() != st2.Term {
		return errors.New("the failback did not end as it should")
	}
	return nil
}

// center is one of the three centers: a Node with its own etcd client.
type center struct {
	name   string
	node   *etcdha.Node
	cli    *clientv3.Client
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	ctl *failover.Controller
}

func startCenter(ctx context.Context, name, endpoint, prefix string, lease time.Duration, tr transport.Transport, log *slog.Logger, events chan<- string) (*center, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	c := &center{name: name, cli: cli, done: make(chan struct{})}
	c.node, err = etcdha.New(etcdha.Config{
		Client:   cli,
		Name:     name,
		Store:    etcdha.StoreConfig{Prefix: prefix},
		LeaseTTL: lease,
		Logger:   log.With("center", name),
		Controller: failover.ControllerConfig{
			Transport: tr,
			Logger:    log.With("center", name),
			Machine:   failover.Config{Failback: failover.FailbackPolicy{HoldDown: 2 * time.Second}},
			OnEvent: func(e failover.Event) {
				select {
				case events <- name + ": " + e.String():
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
			c.ctl = ctl
			c.mu.Unlock()
			defer func() {
				c.mu.Lock()
				c.ctl = nil
				c.mu.Unlock()
			}()
			return ctl.Run(ctx)
		},
	})
	if err != nil {
		cli.Close()
		return nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	go func() {
		defer close(c.done)
		_ = c.node.Run(rctx)
	}()
	return c, nil
}

func (c *center) controller() *failover.Controller {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ctl
}

// kill ends the center as the loss of its host would: its connection to
// etcd goes first, so it neither resigns nor gives its lease back.
func (c *center) kill() {
	_ = c.cli.Close()
	c.cancel()
	<-c.done
}

func (c *center) stop() {
	c.cancel()
	<-c.done
	_ = c.cli.Close()
}

// startEtcdCluster starts an etcd cluster of n members in this process, on
// loopback ports, and returns their client URLs.
func startEtcdCluster(dir string, n int) ([]string, func(), error) {
	cfgs := make([]*embed.Config, n)
	var cluster string
	for i := range cfgs {
		cfg := embed.NewConfig()
		cfg.Name = fmt.Sprintf("etcd-%d", i+1)
		cfg.Dir = filepath.Join(dir, cfg.Name)
		cfg.LogLevel = "fatal"
		cfg.TickMs, cfg.ElectionMs = 10, 100
		cu, pu := loopbackURL(), loopbackURL()
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
		if i > 0 {
			cluster += ","
		}
		cluster += cfg.Name + "=" + pu.String()
		cfgs[i] = cfg
	}
	var (
		members   []*embed.Etcd
		endpoints []string
		mu        sync.Mutex
		wg        sync.WaitGroup
		errs      []error
	)
	stop := func() {
		for _, m := range members {
			m.Close()
		}
	}
	for _, cfg := range cfgs {
		cfg.InitialCluster = cluster
		wg.Go(func() {
			e, err := embed.StartEtcd(cfg)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			members = append(members, e)
			endpoints = append(endpoints, cfg.AdvertiseClientUrls[0].String())
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		stop()
		return nil, nil, err
	}
	for _, m := range members {
		select {
		case <-m.Server.ReadyNotify():
		case <-time.After(30 * time.Second):
			stop()
			return nil, nil, errors.New("etcd not ready within 30s")
		}
	}
	return endpoints, stop, nil
}

func loopbackURL() url.URL {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return url.URL{Scheme: "http", Host: ln.Addr().String()}
}
