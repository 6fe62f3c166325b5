// Package report measures what failover costs in a simulated run and
// renders it. Measures is a history.Observer: the world hands it every
// event as it happens, and it keeps the incidents (an outage of a
// recording server from its first fault until it records its own cameras
// again with no standby on it), every camera's recording gaps, the
// per-server timelines of statuses, footage and faults, the takeovers, and
// the counts of faults and recovery paths. Fill puts them in a Report,
// which WriteText prints as a summary table, WriteHTML renders as one
// self-contained page, and encoding/json encodes for machines.
//
// An incident's Detect is the first ServerDown after its start; Takeover
// the first confirmed takeover; Failback the FailbackCompleted after its
// faults ended; its gap per camera is the footage each camera lost in it.
// Report.Detect, Takeover and GapPerCamera summarise the incidents in
// which the server in fact lost footage (p50, p90, p99, max). A false
// takeover is one of a server that was healthy and recording all its
// cameras when it started; an unexplained one had no fault and no network
// trouble (not even a lost message) to explain it. A flap is a takeover
// within the flap window of the same server's previous failback.
// Availability is the share of camera-time recorded.
package report
