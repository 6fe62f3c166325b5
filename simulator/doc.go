// Package simulator is a deterministic discrete-event world that drives the
// real failover.Machine under faults, checks DESIGN.md's invariants after
// every event, and measures what failover costs in footage.
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
// CenterConfig.JSONStore), then puts each Command on the network, then
// handles the Events, then calls Advance. A server's answer travels back as
// a message and is handed to Step when it arrives. A center crash drops
// the Machine; answers still in flight are lost with its connections (they
// carry the center's incarnation); commands already sent still reach their
// servers, as they would. After the downtime the center restarts with
// failover.RestoreMachine from the last persisted State.
//
// Servers ([Server]) implement transport.Agent as transport/agenttest's
// reference server does: the same refusals, epochs fenced per recording
// server with a transport.Fence, configuration (accepted epochs, the
// stand-down, the cover) that survives a crash. The world calls them
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
// failover.VerifyFirstAdmin. The nemesis ([NemesisConfig]) draws them from
// the seed as Poisson processes at [NemesisRates], and strikes starting
// takeovers with the reactive kinds. Scripted runs use [Scenario]s.
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
// DESIGN.md's invariants are checked after every event that can break
// them. An event whose call into the Machine changed what the Machine
// persists or publishes (its Ready carried a State or Events), an admin
// operation, a restart and every tick are followed by the checks of the
// Machine's own view; an answer that changed neither leaves their inputs
// as they were. An event that touched a server is followed by the
// ground-truth checks of that server (of every server after a fault or an
// admin operation); every tick (50 ms) by the time-bounded checks, whose
// budgets are seconds. The budgets derive from
// the Machine's configuration: detection = max(acceptable pause, misses x
// probe interval) + 2 probe intervals + probe timeout + 2 s; one standby
// tried = TakeoverTimeout + a tick; a release delivered = CommandTimeout +
// RetryMax + 2 s; settling = detection + release + inventory interval + 5 s
// + a try per standby of the largest group + the longest hold-down the flap
// damping can have reached. A server is "calm" since its last disturbance:
// a fault on it, a lost message to or from it, an admin operation on it or
// its group, a center restart; while it is crashed, abnormal, in a long
// pause, cut off or in a burst it is not calm at all. The first violation
// stops the run (Report.Violation): seed, simulated time, invariant, the
// last events (Config.TraceTail), and the replay command.
//
//  1. One standby per recording server. Machine view, strictly: a member's
//     Peer is a member of the same group with the other role whose Peer is
//     it. Ground truth: no two standbys record one recording server's
//     cameras under the same epoch (safety); a standby that records a
//     recording server's cameras while the Machine does not have it as that
//     server's peer (given up, interrupted, fenced off) stops within the
//     release budget of being calm with the center up (liveness). So the
//     ground truth allows, and only allows, the window before a fenced-off
//     standby gets its release; make-before-break failback (the recording
//     server resumes while the standby still records) is no overlap of two
//     standbys at all. Likewise a degraded recording server (abnormal, still
//     recording) that the Machine shows "Abnormal, protected" stops
//     recording within the release budget of its link being calm: it is
//     stood down rather than left to fight the standby for its cameras.
//  2. License and eligibility. At every takeover start (Machine view): the
//     standby has at least the recording server's license channels (in the
//     snapshot and in the persisted facts), and is enabled, protected, up,
//     with an empty recording space and no failed takeover. At every join
//     the Machine accepts, package eligibility, asked independently on the
//     group as persisted, finds no failed rule. Ground truth: a standby
//     records no more cameras than its license channels (a license lowered
//     under a running takeover excepted).
//  3. Epochs. The Machine's epoch of every recording server never goes down,
//     also across a restart, where it must be at least every epoch ever
//     sent. Every order's epoch was persisted before the order left. No
//     epoch of a recording server serves two changes of who records its
//     cameras: one epoch is a takeover by one standby (with its stand-down),
//     or a failback (resume and release of one standby), or a fence-off
//     release, or a resume. An order a server refuses as stale leaves the
//     server exactly as it was.
//  4. Timely takeover. A failed (crashed or abnormal) recording server,
//     enabled in a protected group and not shown "Abnormal, protected", with
//     a standby of its group that is enabled, healthy, not paused, free in
//     both views, with an empty recording space and enough license channels
//     (both views), is taken over within detection + one try per standby of
//     the group + the release budget, counted from the latest of: its
//     failure, the last time it was covered, admin changes, the center's
//     restart + detection, the standby's calm + detection, fact changes +
//     the inventory interval, the standby's last busy moment + the release
//     budget.
//  5. Statuses agree with the facts. Every member's status is the one
//     package status derives from what the Machine holds: the snapshot
//     (enabled, protection, health, peer, empty recording space) and the
//     persisted State (facts, failed takeovers, owed releases, takeover
//     phases). "Normal, protected" thus needs a confirmed takeover, an
//     unconfirmed one whose standby is ready (active, up, no failed
//     takeover, no owed release, an empty recording space), or a free, ready
//     standby that fits. When the persisted State lags the live one the live
//     one is used.
//  6. Removal and limits. Removing a server the Machine shows in a takeover
//     must fail with ErrInTakeover; deleting the default group with
//     ErrDefaultGroup; at most 16 groups, at most the platform's capacity per
//     group, a server in one group only, the default group always there.
//  7. Settling. A server the Machine declares failed that is neither crashed
//     nor abnormal must have been disturbed within the detection budget: a
//     pause within the acceptable pause alone never causes a takeover. Once
//     the settle time has passed since the last fault, no server that has
//     itself been calm for a settle time goes down or up, is taken over or
//     fails back. At the end of a settled run every healthy, enabled
//     recording server of a protected group records its own cameras and
//     (with automatic failback) is not taken over, and every "Abnormal,
//     protected" server's standby records its cameras. At every tick, a
//     healthy recording server that no standby covers records its own
//     cameras within detection + release + stream start of being calm and
//     of the Machine's last standby on it.
//     Failback is make-before-break: when a standby carries out a
//     failback's release, its recording server records already, unless it
//     was disturbed since the failback started.
//  8. Nothing acknowledged is lost. After every Machine call the groups,
//     members, roles, enabled switches and protection switches the Machine
//     reports are exactly those of the admin operations it acknowledged.
//     Every persisted ledger extends the previous one (intervals appended,
//     open ones closed, the oldest dropped past the limit). At a crash the
//     persisted State holds everything the live Machine holds, takeover
//     phases included (but the next command ID; owed orders: every one the
//     live Machine owes is persisted); at the restart the restored
//     Machine's State equals the persisted one, and its first Ready that
//     sends commands persists its State first. No command ID is sent by
//     two incarnations of the center, so that a late answer from before a
//     restart is never taken for a new command's. After a
//     confirmed takeover or a failback the ledger names the new holder; at
//     the end every stretch a standby recorded under a confirmed takeover is
//     found by HoldersAt.
//  9. Determinism. TestDeterminism runs a seed twice and compares traces
//     byte for byte, hashes and reports, and checks another seed differs.
//
// Known defects of the Machine that the checker recognises by a precise
// signature are listed by [KnownIssues]. They are violations like any other
// unless Config.Tolerate names them; then they are counted in
// Report.KnownIssues and the run goes on. The batch tests tolerate them, and
// TestKnownIssuesReproduce fails as soon as one no longer reproduces. Each
// has a scenario in testdata/known; fixed defects keep theirs in
// testdata/regress, where TestRegressions asserts the fixed behaviour.
//
// # Measures
//
// An incident is an outage of a recording server as the world caused it:
// from the first fault that hit it (crash, failed disk, long pause,
// partition, flap) until its faults ended, it records its own cameras again
// and the Machine has no standby on it. Detect is the first ServerDown after
// the start; Takeover the first confirmed takeover; Failback the
// FailbackCompleted after the faults ended; the gap per camera is the
// footage the camera lost in the incident. Report.Detect, Takeover and
// GapPerCamera summarise the incidents in which the server in fact lost
// footage (p50, p90, p99, max). A false takeover is one of a server that was
// healthy and recording all its cameras when it started; an unexplained one
// had no fault and no network trouble (not even a lost message) to explain
// it. A flap is a takeover within the flap
// window of the same server's previous failback. Availability is the share
// of camera-time recorded. The report also carries every server's status,
// footage and fault timeline, every takeover with its outcome, and the gap
// samples, for a renderer: [Report.WriteText] prints the summary table,
// [WriteHTML] writes one self-contained HTML page (a timeline of statuses,
// takeovers, footage and faults per server, the distribution of recording
// gaps, the incidents), and the Report encodes as JSON.
//
// # Baseline
//
// Config.Baseline drives the same world with [BaselineFailover]'s detector
// and assignment: a poll every 0.5 s and a server down after 5 s (10
// consecutive misses), Milestone XProtect's published timings, and the
// naive first-fit standby choice (failover.AssignFirstFit). The failback
// policy and everything else stay as configured. The nemesis sizes pauses
// by nvrha's acceptable pause either way, so both face the same world.
// [NoisyLANScenario] is the standard world the performance figures pool
// (simulator/cmd/nvrbench, docs/performance.md).
package simulator
