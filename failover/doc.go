// Package failover manages Failover Groups and runs failover: it decides
// when a recording server has failed, which standby takes over its cameras,
// and when the cameras go back.
//
// # Failover Groups
//
// A center starts with "Failover Group 1", which can be renamed but never
// deleted, and holds at most [MaxGroups] groups. A group has recording
// servers, standby servers and a Failover Protection switch; it holds at most
// 64 servers on an x86_64 center and 8 on an ARM64 one; a server is in at
// most one group. Servers join in batches that are all-or-nothing: a refused
// batch returns a *[RejectedError] naming every refused server with every
// rule it failed (package eligibility). Removing a standby and deleting a
// group need an [Approval] from [VerifyFirstAdmin], which approves that one
// operation, once, for Config.ApprovalTTL. A server in the takeover
// process cannot be removed: disable it first, which ends its takeover.
// Every operation is atomic: after an error the state is exactly as before.
//
// # The Machine
//
// [Machine] is the pure, deterministic core, shaped like etcd's raft
// RawNode. It never reads a clock, sleeps, starts goroutines, does IO or uses
// global randomness, and no map order reaches its output: time comes in as
// an argument, observations as results, and decisions leave as data. The
// same calls give the same Ready, byte for byte, which is what makes every
// simulated failure reproducible from its seed.
//
// The caller drives it in a loop:
//
//  1. Call [Machine.Tick] with the current time, at least every probe
//     interval. Time passing is what fires probes, timeouts, retries,
//     failure detection and failbacks.
//  2. Call admin operations (AddGroup, AddStandbyServers, ...) as users ask;
//     they are synchronous and return typed errors.
//  3. Take [Machine.Ready]. If it carries a State, persist it first (a
//     [Store]): an epoch must be durable before any server sees it. A
//     Machine set incremental ([Machine.SetIncremental]) hands [Changes]
//     instead, the parts of the State that changed, for a [DeltaStore]:
//     persisting a change then costs the change, not the center.
//  4. Send its Commands through a transport (see [Execute]) and publish its
//     Events.
//  5. Call [Machine.Advance] with the same Ready.
//  6. As each command's result arrives, hand it to [Machine.Step] with the
//     current time; then go back to 3 when [Machine.HasReady].
//
// [Exchange] does 3 to 6 synchronously; the [Controller] does them
// concurrently with a real clock.
//
// # Detection, takeover, failback
//
// Every server is probed each Detector.ProbeInterval. A server whose answer
// is overdue is probed each Detector.SuspectInterval until it answers, with
// every probe it was sent still awaited: a paused server answers them all
// when it resumes, so its silence ends with its pause. A failure detector
// (phi accrual by default, or consecutive misses) declares a server failed
// from the timing of its answers; a pause shorter than the acceptable pause
// never does. Orders (takeover, release, stand-down, resume) are sent again
// after CommandTimeout without an answer, unchanged and under the same
// epoch; a late answer to the attempt before still counts. When recording
// servers fail, the free standbys that are enabled, up, not failed, with an
// empty recording space, are assigned to them optimally (package assign):
// most servers covered, then the highest priority ([Machine.SetServerPriority])
// and the most cameras, then the smallest standby that fits. When failures
// outnumber standbys, the standby of a server that has recovered and only
// waits out its hold-down is reclaimed for a server that has none.
//
// Each takeover gets a new epoch for the recording server, a fencing token
// that only grows, across restarts too (it is part of State). The standby
// is ordered to take over; a reachable but abnormal recording server is told
// to stand down under the same epoch. An order refused as stale, with a
// newer epoch a center of ours can have issued, is sent again above it: at
// once the first time, then with the back-off of any failed order. Orders
// owed to a server (releases, resumes) are retried until acknowledged,
// with that back-off too (RetryBase doubling up to RetryMax).
//
// A standby whose probes, after it confirmed, say it does not cover the
// server (it lost the takeover, or acknowledged what it never did) is
// ordered again under the same epoch, after a back-off that doubles. Every
// failed order counts: a standby that does not confirm, and keep, its
// takeover in TakeoverAttempts orders or TakeoverTimeout becomes
// "Abnormal, protection failed", is fenced off with a release under a
// newer epoch, and the next eligible standby is tried at once. One that
// failed while it answered probes stays so until a probe shows it covering
// a takeover it confirmed, and is ordered again only after a back-off
// (Config.FailedStandbyBackoff, doubling), and only when no other standby
// fits; and a standby that got TakeoverAttempts takeover orders within
// FailedStandbyBackoff, for whichever takeovers, is given up rather than
// ordered again after a failure. A standby that falls silent while it
// records the cameras is given up too, but its release, owed, is held
// until another records them (another standby, or the server itself): it
// may record them still, a slow link or a pause away, and nothing else
// does; if it answers first, still covering, it gets the takeover back
// under a new epoch. A standby whose probes say it records the cameras of
// a server it has no takeover of (a stray cover: it acknowledged a release
// it never carried out) counts as having no empty recording space, so it
// is never assigned nor counted as protection, and is told to release that
// server, again after the back-off of orders while its probes say so. An
// uncovered recording server that answers healthy but says it does not
// record is told to resume.
//
// Failback is make-before-break: under a new epoch the recovered recording
// server is told to resume, and only once it confirms is the standby told to
// release. It starts after the server has been healthy for the hold-down
// (automatic, the default), only inside a daily window (scheduled), or only
// on [Machine.Failback] (manual). Each earlier outage of the same server
// within the flap window doubles its hold-down, so a flapping server's
// cameras do not ping-pong.
//
// # The ledger
//
// For every camera the Machine records which server recorded it over which
// interval and under which epoch, so footage recorded on a standby stays
// findable after failback: [Machine.HoldersAt] answers "which server holds
// camera C at time T". The ledger is part of State.
//
// # Persistence
//
// A [Store] saves and loads the whole [State]. A [DeltaStore] also applies
// [Changes]: the groups, members, epochs, takeovers, owed orders and
// cameras' newest intervals that changed, which the Machine marks as they
// change and hands when it is set incremental (or on
// [Machine.TakeChanges]). The [Controller] writes Changes to a DeltaStore,
// the whole State once when it starts and after a write that failed.
// [FileStore] keeps a snapshot and a log of Changes, compacted into a new
// snapshot once it outgrows a bound; [MemoryStore] keeps them in memory. A
// [Replica] applies Changes to a State in time proportional to them, for
// stores and for followers.
package failover
