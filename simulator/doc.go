// Package simulator is a deterministic discrete-event world that drives the
// real failover.Machine under faults, checks the invariants of
// docs/invariants.md after every event, and measures what failover costs in
// footage.
//
//	w, err := simulator.New(simulator.Config{Seed: 7, Nemesis: simulator.NemesisConfig{Enabled: true}})
//	rep := w.Run()             // or w.RunUntil(t) in steps, for a progress display
//	rep.WriteText(os.Stdout)   // the summary; rep is JSON-tagged for machines
//	if rep.Violation != nil {  // seed, time, invariant, last events, replay command
//		fmt.Println(rep.Violation)
//	}
//
// The command nvrsim (./simulator/cmd/nvrsim) runs it from the command
// line; every report carries the one-line command that replays it.
//
// # A run and its observers
//
// The world (this package: the event queue, the network, the servers, the
// center and the nemesis) runs and reports what happens as a history of
// events (package history): the faults and actions, every command and
// answer, what the Machine published and persisted, and the ground truth
// of who records which camera. Observers consume that history as it
// happens, event by event, reading the world through a read-only
// history.View: package check's Checker enforces the invariants (one file
// each, named as docs/invariants.md names them) and stops the run at the
// first violation; package report's Measures takes the measures and fills
// the Report. Each observer can be tested alone on a hand-written history
// (history.NewStatic). Scenario files are package scenario's; the shipped
// ones are in simulator/scenarios.
//
// # The world
//
// Time is virtual: it starts at [Start] and only moves when the next event
// is taken from the queue, which is ordered by (time, sequence number); the
// sequence number is unique, so the order is total. There is one random
// source, math/rand/v2's PCG seeded with (Config.Seed, a constant), drawn
// from in event order only. No goroutine is started, no wall clock is read,
// and no map is iterated where the order could reach the trace or the
// report. Each event writes a canonical line (its time in nanoseconds and
// what happened, including every command sent, every order a server carried
// out and every event the Machine published); the FNV-64a hash of all lines
// is Report.TraceHash. The same Config gives the same trace, byte for byte.
//
// The center runs the real failover.Machine through the [Machine]
// interface (so a test can wrap it with a broken one) in the Ready loop of
// package failover's documentation. It ticks every CenterConfig.TickInterval
// (50 ms). After every call into the Machine it drains Ready: it persists
// State into its store first (a deep copy, or a JSON round trip with
// CenterConfig.JSONStore), then handles the Events, then puts each Command
// on the network, then calls Advance. A server's answer travels back as
// a message and is handed to Step when it arrives. A center crash drops
// the Machine; answers still in flight are lost with its connections (they
// carry the center's incarnation); commands already sent still reach their
// servers, as they would. After the downtime the center restarts with
// failover.RestoreMachine from the last persisted State.
//
// With Config.Centers of two or more, several centers stand by for each
// other as package etcdha's Nodes do (multicenter.go): a lease store on
// virtual time elects one with a lease (CenterConfig.Lease, 5 s) and a
// term that grows with every election; the leader renews every fifth of
// the lease and stops ordering a fifth before it can expire, stands still
// while the store refuses its State (only the holder of the current term
// writes it), and stops when an agent refuses an order for a stale term.
// Followers keep the State the leader saved and a warm Machine restored
// from it; the one elected restores its Machine from that State. The
// center the observers see is whichever leads; every new leader is a
// restart, with a new incarnation. Orders carry the leader's term, and
// the agents fence them by it (package transport, "Center terms").
//
// Servers ([Server]) implement transport.Agent as transport/agenttest's
// reference server does: the same refusals, epochs fenced per recording
// server and center terms fenced with a transport.Fence, configuration
// (accepted epochs and term, the stand-down, the cover) that survives a
// crash. The world calls them
// synchronously, with context.Background(), when a message reaches them. On
// top of that each keeps the recording ground truth: which cameras' footage
// it writes at every instant.
//
//   - A recording server writes its own cameras unless it is crashed,
//     abnormal or stood down. A standby writes the cameras of the recording
//     server it covers unless it is crashed or abnormal.
//   - Footage starts ServerConfig.StreamStart (1 s) after it is wanted: after
//     a takeover or resume order is accepted, or a server restarts. It stops
//     at once.
//   - A server answers an order as soon as it accepts it; with
//     ServerConfig.AckWhenRecording it answers takeover and resume orders
//     only once the footage flows.
//   - Crash: nothing is answered or recorded; messages that arrive are lost.
//     Pause (a hang): messages queue and are carried out, in order, when the
//     pause ends; footage keeps flowing (the hang is the control plane's).
//     Abnormal (a failed disk): the server answers probes "unhealthy",
//     records nothing, refuses takeovers, and refuses to resume while stood
//     down. Degraded (abnormal ... recording: a failing disk that still
//     takes writes): the same, but its footage flows on until it is stood
//     down, and its probes say so (Recording).
//   - Recording spaces fill up (no empty space: takeovers are refused,
//     probes and inventories say so) and free up. License channels change;
//     the center learns the new facts from its inventory commands. A standby
//     refuses a takeover of more cameras than it has license channels.
//   - Broken or hostile agents (history.Hostility, hostile.go): for a
//     while a server's agent refuses every order with an absurd or a
//     believable newer epoch, reports absurdly, refuses every takeover,
//     acknowledges takeovers and drops them, answers minutes late, or
//     replays its old answers. What it records stays the ground truth.
//
// Each camera counts the servers writing it; while the count is zero the
// camera is in a gap. A gap is footage lost for good.
//
// The network between the center and each server delays every message by
// NetConfig.Latency plus a uniform draw in [0, Jitter] (whole microseconds),
// loses it with probability Loss and duplicates it with probability
// Duplicate (the copy delayed independently); jitter reorders. Each
// direction of each link can be cut (a partition; overlapping partitions
// count). Loss and delay bursts raise the loss probability or add latency on
// some links or all of them for a while. The default is a quiet LAN (1 ms,
// 0-2 ms jitter, no loss); [NoisyLAN] is the performance work's noisy one.
//
// # What is simplified
//
// No bandwidth, CPU, disk throughput or storage capacity is modelled: a
// recording space is empty or not. Cameras never fail themselves and all
// stream to whoever records them. A crashed server's host never answers
// (there is no fast "connection refused"). Admin operations take effect at
// the center at once, in one event. Clocks never drift. The nemesis strikes
// a server only when no other fault holds it, and never in the quiet tail.
//
// # Faults
//
// [FaultKinds] lists them: server crash and restart; pauses shorter and
// longer than the acceptable pause; a failed disk (abnormal); partitions,
// both ways, one way, several servers at once; loss and delay bursts; a
// standby dying mid-takeover; a recording space filling up; a license
// change; a flapping recording server; several recording servers failing
// together; a center crash and restart, also right after a takeover was
// persisted and before its orders left; admin operations racing with
// takeovers (disable, remove (disabling first when the server is in the
// takeover process), delete group, protection off), each approved through
// failover.VerifyFirstAdmin; a broken or hostile agent (hostile-peer);
// and, only where several centers stand by for each other, a leader
// crash, a leader cut from the lease store, the store unavailable, a
// leader crash mid-takeover, and a leader that freezes with a takeover's
// orders stamped. The nemesis ([NemesisConfig]) plans them
// before the run from the seed alone, with its own random source
// ([World.Plan]): Poisson processes at [NemesisRates], targets among the
// servers no fault it planned holds, lengths cut at the quiet tail. A fault
// of a recording server may be followed by a reactive one that strikes the
// takeover it causes (the standby dies, the center crashes, an admin
// disables, removes, deletes the group or switches protection off): it is
// planned with the placeholders "standby" and "recording", resolved on
// each side to the pair of the first takeover of that server that starts
// while it is armed, and skipped on a side where none does. Each kind is
// one entry of the table in faultkinds.go (docs/invariants.md says how to
// add one). Scripted runs use scenario files ([Config.ApplyScenario]).
//
// # Scenario files
//
// Scripted runs use scenario files: package scenario holds the format (a
// world header, timed actions, triggers on the Machine's events, and
// expectations), [Config.ApplyScenario] runs one, and simulator/scenarios
// ships a dozen.
//
// # Invariants
//
// docs/invariants.md lists the invariants (numbered 0 to 11), what each
// forbids, the budgets the time-bounded ones allow and which check
// enforces each; package check holds the checks. The first violation stops
// the run (Report.Violation): seed, simulated time, invariant, the last
// events (Config.TraceTail), and the replay command. Known defects of the
// Machine that the checker recognises by a precise signature are listed by
// [KnownIssues]; they are violations like any other unless Config.Tolerate
// names them, and then they are counted in Report.KnownIssues and the run
// goes on.
//
// # Measures
//
// An incident is an outage of a recording server as the world caused it:
// from the first fault that hit it (crash, failed disk, long pause,
// partition, flap) until its faults ended, it records its own cameras again
// and the Machine has no standby on it. Package report defines the
// measures (time to detect, to take over and to fail back, the gap per
// camera, false and unexplained takeovers, flaps, availability) and
// renders them: [Report.WriteText] prints the summary table, [WriteHTML]
// writes one self-contained HTML page (a timeline of statuses, takeovers,
// footage and faults per server, the distribution of recording gaps, the
// incidents), and the Report encodes as JSON.
//
// # Baseline
//
// Config.Baseline drives the same world with [BaselineFailover]'s detector
// and assignment: a poll every 0.5 s and a server down after 5 s (10
// consecutive misses), Milestone XProtect's published timings, and the
// naive first-fit standby choice (failover.AssignFirstFit). The failback
// policy and everything else stay as configured. The nemesis's plan does
// not depend on the side (it sizes pauses by nvrha's acceptable pause
// either way): both face the same faults at the same times, and
// Report.FaultPlan, the plan's hash, is the same for both.
// [NoisyLANScenario] is the standard world the performance figures pool
// (simulator/cmd/nvrbench, docs/performance.md).
//
// # Oracle
//
// Config.Oracle drives the same world with a center that knows the truth,
// the floor of what any center could save: its probes never cross the
// simulated network but are answered at once from each server's ground
// truth (a crashed server answers nothing, an abnormal one says so, a hung
// or cut-off one, still recording, answers healthy), and its detector
// ([OracleFailover]) declares a server down at the first miss once an
// acceptable pause has passed since its last healthy answer: one
// acceptable pause after the server stopped, to within a tick, and never
// for a server that still records. Orders and inventories go over the
// network, and the rest of the configuration is nvrha's. The invariants'
// budgets derive from the oracle's detector as from any other. The footage
// a side loses beyond the oracle's is its avoidable loss; Report.Scarcity
// measures how well each side spent its standbys while failures
// outnumbered them.
package simulator
