// Command quickstart shows nvrha end to end on virtual time, in one run with
// no flags:
//
//  1. a center with recording and standby servers in "Failover Group 1";
//  2. a server refused as a standby, with every reason;
//  3. each member's Failover Status;
//  4. a recording server crashes, a standby takes over, the server recovers
//     and its cameras fail back, each status change printed with its time;
//  5. the ledger of one camera: where its footage is.
//
// The servers are in-process agents (package transport/agenttest) reached
// through the in-memory transport; a real deployment uses an HTTP agent on
// each server and the failover.Controller.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

func main() {
	if err := run(os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// start is the virtual time the center starts at.
var start = time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)

func recording(id string, channels, cameras int) nvrha.Facts {
	f := nvrha.Facts{ID: nvrha.ServerID(id), Product: nvrha.ProductQVRSurveillance, AdvancedMode: true,
		LicenseChannels: channels, RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", CapacityBytes: 16 << 40}}}
	for i := 1; i <= cameras; i++ {
		f.Cameras = append(f.Cameras, nvrha.CameraID(fmt.Sprintf("%s/cam-%02d", id, i)))
	}
	return f
}

func standby(id string, channels int) nvrha.Facts {
	return nvrha.Facts{ID: nvrha.ServerID(id), Product: nvrha.ProductQVRElite, AdvancedMode: true,
		LicenseChannels: channels, RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", CapacityBytes: 16 << 40, Empty: true}}}
}

func run(out io.Writer) error {
	ctx := context.Background()
	m, err := failover.NewMachine(failover.Config{Platform: nvrha.PlatformX86_64})
	if err != nil {
		return err
	}
	net := transport.NewInMemory()
	agents := map[nvrha.ServerID]*agenttest.Server{}
	recs := []nvrha.Facts{recording("nvr-lobby", 32, 24), recording("nvr-dock", 16, 12)}
	sbs := []nvrha.Facts{standby("standby-a", 32), standby("standby-b", 64)}
	for _, f := range append(recs, sbs...) {
		agents[f.ID] = agenttest.New(f)
		if err := net.Register(f.ID, agents[f.ID]); err != nil {
			return err
		}
	}

	fmt.Fprintln(out, "== Building Failover Group 1")
	g := failover.DefaultGroupID
	if err := m.AddRecordingServers(g, recs...); err != nil {
		return err
	}
	if err := m.AddStandbyServers(g, sbs...); err != nil {
		return err
	}
	fmt.Fprintf(out, "  %d recording servers and %d standby servers added\n", len(recs), len(sbs))

	// A server that records cameras of its own, on a full disk, with fewer
	// license channels than nvr-lobby, and without Advanced Mode.
	bad := recording("nvr-old", 8, 4)
	bad.AdvancedMode = false
	err = m.AddStandbyServers(g, bad)
	var refused *failover.RejectedError
	if !errors.As(err, &refused) {
		return fmt.Errorf("expected nvr-old to be refused, got %v", err)
	}
	fmt.Fprintln(out, "\n== Why can't nvr-old be a standby server?")
	for _, r := range refused.Servers {
		for _, reason := range r.Reasons {
			fmt.Fprintf(out, "  [%s] %s\n", reason.Code, reason.Message)
		}
	}

	// Drive the center on virtual time: every 50 ms a Tick, then the Ready
	// loop until the Machine is quiet.
	now := start
	var events []failover.Event
	advance := func(d time.Duration) error {
		for end := now.Add(d); now.Before(end); {
			now = now.Add(50 * time.Millisecond)
			m.Tick(now)
			for m.HasReady() {
				rd, err := failover.Exchange(ctx, m, net, nil, now)
				if err != nil {
					return err
				}
				events = append(events, rd.Events...)
			}
		}
		return nil
	}
	if err := advance(3 * time.Second); err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== Failover Status after the first probes")
	printMembers(out, m.Snapshot())

	fmt.Fprintln(out, "\n== nvr-lobby crashes at", clock(now))
	crashAt := now
	agents["nvr-lobby"].Crash()
	events = nil
	if err := advance(10 * time.Second); err != nil {
		return err
	}
	fmt.Fprintln(out, "== nvr-lobby restarts at", clock(now))
	agents["nvr-lobby"].Restart()
	if err := advance(45 * time.Second); err != nil {
		return err
	}
	for _, e := range events {
		switch e.Kind {
		case failover.EventStatusChanged:
			fmt.Fprintf(out, "  %s  %-10s %s -> %s\n", clock(e.At), e.Server, e.From, e.To)
		case failover.EventServerUp:
		default:
			fmt.Fprintf(out, "  %s  %-10s %s", clock(e.At), e.Server, e.Kind)
			if e.Peer != "" {
				fmt.Fprintf(out, " (%s, epoch %d)", e.Peer, e.Epoch)
			}
			fmt.Fprintln(out)
		}
	}

	fmt.Fprintln(out, "\n== Failover Status after failback")
	printMembers(out, m.Snapshot())

	cam := recs[0].Cameras[0]
	fmt.Fprintf(out, "\n== Ledger of %s: who holds its footage\n", cam)
	for _, iv := range m.Ledger(cam) {
		to := "now"
		if !iv.Open() {
			to = clock(iv.To)
		}
		fmt.Fprintf(out, "  %-10s epoch %d  %s .. %s\n", iv.Server, iv.Epoch, clock(iv.From), to)
	}
	// The only footage lost is between the crash and the standby's start.
	if ivs := m.Ledger(cam); len(ivs) >= 2 {
		fmt.Fprintf(out, "  recording gap: %.2fs (crash at %s, last answer %s, standby from %s)\n",
			ivs[1].From.Sub(ivs[0].To).Seconds(), clock(crashAt), clock(ivs[0].To), clock(ivs[1].From))
	}
	return nil
}

func printMembers(out io.Writer, s failover.Snapshot) {
	tw := tabwriter.NewWriter(out, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  SERVER\tROLE\tCHANNELS\tCAMERAS\tSTATUS")
	for _, g := range s.Groups {
		for _, mem := range g.Members {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%d\t%s\n", mem.ID, mem.Role, mem.LicenseChannels, mem.Cameras, mem.Status())
		}
	}
	tw.Flush()
}

// clock prints a virtual time as seconds since the start.
func clock(t time.Time) string { return fmt.Sprintf("t=%6.2fs", t.Sub(start).Seconds()) }
