package status

// RecordingFacts are the facts a recording server's Failover Status follows
// from. The zero value is a disabled server.
type RecordingFacts struct {
	// Enabled: the server is enabled in its group and the group's Failover
	// Protection is on. Either switch off withdraws the server from failover.
	Enabled bool
	// Functional: the server works, that is, it is reachable and recording.
	Functional bool
	// TakenOver: a standby records this server's cameras now.
	TakenOver bool
	// StandbyAvailable: an enabled, functional standby with a recording space
	// and enough license channels is free to take this server over, or already
	// does.
	StandbyAvailable bool
}

// OfRecording returns the Failover Status that f implies. The rules and their
// reasons are in the package documentation.
func OfRecording(f RecordingFacts) Recording {
	switch {
	case !f.Enabled:
		return RecordingDisabled
	case f.TakenOver:
		return RecordingAbnormalProtected
	case !f.Functional:
		return RecordingAbnormalUnprotected
	case f.StandbyAvailable:
		return RecordingNormalProtected
	default:
		return RecordingNormalUnprotected
	}
}

// StandbyFacts are the facts a standby server's Failover Status follows from.
// The zero value is a disabled server.
type StandbyFacts struct {
	// Enabled: the server is enabled in its group and the group's Failover
	// Protection is on.
	Enabled bool
	// Functional: the server works, that is, it is reachable and can record.
	Functional bool
	// TakingOver: it records a recording server's cameras now.
	TakingOver bool
	// HasRecordingSpace: it has at least one empty recording space.
	HasRecordingSpace bool
	// TakeoverFailed: its last takeover failed and that has not been cleared
	// since.
	TakeoverFailed bool
}

// OfStandby returns the Failover Status that f implies. The rules and their
// reasons are in the package documentation.
func OfStandby(f StandbyFacts) Standby {
	switch {
	case !f.Enabled:
		return StandbyDisabled
	case f.TakeoverFailed:
		return StandbyAbnormalProtectionFailed
	case !f.Functional:
		return StandbyAbnormal
	case f.TakingOver:
		return StandbyNormalProtecting
	case !f.HasRecordingSpace:
		return StandbyWarning
	default:
		return StandbyNormalProtectionReady
	}
}
