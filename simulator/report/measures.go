package report

import (
	"errors"
	"slices"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/check"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/status"
)

// Incident is one outage of a recording server as the world caused it: from
// the first fault that hit it until its own cameras record on it again and
// no standby covers it. Overlapping faults are one incident. Times are
// offsets from the world's start; durations count from Start (detection,
// takeover) or End (failback).
type Incident struct {
	ID     int                 `json:"id"`
	Server nvrha.ServerID      `json:"server"`
	Group  string              `json:"group"`
	Faults []history.FaultKind `json:"faults"`
	Start  time.Duration       `json:"start"`
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
type TakeoverSpan = history.TakeoverSpan

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

// Measures is the observer that measures what failover costs in a run: the
// incidents, every camera's gaps, the timelines, the takeovers, the faults
// and recovery paths. It reads the world through its View and fills a
// Report (Fill).
type Measures struct {
	v    history.View
	set  *history.Settings
	srv  []*history.ServerTruth
	cams []history.Camera
	// detect is invariant 4's detection budget: a takeover of a server
	// calm for longer is unexplained.
	detect time.Duration
	byID   map[nvrha.ServerID]int
	// center is the center's state; now the time of the event measured.
	center *history.CenterTruth
	now    time.Duration

	// Every camera's ground truth: how many servers record it now, and
	// since when nobody does.
	recorders []int
	gapFrom   []time.Duration

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

	takeovers  history.Takeovers
	centerDown []Span

	started, succeeded int
	falseTk, unexplain int
	flaps              int
	lastFailback       map[nvrha.ServerID]time.Duration
	failedStandby      map[nvrha.ServerID]nvrha.ServerID
	restored           map[nvrha.ServerID]bool
	// resumed are the epochs a resume was sent under, by recording
	// server: a release under one is a failback's, not a fence-off.
	resumed map[epochKey]bool

	scarce scarcity

	faults     map[history.FaultKind]int
	recoveries map[history.Recovery]int
	refused    []Refusal
	admin      []AdminResult

	// cen takes the measures of several centers; nil with one.
	cen *centers
}

type epochKey struct {
	rec nvrha.ServerID
	e   nvrha.Epoch
}

// NewMeasures returns the measures of the world v shows, which begins with
// every recording server recording its own cameras.
func NewMeasures(v history.View) *Measures {
	srv := v.Servers()
	n := len(srv)
	m := &Measures{
		v: v, set: v.Settings(), srv: srv, cams: v.Cameras(), center: v.Center(),
		open: make([]*Incident, n), last: make([]*Incident, n),
		statusAt: make([]int, n), footAt: make([][2]int, n), faultOpen: make([][]int, n),
		lastFailback: map[nvrha.ServerID]time.Duration{}, failedStandby: map[nvrha.ServerID]nvrha.ServerID{},
		restored: map[nvrha.ServerID]bool{}, resumed: map[epochKey]bool{},
		faults: map[history.FaultKind]int{}, recoveries: map[history.Recovery]int{},
	}
	m.detect = check.BudgetsOf(m.set).Detect
	if m.set.Centers > 1 {
		m.cen = newCenters(m.set)
	}
	m.byID = make(map[nvrha.ServerID]int, n)
	for i, s := range srv {
		m.byID[s.ID] = i
	}
	m.recorders = make([]int, len(m.cams))
	m.gapFrom = make([]time.Duration, len(m.cams))
	for _, s := range srv {
		m.timelines = append(m.timelines, ServerTimeline{
			ID: s.ID, Role: s.Role.String(), Group: history.GroupRef(s.Group.Index),
			Channels: s.Spec.Channels, Cameras: len(s.OwnCams),
		})
	}
	return m
}

// Wants tells the world which events the measures take.
func (m *Measures) Wants(k history.Kind) bool {
	switch k {
	case history.FootageChanged, history.FaultStarted, history.FaultEnded, history.MachineEvent, history.Tick,
		history.CenterCrash, history.CenterRestarted, history.ActionTaken, history.CommandSent, history.Delivered,
		history.Admin, history.Refused, history.Removed, history.Finish:
		return true
	}
	return false
}

// Observe takes the measures of one event.
func (m *Measures) Observe(e *history.Event) {
	m.now = e.At
	switch e.Kind {
	case history.FootageChanged:
		m.footage(e)
	case history.FaultStarted:
		m.faultStarts(e.Server, e.Fault)
	case history.FaultEnded:
		m.faultEnds(e.Server)
	case history.MachineEvent:
		m.machineEvent(e.MachineEvent)
	case history.Tick:
		m.tick()
	case history.CenterCrash:
		m.centerWentDown()
	case history.CenterRestarted:
		m.centerUp(e.State)
	case history.ActionTaken:
		if e.Fault != "" {
			m.faults[e.Fault]++
		}
	case history.CommandSent:
		if e.Known && !e.Malformed && e.Command.Kind == failover.CmdResume {
			m.resumed[epochKey{e.Command.Server, e.Command.Epoch}] = true
		}
	case history.Delivered:
		m.delivered(e)
	case history.Admin:
		r := AdminResult{At: m.now, Op: e.Op}
		if e.Err != nil {
			r.Err = e.Err.Error()
		}
		m.admin = append(m.admin, r)
	case history.Refused:
		m.refused = append(m.refused, Refusal{At: m.now, Server: m.srv[e.Server].ID,
			Group: history.GroupRef(e.Group + 1), Role: e.Role.String(), Reasons: e.Reasons})
	case history.Removed:
		if e.InTakeover && errors.Is(e.Err, failover.ErrInTakeover) {
			m.recoveries[history.RecoveryRemoveRefused]++
		}
	case history.Finish:
		m.close()
	}
	if m.cen != nil {
		m.cen.observe(m, e)
	}
}

// delivered counts the recovery paths a server's answer shows: a fenced-off
// standby released, an abnormal recording server stood down.
func (m *Measures) delivered(e *history.Event) {
	if e.Result.Err != nil {
		return
	}
	cmd := e.Command
	switch cmd.Kind {
	case failover.CmdRelease:
		if !m.resumed[epochKey{cmd.Recording, cmd.Epoch}] && e.Before.Covering == cmd.Recording {
			m.recoveries[history.RecoveryFenceOff]++
		}
	case failover.CmdStandDown:
		if !e.Before.StoodDown {
			m.recoveries[history.RecoveryStandDown]++
		}
	}
}

// footage follows a server's footage starting or stopping: every camera's
// count of recorders, the gaps it leaves, the server's footage timeline.
func (m *Measures) footage(e *history.Event) {
	now := m.now
	for _, c := range e.Cams {
		if e.On {
			if m.recorders[c] == 0 {
				m.gap(c, m.gapFrom[c], now, false)
			}
			m.recorders[c]++
		} else {
			m.recorders[c]--
			if m.recorders[c] == 0 {
				m.gapFrom[c] = now
			}
		}
	}
	kind := 0
	if e.Cover {
		kind = 1
	}
	m.footageSpan(e.Server, kind, e.On, e.Of)
}

// footageSpan keeps the ground-truth timeline of server i.
func (m *Measures) footageSpan(i, kind int, on bool, of nvrha.ServerID) {
	now := m.now
	tl := &m.timelines[i]
	at := &m.footAt[i][kind]
	if *at != 0 {
		tl.Footage[*at-1].To = now
		*at = 0
	}
	if on {
		label := "own"
		if kind == 1 {
			label = "covering " + string(of)
		}
		tl.Footage = append(tl.Footage, Span{From: now, To: -1, Label: label})
		*at = len(tl.Footage)
	}
	if kind == 0 && !on {
		if inc := m.open[i]; inc != nil {
			inc.LostFootage = true
		}
	}
}

// faultStarts opens (or extends) an incident of server i.
func (m *Measures) faultStarts(i int, k history.FaultKind) {
	now := m.now
	tl := &m.timelines[i]
	tl.Faults = append(tl.Faults, Span{From: now, To: -1, Label: string(k)})
	m.faultOpen[i] = append(m.faultOpen[i], len(tl.Faults)-1)
	s := m.srv[i]
	if s.Role != failover.RoleRecording {
		return
	}
	inc := m.open[i]
	if inc == nil {
		inc = &Incident{ID: len(m.incidents) + 1, Server: s.ID, Group: history.GroupRef(s.Group.Index), Start: now,
			Cameras: len(s.OwnCams), camGap: make([]time.Duration, len(s.OwnCams)), open: true}
		m.incidents = append(m.incidents, inc)
		m.open[i], m.last[i] = inc, inc
	}
	if !slices.Contains(inc.Faults, k) {
		inc.Faults = append(inc.Faults, k)
	}
	inc.active++
	inc.Ended = false
	if !s.Own.On {
		inc.LostFootage = true
	}
}

// faultEnds ends the latest open fault of server i.
func (m *Measures) faultEnds(i int) {
	now := m.now
	if n := len(m.faultOpen[i]); n > 0 {
		m.timelines[i].Faults[m.faultOpen[i][n-1]].To = now
		m.faultOpen[i] = m.faultOpen[i][:n-1]
	}
	inc := m.open[i]
	if inc == nil {
		return
	}
	inc.active = max(0, inc.active-1)
	if inc.active == 0 {
		inc.Ended, inc.End = true, now
	}
}

// tick closes the incidents that are over: their faults ended, the server
// records its own cameras, and the Machine has no standby on it.
func (m *Measures) tick() {
	m.scarcityTick()
	up := m.center.Up
	for i, inc := range m.open {
		if inc == nil || inc.active > 0 {
			continue
		}
		s := m.srv[i]
		if _, running := m.takeovers.Running(s.ID); !s.Own.On || !up || running {
			continue
		}
		m.closeIncident(i, m.now)
	}
}

func (m *Measures) closeIncident(i int, at time.Duration) {
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
func (m *Measures) gap(c int, from, to time.Duration, open bool) {
	d := to - from
	if d <= 0 {
		return
	}
	cam := m.cams[c]
	owner := m.srv[cam.Owner]
	m.lost += d
	m.gapVals = append(m.gapVals, d)
	g := GapSample{Camera: cam.ID, Server: owner.ID, From: from, To: to, Gap: d, Phase: "other", Open: open}
	if inc := m.last[cam.Owner]; inc != nil && from >= inc.Start && (inc.open || from <= inc.Closed) {
		g.Incident = inc.ID
		g.Phase = "takeover"
		if inc.Ended && from >= inc.End {
			g.Phase = "failback"
		}
		if k := c - owner.OwnCams[0]; k >= 0 && k < len(inc.camGap) {
			inc.camGap[k] += d
		}
		inc.LostFootage = true
	}
	if len(m.gaps) < m.set.MaxGapSamples {
		m.gaps = append(m.gaps, g)
	} else {
		m.gapsCut++
	}
}

// machineEvent takes the measures of one Machine event.
func (m *Measures) machineEvent(e *failover.Event) {
	i, known := m.byID[e.Server]
	if !known {
		return
	}
	inc := m.open[i]
	switch e.Kind {
	case failover.EventStatusChanged:
		m.statusChanged(i, e, inc)
	case failover.EventServerDown:
		if inc != nil && !inc.Detected {
			inc.Detected, inc.Detect = true, m.now-inc.Start
		}
	case failover.EventTakeoverStarted:
		m.takeoverStarted(i, e, inc)
	case failover.EventTakeoverSucceeded:
		m.takeoverSucceeded(e, inc)
	case failover.EventTakeoverFailed, failover.EventTakeoverInterrupted:
		m.takeovers.Event(e, m.now)
		if e.Kind == failover.EventTakeoverFailed {
			m.failedStandby[e.Server] = e.Peer
		} else {
			m.recoveries[history.RecoveryInterrupted]++
		}
		delete(m.restored, e.Server)
	case failover.EventFailbackCompleted:
		m.failbackCompleted(e, inc)
	}
}

// statusChanged extends server i's status timeline; a failed recording
// server shown "Abnormal, unprotected" while no takeover runs is an
// unprotected incident.
func (m *Measures) statusChanged(i int, e *failover.Event, inc *Incident) {
	now := m.now
	tl := &m.timelines[i]
	if at := m.statusAt[i]; at != 0 {
		tl.Statuses[at-1].To = now
	}
	tl.Statuses = append(tl.Statuses, Span{From: now, To: -1, Label: e.To})
	m.statusAt[i] = len(tl.Statuses)
	_, running := m.takeovers.Running(e.Server)
	if e.To == status.RecordingAbnormalUnprotected.Label() && inc != nil && m.srv[i].Down() && !inc.Unprotected && !running {
		inc.Unprotected = true
		m.recoveries[history.RecoveryUnprotected]++
	}
}

// takeoverStarted counts a takeover, a false one (of a server that
// records all its cameras), a flap (within the flap window of its last
// failback), and the next standby tried after one failed.
func (m *Measures) takeoverStarted(i int, e *failover.Event, inc *Incident) {
	now := m.now
	m.started++
	m.takeovers.Event(e, now)
	r := m.srv[i]
	if inc != nil {
		inc.Takeovers++
	}
	if r.Own.On && !r.Abnormal {
		m.falseTk++
		if inc != nil {
			inc.FalseTakeover = true
		} else if now-m.v.CalmSince(i) > m.detect {
			m.unexplain++
		}
	}
	if t, ok := m.lastFailback[e.Server]; ok && now-t < m.set.Failover.Failback.FlapWindow {
		m.flaps++
		if inc != nil {
			inc.Flaps++
		}
	}
	if sb := m.failedStandby[e.Server]; sb != "" && sb != e.Peer {
		m.recoveries[history.RecoveryNextStandby]++
		delete(m.failedStandby, e.Server)
	}
}

func (m *Measures) takeoverSucceeded(e *failover.Event, inc *Incident) {
	m.succeeded++
	m.recoveries[history.RecoveryTakeover]++
	m.takeovers.Event(e, m.now)
	if inc != nil && !inc.TakenOver {
		inc.TakenOver, inc.Takeover, inc.Standby = true, m.now-inc.Start, e.Peer
	}
	delete(m.failedStandby, e.Server)
	if m.restored[e.Server] {
		m.recoveries[history.RecoveryCenterRestart]++
		delete(m.restored, e.Server)
	}
}

func (m *Measures) failbackCompleted(e *failover.Event, inc *Incident) {
	now := m.now
	m.recoveries[history.RecoveryFailback]++
	m.takeovers.Event(e, now)
	m.lastFailback[e.Server] = now
	if inc != nil && inc.Ended && !inc.FailedBack {
		inc.FailedBack, inc.Failback = true, now-inc.End
	}
	if m.restored[e.Server] {
		m.recoveries[history.RecoveryCenterRestart]++
		delete(m.restored, e.Server)
	}
}

// centerWentDown opens a center outage and ends every status span.
func (m *Measures) centerWentDown() {
	now := m.now
	m.centerDown = append(m.centerDown, Span{From: now, To: -1, Label: "center down"})
	for i, at := range m.statusAt {
		if at != 0 {
			m.timelines[i].Statuses[at-1].To = now
			m.statusAt[i] = 0
		}
	}
}

// centerUp ends the outage and reconciles the takeovers with the
// restored State.
func (m *Measures) centerUp(st *failover.State) {
	if n := len(m.centerDown); n > 0 {
		m.centerDown[n-1].To = m.now
	}
	for _, t := range st.Takeovers {
		m.restored[t.Recording] = true
	}
	m.takeovers.Restored(st, m.now)
}

// close ends every open span, gap and incident at the end of the run.
func (m *Measures) close() {
	end := m.now
	for c := range m.cams {
		if m.recorders[c] == 0 {
			m.gap(c, m.gapFrom[c], end, true)
		}
	}
	for i := range m.open {
		if m.open[i] != nil {
			m.closeIncident(i, end)
		}
	}
	for i := range m.timelines {
		tl := &m.timelines[i]
		closeSpans(tl.Statuses, end)
		closeSpans(tl.Footage, end)
		closeSpans(tl.Faults, end)
	}
	m.takeovers.Close(end)
	closeSpans(m.centerDown, end)
}

func closeSpans(spans []Span, end time.Duration) {
	for k := range spans {
		if spans[k].To < 0 {
			spans[k].To = end
		}
	}
}

var _ history.Selective = (*Measures)(nil)

// Fill sets what the measures hold on r: the incidents and their
// statistics, the takeovers, gaps, timelines, fault and recovery counts,
// admin operations and refusals, and the availability. Before the run is
// over (finished false) gaps still open count up to now.
func (m *Measures) Fill(r *Report, finished bool) {
	r.TakeoversStarted, r.TakeoversConfirmed = m.started, m.succeeded
	r.FalseTakeovers, r.UnexplainedFalseTakeovers, r.Flaps = m.falseTk, m.unexplain, m.flaps
	r.FootageLost = m.lost
	r.Scarcity = m.scarce.Scarcity
	r.Faults, r.Recoveries = map[history.FaultKind]int{}, map[history.Recovery]int{}
	for k, v := range m.faults {
		r.Faults[k] = v
	}
	for k, v := range m.recoveries {
		r.Recoveries[k] = v
	}
	r.Refused, r.Admin = m.refused, m.admin
	r.Servers, r.TakeoverSpans, r.CenterDown = m.timelines, m.takeovers.Spans, m.centerDown
	r.GapSamples, r.GapSamplesDropped = m.gaps, m.gapsCut
	var detect, take, gap, fb []time.Duration
	for _, inc := range m.incidents {
		r.Incidents = append(r.Incidents, *inc)
		if inc.FailedBack {
			fb = append(fb, inc.Failback)
		}
		if !inc.LostFootage {
			continue
		}
		if inc.Detected {
			detect = append(detect, inc.Detect)
		}
		if inc.TakenOver {
			take = append(take, inc.Takeover)
		}
		if !inc.open {
			gap = append(gap, inc.camGap...)
		}
	}
	r.Detect, r.Takeover, r.GapPerCamera, r.Failback = StatsOf(detect), StatsOf(take), StatsOf(gap), StatsOf(fb)
	r.Gaps = StatsOf(m.gapVals)
	if m.cen != nil {
		m.cen.fill(r, m.center)
	}
	now := m.v.Now()
	if total := time.Duration(len(m.cams)) * now; total > 0 {
		lost := m.lost
		if !finished {
			for c := range m.cams {
				if m.recorders[c] == 0 {
					lost += now - m.gapFrom[c]
				}
			}
		}
		r.Availability = 1 - float64(lost)/float64(total)
	}
}
