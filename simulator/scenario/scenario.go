package scenario

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// ErrInvalid is wrapped by every error about a scenario file.
var ErrInvalid = errors.New("simulator: bad scenario")

// Error is a scenario problem on one line.
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	f := e.File
	if f == "" {
		f = "scenario"
	}
	return fmt.Sprintf("%s:%d: %s", f, e.Line, e.Msg)
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// Scenario is a parsed scenario file: an optional world header, timed
// actions, triggers and expectations. The package documentation describes
// the format.
type Scenario struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration,omitempty"`
	// World is the header's world; HasWorld is false when the file has
	// none and the caller's world is used.
	World    history.WorldSpec  `json:"world"`
	HasWorld bool               `json:"has_world"`
	Net      *history.NetConfig `json:"net,omitempty"`
	Nemesis  *Nemesis           `json:"nemesis,omitempty"`
	Baseline bool               `json:"baseline,omitempty"`
	Failback Failback           `json:"failback"`

	StreamStart      time.Duration `json:"stream_start,omitempty"`
	AckWhenRecording bool          `json:"ack_when_recording,omitempty"`
	// Platform is "arm64" for an ARM64 center (8 servers per group), ""
	// for the default x86_64.
	Platform string `json:"platform,omitempty"`
	// Centers is how many centers stand by for each other (0: the
	// caller's), Lease their leader's lease (0: the default).
	Centers int           `json:"centers,omitempty"`
	Lease   time.Duration `json:"lease,omitempty"`

	Steps    []Step    `json:"steps"`
	Triggers []Trigger `json:"triggers,omitempty"`
	Expects  []Expect  `json:"expects,omitempty"`

	header []string // the world header lines, for String
}

// Nemesis is the header's nemesis line: random faults drawn from the seed,
// of the listed kinds (every kind when empty), at Rate times the default
// rates (1 when zero).
type Nemesis struct {
	Enabled bool                `json:"enabled"`
	Kinds   []history.FaultKind `json:"kinds,omitempty"`
	Rate    float64             `json:"rate,omitempty"`
}

// flag renders the kinds as a -faults value.
func (n Nemesis) flag() string {
	return history.FaultKindsFlag(n.Enabled, n.Kinds)
}

// Failback is the header's failback line; zero fields keep the caller's.
type Failback struct {
	Mode        string        `json:"mode,omitempty"` // "", "manual"
	HoldDown    time.Duration `json:"hold_down,omitempty"`
	MaxHoldDown time.Duration `json:"max_hold_down,omitempty"`
	FlapWindow  time.Duration `json:"flap_window,omitempty"`
}

// Step is an action at a simulated time.
type Step struct {
	At     time.Duration  `json:"at"`
	Action history.Action `json:"action"`
}

// Trigger runs an action when the Machine publishes an event On
// ("takeover-start", "takeover-confirm" or "failback-start") about
// Recording (any recording server when empty), After later; without After,
// a center-crash happens right after the Machine persisted the change and
// before its orders leave. The placeholders "standby" and "recording" in
// the action's targets name the takeover's pair. A trigger fires once.
type Trigger struct {
	Line      int            `json:"line"`
	On        string         `json:"on"`
	Recording string         `json:"recording,omitempty"`
	After     time.Duration  `json:"after,omitempty"`
	HasAfter  bool           `json:"has_after,omitempty"`
	Action    history.Action `json:"action"`
}

// Expect is an expectation checked when the run ends.
type Expect struct {
	Line int      `json:"line"`
	Kind string   `json:"kind"` // takeover, no-takeover, recovery, fault, refused, max-gap, status, no-false-takeover, settled, ...
	Args []string `json:"args,omitempty"`
}

// Text is the expect line as written.
func (e Expect) Text() string {
	text := "expect " + e.Kind
	if len(e.Args) > 0 {
		text += " " + strings.Join(e.Args, " ")
	}
	return text
}

// TriggerEvent maps a trigger's "on" word to the Machine event, or 0.
func TriggerEvent(on string) failover.EventKind {
	switch on {
	case "takeover-start":
		return failover.EventTakeoverStarted
	case "takeover-confirm":
		return failover.EventTakeoverSucceeded
	case "failback-start":
		return failover.EventFailbackStarted
	}
	return 0
}

// String renders the scenario in its file format: parsing the result
// gives the same scenario.
func (s *Scenario) String() string {
	var b strings.Builder
	if s.Name != "" {
		b.WriteString("name " + s.Name + "\n")
	}
	if s.Duration > 0 {
		b.WriteString("duration " + s.Duration.String() + "\n")
	}
	for _, h := range s.header {
		b.WriteString(h + "\n")
	}
	if s.Net != nil {
		switch n := *s.Net; n {
		case history.NoisyLAN():
			b.WriteString("net noisy\n")
		case history.QuietLAN():
			b.WriteString("net quiet\n")
		default:
			fmt.Fprintf(&b, "net latency %v jitter %v loss %g dup %g\n", n.Latency, n.Jitter, n.Loss, n.Duplicate)
		}
	}
	if s.Nemesis != nil {
		b.WriteString("nemesis " + s.Nemesis.flag())
		if s.Nemesis.Rate != 0 && s.Nemesis.Rate != 1 {
			b.WriteString(" rate " + strconv.FormatFloat(s.Nemesis.Rate, 'g', -1, 64))
		}
		b.WriteString("\n")
	}
	if s.Baseline {
		b.WriteString("baseline\n")
	}
	if fb := s.Failback; fb != (Failback{}) {
		b.WriteString("failback")
		if fb.Mode != "" {
			b.WriteString(" " + fb.Mode)
		}
		if fb.HoldDown > 0 {
			b.WriteString(" hold-down " + fb.HoldDown.String())
		}
		if fb.MaxHoldDown > 0 {
			b.WriteString(" max " + fb.MaxHoldDown.String())
		}
		if fb.FlapWindow > 0 {
			b.WriteString(" flap-window " + fb.FlapWindow.String())
		}
		b.WriteString("\n")
	}
	if s.StreamStart > 0 {
		b.WriteString("stream-start " + s.StreamStart.String() + "\n")
	}
	if s.AckWhenRecording {
		b.WriteString("ack-when-recording\n")
	}
	if s.Platform != "" {
		b.WriteString("platform " + s.Platform + "\n")
	}
	if s.Centers > 0 {
		b.WriteString("centers " + strconv.Itoa(s.Centers))
		if s.Lease > 0 {
			b.WriteString(" lease " + s.Lease.String())
		}
		b.WriteString("\n")
	}
	for _, st := range s.Steps {
		if st.Action.Verb == "expect-status" {
			fmt.Fprintf(&b, "at %v expect status %s %q\n", st.At, st.Action.Targets[0], st.Action.Text)
			continue
		}
		fmt.Fprintf(&b, "at %v %s\n", st.At, st.Action.String())
	}
	for _, tr := range s.Triggers {
		b.WriteString("on " + tr.On)
		if tr.Recording != "" {
			b.WriteString(" " + tr.Recording)
		}
		if tr.HasAfter {
			b.WriteString(" after " + tr.After.String())
		}
		b.WriteString(" " + tr.Action.String() + "\n")
	}
	for _, e := range s.Expects {
		b.WriteString(e.Text() + "\n")
	}
	return b.String()
}
