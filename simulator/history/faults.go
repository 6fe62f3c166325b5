package history

import (
	"fmt"
	"slices"
	"strings"
)

// FaultKind names a kind of fault, for the nemesis, the counts of the
// report and the check that every kind fired.
type FaultKind string

// The fault kinds.
const (
	FaultCrash              FaultKind = "crash"                      // a server crashes and restarts
	FaultPauseShort         FaultKind = "pause-short"                // a server hangs for less than the acceptable pause
	FaultPauseLong          FaultKind = "pause-long"                 // a server hangs for longer
	FaultAbnormal           FaultKind = "abnormal"                   // a server's disk fails: it answers unhealthy and records nothing (or, degraded, records on)
	FaultPartition          FaultKind = "partition"                  // center and one server cut both ways
	FaultPartitionOneWay    FaultKind = "partition-one-way"          // center->server or server->center cut
	FaultPartitionMulti     FaultKind = "partition-multi"            // several servers cut at once
	FaultLossBurst          FaultKind = "loss-burst"                 // heavy message loss for a while
	FaultDelayBurst         FaultKind = "delay-burst"                // extra latency for a while
	FaultStandbyMidTakeover FaultKind = "standby-crash-mid-takeover" // the standby dies while taking over
	FaultFillSpace          FaultKind = "fill-space"                 // a standby's recording spaces fill up
	FaultLicense            FaultKind = "license-change"             // a server's license channels change
	FaultFlap               FaultKind = "flap"                       // a recording server fails and recovers repeatedly
	FaultMultiFail          FaultKind = "multi-fail"                 // several recording servers fail together
	FaultCenterCrash        FaultKind = "center-crash"               // the center crashes and restarts from its store
	FaultCenterMidTakeover  FaultKind = "center-crash-mid-takeover"  // ... right after persisting a takeover, before sending it
	FaultAdminDisable       FaultKind = "admin-disable"              // a server is disabled (racing a takeover)
	FaultAdminRemove        FaultKind = "admin-remove"               // a server is removed (disabled first if in takeover)
	FaultAdminDeleteGroup   FaultKind = "admin-delete-group"         // a group is deleted (racing a takeover)
	FaultAdminProtectionOff FaultKind = "admin-protection-off"       // a group's Failover Protection is switched off
	FaultHostilePeer        FaultKind = "hostile-peer"               // a server's agent is broken or hostile for a while (Hostility)

	// The kinds of several centers (Settings.Centers >= 2), which the
	// nemesis draws only in such a world.
	FaultLeaderCrash       FaultKind = "leader-crash"              // the leading center's host dies for a while; a follower takes over
	FaultLeaderCutOff      FaultKind = "leader-cut-off"            // the leader is cut from the lease store, not from the servers
	FaultStoreUnavailable  FaultKind = "store-unavailable"         // the lease store answers no center for a while
	FaultLeaderMidTakeover FaultKind = "leader-crash-mid-takeover" // the leader dies right after persisting a takeover, or within 2 s of it
	FaultLeaderFreeze      FaultKind = "leader-freeze"             // the leader hangs past its lease with a takeover's orders stamped; they leave when it wakes
)

// FaultKinds returns every fault kind, in a fixed order.
func FaultKinds() []FaultKind {
	return []FaultKind{FaultCrash, FaultPauseShort, FaultPauseLong, FaultAbnormal, FaultPartition,
		FaultPartitionOneWay, FaultPartitionMulti, FaultLossBurst, FaultDelayBurst, FaultStandbyMidTakeover,
		FaultFillSpace, FaultLicense, FaultFlap, FaultMultiFail, FaultCenterCrash, FaultCenterMidTakeover,
		FaultAdminDisable, FaultAdminRemove, FaultAdminDeleteGroup, FaultAdminProtectionOff, FaultHostilePeer,
		FaultLeaderCrash, FaultLeaderCutOff, FaultStoreUnavailable, FaultLeaderMidTakeover, FaultLeaderFreeze}
}

// ParseFaultKinds parses a -faults value: "none" (or "off", ""): no
// faults; "default" (or "all", "on"): every kind (kinds is nil); or a
// comma-separated list of fault kinds.
func ParseFaultKinds(s string) (on bool, kinds []FaultKind, err error) {
	switch s {
	case "none", "off", "":
		return false, nil, nil
	case "default", "all", "on":
		return true, nil, nil
	}
	for _, k := range strings.Split(s, ",") {
		if !slices.Contains(FaultKinds(), FaultKind(k)) {
			return true, kinds, fmt.Errorf("unknown fault kind %q (known: %v)", k, FaultKinds())
		}
		kinds = append(kinds, FaultKind(k))
	}
	return true, kinds, nil
}

// FaultKindsFlag renders what ParseFaultKinds reads: "none" when the
// nemesis is off, "default" for every kind, the kinds by name otherwise.
func FaultKindsFlag(on bool, kinds []FaultKind) string {
	switch {
	case !on:
		return "none"
	case len(kinds) == 0:
		return "default"
	}
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = string(k)
	}
	return strings.Join(parts, ",")
}

// Recovery names a recovery path the center took, for the report and the
// check that every path was exercised.
type Recovery string

// The recovery paths.
const (
	RecoveryTakeover      Recovery = "takeover"              // a standby confirmed a takeover
	RecoveryFailback      Recovery = "failback"              // cameras went back to a recovered recording server
	RecoveryNextStandby   Recovery = "next-standby"          // a standby failed ("protection failed") and the next one took over
	RecoveryCenterRestart Recovery = "center-restart-resume" // a takeover persisted before a center crash went on after the restart
	RecoveryFenceOff      Recovery = "fence-off"             // a given-up standby accepted the release that fences it off
	RecoveryStandDown     Recovery = "stand-down"            // a reachable but abnormal recording server stood down
	RecoveryInterrupted   Recovery = "interrupted"           // an admin operation interrupted a takeover
	RecoveryRemoveRefused Recovery = "remove-refused"        // removing a server in takeover was refused
	RecoveryUnprotected   Recovery = "unprotected"           // a failed recording server had no standby that fits
)

// Recoveries returns every recovery path, in a fixed order.
func Recoveries() []Recovery {
	return []Recovery{RecoveryTakeover, RecoveryFailback, RecoveryNextStandby, RecoveryCenterRestart,
		RecoveryFenceOff, RecoveryStandDown, RecoveryInterrupted, RecoveryRemoveRefused, RecoveryUnprotected}
}
