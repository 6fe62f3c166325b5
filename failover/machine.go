package failover

import (
	"fmt"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover/assign"
	"github.com/nvrha/nvrha/failover/detector"
)

// Machine holds all failover state of one center. It is a plain value driven
// by its caller: it never reads a clock, sleeps, starts a goroutine, does IO
// or uses global randomness, so the same calls give the same results, byte for
// byte. It is not safe for concurrent use; the Controller owns one from a
// single goroutine. The package documentation describes the loop that drives
// it.
type Machine struct {
	cfg         Config
	groups      []*group // ordered by ID
	nextGroupID GroupID
	// servers indexes every member by ID. Maps here are only used for
	// lookups, never iterated, so their order cannot reach any output.
	servers map[nvrha.ServerID]*member
	// epochs is the newest epoch issued for each recording server's cameras,
	// kept after a server leaves so that rejoining never reuses one.
	epochs map[nvrha.ServerID]nvrha.Epoch
	ledger ledger

	// now is the latest time the caller has given; operations that happen
	// "now" (admin calls) use it. It never goes backwards.
	now time.Time
	// nowAt is now as an instant, when it is one exactly; 0 otherwise.
	nowAt    instant
	lastTick time.Time
	// tickGen is the Generation at the end of the last Tick (0 before
	// the first: a Machine's starts at 1). tickAll makes the next Tick
	// look at every member; everyMember makes every Tick do so (a test
	// compares the two ways).
	tickGen     uint64
	tickAll     bool
	everyMember bool
	nextCmdID   uint64
	// ops finds the owner of an outstanding command by its ID.
	ops opIndex
	// orphans are orders owed to servers that left their group: a release
	// to a standby interrupted by a group's deletion must still reach it.
	orphans []*op
	// unverified are the releases servers in no group acknowledged, until
	// a probe shows that they let go (unverified.go).
	unverified []*unverified

	outbox []Command
	events []Event
	// stateGen counts changes of what must persist; savedGen is the
	// generation of the last State acknowledged by Advance. A counter, not a
	// flag, so that a change between Ready and Advance is never lost.
	stateGen, savedGen uint64
	// statusDirty is set when a status may have changed.
	statusDirty bool
	// viewGen counts the changes of what the Machine shows that stateGen
	// and the ledger do not count (health, recording space, orders);
	// Generation adds them up.
	viewGen uint64
	// chg marks the parts of the State changed since the changes were last
	// taken; incremental makes Ready hand them (SetIncremental).
	chg         changeMarks
	incremental bool

	// spentApprovals holds the IDs of the Approvals that approved an
	// operation (spentAt, when they were issued, to forget them once
	// expired); approvalsFrom is when the Machine was restored: approvals
	// from before it are refused, since the set is not persisted.
	spentApprovals map[[16]byte]bool
	spentAt        map[[16]byte]time.Time
	approvalsFrom  time.Time

	// recFacts holds a group's recording servers' facts while a join is
	// checked (addServers).
	recFacts []nvrha.Facts

	scratch   assign.Scratch
	needCover []assign.Recording
	free      []assign.Standby
	pairs     []assign.Pair
}

// NewMachine returns a Machine for a center with the default group "Failover
// Group 1" in it, empty and with Failover Protection on. Zero fields of cfg
// take their defaults.
func NewMachine(cfg Config) (*Machine, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m := newMachine(cfg)
	m.groups = []*group{{id: DefaultGroupID, name: DefaultGroupName, protection: true}}
	m.nextGroupID = DefaultGroupID + 1
	m.stateGen++
	m.shownChanged(m.groups[0])
	return m, nil
}

func newMachine(cfg Config) *Machine {
	return &Machine{
		cfg:       cfg,
		servers:   make(map[nvrha.ServerID]*member),
		epochs:    make(map[nvrha.ServerID]nvrha.Epoch),
		ledger:    newLedger(cfg.LedgerLimit),
		nextCmdID: 1,
	}
}

// Config returns the configuration the Machine runs with, defaults applied.
func (m *Machine) Config() Config { return m.cfg }

// Now returns the latest time the Machine has been given.
func (m *Machine) Now() time.Time { return m.now }

func (m *Machine) group(id GroupID) (*group, error) {
	for _, g := range m.groups {
		if g.id == id {
			return g, nil
		}
	}
	return nil, fmt.Errorf("%w: id %d", ErrGroupNotFound, id)
}

func (m *Machine) member(id nvrha.ServerID) (*member, error) {
	if mem, ok := m.servers[id]; ok {
		return mem, nil
	}
	return nil, fmt.Errorf("%w: %s", ErrServerNotFound, id)
}

// newMember makes the runtime part of a member that joins now.
func (m *Machine) newMember(f nvrha.Facts, role Role, g *group, enabled bool) *member {
	det, err := detector.New(m.cfg.Detector)
	if err != nil {
		// The detector config was validated by NewMachine.
		panic("failover: detector config rejected after validation: " + err.Error())
	}
	mem := &member{facts: f.Clone(), role: role, group: g, enabled: enabled, det: det}
	// Spread first probes over one interval so that a group added at once
	// does not probe in one burst.
	mem.nextProbe = instantOf(m.now.Add(time.Duration(len(m.servers)%16) * m.cfg.Detector.ProbeInterval / 16))
	mem.nextInv = instantOf(m.now.Add(m.cfg.InventoryInterval))
	return mem
}

// touch notes a change of persistent state in group g that may also change
// statuses.
func (m *Machine) touch(g *group) {
	m.stateGen++
	m.statusesMayChange(g)
}

// touchTakeover is touch for a takeover of r by s. Both are in one group;
// were they not, both groups would be marked.
func (m *Machine) touchTakeover(r, s *member) {
	m.touch(r.group)
	if s.group != r.group {
		m.statusesMayChange(s.group)
	}
}

// statusesMayChange notes a change in group g that may change statuses:
// they are derived again before the next Ready, and Generation moves.
func (m *Machine) statusesMayChange(g *group) {
	m.statusDirty = true
	g.statusDirty = true
	m.shownChanged(g)
}

// shownChanged notes that what g's snapshot shows may have changed. It
// moves Generation itself, so that g's generation is one no snapshot has
// seen, whatever the caller moved before.
func (m *Machine) shownChanged(g *group) {
	m.viewGen++
	g.shown = m.Generation()
}

// everyGroupShownChanged is statusesMayChange for every group, for a
// Machine restored from a State.
func (m *Machine) everyGroupShownChanged() {
	for _, g := range m.groups {
		m.statusesMayChange(g)
	}
}

// orderShown notes that an order to server changed. It shows in the State
// (owed orders, takeovers) and in the server's group (a standby's release,
// in whether it is ready); an order to a server in no group (an orphan's)
// shows in no group.
func (m *Machine) orderShown(server nvrha.ServerID) {
	if mem := m.servers[server]; mem != nil {
		m.shownChanged(mem.group)
		return
	}
	m.viewGen++
}
