package simulator

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/scenario"
	"github.com/nvrha/nvrha/simulator/scenarios"
)

// The scenario file format is package scenario's; these are its names in
// this package, for code written against it.
type (
	Scenario      = scenario.Scenario
	Step          = scenario.Step
	Trigger       = scenario.Trigger
	Expect        = scenario.Expect
	ScenarioError = scenario.Error
)

// ErrScenario is wrapped by every error about a scenario file.
var ErrScenario = scenario.ErrInvalid

// ParseScenario parses scenario text (scenario.Parse).
func ParseScenario(r io.Reader) (*Scenario, error) { return scenario.Parse(r) }

// ParseScenarioFile parses a scenario file (scenario.ParseFile).
func ParseScenarioFile(path string) (*Scenario, error) { return scenario.ParseFile(path) }

// NoisyLANScenario returns the standard noisy-LAN scenario of the
// performance figures, scenarios/noisy-lan.nvrsim (scenarios.NoisyLAN).
func NoisyLANScenario() *Scenario { return scenarios.NoisyLAN() }

// ApplyScenario sets what the scenario's header says on c, and the
// scenario to run: the world, the network, the duration, the nemesis, the
// baseline, failback and server settings. Fields the header does not
// mention are left alone.
func (c *Config) ApplyScenario(s *Scenario) {
	c.Scenario = s
	if s.HasWorld {
		c.World, c.RandomWorld = s.World, false
	}
	if s.Net != nil {
		c.Net = *s.Net
	}
	if s.Duration > 0 {
		c.Duration = s.Duration
	}
	if s.Nemesis != nil {
		c.Nemesis = NemesisConfig{Enabled: s.Nemesis.Enabled, Kinds: s.Nemesis.Kinds, Rate: s.Nemesis.Rate}
	}
	if s.Baseline {
		c.Baseline = true
	}
	fb := &c.Center.Failover.Failback
	if s.Failback.Mode == "manual" {
		fb.Mode = failover.FailbackManual
	}
	if s.Failback.HoldDown > 0 {
		fb.HoldDown = s.Failback.HoldDown
	}
	if s.Failback.MaxHoldDown > 0 {
		fb.MaxHoldDown = s.Failback.MaxHoldDown
	}
	if s.Failback.FlapWindow > 0 {
		fb.FlapWindow = s.Failback.FlapWindow
	}
	if s.StreamStart > 0 {
		c.Servers.StreamStart = s.StreamStart
	}
	if s.AckWhenRecording {
		c.Servers.AckWhenRecording = true
	}
	if s.Platform == "arm64" {
		c.Center.Failover.Platform = nvrha.PlatformARM64
	}
	if s.Centers > 0 {
		c.Centers = s.Centers
	}
	if s.Lease > 0 {
		c.Center.Lease = s.Lease
	}
}

// trigger is a Trigger armed in a world: a scenario's, for the whole run,
// or a reactive fault of the nemesis's plan, from from to until.
type trigger struct {
	Trigger
	fired       bool
	from, until time.Duration
}

// expectation is an Expect being evaluated in a world.
type expectation struct {
	ex Expect
	Expectation
}

// loadScenario schedules the scenario's steps and arms its triggers.
func (w *World) loadScenario(s *Scenario) {
	for i := range s.Steps {
		st := s.Steps[i]
		a := st.Action
		w.scheduleAction(st.At, &a)
		if a.Verb == "expect-status" {
			w.expects = append(w.expects, &expectation{Expectation: Expectation{Line: a.Line,
				Text:   fmt.Sprintf("at %s expect status %s %q", st.At, a.Targets[0], a.Text),
				Detail: "not reached"}})
		}
	}
	for _, tr := range s.Triggers {
		w.triggers = append(w.triggers, &trigger{Trigger: tr})
	}
	for _, e := range s.Expects {
		w.expects = append(w.expects, &expectation{ex: e, Expectation: Expectation{Line: e.Line, Text: e.Text()}})
	}
}

// fireTriggers runs the triggers an event matches: the scenario's, then
// the plan's reactive faults that can strike now.
func (w *World) fireTriggers(e failover.Event) {
	for _, tr := range w.triggers {
		w.fireTrigger(tr, e)
	}
	if e.Kind != failover.EventTakeoverStarted || len(w.reactive)+len(w.armed) == 0 {
		return
	}
	for len(w.reactive) > 0 && w.reactive[0].from <= w.now {
		w.armed = append(w.armed, w.reactive[0])
		w.reactive = w.reactive[1:]
	}
	w.armed = slices.DeleteFunc(w.armed, func(tr *trigger) bool { return tr.fired || tr.until < w.now })
	for _, tr := range w.armed {
		w.fireTrigger(tr, e)
	}
}

// fireTrigger runs one trigger if the event matches it: its action, with
// the takeover's pair for its placeholders, After later, or a center crash
// (a leader's freeze) right after the Machine persisted the change and
// before its orders leave.
func (w *World) fireTrigger(tr *trigger, e failover.Event) {
	if tr.fired || scenario.TriggerEvent(tr.On) != e.Kind || tr.Recording != "" && tr.Recording != string(e.Server) {
		return
	}
	tr.fired = true
	a := tr.Action
	a.Targets = slices.Clone(a.Targets)
	for i, t := range a.Targets {
		switch t {
		case "standby":
			a.Targets[i] = string(e.Peer)
		case "recording":
			a.Targets[i] = string(e.Server)
		}
	}
	if a.Verb == "center-crash" && !tr.HasAfter {
		if a.Fault == "" && e.Kind == failover.EventTakeoverStarted {
			a.Fault = FaultCenterMidTakeover
			if w.c.cl != nil {
				a.Fault = FaultLeaderMidTakeover
			}
		}
		w.emitAction(&a, nil, w.faultOf(&a, nil))
		w.noteDisturbance(&a, nil)
		w.c.crashBeforeSend = true
		w.c.crashDowntime = a.For
		if a.For <= 0 {
			w.c.crashDowntime = 3 * time.Second
		}
		return
	}
	if a.Verb == "center-freeze" && !tr.HasAfter && w.c.cl != nil {
		w.emitAction(&a, nil, w.faultOf(&a, nil))
		w.noteDisturbance(&a, nil)
		w.c.freezeBeforeSend = a.For
		return
	}
	w.scheduleAction(w.now+tr.After, &a)
}

// expectStatus checks an "at <time> expect status" line now.
func (w *World) expectStatus(a *Action) {
	var ex *expectation
	for _, e := range w.expects {
		if e.Line == a.Line {
			ex = e
		}
	}
	if ex == nil {
		return
	}
	got := w.statusOf(nvrha.ServerID(a.Targets[0]))
	ex.OK = got == a.Text
	ex.Detail = fmt.Sprintf("status %q", got)
}

func (w *World) statusOf(id nvrha.ServerID) string {
	if !w.c.t.Up {
		return "(center down)"
	}
	for _, g := range w.c.m.Snapshot().Groups {
		for _, m := range g.Members {
			if m.ID == id {
				return m.Status()
			}
		}
	}
	return "(not a member)"
}

// judgeExpectations judges the expect lines at the end of the run, on
// what the run reports.
func (w *World) judgeExpectations() {
	if len(w.expects) == 0 {
		return
	}
	r := w.buildReport()
	for _, e := range w.expects {
		if e.ex.Kind == "" {
			continue // an "at ... expect status", judged at its time
		}
		e.OK, e.Detail = e.ex.Judge(r, w.statusOf)
	}
}
