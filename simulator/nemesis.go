package simulator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// NemesisConfig configures the nemesis: it draws faults from the world's
// seed, as a Poisson process per fault kind (at the rates of
// NemesisRates, times Rate), and, when a takeover starts, sometimes strikes
// the takeover itself (the reactive kinds). It strikes only between Warmup
// and Duration - QuietTail, so that the run ends with a quiet stretch in
// which assignments must settle (invariant 7).
type NemesisConfig struct {
	Enabled bool `json:"enabled"`
	// Kinds limits the faults drawn; empty means every kind.
	Kinds []FaultKind `json:"kinds,omitempty"`
	// Rate multiplies every rate (default 1).
	Rate float64 `json:"rate,omitempty"`
	// Warmup is the quiet start (default 10 s).
	Warmup time.Duration `json:"warmup,omitempty"`
	// QuietTail is the quiet end (default a fifth of the run, at most 15
	// minutes).
	QuietTail time.Duration `json:"quiet_tail,omitempty"`
}

// NemesisRate is the rate of one fault kind: PerHour faults per hour in a
// world of 16 servers (scaled by the world's size), or for a reactive kind
// the chance that it strikes a starting takeover.
type NemesisRate struct {
	Kind     FaultKind
	PerHour  float64
	Reactive float64
}

// NemesisRates returns the default rates, in a fixed order.
func NemesisRates() []NemesisRate {
	out := make([]NemesisRate, len(faultKinds))
	for i, f := range faultKinds {
		out[i] = NemesisRate{Kind: f.kind, PerHour: f.perHour, Reactive: f.reactive}
	}
	return out
}

// ParseFaults parses a -faults value: "none" (or "off"), "default" (or
// "all", "on"), or a comma-separated list of fault kinds.
func ParseFaults(s string) (NemesisConfig, error) {
	on, kinds, err := history.ParseFaultKinds(s)
	return NemesisConfig{Enabled: on, Kinds: kinds}, err
}

func (n NemesisConfig) flag() string {
	switch {
	case !n.Enabled:
		return "none"
	case len(n.Kinds) == 0:
		return "default"
	}
	parts := make([]string, len(n.Kinds))
	for i, k := range n.Kinds {
		parts[i] = string(k)
	}
	return strings.Join(parts, ",")
}

func (n NemesisConfig) withDefaults(d time.Duration) NemesisConfig {
	if n.Rate == 0 {
		n.Rate = 1
	}
	if n.Warmup == 0 {
		n.Warmup = 10 * time.Second
	}
	if n.QuietTail == 0 {
		n.QuietTail = min(d/5, 15*time.Minute)
	}
	return n
}

func (n NemesisConfig) validate() error {
	if n.Rate < 0 || n.Warmup < 0 || n.QuietTail < 0 {
		return fmt.Errorf("%w: negative nemesis setting", ErrInvalidConfig)
	}
	return nil
}

func (n NemesisConfig) enabled(k FaultKind) bool {
	return n.Enabled && (len(n.Kinds) == 0 || slices.Contains(n.Kinds, k))
}

// nemesis is the running fault generator of one world.
type nemesis struct {
	w        *World
	periodic []NemesisRate
	reactive []NemesisRate
	stopAt   time.Duration
	busy     []time.Duration // by server: no new fault before
	// kind is the kind being drawn, for the draw functions that draw
	// several.
	kind FaultKind
}

