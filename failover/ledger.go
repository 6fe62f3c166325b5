package failover

import (
	"maps"
	"math"
	"slices"
	"time"

	"github.com/nvrha/nvrha"
)

// Interval says that a server recorded a camera from From to To under an
// epoch. To is zero while it still records. Intervals of different servers
// may overlap (make-before-break failback records on both for a moment);
// a time no interval covers is a recording gap.
type Interval struct {
	// Server recorded the camera: its own recording server, or a standby.
	Server nvrha.ServerID `json:"server"`
	// For is the recording server the camera belongs to; it differs from
	// Server for footage recorded on a standby.
	For   nvrha.ServerID `json:"for"`
	Epoch nvrha.Epoch    `json:"epoch"`
	From  time.Time      `json:"from"`
	To    time.Time      `json:"to,omitzero"`
}

// Open reports whether the server still records.
func (iv Interval) Open() bool { return iv.To.IsZero() }

// Contains reports whether t falls in the interval.
func (iv Interval) Contains(t time.Time) bool {
	return !t.Before(iv.From) && (iv.To.IsZero() || !t.After(iv.To))
}

// ledger records, per camera, which server recorded which interval, so that
// footage recorded on a standby stays findable after failback.
//
// It is the largest part of a Machine's memory (one entry per camera and
// takeover), so entries are compact: servers are interned and times kept as
// Unix nanoseconds, 32 bytes an entry instead of an Interval's 88.
type ledger struct {
	limit int
	cams  map[nvrha.CameraID][]entry
	names []nvrha.ServerID
	index map[nvrha.ServerID]uint32

	// track turns on marks: the cameras changed since the changes were
	// last taken (see Machine.TakeChanges); seq counts marks.
	track bool
	marks map[nvrha.CameraID]ledgerMark
	seq   uint64
	// gen counts the changes of the intervals, for Machine.Generation.
	gen uint64
}

// entry is the compact form of an Interval.
type entry struct {
	server, owner uint32
	epoch         nvrha.Epoch
	from, to      int64
}

// noTime encodes the zero time.Time (an open interval's To).
const noTime = math.MinInt64

func newLedger(limit int) ledger {
	return ledger{limit: limit, cams: make(map[nvrha.CameraID][]entry), index: make(map[nvrha.ServerID]uint32)}
}

func encodeTime(t time.Time) int64 {
	if t.IsZero() {
		return noTime
	}
	return t.UnixNano()
}

func decodeTime(n int64) time.Time {
	if n == noTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// intern returns the number of a server ID, adding it if it is new.
func (l *ledger) intern(id nvrha.ServerID) uint32 {
	if n, ok := l.index[id]; ok {
		return n
	}
	n := uint32(len(l.names))
	l.names = append(l.names, id)
	l.index[id] = n
	return n
}

func (l *ledger) interval(e entry) Interval {
	return Interval{Server: l.names[e.server], For: l.names[e.owner], Epoch: e.epoch, From: decodeTime(e.from), To: decodeTime(e.to)}
}

func (l *ledger) entry(iv Interval) entry {
	return entry{server: l.intern(iv.Server), owner: l.intern(iv.For), epoch: iv.Epoch, from: encodeTime(iv.From), to: encodeTime(iv.To)}
}

// intervals returns a camera's intervals, oldest first.
func (l *ledger) intervals(c nvrha.CameraID) []Interval {
	es := l.cams[c]
	if len(es) == 0 {
		return nil
	}
	out := make([]Interval, len(es))
	for i, e := range es {
		out[i] = l.interval(e)
	}
	return out
}

// open starts an interval for each camera on server, unless one is open
// there already (the server kept recording). It reports whether it started
// any: a server found up again after a center restart usually changes
// nothing, and an unchanged ledger need not be persisted.
func (l *ledger) open(cams []nvrha.CameraID, server, owner nvrha.ServerID, e nvrha.Epoch, from time.Time) bool {
	sv, ow, f := l.intern(server), l.intern(owner), encodeTime(from)
	changed := false
	for _, c := range cams {
		es := l.cams[c]
		if slices.ContainsFunc(es, func(x entry) bool { return x.server == sv && x.to == noTime }) {
			continue
		}
		l.markCamera(c, es, len(es))
		es = append(es, entry{server: sv, owner: ow, epoch: e, from: f, to: noTime})
		if l.limit > 0 && len(es) > l.limit {
			l.markTrim(c, len(es)-l.limit)
			es = slices.Delete(es, 0, len(es)-l.limit)
		}
		l.cams[c] = es
		changed = true
	}
	if changed {
		l.gen++
	}
	return changed
}

// close ends the open intervals of server for each camera at to (never
// before they began). It reports whether it ended any.
func (l *ledger) close(cams []nvrha.CameraID, server nvrha.ServerID, to time.Time) bool {
	sv, ok := l.index[server]
	if !ok {
		return false
	}
	t := encodeTime(to)
	changed := false
	for _, c := range cams {
		es := l.cams[c]
		for i := range es {
			if x := &es[i]; x.server == sv && x.to == noTime {
				l.markCamera(c, es, i)
				x.to = max(t, x.from)
				changed = true
			}
		}
	}
	if changed {
		l.gen++
	}
	return changed
}

// Ledger returns the intervals recorded for a camera, oldest first.
func (m *Machine) Ledger(camera nvrha.CameraID) []Interval {
	return m.ledger.intervals(camera)
}

// HoldersAt answers "which server holds camera C's footage of time T": the
// intervals that contain t, oldest first. Empty means nobody recorded the
// camera then.
func (m *Machine) HoldersAt(camera nvrha.CameraID, t time.Time) []Interval {
	var out []Interval
	for _, e := range m.ledger.cams[camera] {
		if iv := m.ledger.interval(e); iv.Contains(t) {
			out = append(out, iv)
		}
	}
	return out
}

// export returns the ledger for a State: cameras sorted, every list its
// own copy. It runs at every persisted change, so the intervals share one
// allocation. (Keeping the cameras sorted between exports would save the
// sort, at 16 bytes a camera: memory per server matters more.)
func (l *ledger) export() []CameraLedger {
	sorted := slices.Sorted(maps.Keys(l.cams))
	n := 0
	for _, es := range l.cams {
		n += len(es)
	}
	all := make([]Interval, 0, n)
	out := make([]CameraLedger, 0, len(sorted))
	for _, c := range sorted {
		from := len(all)
		for _, e := range l.cams[c] {
			all = append(all, l.interval(e))
		}
		var ivs []Interval
		if len(all) > from {
			ivs = all[from:len(all):len(all)]
		}
		out = append(out, CameraLedger{Camera: c, Intervals: ivs})
	}
	return out
}
