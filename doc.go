// Package nvrha is the shared vocabulary of nvrha, a Go library for the failover
// of video recording servers.
//
// A video-management system records its cameras on a fleet of recording
// servers. When one of them dies, its cameras stop recording and that footage is
// lost for good. nvrha lets a vendor put servers into Failover Groups: recording
// servers plus standby servers. When a recording server fails, an eligible
// standby takes over its cameras; when the recording server recovers, the
// cameras go back to it and the standby is ready again. The rules, limits,
// operations and statuses follow QNAP QVR Center's failover management.
//
// This package holds what every other package speaks: server and camera IDs, a
// server's facts as a center sees them ([Facts]: product, Advanced Mode, license
// channels, camera list, recording spaces), the center's CPU [Platform], a
// server's [Health] and the fencing [Epoch].
//
// # Package map
//
//   - [github.com/nvrha/nvrha/eligibility]: every rule that decides whether a
//     server may join a Failover Group as a recording or a standby server, and
//     whether a standby can cover a recording server. Returns all failed rules.
//   - [github.com/nvrha/nvrha/status]: the recording-server and standby-server
//     Failover Statuses with their labels and descriptions, derived from facts.
//   - [github.com/nvrha/nvrha/failover]: the Failover Groups and the pure,
//     deterministic state machine (Machine) that manages them: detection,
//     standby assignment, takeover, failback, fencing and the footage
//     ledger; the Controller that runs it over a transport and a clock; the
//     Store that persists it. Its subpackages
//     [github.com/nvrha/nvrha/failover/detector] (failure detectors) and
//     [github.com/nvrha/nvrha/failover/assign] (standby assignment) hold
//     the pure maths.
//   - [github.com/nvrha/nvrha/transport]: the contract between a center and
//     its servers, an in-memory implementation, and
//     [github.com/nvrha/nvrha/transport/httptransport], the HTTP one.
//   - [github.com/nvrha/nvrha/simulator]: a deterministic world on virtual
//     time that drives the real Machine under faults and checks every
//     invariant after every event.
//   - examples/: small programs to copy from (go run ./examples/quickstart).
//
// # Wiring it up
//
// A vendor describes each server by its facts, builds a Machine for its
// center, and manages groups through it:
//
//	m, err := failover.NewMachine(failover.Config{Platform: nvrha.PlatformX86_64})
//	g := failover.DefaultGroupID
//	err = m.AddRecordingServers(g, rec1, rec2)
//	err = m.AddStandbyServers(g, standby1)
//	var refused *failover.RejectedError
//	if errors.As(err, &refused) {
//		for _, r := range refused.Servers {
//			fmt.Println(r.Server, r.Reasons) // every rule the server failed
//		}
//	}
//	for _, grp := range m.Snapshot().Groups {
//		for _, mem := range grp.Members {
//			fmt.Println(mem.ID, mem.Status())
//		}
//	}
package nvrha