func newNemesis(w *World) *nemesis {
	cfg := w.cfg.Nemesis
	n := &nemesis{w: w, stopAt: w.cfg.Duration - cfg.QuietTail, busy: make([]time.Duration, len(w.servers))}
	scale := float64(len(w.servers)) / 16
	total := 0.0
	for _, f := range faultKinds {
		r := NemesisRate{Kind: f.kind, PerHour: f.perHour, Reactive: f.reactive}
		if !cfg.enabled(r.Kind) {
			continue
		}
		if r.Reactive > 0 {
			r.Reactive *= cfg.Rate
			total += r.Reactive
			n.reactive = append(n.reactive, r)
			continue
		}
		r.PerHour *= cfg.Rate
		if f.scaled {
			r.PerHour *= max(scale, 0.25)
		}
		if r.PerHour <= 0 {
			continue
		}
		n.periodic = append(n.periodic, r)
		n.next(len(n.periodic)-1, cfg.Warmup)
	}
	// At high rates the reactive chances are scaled down together, so that
	// together they strike at most 80% of takeovers and every kind keeps
	// its share.
	if total > 0.8 {
		for i := range n.reactive {
			n.reactive[i].Reactive *= 0.8 / total
		}
	}
	return n
}

func (n *nemesis) next(k int, from time.Duration) {
	mean := time.Duration(float64(time.Hour) / n.periodic[k].PerHour)
	at := from + n.w.rng.exp(mean)
	if at < n.stopAt {
		n.w.schedule(event{at: at, kind: evNemesis, a: k})
	}
}

// free returns the servers no fault holds now, of a role (0 for any).
func (n *nemesis) free(role failover.Role) []int {
	var out []int
	for i, s := range n.w.servers {
		if (role == 0 || s.t.Role == role) && n.busy[i] <= n.w.now && !s.t.Crashed && !s.t.Paused && !s.t.Abnormal &&
			n.w.links[i].cutIn == 0 && n.w.links[i].cutOut == 0 {
			out = append(out, i)
		}
	}
	return out
}

func (n *nemesis) pick(ids []int) int { return ids[n.w.rng.intn(len(ids))] }

// span draws a fault's length in [lo, hi], cut short at the quiet tail.
func (n *nemesis) span(lo, hi time.Duration) time.Duration {
	d := n.w.rng.between(lo, hi)
	if end := n.w.now + d; end > n.stopAt {
		d = max(n.stopAt-n.w.now, time.Millisecond)
	}
	return d
}

func (n *nemesis) hold(servers []int, d time.Duration) {
	for _, i := range servers {
		n.busy[i] = n.w.now + d + 2*time.Second
	}
}

func (n *nemesis) id(i int) string { return string(n.w.servers[i].t.ID) }

// fire draws one fault of periodic kind k, carries it out, and schedules
// the next.
func (n *nemesis) fire(k int) {
	w := n.w
	defer n.next(k, w.now)
	n.kind = n.periodic[k].Kind
	a, targets := faultKindOf(n.kind).draw(n)
	if a == nil {
		return
	}
	a.Fault = n.kind
	for _, i := range targets {
		a.Targets = append(a.Targets, n.id(i))
	}
	if a.For > 0 {
		n.hold(targets, a.For)
	}
	w.do(a)
}

// onTakeover may strike a takeover that just started: it draws whether
// and with which reactive kind, then that kind's fault.
func (n *nemesis) onTakeover(e failover.Event) {
	w := n.w
	if w.now >= n.stopAt || len(n.reactive) == 0 {
		return
	}
	u := w.rng.r.Float64()
	var r NemesisRate
	for _, x := range n.reactive {
		if u < x.Reactive {
			r = x
			break
		}
		u -= x.Reactive
	}
	if r.Kind == "" {
		return
	}
	rec, sb := w.byID[e.Server], w.byID[e.Peer]
	after := w.rng.between(0, 2*time.Second)
	a := faultKindOf(r.Kind).strike(n, rec, sb, &after)
	if a == nil {
		return
	}
	a.Fault = r.Kind
	w.scheduleAction(w.now+after, a)
}

// String describes the nemesis configuration.
func (n NemesisConfig) String() string {
	if !n.Enabled {
		return "off"
	}
	s := n.flag()
	if n.Rate != 0 && n.Rate != 1 {
		s += " x" + strconv.FormatFloat(n.Rate, 'g', -1, 64)
	}
	return s
}
