// Package agenttest provides [Server], an in-process [transport.Agent] that
// behaves like a real recording or standby server, for controller tests,
// simulations and examples. Register it with a [transport.InMemory] and drive
// its faults from the test: [Server.Crash], [Server.Restart],
// [Server.SetHealthy], [Server.SetEmptyRecordingSpace].
//
// A Server fences every order by its center term and its epoch with a
// [transport.Fence] as package transport describes, and a refused order
// changes nothing, so a test can rely on the
// server to expose a center that sends stale or conflicting orders.
//
// # What a Server does
//
//   - It starts reachable and healthy, recording its own cameras if it has any
//     (a standby has none), covering nobody, with the recording spaces of its
//     facts.
//   - Takeover makes it record the order's cameras for the order's recording
//     server. It refuses ([ErrBusy]) while it covers a different recording
//     server, and refuses to start covering without an empty recording space
//     ([ErrNoEmptyRecordingSpace]) or while abnormal ([ErrUnhealthy]). A
//     Takeover for the recording server it already covers is a retry or a
//     re-issue and is accepted; its camera list replaces the old one.
//   - Release stops recording the named recording server's cameras, and is
//     accepted (its epoch recorded) even when there is nothing to stop.
//   - StandDown stops recording its own cameras until a Resume. Resume starts
//     them again; it refuses while abnormal ([ErrUnhealthy]) if that would mean
//     starting, so that make-before-break failback does not take the cameras
//     from a standby to give them to a server that cannot record them.
//   - Takeover consumes no recording space: whether the server has an empty
//     one is up to [Server.SetEmptyRecordingSpace] alone, so a test decides it
//     explicitly.
//   - SetHealthy changes only the server's own verdict and what it refuses;
//     it does not stop recording by itself, as a disk that fails does not
//     take the configuration with it. The center's StandDown does.
//
// # Crash and restart
//
// While crashed, every call fails with an error wrapping
// [transport.ErrUnreachable] and the server records nothing: [Server.Recording]
// is false and [Server.Covering] is empty. Its configuration survives, as a
// real server's does on disk: the term and the epochs it has accepted, whether it was stood
// down, and which recording server it covers. On [Server.Restart] it carries on
// from there: a recording server comes back recording its own cameras unless it
// was stood down, and a standby comes back covering what it covered. A crashed
// recording server that missed its StandDown thus comes back recording beside
// the standby that took over, which is the case a center's failback has to
// handle; a restarted standby whose takeover moved elsewhere meanwhile comes
// back covering with an old epoch, which its probe report shows and a Release
// with the newer epoch ends.
package agenttest
