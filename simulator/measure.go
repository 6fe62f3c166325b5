package simulator

import (
	"slices"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/status"
)

// Incident is one outage of a recording server as the world caused it: from
// the first fault that hit it until its own cameras record on it again and
// no standby covers it. Overlapping faults are one incident. Times are
// offsets from the world's start; durations count from Start (detection,
// takeover) or End (failback).
type Incident struct {
	ID     int            `json:"id"`
	Server nvrha.ServerID `json:"server"`
	Group  string         `json:"group"`
	Faults []FaultKind    `json:"faults"`
	Start  time.Duration  `json:"start"`
	// End is when the last of its faults ended; Ended is false when one
	// never did.
	End   time.Duration `json:"end"`
	Ended bool          `json:"ended"`
	// Closed is when the incident was over (or the run ended).
	Closed time.Duration `json:"closed"`
	// LostFootage is set when the server's own footage stopped: a real
	// failure. Otherwise the server kept recording (a partition, a long
	// pause) and any takeover of it is a false takeover.
	LostFootage bool `json:"lost_footage"`

	Detected bool          `json:"detected"`
	Detect   time.Duration `json:"detect,omitempty"` // first ServerDown - Start
	// TakenOver: a standby confirmed a takeover; Takeover is when, from Start.
	TakenOver bool           `json:"taken_over"`
	Takeover  time.Duration  `json:"takeover,omitempty"`
	Standby   nvrha.ServerID `json:"standby,omitempty"`
	// FailedBack: the cameras went back; Failback is when, from End.
	FailedBack bool          `json:"failed_back"`
	Failback   time.Duration `json:"failback,omitempty"`
	// Unprotected: the Machine showed it "Abnormal, unprotected".
	Unprotected   bool `json:"unprotected"`
	FalseTakeover bool `json:"false_takeover"`
	Takeovers     int  `json:"takeovers"`
	Flaps         int  `json:"flaps"`

	Cameras int `json:"cameras"`
	// GapMax and GapMean are the footage lost per camera in the incident;
	// GapTotal is the camera-time lost.
	GapMax   time.Duration `json:"gap_max"`
	GapMean  time.Duration `json:"gap_mean"`
	GapTotal time.Duration `json:"gap_total"`

	camGap []time.Duration
	active int
	open   bool
}

// GapSample is one stretch of time when nobody recorded a camera.
type GapSample struct {
	Camera nvrha.CameraID `json:"camera"`
	Server nvrha.ServerID `json:"server"` // the recording server it belongs to
	From   time.Duration  `json:"from"`
	To     time.Duration  `json:"to"`
	Gap    time.Duration  `json:"gap"`
	// Incident is the incident it belongs to, 0 for none.
	Incident int `json:"incident,omitempty"`
	// Phase is "takeover" (during the outage), "failback" (after the
	// server recovered) or "other".
	Phase string `json:"phase"`
	// Open marks a gap still open when the run ended.
	Open bool `json:"open,omitempty"`
}

// Span is an interval of a timeline with a label.
type Span struct {
	From  time.Duration `json:"from"`
	To    time.Duration `json:"to"`
	Label string        `json:"label"`
}

// TakeoverSpan is one takeover as the Machine ran it.
type TakeoverSpan struct {
	Recording nvrha.ServerID `json:"recording"`
	Standby   nvrha.ServerID `json:"standby"`
	Epoch     nvrha.Epoch    `json:"epoch"`
	From      time.Duration  `json:"from"`
	// Confirmed is when the standby confirmed it, -1 if never.
	Confirmed time.Duration `json:"confirmed"`
	To        time.Duration `json:"to"`
	// Outcome is "failback", "failed: ...", "interrupted: ...",
	// "running" (at the end of the run).
	Outcome string `json:"outcome"`
}

// ServerTimeline is everything a per-server timeline shows.
type ServerTimeline struct {
	ID       nvrha.ServerID `json:"id"`
	Role     string         `json:"role"`
	Group    string         `json:"group"`
	Channels int            `json:"channels"`
	Cameras  int            `json:"cameras"`
	// Statuses are the Failover Statuses the Machine published.
	Statuses []Span `json:"statuses"`
	// Footage is the ground truth: "own" while it records its own
	// cameras, "covering rec-N" while it records a taken-over server's.
	Footage []Span `json:"footage"`
	// Faults are the faults that hit it, labelled by kind.
	Faults []Span `json:"faults"`
}

