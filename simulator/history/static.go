package history

import (
	"slices"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// Static is a View over plain values, for an observer's tests: a test
// builds one (NewStatic), shows the observer an event, changes the values
// as the world would have, shows it the next event, and so on — a
// hand-written history.
type Static struct {
	Set    Settings
	At     time.Duration
	Truth  []*ServerTruth
	Cams   []Camera
	Grps   []*GroupTruth
	Centre CenterTruth
	// M is the center's Machine (nil: none); Last the last disturbance.
	M    MachineView
	Last time.Duration
	// Cut marks servers whose link is cut: they are not calm.
	Cut map[int]bool
}

// NewStatic returns a Static view of a world of the given shape and
// failover configuration (defaults applied) as it stands once set up: every
// group exists and is protected, every server is a member, enabled, up and
// recording its own cameras, the center up since 0. Its Machine is nil.
func NewStatic(w WorldSpec, fc failover.Config) *Static {
	fc = fc.WithDefaults()
	v := &Static{
		Set: Settings{Seed: 1, Duration: time.Hour, World: w, Failover: fc, TickInterval: 50 * time.Millisecond,
			StreamStart: time.Second, MaxGapSamples: 20000},
		Centre: CenterTruth{Up: true, Incarnation: 1},
		Cut:    map[int]bool{},
	}
	for gi, g := range w.Groups {
		gt := &GroupTruth{Index: gi + 1, Name: GroupName(gi + 1), ID: failover.GroupID(gi + 1), Exists: true, Protection: true}
		if gi == 0 {
			gt.Name, gt.ID = failover.DefaultGroupName, failover.DefaultGroupID
		}
		v.Grps = append(v.Grps, gt)
		for _, role := range []failover.Role{failover.RoleRecording, failover.RoleStandby} {
			specs := g.Recording
			if role == failover.RoleStandby {
				specs = g.Standby
			}
			for _, sp := range specs {
				s := &ServerTruth{Index: len(v.Truth), ID: sp.ID, Role: role, Spec: sp, Group: gt, Member: true, Enabled: true}
				s.Facts = nvrha.Facts{ID: sp.ID, LicenseChannels: sp.Channels,
					RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: role == failover.RoleStandby}}}
				for c := 1; c <= sp.Cameras; c++ {
					s.Facts.Cameras = append(s.Facts.Cameras, CameraID(sp.ID, c))
					s.OwnCams = append(s.OwnCams, len(v.Cams))
					v.Cams = append(v.Cams, Camera{ID: CameraID(sp.ID, c), Owner: s.Index})
				}
				if len(s.OwnCams) > 0 {
					s.Own = Footage{On: true, Cams: s.OwnCams}
				}
				gt.Servers = append(gt.Servers, s.Index)
				v.Truth = append(v.Truth, s)
			}
		}
	}
	return v
}

// S returns the ground truth of server id; it panics on an unknown one.
func (v *Static) S(id nvrha.ServerID) *ServerTruth {
	i, ok := v.ServerIndex(id)
	if !ok {
		panic("history: no server " + string(id))
	}
	return v.Truth[i]
}

func (v *Static) Settings() *Settings            { return &v.Set }
func (v *Static) Now() time.Duration             { return v.At }
func (v *Static) Servers() []*ServerTruth        { return v.Truth }
func (v *Static) Cameras() []Camera              { return v.Cams }
func (v *Static) Groups() []*GroupTruth          { return v.Grps }
func (v *Static) Center() *CenterTruth           { return &v.Centre }
func (v *Static) LastDisturbance() time.Duration { return v.Last }

func (v *Static) Machine() MachineView {
	if !v.Centre.Up {
		return nil
	}
	return v.M
}

func (v *Static) ServerIndex(id nvrha.ServerID) (int, bool) {
	for i, s := range v.Truth {
		if s.ID == id {
			return i, true
		}
	}
	return -1, false
}

// CalmSince is the world's rule without bursts: Now while the server is
// crashed, abnormal, in a long pause, cut off or hostile, else its last
// disturbance or admin operation.
func (v *Static) CalmSince(i int) time.Duration {
	if v.Truth[i].Abnormal || v.Truth[i].Hostile != "" {
		return v.At
	}
	return v.LinkCalmSince(i)
}

func (v *Static) LinkCalmSince(i int) time.Duration {
	s := v.Truth[i]
	if s.Crashed || s.Paused && s.PausedLong && s.PauseUntil > v.At || v.Cut[i] {
		return v.At
	}
	return max(s.DisturbedAt, s.AdminAt)
}

// SnapshotInto copies the Machine's snapshot into buf's own memory, as a
// Machine's SnapshotInto does: a test that changes the canned snapshot in
// place must not change what an observer took before.
func (v *Static) SnapshotInto(buf *failover.Snapshot) {
	snap := v.M.Snapshot()
	groups := buf.Groups[:0]
	for _, g := range snap.Groups {
		g.Members = slices.Clone(g.Members)
		groups = append(groups, g)
	}
	*buf = snap
	buf.Groups = groups
}

// MachineGeneration gives none: a hand-written history's Machine is read
// afresh every time.
func (v *Static) MachineGeneration() (uint64, bool) { return 0, false }

// Canned is a MachineView that shows the same snapshot and State
// whatever it is asked: a Machine's views for a hand-written history.
type Canned struct {
	Snap    failover.Snapshot
	St      failover.State
	Epochs  map[nvrha.ServerID]nvrha.Epoch
	Ledgers map[nvrha.CameraID][]failover.Interval
}

func (c *Canned) Snapshot() failover.Snapshot { return c.Snap }
func (c *Canned) State() failover.State       { return c.St }

func (c *Canned) Epoch(recording nvrha.ServerID) nvrha.Epoch { return c.Epochs[recording] }

func (c *Canned) Ledger(camera nvrha.CameraID) []failover.Interval { return c.Ledgers[camera] }

// HoldersAt returns the intervals of camera's ledger that hold t.
func (c *Canned) HoldersAt(camera nvrha.CameraID, t time.Time) []failover.Interval {
	var out []failover.Interval
	for _, iv := range c.Ledgers[camera] {
		if !t.Before(iv.From) && (iv.To.IsZero() || t.Before(iv.To)) {
			out = append(out, iv)
		}
	}
	return out
}

var (
	_ View        = (*Static)(nil)
	_ MachineView = (*Canned)(nil)
)

// Snapshot returns the snapshot a Machine would show of the Static world
// with no takeover running: every member up, enabled, with its license
// channels and recording space; statuses are left zero.
func (v *Static) Snapshot() failover.Snapshot {
	var snap failover.Snapshot
	for _, g := range v.Grps {
		if !g.Exists {
			continue
		}
		gs := failover.GroupSnapshot{ID: g.ID, Name: g.Name, Default: g.ID == failover.DefaultGroupID, Protection: g.Protection, Capacity: 64}
		for _, i := range g.Servers {
			s := v.Truth[i]
			if !s.Member || s.Group != g {
				continue
			}
			gs.Members = append(gs.Members, failover.MemberSnapshot{ID: s.ID, Role: s.Role, Enabled: s.Enabled, Health: nvrha.HealthUp,
				LicenseChannels: s.Facts.LicenseChannels, Cameras: len(s.OwnCams), EmptyRecordingSpace: s.Facts.HasEmptyRecordingSpace()})
		}
		snap.Groups = append(snap.Groups, gs)
	}
	return snap
}

// Event returns e stamped with the view's time, for an observer's test.
func (v *Static) Event(e Event) *Event {
	e.At = v.At
	return &e
}
