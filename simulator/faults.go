package simulator

import (
	"time"

	"github.com/nvrha/nvrha/simulator/history"
)

// FaultKind names a kind of fault (see package history).
type FaultKind = history.FaultKind

// The fault kinds.
const (
	FaultCrash              = history.FaultCrash
	FaultPauseShort         = history.FaultPauseShort
	FaultPauseLong          = history.FaultPauseLong
	FaultAbnormal           = history.FaultAbnormal
	FaultPartition          = history.FaultPartition
	FaultPartitionOneWay    = history.FaultPartitionOneWay
	FaultPartitionMulti     = history.FaultPartitionMulti
	FaultLossBurst          = history.FaultLossBurst
	FaultDelayBurst         = history.FaultDelayBurst
	FaultStandbyMidTakeover = history.FaultStandbyMidTakeover
	FaultFillSpace          = history.FaultFillSpace
	FaultLicense            = history.FaultLicense
	FaultFlap               = history.FaultFlap
	FaultMultiFail          = history.FaultMultiFail
	FaultCenterCrash        = history.FaultCenterCrash
	FaultCenterMidTakeover  = history.FaultCenterMidTakeover
	FaultAdminDisable       = history.FaultAdminDisable
	FaultAdminRemove        = history.FaultAdminRemove
	FaultAdminDeleteGroup   = history.FaultAdminDeleteGroup
	FaultAdminProtectionOff = history.FaultAdminProtectionOff
	FaultHostilePeer        = history.FaultHostilePeer
	FaultLeaderCrash        = history.FaultLeaderCrash
	FaultLeaderCutOff       = history.FaultLeaderCutOff
	FaultStoreUnavailable   = history.FaultStoreUnavailable
	FaultLeaderMidTakeover  = history.FaultLeaderMidTakeover
	FaultLeaderFreeze       = history.FaultLeaderFreeze
)

// FaultKinds returns every fault kind, in a fixed order.
func FaultKinds() []FaultKind { return history.FaultKinds() }

// Recovery names a recovery path the center took (see package history).
type Recovery = history.Recovery

// The recovery paths.
const (
	RecoveryTakeover      = history.RecoveryTakeover
	RecoveryFailback      = history.RecoveryFailback
	RecoveryNextStandby   = history.RecoveryNextStandby
	RecoveryCenterRestart = history.RecoveryCenterRestart
	RecoveryFenceOff      = history.RecoveryFenceOff
	RecoveryStandDown     = history.RecoveryStandDown
	RecoveryInterrupted   = history.RecoveryInterrupted
	RecoveryRemoveRefused = history.RecoveryRemoveRefused
	RecoveryUnprotected   = history.RecoveryUnprotected
)

// Recoveries returns every recovery path, in a fixed order.
func Recoveries() []Recovery { return history.Recoveries() }

// Action is one step of a scenario, of the nemesis or of a trigger (see
// package history).
type Action = history.Action

// schedule adds an event, giving it the next sequence number.
func (w *World) schedule(e event) {
	w.seq++
	e.seq = w.seq
	w.q.push(e)
}

func (w *World) scheduleAction(at time.Duration, a *Action) {
	w.schedule(event{at: at, kind: evAction, act: a})
}
