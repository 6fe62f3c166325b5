package history

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// Sizes a world takes when a scenario or UniformWorld leaves them out.
const (
	DefaultRecordingChannels = 16
	DefaultCameras           = 16
	DefaultStandbyChannels   = 32
)

// WorldSpec is the shape of a world: its Failover Groups and their servers.
type WorldSpec struct {
	Groups []GroupSpec `json:"groups"`
}

// GroupSpec is one group of the world. Group i (from 1) is called "gi"; g1
// is the default group "Failover Group 1", the others are added under the
// name "Failover Group i".
type GroupSpec struct {
	Recording []ServerSpec `json:"recording"`
	Standby   []ServerSpec `json:"standby"`
}

// ServerSpec is one simulated server.
type ServerSpec struct {
	ID       nvrha.ServerID `json:"id"`
	Channels int            `json:"channels"`
	// Cameras is how many cameras a recording server records; a standby
	// has none.
	Cameras int `json:"cameras"`
	// NoEmptySpace gives the server no empty recording space. A standby
	// without one is refused when the world joins it to its group.
	NoEmptySpace bool `json:"no_empty_space,omitempty"`
	// Spaces is how many recording spaces it has (default 2).
	Spaces int `json:"spaces,omitempty"`
}

// UniformWorld returns groups groups of recording recording servers and
// standbys standby servers each, every recording server with cameras
// cameras and recChannels license channels, every standby with sbChannels.
// Zero sizes take the defaults (16 cameras, 16 and 32 channels). Servers are
// numbered across the world: rec-1, rec-2, ... and sb-1, sb-2, ...
func UniformWorld(groups, recording, standbys, cameras, recChannels, sbChannels int) WorldSpec {
	if cameras <= 0 {
		cameras = DefaultCameras
	}
	if recChannels <= 0 {
		recChannels = max(DefaultRecordingChannels, cameras)
	}
	if sbChannels <= 0 {
		sbChannels = max(DefaultStandbyChannels, recChannels)
	}
	var w WorldSpec
	r, s := 0, 0
	for range groups {
		var g GroupSpec
		for range recording {
			r++
			g.Recording = append(g.Recording, ServerSpec{ID: RecordingID(r), Channels: recChannels, Cameras: cameras})
		}
		for range standbys {
			s++
			g.Standby = append(g.Standby, ServerSpec{ID: StandbyID(s), Channels: sbChannels})
		}
		w.Groups = append(w.Groups, g)
	}
	return w
}

// RecordingID is the ID of the i-th recording server of a world (from 1).
func RecordingID(i int) nvrha.ServerID { return nvrha.ServerID("rec-" + strconv.Itoa(i)) }

// StandbyID is the ID of the i-th standby of a world (from 1).
func StandbyID(i int) nvrha.ServerID { return nvrha.ServerID("sb-" + strconv.Itoa(i)) }

// GroupName is the name group i (from 1) is added under; group 1 is the
// default group and has failover.DefaultGroupName instead.
func GroupName(i int) string { return "Failover Group " + strconv.Itoa(i) }

// GroupRef is how scenarios and reports refer to group i: "g1", "g2", ...
func GroupRef(i int) string { return "g" + strconv.Itoa(i) }

// CameraID is the ID of camera i (from 1) of a recording server.
func CameraID(server nvrha.ServerID, i int) nvrha.CameraID {
	n := strconv.Itoa(i)
	if i < 10 {
		n = "0" + n
	}
	return nvrha.CameraID(string(server) + "/cam-" + n)
}

// Servers returns every server of the world in group order, recording
// servers before standbys.
func (w WorldSpec) Servers() []ServerSpec {
	var out []ServerSpec
	for _, g := range w.Groups {
		out = append(out, g.Recording...)
		out = append(out, g.Standby...)
	}
	return out
}

// Validate reports why a world cannot be built: no groups or too many, a
// bad or repeated server ID, sizes out of range.
func (w WorldSpec) Validate() error {
	if len(w.Groups) == 0 {
		return errors.New("no groups")
	}
	if len(w.Groups) > failover.MaxGroups {
		return fmt.Errorf("%d groups, a center holds at most %d", len(w.Groups), failover.MaxGroups)
	}
	seen := map[nvrha.ServerID]bool{}
	for _, s := range w.Servers() {
		if err := s.ID.Validate(); err != nil {
			return err
		}
		if seen[s.ID] {
			return fmt.Errorf("server %s twice", s.ID)
		}
		seen[s.ID] = true
		if s.Channels < 0 || s.Cameras < 0 || s.Cameras > 4096 || s.Spaces < 0 || s.Spaces > 64 {
			return fmt.Errorf("server %s: bad sizes", s.ID)
		}
	}
	return nil
}
