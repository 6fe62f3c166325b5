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
	// the center started or since they joined their group; derived is the
	// label the Machine derived last for each server, shown the label last
	// published, and group its group.
	probed  map[nvrha.ServerID]bool
	derived map[nvrha.ServerID]string
	shown   map[nvrha.ServerID]string
	group   map[nvrha.ServerID]failover.GroupID
	// held holds the recording servers shown as Checking, since when,
	// until the Center's settler finds their group's enabled standbys
	// probed (see Center.settle); wake tells the settler something moved.
	held map[nvrha.ServerID]time.Time
	wake chan struct{}
}

func newEventHub(limit int, log *slog.Logger) *eventHub {
	return &eventHub{
		log: log, limit: limit, nextID: 1,
		changed: make(chan struct{}),
		probed:  map[nvrha.ServerID]bool{},
		derived: map[nvrha.ServerID]string{},
		shown:   map[nvrha.ServerID]string{},
		group:   map[nvrha.ServerID]failover.GroupID{},
		held:    map[nvrha.ServerID]time.Time{},
		wake:    make(chan struct{}, 1),
	}
}

// recordingLabels are the labels only a recording server derives: a
// server whose first status is one of them is a recording server.
var recordingLabels = func() map[string]bool {
	m := map[string]bool{}
	for _, st := range status.RecordingStatuses() {
		if st != status.RecordingDisabled {
			m[st.Label()] = true
		}
	}
	return m
}()

// shownLocked is the label the page shows for server now: Checking while
// the server waits for its first probe, or while it is a recording server
// held until its group's standbys are probed (whose protection is not
// known before); a disabled server shows as such at once.
func (h *eventHub) shownLocked(server nvrha.ServerID) string {
	to := h.derived[server]
	if !h.probed[server] && waitingForProbe(to) {
		return checkingLabel
	}
	if _, held := h.held[server]; held && to != status.RecordingDisabled.Label() {
		return checkingLabel
	}
	return to
}

// showLocked publishes the move of server's shown status, if it moved. A
// server's first status is only logged at Debug: the page reads it with
// the groups.
func (h *eventHub) showLocked(at time.Time, server nvrha.ServerID) {
	to := h.shownLocked(server)
	from, ok := h.shown[server]
	h.shown[server] = to
	if !ok || from == to {
		h.log.Debug("center: status", "server", string(server), "status", to, "derived", h.derived[server])
		return
	}
	ev := Event{At: at, Kind: failover.EventStatusChanged.String(), Group: h.group[server], Server: server,
		From: from, To: to, Message: fmt.Sprintf("%s: %s → %s", server, from, to), Level: "info"}
	if strings.HasPrefix(to, "Abnormal") {
		ev.Level = "warn"
	}
	h.publishLocked(ev)
}

// heldSince returns the held servers and since when each is held.
func (h *eventHub) heldSince() map[nvrha.ServerID]time.Time {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.held) == 0 {
		return nil
	}
	out := make(map[nvrha.ServerID]time.Time, len(h.held))
	for id, t := range h.held {
		out[id] = t
	}
	return out
}

// release shows held servers as what they are now, publishing the move
// from Checking; drop forgets servers that left their group while held.
func (h *eventHub) release(at time.Time, release, drop []nvrha.ServerID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range drop {
		delete(h.held, id)
	}
	for _, id := range release {
		if _, ok := h.held[id]; ok {
			delete(h.held, id)
			h.showLocked(at, id)
		}
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
			// joined or the center has just started. A recording
			// server's protection depends on its group's standbys, which
			// may not have been probed yet either.
			h.probed[e.Server] = false
			if recordingLabels[e.To] {
				h.held[e.Server] = time.Now()
				h.wakeSettlerLocked() // starts its bound
			}
		}
		h.derived[e.Server], h.group[e.Server] = e.To, e.Group
		h.showLocked(e.At, e.Server)
		return
	case failover.EventServerUp:
		first := !h.probed[e.Server]
		h.probed[e.Server] = true
		if first {
			h.log.Debug("center: first probe answered", "server", string(e.Server))
			h.wakeSettlerLocked()
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
			h.wakeSettlerLocked() // a first probe, missed
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

// wakeSettlerLocked tells the settler to look at the held servers again:
// a first probe, answered or missed, may have settled their groups, and a
// new hold starts its bound. Anything else that settles a group early (a
// standby disabled or gone) waits for the bound, so that the settler does
// not copy the Machine's snapshot after every event.
func (h *eventHub) wakeSettlerLocked() {
	if len(h.held) == 0 {
		return
	}
	select {
	case h.wake <- struct{}{}:
	default:
	}
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