type measures struct {
	incidents []*Incident
	open      []*Incident // by server index
	last      []*Incident // by server index: the latest incident
	gapVals   []time.Duration
	gaps      []GapSample
	gapsCut   int
	lost      time.Duration

	timelines []ServerTimeline
	statusAt  []int // index+1 of the open status span, by server
	footAt    [][2]int
	faultOpen [][]int

	takeovers  []TakeoverSpan
	openTk     map[nvrha.ServerID]int // recording -> index+1 into takeovers
	centerDown []Span

	started, succeeded int
	falseTk, unexplain int
	flaps              int
	lastFailback       map[nvrha.ServerID]time.Duration
	failedStandby      map[nvrha.ServerID]nvrha.ServerID
	restored           map[nvrha.ServerID]bool
}

func newMeasures(w *World) *measures {
	m := &measures{
		open: make([]*Incident, len(w.servers)), last: make([]*Incident, len(w.servers)),
		statusAt: make([]int, len(w.servers)), footAt: make([][2]int, len(w.servers)),
		faultOpen: make([][]int, len(w.servers)), openTk: map[nvrha.ServerID]int{},
		lastFailback: map[nvrha.ServerID]time.Duration{}, failedStandby: map[nvrha.ServerID]nvrha.ServerID{},
		restored: map[nvrha.ServerID]bool{},
	}
	for _, s := range w.servers {
		m.timelines = append(m.timelines, ServerTimeline{
			ID: s.spec.ID, Role: s.role.String(), Group: groupRef(s.group.index),
			Channels: s.spec.Channels, Cameras: len(s.ownCams),
		})
	}
	return m
}

// faultStarts opens (or extends) an incident of server i.
func (m *measures) faultStarts(w *World, i int, k FaultKind) {
	tl := &m.timelines[i]
	tl.Faults = append(tl.Faults, Span{From: w.now, To: -1, Label: string(k)})
	m.faultOpen[i] = append(m.faultOpen[i], len(tl.Faults)-1)
	s := w.servers[i]
	if s.role != failover.RoleRecording {
		return
	}
	inc := m.open[i]
	if inc == nil {
		inc = &Incident{ID: len(m.incidents) + 1, Server: s.spec.ID, Group: groupRef(s.group.index), Start: w.now,
			Cameras: len(s.ownCams), camGap: make([]time.Duration, len(s.ownCams)), open: true}
		m.incidents = append(m.incidents, inc)
		m.open[i], m.last[i] = inc, inc
	}
	if !slices.Contains(inc.Faults, k) {
		inc.Faults = append(inc.Faults, k)
	}
	inc.active++
	inc.Ended = false
	if !s.own.on {
		inc.LostFootage = true
	}
}

// faultEnds ends the latest open fault of server i.
func (m *measures) faultEnds(w *World, i int) {
	if n := len(m.faultOpen[i]); n > 0 {
		m.timelines[i].Faults[m.faultOpen[i][n-1]].To = w.now
		m.faultOpen[i] = m.faultOpen[i][:n-1]
	}
	inc := m.open[i]
	if inc == nil {
		return
	}
	inc.active = max(0, inc.active-1)
	if inc.active == 0 {
		inc.Ended, inc.End = true, w.now
	}
}

// tick closes the incidents that are over: their faults ended, the server
// records its own cameras, and the Machine has no standby on it.
func (m *measures) tick(w *World) {
	for i, inc := range m.open {
		if inc == nil || inc.active > 0 {
			continue
		}
		s := w.servers[i]
		if !s.own.on || (w.c.up && m.openTk[s.spec.ID] != 0) || !w.c.up {
			continue
		}
		m.closeIncident(w, i, w.now)
	}
}

func (m *measures) closeIncident(w *World, i int, at time.Duration) {
	inc := m.open[i]
	m.open[i] = nil
	inc.open = false
	inc.Closed = at
	if !inc.Ended {
		inc.End = at
	}
	var sum time.Duration
	for _, g := range inc.camGap {
		sum += g
		inc.GapMax = max(inc.GapMax, g)
	}
	inc.GapTotal = sum
	if len(inc.camGap) > 0 {
		inc.GapMean = sum / time.Duration(len(inc.camGap))
	}
}

