package failover

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nvrha/nvrha"
)

// StateVersion is the version of State this package writes and reads.
const StateVersion = 1

// Errors of RestoreMachine.
var (
	ErrUnknownStateVersion = errors.New("failover: unknown state version")
	ErrCorruptState        = errors.New("failover: corrupt state")
)

// State is everything about a center that must survive a restart: groups
// and members, the newest epoch of every recording server, the takeovers in
// progress, the releases still owed, and the ledger. It is plain data that
// encodes to JSON; Ready hands a fresh copy whenever it changed.
type State struct {
	Version       int             `json:"version"`
	NextGroupID   GroupID         `json:"next_group_id"`
	NextCommandID uint64          `json:"next_command_id"`
	Groups        []GroupState    `json:"groups"`
	Epochs        []EpochState    `json:"epochs"`
	Takeovers     []TakeoverState `json:"takeovers"`
	Owed          []OwedState     `json:"owed"`
	Ledger        []CameraLedger  `json:"ledger"`
}

// GroupState is one persisted group.
type GroupState struct {
	ID         GroupID       `json:"id"`
	Name       string        `json:"name"`
	Protection bool          `json:"protection"`
	Members    []MemberState `json:"members"`
}

// MemberState is one persisted member.
type MemberState struct {
	Facts          nvrha.Facts `json:"facts"`
	Role           Role        `json:"role"`
	Enabled        bool        `json:"enabled"`
	TakeoverFailed bool        `json:"takeover_failed,omitempty"`
	// Refusals counts the takeovers in a row a standby failed while it
	// answered; RetryAt is when it may be ordered again.
	Refusals int       `json:"refusals,omitempty"`
	RetryAt  time.Time `json:"retry_at,omitzero"`
	// StoodDown marks a recording server told to stand down and not yet
	// resumed: it is owed a resume.
	StoodDown bool        `json:"stood_down,omitempty"`
	Failovers []time.Time `json:"failovers,omitempty"`
	// Priority is a recording server's priority (SetServerPriority).
	Priority int `json:"priority,omitempty"`
}

// EpochState is the newest epoch issued for a recording server's cameras.
type EpochState struct {
	Server nvrha.ServerID `json:"server"`
	Epoch  nvrha.Epoch    `json:"epoch"`
}

// TakeoverState is a takeover in progress. A restored takeover carries on
// where it was under the same epoch, which its servers accept as a retry:
// it is neither lost nor doubled, and a failback under way is not undone.
type TakeoverState struct {
	Recording nvrha.ServerID `json:"recording"`
	Standby   nvrha.ServerID `json:"standby"`
	Epoch     nvrha.Epoch    `json:"epoch"`
	Since     time.Time      `json:"since"`
	Started   time.Time      `json:"started,omitzero"`
	// Phase is "starting" (ordered, not confirmed), "active" (the standby
	// records), "resuming" (failback: the recording server is told to
	// record again) or "releasing" (failback: the standby is told to let go).
	Phase Phase `json:"phase"`
}

// OwedState is an order still owed to a server until it acknowledges: a
// release to a standby that was given up or interrupted, or a resume to a
// recording server whose takeover ended without a failback. The server may
// have left its group since; the order is owed all the same.
type OwedState struct {
	Server    nvrha.ServerID `json:"server"`
	Kind      CommandKind    `json:"kind"`
	Recording nvrha.ServerID `json:"recording"`
	Epoch     nvrha.Epoch    `json:"epoch"`
	// Cameras are those a release lets go of, for the ledger.
	Cameras []nvrha.CameraID `json:"cameras,omitempty"`
}

// CameraLedger is the ledger of one camera.
type CameraLedger struct {
	Camera    nvrha.CameraID `json:"camera"`
	Intervals []Interval     `json:"intervals"`
}

