// Command nvrcenter-ha is nvrcenter (cmd/nvrcenter of the core module) with
// etcd: a configuration file that says store = "etcd" runs one of several
// centers that stand by for each other, of which the one elected protects
// the servers and serves the page and the API. It takes nvrcenter's command
// line and file; without store = "etcd" it is nvrcenter.
//
//	nvrcenter-ha -config /etc/nvrcenter/nvrcenter.toml
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/nvrha/nvrha/center/daemon"
	"github.com/nvrha/nvrha/etcdha"
	"github.com/nvrha/nvrha/failover"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := daemon.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, daemon.Options{HA: runHA}); err != nil {
		fmt.Fprintln(os.Stderr, "nvrcenter-ha:", err)
		os.Exit(1)
	}
}

// runHA campaigns through etcd and runs lead whenever this center leads.
func runHA(ctx context.Context, cfg daemon.EtcdConfig, log *slog.Logger, cc failover.ControllerConfig,
	lead func(context.Context, failover.ControllerConfig) error) error {
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		TLS:         cfg.TLS,
		DialTimeout: cfg.DialTimeout,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer cli.Close()
	node, err := etcdha.New(etcdha.Config{
		Client:     cli,
		Name:       cfg.Name,
		Store:      etcdha.StoreConfig{Prefix: cfg.Prefix},
		LeaseTTL:   cfg.LeaseTTL,
		Controller: cc,
		Lead:       lead,
		Logger:     log,
	})
	if err != nil {
		return err
	}
	log.Info("nvrcenter-ha: standing by with the other centers", "name", cfg.Name, "etcd", cfg.Endpoints)
	return node.Run(ctx)
}
