// Package status owns the Failover Statuses that QVR Center shows for the
// servers of a Failover Group, and the pure functions that derive them.
//
// There are two status types, one per table of the product manual:
// [Recording] for recording servers and [Standby] for standby servers. Each
// value carries the manual's label ([Recording.Label]) and description
// ([Recording.Description]) word for word, so that a vendor's UI reads like the
// product it mirrors, and a stable kebab-case code ([Recording.Code]) used for
// JSON and text encodings, so that stored or transmitted statuses survive a
// change of wording. The zero value of each type is not a status: a status that
// was never derived must not pass for "Normal".
//
// The package knows nothing about groups, time or IO. Whoever owns those boils
// them down to a handful of booleans ([RecordingFacts], [StandbyFacts]) and
// asks [OfRecording] or [OfStandby]. Keeping the derivation a total function of
// a few booleans is what lets the tests check it against the manual for every
// possible input, and lets a simulator assert after every event that the
// statuses it shows agree with the facts.
//
// # Recording server
//
// [OfRecording] decides in this order; the first rule that applies wins:
//
//  1. Not enabled: Disabled. Disabling a server in its group, or switching off
//     the group's Failover Protection, withdraws it from failover altogether,
//     so nothing else about it matters to its Failover Status.
//  2. Taken over: Abnormal, protected. "Protected" means its cameras are being
//     recorded by a standby. This holds even when the server is functional
//     again but failback has not completed: its cameras are still recorded by
//     the standby, not by the server itself, so it is neither back to normal
//     nor at risk.
//  3. Not functional: Abnormal, unprotected. Its cameras are recording nowhere
//     right now. This is so even while a standby is available and a takeover
//     is about to start: until a standby records the cameras, footage is being
//     lost, and the status must not hide that.
//  4. A standby is available: Normal, protected. A working server is only
//     protected if an enabled, functional standby with a recording space and
//     enough license channels could take it over should it fail now.
//  5. Otherwise: Normal, unprotected, because there is no such standby, or
//     none has enough licensed channel quota.
//
// # Standby server
//
// [OfStandby] decides in this order; the first rule that applies wins:
//
//  1. Not enabled: Disabled, for the same reason as a recording server.
//  2. Its last takeover failed and has not been cleared: Abnormal, protection
//     failed. A failed takeover leaves the standby untrusted whatever its
//     probes say now, and an operator must see that it failed, not merely that
//     it is down, so the status sticks until whoever tracks takeovers clears it.
//  3. Not functional: Abnormal; it cannot take over anything.
//  4. Taking over: Normal, protecting. This comes before the recording-space
//     check because a standby that records taken-over cameras fills the space
//     it recorded into; reporting that as a Warning would flag the standby for
//     doing its job.
//  5. No empty recording space: Warning. It works but has nowhere to record a
//     recording server's cameras.
//  6. Otherwise: Normal, protection ready.
package status
