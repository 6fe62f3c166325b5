// Package detector holds the failure-detector maths of the failover state
// machine: it turns a server's history of probe outcomes into "this server
// has failed".
//
// The center probes each server on an interval. Each probe either answers
// healthy in time (a success, a heartbeat) or fails or times out (a miss).
// A [Detector] records them with Observe(now, ok) and answers Failed(now).
// Two detectors implement it: [PhiAccrual] (the default) and the simpler
// [ConsecutiveMiss]. [New] builds the one a [Config] selects.
//
// # Pure, small and cheap
//
// A detector never reads a clock (time is always an argument), never starts
// a goroutine, does no IO, uses no randomness and no maps. That is what lets
// the failover Machine give the same outputs for the same inputs, byte for
// byte, so that the simulator can replay any failure from its seed. Time
// that goes backwards (now before the latest observation) is taken as no time
// passed: it never panics and never produces NaN.
//
// A detector runs once per probe for every server, so Observe and Failed do
// not allocate: phi accrual keeps its samples in a ring buffer sized at
// construction. With the defaults a PhiAccrual takes about 600 bytes (4 bytes
// per sample plus under 200 bytes of state) and a ConsecutiveMiss 80 bytes.
// On a 2-core AMD EPYC, Observe takes about 36ns and Failed 43-51ns (phi
// accrual, past the floor so that phi is computed), and the consecutive-miss
// detector about 12ns for an Observe and a Failed together.
//
// Detectors are not safe for concurrent use: one owner (the Machine) calls
// them. Their zero values are not usable; build them with a constructor.
//
// # The hard floor
//
// Config.AcceptablePause is the longest silence a healthy server may show: a
// GC pause, a busy disk, a lost probe or two. For both detectors, Failed(now)
// is false while now - lastSuccess <= AcceptablePause, whatever the other
// settings. The floor is a separate check on top of each detector's own rule,
// not a property of tuning, because a false takeover is expensive (a standby
// starts recording cameras that were fine, and they must be handed back) and
// because nvrha promises it (invariant 7, "Settling", in
// docs/invariants.md): a healthy-but-slow server within the allowed pause
// triggers no takeover. CalmUntil returns that floor, lastSuccess plus
// AcceptablePause, so that a caller asking many detectors at every tick
// (failover.Machine.Tick) can skip those that cannot fail yet.
//
// The floor counts from the last success the detector was told of, not
// from when the server stopped. A failover.Machine with a consecutive-miss
// detector tells it only of answers to probes it still awaits: after a
// pause, the silence runs from the last answer before the pause (up to a
// probe interval and a probe timeout earlier) to the first answer after
// it, and may pass AcceptablePause when the pause itself does not. A phi
// accrual detector adds the mean interval between answers to the floor.
//
// # Before the first success
//
// A server that was never observed is never failed: silence alone, with no
// probe result at all, is no evidence. But a server that dies before its
// first probe must still be taken over, so once observed, a server that has
// not answered yet is judged as if its first observation were a success: the
// floor and the detector's rule count from the first observation. Reset
// returns a detector to "never observed"; the Machine calls it when a server
// joins or is re-enabled.
//
// # Phi accrual
//
// [PhiAccrual] is the detector of Hayashibara et al. ("The phi accrual failure
// detector", 2004) in the formulation Akka uses. It learns the distribution of
// the time between successful probes and reports, as phi, how unlikely the
// current silence is: phi = -log10(P(a success would come later than now)).
// phi 1 means a 10% chance that the server is only late, phi 8 one in 10^8.
//
// Exactly:
//
//   - Samples. When a success arrives at t and the previous success was at
//     t0 < t, the interval t - t0 is recorded in whole microseconds
//     (truncated, capped at 2^32-1 µs, about 71 minutes). The window keeps
//     the last Config.Window samples. A miss records nothing: it only lets
//     time pass; it never shortens anything. The first success after a
//     Reset, or after misses only, records nothing (there is no previous
//     heartbeat). A success whose interval ends a silence the detector
//     already judged a failure (Failed would have been true at t) is not
//     recorded either, as in Akka: an outage is not a normal inter-arrival
//     time, and learning it would inflate the mean and spread for the next
//     Window probes and slow the detection of the next crash.
//   - Statistics. mu and sigma are the mean and the population standard
//     deviation of the samples; with no sample yet mu = ProbeInterval and
//     sigma = 0. They are computed from exact integer sums (128 bits for the
//     squares), so they never drift however long a detector runs.
//   - Distribution. The expected arrival is shifted by the acceptable pause
//     and the spread is floored: m = mu + AcceptablePause and
//     s = max(sigma, MinStdDev). The shift is Akka's acceptable heartbeat
//     pause: silences up to AcceptablePause are normal, so they cost nothing.
//     The floor keeps a perfectly regular history (sigma near 0) from making
//     phi explode on the first late probe.
//   - Phi. With t = now - lastSuccess (0 if negative) and y = (t - m)/s,
//     P_later is the logistic approximation of the normal tail that Akka
//     uses, P_later = 1/(1 + e^z) with z = y*(1.5976 + 0.070566*y^2), so
//     phi = log10(1 + e^z). It is computed without overflow or cancellation:
//     phi is finite, never negative, and grows smoothly with the silence. The
//     logistic form has a closed form where the normal tail (erfc) underflows
//     to 0, which would make phi infinite, near y = 38.
//   - Failed(now) is t > AcceptablePause and phi >= Threshold.
//
// [PhiAccrual.Phi] returns phi without the floor, for reports.
//
// # Consecutive miss
//
// [ConsecutiveMiss] is failed when the last Config.Misses observations were
// all misses and now - lastSuccess > AcceptablePause. It needs no tuning
// beyond the probe schedule but does not adapt to a server's jitter.
//
// # Recovery
//
// A success clears a failure at once: Failed is false right after it. The
// Machine applies its own hold-down before failback; that is not this
// package's job.
//
// # Detection time
//
// Take regular probes every ProbeInterval (PI), a server that crashes so that
// every probe from time T on misses, its last success at L = T - PI, and
// Failed checked at each probe.
//
// Phi accrual is failed once the silence is more than AcceptablePause and at
// least D = AcceptablePause + mu + y*(Threshold) * max(sigma, MinStdDev), where
// y*(Threshold) solves phi(y) = Threshold (it is 1.282 for 1, 3.059 for 3,
// 4.119 for 5, 5.226 for 8, 5.799 for 10, 6.292 for 12). With regular probes
// mu = PI and sigma = 0, so the crash is reported at the first probe at least
// D after L, that is (ceil(D/PI) - 1) * PI after T, always less than D after
// T. With the defaults (threshold 4, y* = 3.638) D = 1s + 200ms + 3.638 *
// 50ms = 1.382s (measured: the first whole millisecond at which Failed is
// true is 1.382s after the last success, 1.182s after the first missed
// probe), and on the 200ms probe grid the crash is reported at the seventh
// missed probe, 1.2s after T, within AcceptablePause + 2*ProbeInterval.
// Jitter raises sigma above the floor and D with it: sigma = 100ms gives
// about 1.56s.
//
// Consecutive miss is failed at the first probe that is the Misses-th miss in
// a row and comes more than AcceptablePause after L: at
// T + max(Misses-1, floor(AcceptablePause/PI)) * PI, at most
// T + max((Misses-1)*PI, AcceptablePause). With the defaults that is the
// sixth missed probe, 1s after T.
//
// A server that never answered counts from its first observation, a miss at
// T (L = T). With the defaults phi accrual reports it 1.4s after T and
// consecutive miss 1.2s after T.
//
// # Configuration
//
// Zero fields of a [Config] mean "the default" ([Config.WithDefaults]);
// [Config.Validate] checks the values that would be used and wraps
// [ErrInvalidConfig] for each problem. The defaults are 200ms probes (50ms
// for a suspect), a 1s acceptable pause, threshold 4, a 50ms minimum
// standard deviation, a window of 100 samples and 3 misses.
//
// Threshold 4 (one chance in 10^4 that a server silent that long is only
// late, on top of the acceptable pause) rather than the 8 to 12 usual for
// phi accrual: the acceptable pause already absorbs the pauses a healthy
// server shows, and the Machine keeps probing a suspect every 50ms, so the
// silence a paused server leaves ends within a jitter of its pause. The
// noisy-LAN simulation (1% loss, 0-100ms jitter, pauses up to 1s) shows no
// false takeover at 4, and 4 instead of 8 detects every crash about 90ms
// sooner.
package detector
