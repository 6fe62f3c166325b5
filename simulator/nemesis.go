package simulator

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// NemesisConfig configures the nemesis: it plans faults from the world's
// seed alone, before the run (World.Plan), as a Poisson process per fault
// kind (at the rates of NemesisRates, times Rate), and, for a fault of a
// recording server, sometimes a fault that strikes the takeover it causes
// (the reactive kinds). It strikes only between Warmup and Duration -
// QuietTail, so that the run ends with a quiet stretch in which
// assignments must settle (invariant 7). Every side run in a world (nvrha,
// the baseline) faces the same plan.
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
// the chance that it strikes the takeover a fault of a recording server
// causes.
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
	return history.FaultKindsFlag(n.Enabled, n.Kinds)
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

// planStream is the second PCG word of the nemesis's own random source:
// every fault plan draws from rand.NewPCG(seed, planStream), apart from
// the world's, so that every side run in a world faces the same faults.
const planStream = 0x6e76726870616e31

// PlannedFault is one fault the nemesis planned from the seed alone, the
// same on every side run in the world (nvrha, the baseline, the oracle).
// A periodic fault is Action at At. A reactive one strikes a takeover: the
// first takeover of Recording that starts between At and Until, After
// later (or, for a center crash without HasAfter, right after the Machine
// persisted it, before its orders leave), with the placeholders "standby"
// and "recording" of Action's targets resolved to that takeover's pair; a
// side on which no such takeover starts skips it.
type PlannedFault struct {
	At        time.Duration  `json:"at"`
	Kind      FaultKind      `json:"kind"`
	Action    Action         `json:"action"`
	Reactive  bool           `json:"reactive,omitempty"`
	Until     time.Duration  `json:"until,omitempty"`
	After     time.Duration  `json:"after,omitempty"`
	HasAfter  bool           `json:"has_after,omitempty"`
	Recording nvrha.ServerID `json:"recording,omitempty"`
}

// String renders a planned fault in the scenario format's words.
func (p PlannedFault) String() string {
	if !p.Reactive {
		return fmt.Sprintf("at %v %s (%s)", p.At, p.Action.String(), p.Kind)
	}
	after := ""
	if p.HasAfter {
		after = " after " + p.After.String()
	}
	return fmt.Sprintf("from %v to %v on takeover-start %s%s %s (%s)", p.At, p.Until, p.Recording, after, p.Action.String(), p.Kind)
}

// Plan returns the faults the nemesis planned for this world, in time
// order: a function of the seed, the world's shape, its duration and the
// nemesis's configuration, and of nothing that happens in the run.
func (w *World) Plan() []PlannedFault { return slices.Clone(w.plan) }

// planHash is the FNV-64a hash of the plan's lines, for the report.
func planHash(plan []PlannedFault) string {
	h := uint64(fnvOffset)
	for _, p := range plan {
		for _, c := range []byte(p.String() + "\n") {
			h ^= uint64(c)
			h *= fnvPrime
		}
	}
	return strconv.FormatUint(h, 16)
}

// planner draws a world's fault plan from the seed. It knows the world's
// shape and the faults it planned, never the run: a server is free for a
// new fault when no fault it planned holds it.
type planner struct {
	rng      *rng
	cfg      NemesisConfig
	servers  []*history.ServerTruth // the world's servers as built, before any event
	periodic []NemesisRate
	reactive []NemesisRate
	stopAt   time.Duration
	now      time.Duration
	busy     []time.Duration // by server: no new fault before
	// pauseScale is nvrha's acceptable pause, by which pauses are sized
	// whichever detector a side runs.
	pauseScale time.Duration
	// centerBack is when the center is back from the last center crash
	// planned.
	centerBack time.Duration
	// centers and lease are the world's centers and their leader's lease.
	centers int
	lease   time.Duration
	// licenses are the license changes planned, for the license rule of
	// the next one.
	licenses []plannedLicense
	// kind is the kind being drawn, for the draw functions that draw
	// several.
	kind FaultKind
	plan []PlannedFault
}

type plannedLicense struct {
	server   int
	channels int
	from, to time.Duration
}