// gap records a stretch with no footage of camera c.
func (m *measures) gap(w *World, c int, from, to time.Duration, open bool) {
	d := to - from
	if d <= 0 {
		return
	}
	cs := &w.cams[c]
	owner := w.servers[cs.owner]
	m.lost += d
	m.gapVals = append(m.gapVals, d)
	g := GapSample{Camera: cs.id, Server: owner.spec.ID, From: from, To: to, Gap: d, Phase: "other", Open: open}
	if inc := m.last[cs.owner]; inc != nil && from >= inc.Start && (inc.open || from <= inc.Closed) {
		g.Incident = inc.ID
		g.Phase = "takeover"
		if inc.Ended && from >= inc.End {
			g.Phase = "failback"
		}
		if k := c - owner.ownCams[0]; k >= 0 && k < len(inc.camGap) {
			inc.camGap[k] += d
		}
		inc.LostFootage = true
	}
	if len(m.gaps) < w.cfg.MaxGapSamples {
		m.gaps = append(m.gaps, g)
	} else {
		m.gapsCut++
	}
}

// footageSpan keeps the ground-truth timeline of server s.
func (m *measures) footageSpan(w *World, s *Server, kind int, on bool) {
	tl := &m.timelines[s.idx]
	at := &m.footAt[s.idx][kind]
	if *at != 0 {
		tl.Footage[*at-1].To = w.now
		*at = 0
	}
	if on {
		label := "own"
		if kind == footCover {
			label = "covering " + string(s.cover.of)
		}
		tl.Footage = append(tl.Footage, Span{From: w.now, To: -1, Label: label})
		*at = len(tl.Footage)
	}
	if kind == footOwn && !on {
		if inc := m.open[s.idx]; inc != nil {
			inc.LostFootage = true
		}
	}
}

// event takes the measures of one Machine event.
func (m *measures) event(w *World, e failover.Event) {
	i, known := w.byID[e.Server]
	if !known {
		return
	}
	inc := m.open[i]
	switch e.Kind {
	case failover.EventStatusChanged:
		tl := &m.timelines[i]
		if at := m.statusAt[i]; at != 0 {
			tl.Statuses[at-1].To = w.now
		}
		tl.Statuses = append(tl.Statuses, Span{From: w.now, To: -1, Label: e.To})
		m.statusAt[i] = len(tl.Statuses)
		if e.To == status.RecordingAbnormalUnprotected.Label() && inc != nil && w.servers[i].down() && !inc.Unprotected && m.openTk[e.Server] == 0 {
			inc.Unprotected = true
			w.recoveries[RecoveryUnprotected]++
		}
	case failover.EventServerDown:
		if inc != nil && !inc.Detected {
			inc.Detected, inc.Detect = true, w.now-inc.Start
		}
	case failover.EventTakeoverStarted:
		m.started++
		m.takeovers = append(m.takeovers, TakeoverSpan{Recording: e.Server, Standby: e.Peer, Epoch: e.Epoch,
			From: w.now, Confirmed: -1, To: -1, Outcome: "running"})
		m.openTk[e.Server] = len(m.takeovers)
		r := w.servers[i]
		if inc != nil {
			inc.Takeovers++
		}
		if r.recordsAllOwn() && !r.abnormal {
			m.falseTk++
			if inc != nil {
				inc.FalseTakeover = true
			} else if w.now-w.calmSince(i) > w.chk.detect {
				m.unexplain++
			}
		}
		if t, ok := m.lastFailback[e.Server]; ok && w.now-t < w.cfg.Center.Failover.Failback.FlapWindow {
			m.flaps++
			if inc != nil {
				inc.Flaps++
			}
		}
		if sb := m.failedStandby[e.Server]; sb != "" && sb != e.Peer {
			w.recoveries[RecoveryNextStandby]++
			delete(m.failedStandby, e.Server)
		}
	case failover.EventTakeoverSucceeded:
		m.succeeded++
		w.recoveries[RecoveryTakeover]++
		if k := m.openTk[e.Server]; k != 0 {
			m.takeovers[k-1].Confirmed = w.now
			m.takeovers[k-1].Epoch = e.Epoch
		}
		if inc != nil && !inc.TakenOver {
			inc.TakenOver, inc.Takeover, inc.Standby = true, w.now-inc.Start, e.Peer
		}
		delete(m.failedStandby, e.Server)
		if m.restored[e.Server] {
			w.recoveries[RecoveryCenterRestart]++
			delete(m.restored, e.Server)
		}
	case failover.EventTakeoverFailed, failover.EventTakeoverInterrupted:
		m.endTakeover(w, e.Server, map[bool]string{true: "failed", false: "interrupted"}[e.Kind == failover.EventTakeoverFailed]+": "+e.Detail)
		if e.Kind == failover.EventTakeoverFailed {
			m.failedStandby[e.Server] = e.Peer
		} else {
			w.recoveries[RecoveryInterrupted]++
		}
		delete(m.restored, e.Server)
	case failover.EventFailbackCompleted:
		w.recoveries[RecoveryFailback]++
		m.endTakeover(w, e.Server, "failback")
		m.lastFailback[e.Server] = w.now
		if inc != nil && inc.Ended && !inc.FailedBack {
			inc.FailedBack, inc.Failback = true, w.now-inc.End
		}
		if m.restored[e.Server] {
			w.recoveries[RecoveryCenterRestart]++
			delete(m.restored, e.Server)
		}
	}
}

