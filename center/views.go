package center

import (
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
)

// StatusView is a Failover Status as the page shows it: the manual's label
// and description, a stable code, and a tone for its colour.
type StatusView struct {
	Code        string `json:"code"`
	Label       string `json:"label"`
	Description string `json:"description"`
	// Tone is ok, info, caution, warn, bad, off or checking.
	Tone string `json:"tone"`
}

// MemberView is one server of a group.
type MemberView struct {
	ID                  nvrha.ServerID `json:"id"`
	Name                string         `json:"name"`
	Role                string         `json:"role"`
	Enabled             bool           `json:"enabled"`
	Health              string         `json:"health"`
	LicenseChannels     int            `json:"license_channels"`
	Cameras             int            `json:"cameras"`
	EmptyRecordingSpace bool           `json:"empty_recording_space"`
	Status              StatusView     `json:"status"`
	// Peer is the other server of a takeover in progress.
	Peer nvrha.ServerID `json:"peer,omitempty"`
	// Crashed is set in the demo only: the simulated server is down.
	Crashed *bool `json:"crashed,omitempty"`
}

// GroupView is one Failover Group with its two tables.
type GroupView struct {
	ID         failover.GroupID `json:"id"`
	Name       string           `json:"name"`
	Default    bool             `json:"default"`
	Protection bool             `json:"protection"`
	Capacity   int              `json:"capacity"`
	// ProtectedChannels counts the cameras of recording servers that a
	// standby records or could take over now; UnprotectedChannels the rest.
	ProtectedChannels   int          `json:"protected_channels"`
	UnprotectedChannels int          `json:"unprotected_channels"`
	RecordingServers    []MemberView `json:"recording_servers"`
	StandbyServers      []MemberView `json:"standby_servers"`
}

// Candidate is a server an Add dialog offers, with every reason it may not
// join.
type Candidate struct {
	ID              nvrha.ServerID `json:"id"`
	Name            string         `json:"name"`
	Reachable       bool           `json:"reachable"`
	LicenseChannels int            `json:"license_channels"`
	Cameras         int            `json:"cameras"`
	// CurrentGroup is the group the server belongs to, "" if none.
	CurrentGroup string              `json:"current_group,omitempty"`
	Eligible     bool                `json:"eligible"`
	Reasons      eligibility.Reasons `json:"reasons"`
}

// CodeUnreachable is the reason given for a server whose facts the center
// could not read.
const CodeUnreachable eligibility.Code = "unreachable"

func recordingTone(s status.Recording) string {
	switch s {
	case status.RecordingNormalProtected:
		return "ok"
	case status.RecordingNormalUnprotected:
		return "caution"
	case status.RecordingAbnormalProtected:
		return "warn"
	case status.RecordingAbnormalUnprotected:
		return "bad"
	}
	return "off"
}

func standbyTone(s status.Standby) string {
	switch s {
	case status.StandbyNormalProtectionReady:
		return "ok"
	case status.StandbyNormalProtecting:
		return "info"
	case status.StandbyWarning:
		return "caution"
	case status.StandbyAbnormal, status.StandbyAbnormalProtectionFailed:
		return "bad"
	}
	return "off"
}

// viewStatus is a member's status as shown: one whose health is unknown
// yet, and whose status only says so, is being checked, and so is a
// recording server whose group's standbys are (see Center.settle).
// held is the event hub's held set (eventHub.heldSince), read once per
// snapshot rather than under its lock for every member.
func viewStatus(ms failover.MemberSnapshot, held map[nvrha.ServerID]time.Time) StatusView {
	checking := ms.Health == nvrha.HealthUnknown && waitingForProbe(ms.Status())
	if _, ok := held[ms.ID]; ok && ms.Role == failover.RoleRecording && ms.Recording != status.RecordingDisabled {
		checking = true
	}
	if checking {
		return StatusView{Code: checkingCode, Label: checkingLabel, Description: checkingDescription, Tone: "checking"}
	}
	if ms.Role == failover.RoleStandby {
		return StatusView{Code: ms.Standby.Code(), Label: ms.Standby.Label(), Description: ms.Standby.Description(), Tone: standbyTone(ms.Standby)}
	}
	return StatusView{Code: ms.Recording.Code(), Label: ms.Recording.Label(), Description: ms.Recording.Description(), Tone: recordingTone(ms.Recording)}
}

func (c *Center) viewMember(ms failover.MemberSnapshot, held map[nvrha.ServerID]time.Time) MemberView {
	v := MemberView{
		ID: ms.ID, Name: ms.Name, Role: ms.Role.String(), Enabled: ms.Enabled, Health: ms.Health.String(),
		LicenseChannels: ms.LicenseChannels, Cameras: ms.Cameras, EmptyRecordingSpace: ms.EmptyRecordingSpace,
		Status: viewStatus(ms, held), Peer: ms.Peer,
	}
	if c.cfg.Demo != nil {
		crashed := c.cfg.Demo.Crashed(ms.ID)
		v.Crashed = &crashed
	}
	return v
}

func (c *Center) viewGroup(g failover.GroupSnapshot, held map[nvrha.ServerID]time.Time) GroupView {
	v := GroupView{ID: g.ID, Name: g.Name, Default: g.Default, Protection: g.Protection, Capacity: g.Capacity,
		RecordingServers: []MemberView{}, StandbyServers: []MemberView{}}
	for _, ms := range g.Members {
		mv := c.viewMember(ms, held)
		if ms.Role == failover.RoleStandby {
			v.StandbyServers = append(v.StandbyServers, mv)
			continue
		}
		v.RecordingServers = append(v.RecordingServers, mv)
		if ms.Recording == status.RecordingNormalProtected || ms.Recording == status.RecordingAbnormalProtected {
			v.ProtectedChannels += ms.Cameras
		} else {
			v.UnprotectedChannels += ms.Cameras
		}
	}
	return v
}

// statusTable is the manual's two tables, for the page's legend.
type statusTable struct {
	Recording []StatusView `json:"recording"`
	Standby   []StatusView `json:"standby"`
	Checking  StatusView   `json:"checking"`
}

func statusTables() statusTable {
	var t statusTable
	for _, s := range status.RecordingStatuses() {
		t.Recording = append(t.Recording, StatusView{Code: s.Code(), Label: s.Label(), Description: s.Description(), Tone: recordingTone(s)})
	}
	for _, s := range status.StandbyStatuses() {
		t.Standby = append(t.Standby, StatusView{Code: s.Code(), Label: s.Label(), Description: s.Description(), Tone: standbyTone(s)})
	}
	t.Checking = StatusView{Code: checkingCode, Label: checkingLabel, Description: checkingDescription, Tone: "checking"}
	return t
}
