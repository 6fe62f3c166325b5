package history

import (
	"strconv"
	"strings"
	"time"
)

// Action is one step of a scenario, of the nemesis or of a trigger: a fault,
// the end of one, or an admin operation. Scenario files spell them as
// described in package scenario's documentation.
type Action struct {
	// Line is the scenario line it came from (0 for the nemesis).
	Line int `json:"line,omitempty"`
	// Verb is the action: crash, restart, pause, abnormal, recover,
	// partition, heal, loss, delay, fill-space, free-space, license, flap,
	// center-crash, center-restart, center-freeze, cut-store, heal-store, store-down,
	// store-up, disable, enable, remove, add, delete-group, add-group,
	// protection, failback, broken, mend, expect-status, and the internal
	// burst-end, license-restore and flap-cycle.
	Verb string `json:"verb"`
	// Targets are server IDs, group references (g1, g2, ...), center
	// references (c1, c2, ... or "leader") or, in a trigger, the
	// placeholders "standby" and "recording".
	Targets []string `json:"targets,omitempty"`
	// For is how long the fault lasts; zero means it is not undone.
	For time.Duration `json:"for,omitempty"`
	// Amount is a loss probability (loss) or license channels (license).
	Amount float64 `json:"amount,omitempty"`
	// Delay is the extra latency of a delay burst, a flap's down time, or
	// how late a broken server's answers are (broken ... late).
	Delay time.Duration `json:"delay,omitempty"`
	// Up is a flap's up time; Times its cycles.
	Up    time.Duration `json:"up,omitempty"`
	Times int           `json:"times,omitempty"`
	// Mode is "in" or "out" (one-way partition), "on" or "off"
	// (protection), "force" (remove), "recording" (abnormal, degraded), a
	// Hostility (broken), or a group reference (add ... to g2).
	Mode string `json:"mode,omitempty"`
	// Text is the expected status label of expect-status.
	Text string `json:"text,omitempty"`
	// Fault is the kind it counts as; empty derives it from the verb.
	Fault FaultKind `json:"fault,omitempty"`
	// Undo marks an action that ends an earlier one (the restart after a
	// crash, the next cycle of a flap): it counts as no new fault.
	Undo bool `json:"-"`
}

// String renders the action in scenario syntax (without "at").
func (a *Action) String() string {
	var b strings.Builder
	b.WriteString(a.Verb)
	switch a.Verb {
	case "loss":
		b.WriteString(" " + strconv.FormatFloat(a.Amount, 'g', -1, 64))
	case "delay":
		b.WriteString(" " + a.Delay.String())
	}
	if len(a.Targets) > 0 {
		b.WriteString(" " + strings.Join(a.Targets, ","))
	}
	switch a.Verb {
	case "license":
		b.WriteString(" " + strconv.Itoa(int(a.Amount)))
	case "flap":
		b.WriteString(" times " + strconv.Itoa(a.Times) + " down " + a.Delay.String() + " up " + a.Up.String())
	case "expect-status":
		b.WriteString(" " + strconv.Quote(a.Text))
	}
	switch {
	case a.Mode == "":
	case a.Verb == "add":
		b.WriteString(" to " + a.Mode)
	default:
		b.WriteString(" " + a.Mode)
	}
	if a.Verb == "broken" && a.Delay > 0 {
		b.WriteString(" " + a.Delay.String())
	}
	if a.For > 0 {
		b.WriteString(" for " + a.For.String())
	}
	return b.String()
}

// IsCenterVerb reports whether a verb's target is a center reference.
func IsCenterVerb(v string) bool {
	return v == "center-crash" || v == "center-restart" || v == "center-freeze" || v == "cut-store" || v == "heal-store"
}

// MaxCenters is the most centers a world can have.
const MaxCenters = 5

// LeaderRef is the center reference that means whichever center leads
// when the action is taken.
const LeaderRef = "leader"

// CenterRef returns the reference of center number i (from 1): "c1", ...
func CenterRef(i int) string { return "c" + strconv.Itoa(i) }

// CenterNumber returns the number of a center reference ("c2" is 2), 0
// for "leader", and false for anything else.
func CenterNumber(ref string) (int, bool) {
	if ref == LeaderRef {
		return 0, true
	}
	n, err := strconv.Atoi(strings.TrimPrefix(ref, "c"))
	if !strings.HasPrefix(ref, "c") || err != nil || n < 1 || n > MaxCenters {
		return 0, false
	}
	return n, true
}

// IsGroupVerb reports whether a verb's target is a group reference.
func IsGroupVerb(v string) bool {
	return v == "delete-group" || v == "add-group" || v == "protection"
}
