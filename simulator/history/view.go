package history

import (
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// View is an observer's read-only window on the world while it handles an
// event: the world's settings, the ground truth of every server and the
// groups as the admin operations left them, the center and the Machine it
// runs. Pointers it returns point into the world, which changes them
// between events: an observer reads them and never writes them.
type View interface {
	// Settings are the run's settings, defaults applied.
	Settings() *Settings
	// Now is the simulated time since the start.
	Now() time.Duration
	// Servers are every server's ground truth, by index: recording
	// servers before standbys, group by group.
	Servers() []*ServerTruth
	// ServerIndex returns the index of a server, if the world has it.
	ServerIndex(id nvrha.ServerID) (int, bool)
	// Cameras are every camera of the world, by index.
	Cameras() []Camera
	// Groups are the world's groups, by index (g1 is index 0).
	Groups() []*GroupTruth
	// CalmSince returns since when server i has been calm: not crashed,
	// abnormal, in a long pause, cut off, in a burst or hostile, and
	// untouched by a lost message, a fault or an admin operation. It is
	// Now for a server that is not calm now.
	CalmSince(i int) time.Duration
	// LinkCalmSince is CalmSince for a server that is up but abnormal or
	// hostile: since when its link and control plane have been calm (a
	// hostile agent aside), or Now.
	LinkCalmSince(i int) time.Duration
	// LastDisturbance is when the last fault touched the world (for a
	// long pause: when it ends).
	LastDisturbance() time.Duration
	// Center is the center's state.
	Center() *CenterTruth
	// Machine is the center's Machine, or nil while the center is down.
	Machine() MachineView
	// SnapshotInto writes the Machine's Snapshot into buf, reusing its
	// memory where it can. buf is the caller's, passed again and again
	// and never changed in between: a real Machine writes only the groups
	// that changed since (failover.Machine.UpdateSnapshot). The center must
	// be up.
	SnapshotInto(buf *failover.Snapshot)
	// MachineGeneration returns the Machine's Generation
	// (failover.Machine.Generation): while it and the center's
	// Incarnation stand still, so do the Machine's views. ok is false
	// for a Machine that gives none (one a test wrapped), whose views
	// must be read again every time. The center must be up.
	MachineGeneration() (gen uint64, ok bool)
}

// MachineView is what an observer may ask of the center's Machine: its
// views, none of its operations.
type MachineView interface {
	Snapshot() failover.Snapshot
	State() failover.State
	Epoch(recording nvrha.ServerID) nvrha.Epoch
	Ledger(camera nvrha.CameraID) []failover.Interval
	HoldersAt(camera nvrha.CameraID, t time.Time) []failover.Interval
}

// Settings are a run's settings, defaults applied, as observers need them.
type Settings struct {
	Seed     uint64
	Duration time.Duration
	World    WorldSpec
	// Failover is the configuration the center's Machine runs with.
	Failover failover.Config
	// TickInterval is how often the center ticks its Machine.
	TickInterval time.Duration
	// StreamStart is how long footage takes to flow once wanted.
	StreamStart time.Duration
	// MaxGapSamples caps the gap samples a report keeps.
	MaxGapSamples int
	// Centers is how many centers stand by for each other (1: a single
	// center that runs no election); Lease is the leader's lease where
	// there are several.
	Centers int
	Lease   time.Duration
}

// Start is the virtual instant every world begins at; the Machine sees
// simulated time as Start plus the offset.
var Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Abs returns the instant of simulated offset d.
func Abs(d time.Duration) time.Time { return Start.Add(d) }

// Camera is one camera of the world.
type Camera struct {
	ID nvrha.CameraID
	// Owner is the index of the recording server whose camera it is.
	Owner int
}

// ServerTruth is one server's ground truth: what it is and does, whatever
// the center believes, and the world's record of its membership from the
// admin operations the Machine acknowledged.
type ServerTruth struct {
	Index int
	ID    nvrha.ServerID
	Role  failover.Role
	Spec  ServerSpec
	// Facts are its facts now; the center learns them from its inventory.
	Facts nvrha.Facts
	// OwnCams are the indexes of its own cameras (a recording server's).
	OwnCams []int

	Crashed  bool
	Abnormal bool
	// Degraded: abnormal, but the footage it records keeps flowing (a
	// failing disk that still takes writes) until it is stood down.
	Degraded bool
	// Paused: it hangs until PauseUntil; PausedLong when the pause is
	// longer than the acceptable pause. PausedAt and PauseUntil stay as
	// the span of its last pause once it ends (PauseUntil 0: never
	// paused).
	Paused     bool
	PausedLong bool
	PausedAt   time.Duration
	PauseUntil time.Duration
	// StoodDown: it was told to stop recording its own cameras.
	StoodDown bool
	// Covering is the recording server whose takeover order it carries
	// out, CoverCameras the cameras of that order and CoverEpoch its epoch.
	Covering     nvrha.ServerID
	CoverCameras []nvrha.CameraID
	CoverEpoch   nvrha.Epoch
	// Own and Cover are its two streams: its own cameras, and the cameras
	// it covers.
	Own, Cover Footage
	// LicenseBefore are its license channels before each license change
	// still in force.
	LicenseBefore []int
	// Hostile is how its agent misbehaves now, "" while it is sound,
	// since HostileSince; LateBy is how late a HostileLate agent answers.
	Hostile      Hostility
	HostileSince time.Duration
	LateBy       time.Duration

	// Group is the group it belongs to (by the world's spec until an
	// "add ... to" moves it); Member and Enabled are its membership as
	// acknowledged.
	Group   *GroupTruth
	Member  bool
	Enabled bool

	// When things last happened to it.
	AdminAt     time.Duration // an admin operation on it
	DisturbedAt time.Duration // a disturbance other than a short pause
	FailedSince time.Duration // it crashed or became abnormal
	FactsAt     time.Duration // its facts (license, spaces) changed
}

// Down reports whether the server is in fact failed: crashed or abnormal.
func (s *ServerTruth) Down() bool { return s.Crashed || s.Abnormal }

// Footage is one stream of a server: it flows (On) StreamStart after it
// was wanted (Pending).
type Footage struct {
	On, Pending bool
	// Gen counts the world's starts and stops of the stream.
	Gen uint64
	// Cams are the camera indexes it records, as of when it started; Of
	// is whose cameras a cover stream records.
	Cams []int
	Of   nvrha.ServerID
}

// GroupTruth is the world's own record of a group, from the admin
// operations the Machine acknowledged.
type GroupTruth struct {
	Index      int // 1-based, as in "g2"
	Name       string
	ID         failover.GroupID
	Exists     bool
	Protection bool
	ChangedAt  time.Duration
	// Servers are the servers that belong to it by the world's spec.
	Servers []int
}

// CenterTruth is the center's state. Where several centers stand by for
// each other (Settings.Centers >= 2) it is the state of whichever leads:
// the center is up while one leads and runs its Machine, and every new
// leader is a restart from the shared store.
type CenterTruth struct {
	Up          bool
	Incarnation uint32
	// UpSince is when the center came up, or when a leader whose saves the
	// store refused (and who therefore stood still) could act again.
	UpSince   time.Duration
	DownSince time.Duration
	Restarts  int
	// Persisted is the last State the center persisted, nil before the
	// first.
	Persisted *failover.State

	// With several centers: Leader is the number of the center that leads
	// (c1 is 1), 0 while none does, and Term its term; StoreTerm is the
	// newest term the lease store granted, and LeaseHeld whether that
	// term's lease still holds in the store (neither expired nor given
	// up). Elections counts the terms granted. StoreDown is set while the
	// lease store is unavailable; Followers counts the centers that could
	// be elected now: up, awake, not leading, reaching the store.
	Leader    int
	Term      uint64
	StoreTerm uint64
	LeaseHeld bool
	Elections int
	StoreDown bool
	Followers int
}
