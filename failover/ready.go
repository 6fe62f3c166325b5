package failover

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

// CommandKind says what a Command asks of a server.
type CommandKind uint8

// The command kinds, one per call of the transport contract.
const (
	CmdProbe CommandKind = iota + 1
	CmdInventory
	CmdTakeover
	CmdRelease
	CmdStandDown
	CmdResume
)

// String returns the kind's name as the transport calls it.
func (k CommandKind) String() string {
	switch k {
	case CmdProbe:
		return "probe"
	case CmdInventory:
		return "inventory"
	case CmdTakeover:
		return "takeover"
	case CmdRelease:
		return "release"
	case CmdStandDown:
		return "stand-down"
	case CmdResume:
		return "resume"
	}
	return "CommandKind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText encodes the kind as its name.
func (k CommandKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes a kind from its name.
func (k *CommandKind) UnmarshalText(b []byte) error {
	for c := CmdProbe; c <= CmdResume; c++ {
		if c.String() == string(b) {
			*k = c
			return nil
		}
	}
	return fmt.Errorf("failover: unknown command kind %q", b)
}

// Command is a call the Machine wants made to a server. The caller makes it
// through its transport and reports the outcome with Step and a Result that
// carries the same ID.
type Command struct {
	// ID is unique for the Machine's lifetime (and across restarts from the
	// same State); results are matched by it.
	ID     uint64         `json:"id"`
	Kind   CommandKind    `json:"kind"`
	Server nvrha.ServerID `json:"server"`
	// Recording is the recording server whose cameras a takeover or release
	// is about.
	Recording nvrha.ServerID   `json:"recording,omitempty"`
	Epoch     nvrha.Epoch      `json:"epoch,omitempty"`
	Cameras   []nvrha.CameraID `json:"cameras,omitempty"`
	// Deadline is when the Machine stops waiting for the result; a transport
	// should give up by then too.
	Deadline time.Time `json:"deadline"`
}

// Orders for the transport, one per kind.

// TakeoverOrder returns the order a CmdTakeover carries.
func (c Command) TakeoverOrder() transport.TakeoverOrder {
	return transport.TakeoverOrder{Recording: c.Recording, Epoch: c.Epoch, Cameras: slices.Clone(c.Cameras)}
}

// ReleaseOrder returns the order a CmdRelease carries.
func (c Command) ReleaseOrder() transport.ReleaseOrder {
	return transport.ReleaseOrder{Recording: c.Recording, Epoch: c.Epoch}
}

// StandDownOrder returns the order a CmdStandDown carries.
func (c Command) StandDownOrder() transport.StandDownOrder {
	return transport.StandDownOrder{Epoch: c.Epoch}
}

// ResumeOrder returns the order a CmdResume carries.
func (c Command) ResumeOrder() transport.ResumeOrder { return transport.ResumeOrder{Epoch: c.Epoch} }

func (c Command) String() string {
	s := fmt.Sprintf("#%d %s %s", c.ID, c.Kind, c.Server)
	if c.Recording != "" {
		s += " for " + string(c.Recording)
	}
	if c.Epoch != 0 {
		s += " epoch " + strconv.FormatUint(uint64(c.Epoch), 10)
	}
	return s
}

// Result is the outcome of a Command, handed to Step.
type Result struct {
	// ID is the Command's ID.
	ID uint64
	// Err is nil when the call succeeded. A *transport.StaleEpochError tells
	// the Machine that a newer epoch exists; any other error is a failure to
	// be retried or, for a probe, a missed heartbeat.
	Err error
	// Report is a probe's answer.
	Report transport.ProbeReport
	// Facts is an inventory's answer.
	Facts nvrha.Facts
}

// EventKind says what an Event reports.
type EventKind uint8

// The event kinds.
const (
	EventStatusChanged EventKind = iota + 1
	EventServerDown
	EventServerUp
	EventTakeoverStarted
	EventTakeoverSucceeded
	EventTakeoverFailed
	EventTakeoverInterrupted
	EventFailbackStarted
	EventFailbackCompleted
	EventUnprotected
	// EventNotRecording: an uncovered recording server answered healthy
	// but said it does not record its cameras; it is ordered to resume.
	EventNotRecording
	// EventStoreFailing and EventStoreRecovered come from a Controller, not
	// a Machine: saving the State began to fail (Detail holds the error;
	// commands are held until a save succeeds), and a save succeeded again.
	EventStoreFailing
	EventStoreRecovered
)

// lastEventKind is the highest EventKind; UnmarshalText walks up to it.
const lastEventKind = EventStoreRecovered

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventStatusChanged:
		return "status-changed"
	case EventServerDown:
		return "server-down"
	case EventServerUp:
		return "server-up"
	case EventTakeoverStarted:
		return "takeover-started"
	case EventTakeoverSucceeded:
		return "takeover-succeeded"
	case EventTakeoverFailed:
		return "takeover-failed"
	case EventTakeoverInterrupted:
		return "takeover-interrupted"
	case EventFailbackStarted:
		return "failback-started"
	case EventFailbackCompleted:
		return "failback-completed"
	case EventUnprotected:
		return "unprotected"
	case EventNotRecording:
		return "not-recording"
	case EventStoreFailing:
		return "store-failing"
	case EventStoreRecovered:
		return "store-recovered"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// MarshalText encodes the kind as its name.
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText decodes a kind from its name, so that an Event survives a
// JSON round trip.
func (k *EventKind) UnmarshalText(b []byte) error {
	for q := EventStatusChanged; q <= lastEventKind; q++ {
		if q.String() == string(b) {
			*k = q
			return nil
		}
	}
	return fmt.Errorf("failover: unknown event kind %q: %w", b, strconv.ErrSyntax)
}

// Event is something that happened, for logs, UIs and alerts.
type Event struct {
	At     time.Time      `json:"at"`
	Kind   EventKind      `json:"kind"`
	Group  GroupID        `json:"group,omitempty"`
	Server nvrha.ServerID `json:"server"`
	// Peer is the other server of a takeover event.
	Peer  nvrha.ServerID `json:"peer,omitempty"`
	Epoch nvrha.Epoch    `json:"epoch,omitempty"`
	// From and To are status labels of a status change.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
	// Detail explains a failure or an interruption.
	Detail string `json:"detail,omitempty"`
}

func (e Event) String() string {
	s := e.At.Format("15:04:05.000") + " " + e.Kind.String() + " " + string(e.Server)
	if e.Peer != "" {
		s += " peer=" + string(e.Peer)
	}
	if e.Epoch != 0 {
		s += " epoch=" + strconv.FormatUint(uint64(e.Epoch), 10)
	}
	if e.From != "" || e.To != "" {
		s += fmt.Sprintf(" %q -> %q", e.From, e.To)
	}
	if e.Detail != "" {
		s += " (" + e.Detail + ")"
	}
	return s
}

// Ready is what the Machine has for its caller: state to persist, then
// commands to send and events to publish. See the package documentation for
// the loop.
type Ready struct {
	// State is non-nil when what must survive a restart has changed since
	// the last Advance. Persist it before sending Commands: an epoch must be
	// durable before any server sees it.
	State *State
	// Changes replaces State for a Machine set to hand what changed
	// (SetIncremental): non-nil when something must persist, it holds the
	// parts that changed since the last Advance of a Ready that carried
	// Changes. Persist them before sending Commands, as a State.
	Changes *Changes
	// Commands are the calls to make, in order.
	Commands []Command
	// Events happened since the last Advance, in order.
	Events []Event

	gen uint64 // the state generation State was taken at
	// changeSeq identifies the marks Changes were read from.
	changeSeq uint64
}

// Empty reports whether rd carries nothing.
func (rd Ready) Empty() bool {
	return rd.State == nil && rd.Changes == nil && len(rd.Commands) == 0 && len(rd.Events) == 0
}