func (m *measures) endTakeover(w *World, rec nvrha.ServerID, outcome string) {
	if k := m.openTk[rec]; k != 0 {
		m.takeovers[k-1].To = w.now
		m.takeovers[k-1].Outcome = outcome
		delete(m.openTk, rec)
	}
}

func (m *measures) centerWentDown(at time.Duration) {
	m.centerDown = append(m.centerDown, Span{From: at, To: -1, Label: "center down"})
	for i, at := range m.statusAt {
		if at != 0 {
			m.timelines[i].Statuses[at-1].To = m.centerDown[len(m.centerDown)-1].From
			m.statusAt[i] = 0
		}
	}
}

// centerUp reconciles the takeover timeline with the restored State.
func (m *measures) centerUp(w *World, st failover.State) {
	if n := len(m.centerDown); n > 0 {
		m.centerDown[n-1].To = w.now
	}
	in := map[nvrha.ServerID]failover.TakeoverState{}
	for _, t := range st.Takeovers {
		in[t.Recording] = t
		m.restored[t.Recording] = true
	}
	for _, rec := range sortedKeys(m.openTk) {
		t, ok := in[rec]
		if !ok || t.Standby != m.takeovers[m.openTk[rec]-1].Standby {
			m.endTakeover(w, rec, "lost at center restart")
		}
	}
	for _, t := range st.Takeovers {
		if m.openTk[t.Recording] == 0 {
			m.takeovers = append(m.takeovers, TakeoverSpan{Recording: t.Recording, Standby: t.Standby, Epoch: t.Epoch,
				From: w.now, Confirmed: -1, To: -1, Outcome: "running"})
			m.openTk[t.Recording] = len(m.takeovers)
		}
	}
}

func sortedKeys[V any](mp map[nvrha.ServerID]V) []nvrha.ServerID {
	keys := make([]nvrha.ServerID, 0, len(mp))
	for k := range mp {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// close ends every open span, gap and incident at the end of the run.
func (m *measures) close(w *World) {
	end := w.now
	for c := range w.cams {
		if w.cams[c].n == 0 {
			m.gap(w, c, w.cams[c].gapFrom, end, true)
		}
	}
	for i := range m.open {
		if m.open[i] != nil {
			m.closeIncident(w, i, end)
		}
	}
	for i := range m.timelines {
		tl := &m.timelines[i]
		for k := range tl.Statuses {
			if tl.Statuses[k].To < 0 {
				tl.Statuses[k].To = end
			}
		}
		for k := range tl.Footage {
			if tl.Footage[k].To < 0 {
				tl.Footage[k].To = end
			}
		}
		for k := range tl.Faults {
			if tl.Faults[k].To < 0 {
				tl.Faults[k].To = end
			}
		}
	}
	for k := range m.takeovers {
		if m.takeovers[k].To < 0 {
			m.takeovers[k].To = end
		}
	}
	for k := range m.centerDown {
		if m.centerDown[k].To < 0 {
			m.centerDown[k].To = end
		}
	}
}
