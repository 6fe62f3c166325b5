package status

// Standby is a standby server's Failover Status. The zero value is not a
// status.
type Standby uint8

// The standby-server Failover Statuses, in the manual's table order.
const (
	StandbyNormalProtectionReady Standby = iota + 1
	StandbyNormalProtecting
	StandbyWarning
	StandbyAbnormal
	StandbyAbnormalProtectionFailed
	StandbyDisabled
)

// standbyRows is indexed by value; index 0 stays empty so that the zero value
// has no code, label or description.
var standbyRows = [...]row{
	StandbyNormalProtectionReady: {
		"normal-protection-ready",
		"Normal, protection ready",
		"This standby server is functional, and is ready to take over recording server.",
	},
	StandbyNormalProtecting: {
		"normal-protecting",
		"Normal, protecting",
		"This standby server is functional, and is currently taking over a recording server.",
	},
	StandbyWarning: {
		"warning",
		"Warning",
		"This standby server is functional, but is unable to take over recording server because it does not have a recording space.",
	},
	StandbyAbnormal: {
		"abnormal",
		"Abnormal",
		"This standby server is not functioning properly, and is unable to take over recording server.",
	},
	StandbyAbnormalProtectionFailed: {
		"abnormal-protection-failed",
		"Abnormal, protection failed",
		"This standby server is not functioning properly, and has failed to take over a recording server.",
	},
	StandbyDisabled: {
		"disabled",
		"Disabled",
		"This standby server is disabled in the Failover Group.",
	},
}

// StandbyStatuses returns every standby-server status in the manual's table
// order. The slice is new on every call, so callers may keep or change it.
func StandbyStatuses() []Standby {
	return []Standby{
		StandbyNormalProtectionReady,
		StandbyNormalProtecting,
		StandbyWarning,
		StandbyAbnormal,
		StandbyAbnormalProtectionFailed,
		StandbyDisabled,
	}
}

// Valid reports whether s is one of the standby-server statuses.
func (s Standby) Valid() bool { return s >= StandbyNormalProtectionReady && s <= StandbyDisabled }

func (s Standby) row() row {
	if !s.Valid() {
		return row{}
	}
	return standbyRows[s]
}

// Label returns the manual's label, such as "Normal, protection ready", or ""
// when s is not valid.
func (s Standby) Label() string { return s.row().label }

// Description returns the manual's description of the status, or "" when s is
// not valid.
func (s Standby) Description() string { return s.row().description }

// Code returns the stable kebab-case code used in encodings, such as
// "normal-protection-ready", or "" when s is not valid. Unlike the label it
// never changes with wording.
func (s Standby) Code() string { return s.row().code }

// String returns the label, or "Standby(N)" when s is not valid, so that a bad
// value is visible in logs rather than printing as nothing.
func (s Standby) String() string {
	if !s.Valid() {
		return unknownName("Standby", uint8(s))
	}
	return s.Label()
}

// MarshalText returns the code. It fails for a value that is not valid.
func (s Standby) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, &invalidValueError{s.String()}
	}
	return []byte(s.Code()), nil
}

// UnmarshalText sets s from its code. Unknown text, including a label or a
// code of another case, gives an [*UnknownStatusError] and leaves s unchanged.
func (s *Standby) UnmarshalText(b []byte) error {
	for _, v := range StandbyStatuses() {
		if string(b) == v.Code() {
			*s = v
			return nil
		}
	}
	return &UnknownStatusError{Type: "standby", Code: string(b)}
}
