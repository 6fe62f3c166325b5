package status

// Recording is a recording server's Failover Status. The zero value is not a
// status.
type Recording uint8

// The recording-server Failover Statuses, in the manual's table order.
const (
	RecordingNormalProtected Recording = iota + 1
	RecordingNormalUnprotected
	RecordingAbnormalProtected
	RecordingAbnormalUnprotected
	RecordingDisabled
)

// recordingRows is indexed by value; index 0 stays empty so that the zero value
// has no code, label or description.
var recordingRows = [...]row{
	RecordingNormalProtected: {
		"normal-protected",
		"Normal, protected",
		"This recording server is functional, and is able to be taken over by standby server.",
	},
	RecordingNormalUnprotected: {
		"normal-unprotected",
		"Normal, unprotected",
		"This recording server is functional, but is unable to be taken over by standby server either because there are no available standby server or the standby server does not have enough licensed channel quota to fully take over this server.",
	},
	RecordingAbnormalProtected: {
		"abnormal-protected",
		"Abnormal, protected",
		"This recording server is not functioning properly, and is taken over by standby server now.",
	},
	RecordingAbnormalUnprotected: {
		"abnormal-unprotected",
		"Abnormal, unprotected",
		"This recording server is not functioning properly, and is unable to be taken over by standby server either because there are no available standby server or the standby server does not have enough licensed channel quota to fully take over this server.",
	},
	RecordingDisabled: {
		"disabled",
		"Disabled",
		"This recording server is disabled in the Failover Group.",
	},
}

// RecordingStatuses returns every recording-server status in the manual's
// table order. The slice is new on every call, so callers may keep or change it.
func RecordingStatuses() []Recording {
	return []Recording{
		RecordingNormalProtected,
		RecordingNormalUnprotected,
		RecordingAbnormalProtected,
		RecordingAbnormalUnprotected,
		RecordingDisabled,
	}
}

// Valid reports whether s is one of the recording-server statuses.
func (s Recording) Valid() bool { return s >= RecordingNormalProtected && s <= RecordingDisabled }

func (s Recording) row() row {
	if !s.Valid() {
		return row{}
	}
	return recordingRows[s]
}

// Label returns the manual's label, such as "Normal, protected", or "" when s
// is not valid.
func (s Recording) Label() string { return s.row().label }

// Description returns the manual's description of the status, or "" when s is
// not valid.
func (s Recording) Description() string { return s.row().description }

// Code returns the stable kebab-case code used in encodings, such as
// "normal-protected", or "" when s is not valid. Unlike the label it never
// changes with wording.
func (s Recording) Code() string { return s.row().code }

// String returns the label, or "Recording(N)" when s is not valid, so that a
// bad value is visible in logs rather than printing as nothing.
func (s Recording) String() string {
	if !s.Valid() {
		return unknownName("Recording", uint8(s))
	}
	return s.Label()
}

// MarshalText returns the code. It fails for a value that is not valid.
func (s Recording) MarshalText() ([]byte, error) {
	if !s.Valid() {
		return nil, &invalidValueError{s.String()}
	}
	return []byte(s.Code()), nil
}

// UnmarshalText sets s from its code. Unknown text, including a label or a
// code of another case, gives an [*UnknownStatusError] and leaves s unchanged.
func (s *Recording) UnmarshalText(b []byte) error {
	for _, v := range RecordingStatuses() {
		if string(b) == v.Code() {
			*s = v
			return nil
		}
	}
	return &UnknownStatusError{Type: "recording", Code: string(b)}
}
