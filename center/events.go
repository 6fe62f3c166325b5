package center

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
)

// Event is one entry of the Center's timeline and event stream: an event of
// the Machine (its Kind is failover.EventKind's name) or an admin operation
// done through the API (Kind "group-added", "servers-removed", ...).
type Event struct {
	// ID orders events; the event stream's ids are these.
	ID     uint64           `json:"id"`
	At     time.Time        `json:"at"`
	Kind   string           `json:"kind"`
	Group  failover.GroupID `json:"group,omitempty"`
	Server nvrha.ServerID   `json:"server,omitempty"`
	Peer   nvrha.ServerID   `json:"peer,omitempty"`
	Epoch  nvrha.Epoch      `json:"epoch,omitempty"`
	// From and To are the labels a status change moves between, as the
	// page shows them: a server not yet probed is "Checking".
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Detail string `json:"detail,omitempty"`
	// User is the admin user behind an admin operation.
	User string `json:"user,omitempty"`
	// Message says what happened in a sentence, for the timeline.
	Message string `json:"message"`
	// Level is "info" or "warn".
	Level string `json:"level"`
}

// The Failover Status shown for a server the center has not heard from yet.
// The Machine counts a server of unknown health as not functional, which
// is right for takeover decisions but wrong to show: nothing is known to
// have failed.
const (
	checkingCode        = "checking"
	checkingLabel       = "Checking"
	checkingDescription = "The center has not heard from this server yet; its Failover Status follows its first probe."
)

// eventHub keeps the latest events for the timeline and wakes the event
// streams. Publishing never blocks: the Machine's goroutine calls it.
type eventHub struct {
	log *slog.Logger

	mu      sync.Mutex
	ring    []Event // the latest events, oldest first
	limit   int
	nextID  uint64
	changed chan struct{} // closed and replaced on every publish
	closed  bool
	// probed holds the servers that have answered or missed a probe since
	// the center started or since they joined their group; shown is the
	// label last published for each server.
	probed map[nvrha.ServerID]bool
	shown  map[nvrha.ServerID]string
}

func newEventHub(limit int, log *slog.Logger) *eventHub {
	return &eventHub{
		log: log, limit: limit, nextID: 1,
		changed: make(chan struct{}),
		probed:  map[nvrha.ServerID]bool{},
		shown:   map[nvrha.ServerID]string{},
	}
}

// waitingForProbe reports whether label is what the Machine derives for a
// server of unknown health: it cannot be told from a failure until a probe
// answers or is missed.
func waitingForProbe(label string) bool {
	return label == status.RecordingAbnormalUnprotected.Label() || label == status.StandbyAbnormal.Label()
}

// machineEvent turns a Machine event into what the page and the log show.
func (h *eventHub) machineEvent(e failover.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ev := Event{At: e.At, Kind: e.Kind.String(), Group: e.Group, Server: e.Server, Peer: e.Peer,
		Epoch: e.Epoch, Detail: e.Detail, Level: "info"}
	switch e.Kind {
	case failover.EventStatusChanged:
		if e.From == "" {
			// A status derived for the first time: the server has just
			// joined or the center has just started.
			h.probed[e.Server] = false
		}
		to := e.To
		if !h.probed[e.Server] && waitingForProbe(to) {
			to = checkingLabel
		}
		from, ok := h.shown[e.Server]
		h.shown[e.Server] = to
		if !ok || from == to {
			h.log.Debug("center: status", "server", string(e.Server), "status", to, "derived", e.To)
			return
		}
		ev.From, ev.To = from, to
		ev.Message = fmt.Sprintf("%s: %s → %s", e.Server, from, to)
		if strings.HasPrefix(to, "Abnormal") {
			ev.Level = "warn"
		}
	case failover.EventServerUp:
		first := !h.probed[e.Server]
		h.probed[e.Server] = true
		if first {
			h.log.Debug("center: first probe answered", "server", string(e.Server))
			return
		}
		ev.Message = fmt.Sprintf("%s answers again", e.Server)
	case failover.EventServerDown:
		first := !h.probed[e.Server]
		h.probed[e.Server] = true
		ev.Level = "warn"
		ev.Message = fmt.Sprintf("%s stopped answering", e.Server)
		if first {
			ev.Message = fmt.Sprintf("%s has not answered since the center started watching it", e.Server)
		}
	case failover.EventTakeoverStarted:
		ev.Message = fmt.Sprintf("%s starts taking over %s's cameras", e.Peer, e.Server)
	case failover.EventTakeoverSucceeded:
		ev.Message = fmt.Sprintf("%s records %s's cameras", e.Peer, e.Server)
	case failover.EventTakeoverFailed:
		ev.Level = "warn"
		ev.Message = fmt.Sprintf("%s failed to take over %s", e.Peer, e.Server)
	case failover.EventTakeoverInterrupted:
		ev.Message = fmt.Sprintf("the takeover of %s by %s was interrupted", e.Server, e.Peer)
	case failover.EventFailbackStarted:
		ev.Message = fmt.Sprintf("failback of %s from %s started", e.Server, e.Peer)
	case failover.EventFailbackCompleted:
		ev.Message = fmt.Sprintf("%s records its own cameras again; %s is free", e.Server, e.Peer)
	case failover.EventUnprotected:
		ev.Level = "warn"
		ev.Message = fmt.Sprintf("%s has failed and no standby can take it over", e.Server)
	case failover.EventNotRecording:
		ev.Level = "warn"
		ev.Message = fmt.Sprintf("%s answers healthy but does not record its cameras; told to resume", e.Server)
		ev.Detail = ""
	case failover.EventStoreFailing:
		ev.Level = "warn"
		ev.Message = "saving the center's state fails; orders wait until it works"
	case failover.EventStoreRecovered:
		ev.Message = "the center's state is saved again"
	default:
		ev.Message = e.String()
	}
	if ev.Detail != "" {
		ev.Message += " (" + ev.Detail + ")"
	}
	h.publishLocked(ev)
}

