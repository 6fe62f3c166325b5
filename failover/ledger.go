package failover

import (
	"maps"
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
type ledger struct {
	limit int
	cams  map[nvrha.CameraID][]Interval
}

// open starts an interval for each camera on server, unless one is open
// there already (the server kept recording).
func (l *ledger) open(cams []nvrha.CameraID, server, owner nvrha.ServerID, e nvrha.Epoch, from time.Time) {
	for _, c := range cams {
		ivs := l.cams[c]
		if slices.ContainsFunc(ivs, func(iv Interval) bool { return iv.Server == server && iv.Open() }) {
			continue
		}
		ivs = append(ivs, Interval{Server: server, For: owner, Epoch: e, From: from})
		if l.limit > 0 && len(ivs) > l.limit {
			ivs = slices.Delete(ivs, 0, len(ivs)-l.limit)
		}
		l.cams[c] = ivs
	}
}

// close ends the open intervals of server for each camera at to (never
// before they began).
func (l *ledger) close(cams []nvrha.CameraID, server nvrha.ServerID, to time.Time) {
	for _, c := range cams {
		ivs := l.cams[c]
		for i := range ivs {
			iv := &ivs[i]
			if iv.Server == server && iv.Open() {
				iv.To = to
				if iv.To.Before(iv.From) {
					iv.To = iv.From
				}
			}
		}
	}
}

// Ledger returns the intervals recorded for a camera, oldest first.
func (m *Machine) Ledger(camera nvrha.CameraID) []Interval {
	return slices.Clone(m.ledger.cams[camera])
}

// HoldersAt answers "which server holds camera C's footage of time T": the
// intervals that contain t, oldest first. Empty means nobody recorded the
// camera then.
func (m *Machine) HoldersAt(camera nvrha.CameraID, t time.Time) []Interval {
	var out []Interval
	for _, iv := range m.ledger.cams[camera] {
		if iv.Contains(t) {
			out = append(out, iv)
		}
	}
	return out
}

func (l *ledger) export() []CameraLedger {
	out := make([]CameraLedger, 0, len(l.cams))
	for _, c := range slices.Sorted(maps.Keys(l.cams)) {
		out = append(out, CameraLedger{Camera: c, Intervals: slices.Clone(l.cams[c])})
	}
	return out
}
