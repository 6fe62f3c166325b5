// Command nvrcenter is an nvrha center an operator runs: it watches the
// agents listed in its configuration file, runs their Failover Groups, and
// serves the Failover Management page, the admin API, /metrics, /healthz
// and /readyz on one listener.
//
//	nvrcenter -config /etc/nvrcenter/nvrcenter.toml
//	nvrcenter -demo                        # simulated servers, nothing to set up
//	nvrcenter -hash-password < password    # a bcrypt hash for an [[admin]]
//
// -demo runs the center with simulated servers in the process: "Failover
// Group 1" with 14 recording servers and 2 standbys, and three servers in no
// group for the Add dialogs. It prints the page's address and a login; the
// page can crash and restore any demo server. docs/nvrcenter.md describes
// the configuration file. SIGTERM or SIGINT stops the center gracefully.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nvrha/nvrha/center/daemon"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := daemon.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, daemon.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, "nvrcenter:", err)
		os.Exit(1)
	}
}