// State returns a deep copy of the persistent state now.
func (m *Machine) State() State {
	st := State{
		Version:       StateVersion,
		NextGroupID:   m.nextGroupID,
		NextCommandID: m.nextCmdID,
		Groups:        make([]GroupState, 0, len(m.groups)),
		Ledger:        m.ledger.export(),
	}
	for _, g := range m.groups {
		gs := GroupState{ID: g.id, Name: g.name, Protection: g.protection, Members: make([]MemberState, 0, len(g.members))}
		for _, mem := range g.members {
			gs.Members = append(gs.Members, memberState(mem))
			if t := mem.tk; t != nil && t.rec == mem {
				st.Takeovers = append(st.Takeovers, takeoverState(t))
			}
			for _, o := range []*op{&mem.fence, &mem.resume} {
				if o.pending() {
					st.Owed = append(st.Owed, owedState(o))
				}
			}
		}
		st.Groups = append(st.Groups, gs)
	}
	for _, o := range m.orphans {
		st.Owed = append(st.Owed, owedState(o))
	}
	for _, id := range slices.Sorted(maps.Keys(m.epochs)) {
		st.Epochs = append(st.Epochs, EpochState{Server: id, Epoch: m.epochs[id]})
	}
	return st
}

// RestoreMachine rebuilds a Machine from a persisted State, as after a
// center restart, at time now. Health is unknown again until the first
// probes; confirmed takeovers stay active and are re-ordered under their
// epoch; unconfirmed ones are ordered again; owed releases are sent again;
// new epochs continue above every persisted one. A state that is
// inconsistent is an error wrapping ErrCorruptState, one of another version
// ErrUnknownStateVersion; neither is ever silently replaced by an empty
// center.
func RestoreMachine(cfg Config, st State, now time.Time) (*Machine, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if st.Version != StateVersion {
		return nil, fmt.Errorf("%w: %d (this build reads %d)", ErrUnknownStateVersion, st.Version, StateVersion)
	}
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCorruptState, fmt.Sprintf(format, args...))
	}
	m := newMachine(cfg)
	m.setClock(now)
	m.approvalsFrom = now
	m.nextGroupID = st.NextGroupID
	// Command IDs jump well past any the previous run may have used since it
	// last persisted, so a late answer to one of those never matches a new
	// command; the jump is persisted with the first Ready.
	m.nextCmdID = max(st.NextCommandID, 1) + restartIDGap
	m.stateGen = 1
	if len(st.Groups) == 0 || st.Groups[0].ID != DefaultGroupID {
		return nil, corrupt("the default group is missing")
	}
	if len(st.Groups) > MaxGroups {
		return nil, corrupt("%d groups", len(st.Groups))
	}
	for i, gs := range st.Groups {
		if i > 0 && gs.ID <= st.Groups[i-1].ID || gs.ID >= st.NextGroupID {
			return nil, corrupt("group IDs out of order at %d", gs.ID)
		}
		if _, err := m.checkGroupName(gs.Name, 0); err != nil || gs.Name != trimmed(gs.Name) {
			return nil, corrupt("group %d: bad name %q", gs.ID, gs.Name)
		}
		g := &group{id: gs.ID, name: gs.Name, protection: gs.Protection}
		m.groups = append(m.groups, g)
		for _, ms := range gs.Members {
			if err := ms.Facts.Validate(); err != nil {
				return nil, corrupt("group %d: %v", gs.ID, err)
			}
			if ms.Role != RoleRecording && ms.Role != RoleStandby {
				return nil, corrupt("server %s: unknown role", ms.Facts.ID)
			}
			if _, dup := m.servers[ms.Facts.ID]; dup {
				return nil, corrupt("server %s in two places", ms.Facts.ID)
			}
			mem := m.newMember(ms.Facts, ms.Role, g, ms.Enabled)
			mem.takeoverFailed = ms.TakeoverFailed
			mem.refusals, mem.retryAt = uint8(min(max(ms.Refusals, 0), 16)), instantOf(ms.RetryAt)
			mem.stoodDown = ms.StoodDown
			mem.failovers = slices.Clone(ms.Failovers)
			if ms.Priority < -MaxPriority || ms.Priority > MaxPriority {
				return nil, corrupt("server %s: priority %d", ms.Facts.ID, ms.Priority)
			}
			mem.priority = int16(ms.Priority)
			g.members = append(g.members, mem)
			m.servers[ms.Facts.ID] = mem
		}
	}
	for i, es := range st.Epochs {
		if i > 0 && es.Server <= st.Epochs[i-1].Server {
			return nil, corrupt("epochs out of order at %s", es.Server)
		}
		m.epochs[es.Server] = es.Epoch
	}
	for _, ts := range st.Takeovers {
		r, s := m.servers[ts.Recording], m.servers[ts.Standby]
		switch {
		case r == nil || s == nil || r.role != RoleRecording || s.role != RoleStandby || r.group != s.group:
			return nil, corrupt("takeover %s by %s: not a recording and a standby of one group", ts.Recording, ts.Standby)
		case r.tk != nil || s.tk != nil:
			return nil, corrupt("takeover %s by %s: server in two takeovers", ts.Recording, ts.Standby)
		case ts.Epoch == 0 || ts.Epoch > m.epochs[ts.Recording]:
			return nil, corrupt("takeover %s: epoch %d above the newest issued", ts.Recording, ts.Epoch)
		}
		t := &takeover{rec: r, sb: s, epoch: ts.Epoch, since: ts.Since, started: ts.Started, phase: ts.Phase}
		r.tk, s.tk = t, t
		// Carry on under the same epoch, which the servers accept as a retry.
		switch ts.Phase {
		case PhaseStarting, PhaseActive:
			// A standby that has the order accepts the retry, one that never
			// got it starts now.
			t.giveUp = now.Add(cfg.TakeoverTimeout)
			m.send(&t.cmd, m.takeoverCommand(t))
		case PhaseResuming:
			t.resumeSent = now
			m.send(&t.cmd, Command{Kind: CmdResume, Server: r.facts.ID, Recording: r.facts.ID, Epoch: t.epoch})
		case PhaseReleasing:
			m.send(&t.cmd, releaseCommand(s, r, t.epoch))
		default:
			return nil, corrupt("takeover %s: unknown phase %d", ts.Recording, ts.Phase)
		}
	}
	for _, os := range st.Owed {
		if err := os.Server.Validate(); err != nil || (os.Kind != CmdRelease && os.Kind != CmdResume) ||
			os.Epoch == 0 || os.Epoch > m.epochs[os.Recording] {
			return nil, corrupt("owed %v to %s: bad server, kind or epoch", os.Kind, os.Server)
		}
		c := Command{Kind: os.Kind, Server: os.Server, Recording: os.Recording, Epoch: os.Epoch, Cameras: slices.Clone(os.Cameras)}
		if mem := m.servers[os.Server]; mem != nil {
			o := &mem.fence
			if os.Kind == CmdResume {
				o = &mem.resume
			}
			if o.pending() {
				return nil, corrupt("owed %v to %s twice", os.Kind, os.Server)
			}
			m.send(o, c)
			continue
		}
		o := &op{}
		m.orphans = append(m.orphans, o)
		m.send(o, c)
	}
	for _, cl := range st.Ledger {
		if err := cl.Camera.Validate(); err != nil {
			return nil, corrupt("ledger: %v", err)
		}
		if _, dup := m.ledger.cams[cl.Camera]; dup {
			return nil, corrupt("ledger: camera %s twice", cl.Camera)
		}
		es := make([]entry, len(cl.Intervals))
		for i, iv := range cl.Intervals {
			es[i] = m.ledger.entry(iv)
		}
		m.ledger.cams[cl.Camera] = es
	}
	m.everyGroupShownChanged()
	m.settle()
	return m, nil
}

func owedState(o *op) OwedState {
	return OwedState{Server: o.cmd.Server, Kind: o.cmd.Kind, Recording: o.cmd.Recording, Epoch: o.cmd.Epoch,
		Cameras: slices.Clone(o.cmd.Cameras)}
}

// restartIDGap is how far command IDs jump at a restore.
const restartIDGap = 1 << 32