// planFaults draws the world's fault plan: every periodic kind as a
// Poisson process at its rate, in time order, between the warmup and the
// quiet tail; each fault of a recording server may be struck, when its
// takeover starts, by a reactive kind.
func (w *World) planFaults() []PlannedFault {
	cfg := w.cfg.Nemesis
	p := &planner{rng: &rng{r: rand.New(rand.NewPCG(w.cfg.Seed, planStream))}, cfg: cfg, servers: w.truths,
		stopAt: w.cfg.Duration - cfg.QuietTail, busy: make([]time.Duration, len(w.servers)), pauseScale: w.cfg.pauseScale,
		centers: w.cfg.Centers, lease: w.cfg.Center.Lease}
	scale := float64(len(w.servers)) / 16
	total := 0.0
	for _, f := range faultKinds {
		r := NemesisRate{Kind: f.kind, PerHour: f.perHour, Reactive: f.reactive}
		if !cfg.enabled(r.Kind) || f.centers > p.centers {
			continue
		}
		if r.Reactive > 0 {
			r.Reactive *= cfg.Rate
			total += r.Reactive
			p.reactive = append(p.reactive, r)
			continue
		}
		r.PerHour *= cfg.Rate
		if f.scaled {
			r.PerHour *= max(scale, 0.25)
		}
		if r.PerHour > 0 {
			p.periodic = append(p.periodic, r)
		}
	}
	// At high rates the reactive chances are scaled down together, so that
	// together they strike at most 80% of faults and every kind keeps its
	// share.
	if total > 0.8 {
		for i := range p.reactive {
			p.reactive[i].Reactive *= 0.8 / total
		}
	}
	next := make([]time.Duration, len(p.periodic))
	for k := range p.periodic {
		next[k] = p.next(k, cfg.Warmup)
	}
	for {
		k := -1
		for j, at := range next {
			if at < p.stopAt && (k < 0 || at < next[k]) {
				k = j
			}
		}
		if k < 0 {
			break
		}
		p.now = next[k]
		p.draw(p.periodic[k].Kind)
		next[k] = p.next(k, p.now)
	}
	slices.SortStableFunc(p.plan, func(a, b PlannedFault) int { return cmp.Compare(a.At, b.At) })
	return p.plan
}

func (p *planner) next(k int, from time.Duration) time.Duration {
	mean := time.Duration(float64(time.Hour) / p.periodic[k].PerHour)
	return from + p.rng.exp(mean)
}

// draw plans one fault of periodic kind k now, and the reactive fault that
// may strike its takeover.
func (p *planner) draw(k FaultKind) {
	p.kind = k
	a, targets := faultKindOf(k).draw(p)
	if a == nil {
		return
	}
	a.Fault = k
	for _, i := range targets {
		a.Targets = append(a.Targets, string(p.servers[i].ID))
	}
	if a.For > 0 {
		p.hold(targets, a.For)
	}
	p.plan = append(p.plan, PlannedFault{At: p.now, Kind: k, Action: *a})
	for _, i := range targets {
		if p.servers[i].Role == failover.RoleRecording {
			p.strike(i, *a)
			break
		}
	}
}

// strike may plan a reactive fault on the takeover of recording server rec
// that fault a may cause: armed from now until the fault ends (a flap: its
// last cycle) and 30 s more, at most until the quiet tail.
func (p *planner) strike(rec int, a Action) {
	if len(p.reactive) == 0 {
		return
	}
	u := p.rng.r.Float64()
	var r NemesisRate
	for _, x := range p.reactive {
		if u < x.Reactive {
			r = x
			break
		}
		u -= x.Reactive
	}
	if r.Kind == "" {
		return
	}
	lasts := a.For
	if a.Verb == "flap" {
		lasts = time.Duration(a.Times) * (a.Delay + a.Up)
	}
	pf := PlannedFault{At: p.now, Kind: r.Kind, Reactive: true, Recording: p.servers[rec].ID,
		Until: min(p.now+lasts+30*time.Second, p.stopAt), HasAfter: true}
	pf.After = p.rng.between(0, 2*time.Second)
	ra := faultKindOf(r.Kind).strike(p, rec, &pf)
	if ra == nil {
		return
	}
	ra.Fault = r.Kind
	pf.Action = *ra
	p.plan = append(p.plan, pf)
}

// free returns the servers no planned fault holds now, of a role (0 for
// any).
func (p *planner) free(role failover.Role) []int {
	var out []int
	for i, s := range p.servers {
		if (role == 0 || s.Role == role) && p.busy[i] <= p.now {
			out = append(out, i)
		}
	}
	return out
}

func (p *planner) pick(ids []int) int { return ids[p.rng.intn(len(ids))] }

// span draws a fault's length in [lo, hi], cut short at the quiet tail.
func (p *planner) span(lo, hi time.Duration) time.Duration {
	d := p.rng.between(lo, hi)
	if end := p.now + d; end > p.stopAt {
		d = max(p.stopAt-p.now, time.Millisecond)
	}
	return d
}

func (p *planner) hold(servers []int, d time.Duration) {
	for _, i := range servers {
		p.busy[i] = p.now + d + 2*time.Second
	}
}

// channels are server i's license channels now: its spec's, or those of a
// license change planned that holds now.
func (p *planner) channels(i int) int {
	ch := p.servers[i].Spec.Channels
	for _, l := range p.licenses {
		if l.server == i && l.from <= p.now && p.now < l.to {
			ch = l.channels
		}
	}
	return ch
}

// loadPlan schedules the plan's periodic faults and arms its reactive
// ones.
func (w *World) loadPlan() {
	for i := range w.plan {
		pf := &w.plan[i]
		if pf.Reactive {
			w.reactive = append(w.reactive, &trigger{Trigger: Trigger{On: "takeover-start", Recording: string(pf.Recording),
				After: pf.After, HasAfter: pf.HasAfter, Action: pf.Action}, from: pf.At, until: pf.Until})
			continue
		}
		a := pf.Action
		w.scheduleAction(pf.At, &a)
	}
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