// admin records an operation done through the API.
func (h *eventHub) admin(at time.Time, user, kind string, group failover.GroupID, server nvrha.ServerID, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.publishLocked(Event{At: at, Kind: kind, Group: group, Server: server, User: user, Message: msg, Level: "info"})
}

func (h *eventHub) publishLocked(ev Event) {
	if h.closed {
		return
	}
	ev.ID = h.nextID
	h.nextID++
	if len(h.ring) == h.limit {
		copy(h.ring, h.ring[1:])
		h.ring = h.ring[:len(h.ring)-1]
	}
	h.ring = append(h.ring, ev)
	close(h.changed)
	h.changed = make(chan struct{})
	level := slog.LevelInfo
	if ev.Level == "warn" {
		level = slog.LevelWarn
	}
	if h.log.Enabled(context.Background(), level) {
		attrs := []slog.Attr{slog.String("kind", ev.Kind)}
		if ev.Group != 0 {
			attrs = append(attrs, slog.Int("group", int(ev.Group)))
		}
		if ev.Server != "" {
			attrs = append(attrs, slog.String("server", string(ev.Server)))
		}
		if ev.Peer != "" {
			attrs = append(attrs, slog.String("peer", string(ev.Peer)))
		}
		if ev.Epoch != 0 {
			attrs = append(attrs, slog.Uint64("epoch", uint64(ev.Epoch)))
		}
		if ev.From != "" || ev.To != "" {
			attrs = append(attrs, slog.String("from", ev.From), slog.String("to", ev.To))
		}
		if ev.User != "" {
			attrs = append(attrs, slog.String("user", ev.User))
		}
		h.log.LogAttrs(context.Background(), level, ev.Message, attrs...)
	}
}

// since returns the events after id, whether some were dropped from the
// history before they could be read, and a channel closed at the next
// publish (nil once the hub is closed).
func (h *eventHub) since(id uint64) (evs []Event, lost bool, wait <-chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	start := 0
	for start < len(h.ring) && h.ring[start].ID <= id {
		start++
	}
	evs = append(evs, h.ring[start:]...)
	lost = id != 0 && len(h.ring) > 0 && h.ring[0].ID > id+1
	if h.closed {
		return evs, lost, nil
	}
	return evs, lost, h.changed
}

// latest returns the ID of the newest event, 0 if none.
func (h *eventHub) latest() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.nextID - 1
}

func (h *eventHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.changed)
	}
}

// dropEventRecords leaves out the Controller's own event records
// ("failover: <kind>" with a kind attribute): the Center logs every event
// itself, once, as the page shows it.
type dropEventRecords struct{ slog.Handler }

func (d dropEventRecords) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "failover: ") {
		isEvent := false
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "kind" {
				isEvent = true
				return false
			}
			return true
		})
		if isEvent {
			return nil
		}
	}
	return d.Handler.Handle(ctx, r)
}

func (d dropEventRecords) WithAttrs(as []slog.Attr) slog.Handler {
	return dropEventRecords{d.Handler.WithAttrs(as)}
}

func (d dropEventRecords) WithGroup(name string) slog.Handler {
	return dropEventRecords{d.Handler.WithGroup(name)}
}
