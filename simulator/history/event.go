package history

import (
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// Kind says what an Event reports.
type Kind uint8

// The kinds of events, in no particular order. Each says which of Event's
// fields it sets besides At.
const (
	// Done: the world handled one event of its queue that changed
	// something (an event that changed nothing is not reported). Machine is set
	// when a call into the Machine changed what it persists or publishes
	// (or was an admin operation, a restart, a tick), and Quiet with it
	// when the one call was a tick whose Ready loop published nothing;
	// AllServers when the event may have changed the ground truth of any
	// server (a fault, an admin operation); Touched lists the servers
	// whose ground truth it changed otherwise.
	Done Kind = iota + 1
	// Tick: the center ticked its Machine (when up) and drained its
	// Ready.
	Tick
	// MachineEvent: the Machine published MachineEvent.
	MachineEvent
	// RestoredReady: the center took the first Ready (Ready) of a Machine
	// it just restored.
	RestoredReady
	// ReadyStuck: the Machine still had a Ready after Round rounds in
	// one event.
	ReadyStuck
	// Persisted: the center persisted State, or Changes; Prev is the
	// State persisted before (nil for the first). Changes are shown before
	// they are applied: Prev is still the State they change.
	Persisted
	// StoreFailed: the store refused the Machine's State (Err).
	StoreFailed
	// CommandSent: the Machine's Command is about to go on the network;
	// Known is false for a server the world does not have, Malformed set
	// for a command with no valid kind, server or ID. Term is the center
	// term the order carries (0 with one center, and for a probe or an
	// inventory, which carry none).
	CommandSent
	// Delivered: Server carried out Command (of center term Term) and
	// answered Result; Before is its state for the order's key before, and
	// After, when the order was refused (Result.Err) or there are several
	// centers, after.
	Delivered
	// FootageChanged: Server's footage of Cams started (On) or stopped;
	// Cover tells its cover stream (of Of's cameras) from its own.
	FootageChanged
	// FaultStarted and FaultEnded: a fault (Fault) began or ended on
	// Server.
	FaultStarted
	FaultEnded
	// ActionTaken: the world carried out Action on Servers; Fault is the
	// kind it counts as, "" for none (an undo, a scripted restart).
	ActionTaken
	// CenterCrash: the center is about to crash, or (several centers) the
	// leader is about to stop leading; its Machine is still there to be
	// read. Detail says why ("crash", or with several centers "lease lost"
	// or "stale term"); State, when set, is the State the center was still
	// trying to save, which the store refused: the Machine holds it, and
	// nothing of it was sent.
	CenterCrash
	// CenterRestarted: the center restored its Machine from State.
	CenterRestarted
	// RestoreFailed: the center could not restart (Detail, Err).
	RestoreFailed
	// Admin: an admin operation (Op) returned Err.
	Admin
	// JoinRequested: the world is about to add Server to Group.
	JoinRequested
	// Joined: the Machine accepted Server into Group.
	Joined
	// Refused: the Machine refused Server as a Role server of Group for
	// Reasons.
	Refused
	// Removed: the world removed Server (Err); InTakeover tells whether
	// the Machine showed it in a takeover just before.
	Removed
	// GroupDeleted: the world deleted Group (Err).
	GroupDeleted
	// Finish: the run is over.
	Finish

	// Kinds is one more than the largest kind.
	Kinds
)

// Event is one thing that happened in the world, as its observers see it.
// The world reuses an Event's memory: an observer copies what it keeps.
type Event struct {
	Kind Kind
	// At is when it happened: the simulated time since the start (the
	// View's Now).
	At time.Duration
	// Server is a server's index (-1 for none); Group a group's index
	// (from 0).
	Server int
	Group  int

	Machine    bool
	Quiet      bool
	AllServers bool
	Touched    []int

	MachineEvent *failover.Event
	Ready        *failover.Ready
	Round        int
	State, Prev  *failover.State
	Changes      *failover.Changes

	Command       *failover.Command
	Term          uint64
	Result        *failover.Result
	Known         bool
	Malformed     bool
	Before, After ServerState

	On    bool
	Cover bool
	Cams  []int
	Of    nvrha.ServerID

	Fault   FaultKind
	Action  *Action
	Servers []int

	Op         string
	Err        error
	Detail     string
	Role       failover.Role
	Reasons    []string
	InTakeover bool
}

// ServerState is what an order refused as stale must leave unchanged: a
// server's side of one key (a recording server's ID).
type ServerState struct {
	// Term is the newest center term the server accepted (any key).
	Term       uint64
	StoodDown  bool
	Covering   nvrha.ServerID
	CoverEpoch nvrha.Epoch
	Newest     nvrha.Epoch
	Own, Cover bool // footage flowing or about to
	CoverOn    bool // covered footage flowing
}

// Observer handles the world's events, one at a time, as they happen. It
// reads the world through the View it was made with.
type Observer interface {
	Observe(e *Event)
}

// Selective is an Observer that sees only the kinds of events it wants;
// an Observer that is not Selective sees every event.
type Selective interface {
	Observer
	Wants(k Kind) bool
}

// Sink is where an observer's findings go: a note joins the world's trace;
// a violation of an invariant stops the run.
type Sink interface {
	Note(line string)
	Violated(invariant int, detail string)
}
