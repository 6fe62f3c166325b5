package nvrha

import (
	"fmt"
	"slices"
)

// Limits on facts, so that a malformed inventory cannot make the center
// allocate without bound.
//
// MaxCamerasPerServer is also what makes every server that can join a group
// one that can be taken over: a takeover order lists the server's cameras,
// and with at most 1,024 cameras of at most MaxIDLength bytes the largest
// order encodes to under 800 KB of JSON (every ID byte escaped), within the
// 1 MiB an agent accepts by default (httptransport.DefaultMaxBodyBytes). A
// server with more cameras is refused where it joins, not when it fails.
const (
	MaxLicenseChannels  = 1 << 16
	MaxCamerasPerServer = 1 << 10
	MaxRecordingSpaces  = 1 << 10
	MaxNameLength       = 256
)

// RecordingSpace is a storage volume a server records into.
type RecordingSpace struct {
	// Name identifies the space on its server, for display.
	Name string `json:"name"`
	// CapacityBytes is the size of the space; zero when unknown.
	CapacityBytes int64 `json:"capacity_bytes"`
	// Empty reports that no camera is assigned to the space, so a standby can
	// record taken-over cameras into it.
	Empty bool `json:"empty"`
}

// Facts is what a center knows about one server: the inputs of every
// eligibility rule and status. A vendor fills it from its own inventory.
type Facts struct {
	ID ServerID `json:"id"`
	// Name is the server's display name; the ID is shown when it is empty.
	Name    string  `json:"name,omitempty"`
	Product Product `json:"product"`
	// AdvancedMode reports whether the server has QVR Center's Advanced Mode
	// enabled, which the center needs to manage its recording.
	AdvancedMode bool `json:"advanced_mode"`
	// LicenseChannels is how many cameras the server is licensed to record.
	LicenseChannels int `json:"license_channels"`
	// Cameras is the server's own camera list, in the order the vendor keeps.
	Cameras         []CameraID       `json:"cameras"`
	RecordingSpaces []RecordingSpace `json:"recording_spaces"`
}

// Equal reports whether f and g are the same facts, camera lists and
// recording spaces compared element by element.
func (f Facts) Equal(g Facts) bool {
	return f.ID == g.ID && f.Name == g.Name && f.Product == g.Product && f.AdvancedMode == g.AdvancedMode &&
		f.LicenseChannels == g.LicenseChannels && slices.Equal(f.Cameras, g.Cameras) &&
		slices.Equal(f.RecordingSpaces, g.RecordingSpaces)
}

// DisplayName returns the name, or the ID when no name is set.
func (f Facts) DisplayName() string {
	if f.Name != "" {
		return f.Name
	}
	return string(f.ID)
}

// HasEmptyRecordingSpace reports whether at least one recording space is empty.
func (f Facts) HasEmptyRecordingSpace() bool {
	for _, s := range f.RecordingSpaces {
		if s.Empty {
			return true
		}
	}
	return false
}

// Clone returns a deep copy, so that a caller's later changes to its slices
// never reach state that holds the copy.
func (f Facts) Clone() Facts {
	f.Cameras = slices.Clone(f.Cameras)
	f.RecordingSpaces = slices.Clone(f.RecordingSpaces)
	return f
}

// Validate reports the first structural problem with f: a bad ID, a negative
// or excessive count, a duplicate camera. It says nothing about eligibility,
// which is the job of package eligibility. Errors wrap [ErrInvalidFacts] or
// [ErrInvalidID].
func (f Facts) Validate() error {
	if err := f.ID.Validate(); err != nil {
		return err
	}
	switch {
	case len(f.Name) > MaxNameLength:
		return fmt.Errorf("%w: server %s: name longer than %d bytes", ErrInvalidFacts, f.ID, MaxNameLength)
	case f.Product == "":
		return fmt.Errorf("%w: server %s: empty product", ErrInvalidFacts, f.ID)
	case len(f.Product) > MaxNameLength:
		return fmt.Errorf("%w: server %s: product longer than %d bytes", ErrInvalidFacts, f.ID, MaxNameLength)
	case f.LicenseChannels < 0 || f.LicenseChannels > MaxLicenseChannels:
		return fmt.Errorf("%w: server %s: license channels %d outside 0..%d", ErrInvalidFacts, f.ID, f.LicenseChannels, MaxLicenseChannels)
	case len(f.Cameras) > MaxCamerasPerServer:
		return fmt.Errorf("%w: server %s: more than %d cameras", ErrInvalidFacts, f.ID, MaxCamerasPerServer)
	case len(f.RecordingSpaces) > MaxRecordingSpaces:
		return fmt.Errorf("%w: server %s: more than %d recording spaces", ErrInvalidFacts, f.ID, MaxRecordingSpaces)
	}
	seen := make(map[CameraID]struct{}, len(f.Cameras))
	for _, c := range f.Cameras {
		if err := c.Validate(); err != nil {
			return fmt.Errorf("server %s: %w", f.ID, err)
		}
		if _, dup := seen[c]; dup {
			return fmt.Errorf("%w: server %s: camera %s listed twice", ErrInvalidFacts, f.ID, c)
		}
		seen[c] = struct{}{}
	}
	for i, s := range f.RecordingSpaces {
		if s.CapacityBytes < 0 {
			return fmt.Errorf("%w: server %s: recording space %d has negative capacity", ErrInvalidFacts, f.ID, i)
		}
		if len(s.Name) > MaxNameLength {
			return fmt.Errorf("%w: server %s: recording space %d name longer than %d bytes", ErrInvalidFacts, f.ID, i, MaxNameLength)
		}
	}
	return nil
}
