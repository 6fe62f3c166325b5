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
	return []NemesisRate{
		{Kind: FaultCrash, PerHour: 6},
		{Kind: FaultPauseShort, PerHour: 12},
		{Kind: FaultPauseLong, PerHour: 2},
		{Kind: FaultAbnormal, PerHour: 3},
		{Kind: FaultPartition, PerHour: 2},
		{Kind: FaultPartitionOneWay, PerHour: 2},
		{Kind: FaultPartitionMulti, PerHour: 1},
		{Kind: FaultLossBurst, PerHour: 2},
		{Kind: FaultDelayBurst, PerHour: 2},
		{Kind: FaultFillSpace, PerHour: 2},
		{Kind: FaultLicense, PerHour: 2},
		{Kind: FaultFlap, PerHour: 1},
		{Kind: FaultMultiFail, PerHour: 2},
		{Kind: FaultCenterCrash, PerHour: 1},
		{Kind: FaultStandbyMidTakeover, Reactive: 0.15},
		{Kind: FaultCenterMidTakeover, Reactive: 0.06},
		{Kind: FaultAdminDisable, Reactive: 0.06},
		{Kind: FaultAdminRemove, Reactive: 0.05},
		{Kind: FaultAdminDeleteGroup, Reactive: 0.05},
		{Kind: FaultAdminProtectionOff, Reactive: 0.05},
	}
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
}

func newNemesis(w *World) *nemesis {
	cfg := w.cfg.Nemesis
	n := &nemesis{w: w, stopAt: w.cfg.Duration - cfg.QuietTail, busy: make([]time.Duration, len(w.servers))}
	scale := float64(len(w.servers)) / 16
	total := 0.0
	for _, r := range NemesisRates() {
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
		switch r.Kind {
		case FaultCrash, FaultPauseShort, FaultPauseLong, FaultAbnormal, FaultPartition, FaultPartitionOneWay, FaultFillSpace, FaultLicense:
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

// fire draws one fault of periodic kind k and schedules the next.
func (n *nemesis) fire(k int) {
	w := n.w
	r := n.periodic[k]
	defer n.next(k, w.now)
	ap := w.cfg.pauseScale
	a := &Action{Fault: r.Kind}
	var targets []int
	switch r.Kind {
	case FaultCrash:
		free := n.free(0)
		if len(free) == 0 {
			return
		}
		targets = []int{n.pick(free)}
		a.Verb, a.For = "crash", n.span(5*time.Second, 3*time.Minute)
	case FaultPauseShort, FaultPauseLong:
		free := n.free(0)
		if len(free) == 0 {
			return
		}
		targets = []int{n.pick(free)}
		a.Verb = "pause"
		if r.Kind == FaultPauseShort {
			a.For = n.span(50*time.Millisecond, ap)
		} else {
			a.For = n.span(ap*3/2, ap+20*time.Second)
		}
	case FaultAbnormal:
		free := n.free(0)
		if len(free) == 0 {
			return
		}
		targets = []int{n.pick(free)}
		a.Verb, a.For = "abnormal", n.span(10*time.Second, 2*time.Minute)
		if w.rng.chance(0.5) {
			a.Mode = "recording" // degraded: it records until stood down
		}
	case FaultPartition, FaultPartitionOneWay, FaultPartitionMulti:
		free := n.free(0)
		if len(free) == 0 {
			return
		}
		targets = []int{n.pick(free)}
		if r.Kind == FaultPartitionMulti {
			for range 1 + w.rng.intn(3) {
				if c := n.pick(free); !slices.Contains(targets, c) {
					targets = append(targets, c)
				}
			}
			if len(targets) < 2 {
				return
			}
		}
		if r.Kind == FaultPartitionOneWay {
			a.Mode = []string{"in", "out"}[w.rng.intn(2)]
		}
		a.Verb, a.For = "partition", n.span(3*time.Second, time.Minute)
	case FaultLossBurst, FaultDelayBurst:
		a.For = n.span(2*time.Second, 20*time.Second)
		if r.Kind == FaultLossBurst {
			a.Verb, a.Amount = "loss", 0.3+0.6*w.rng.r.Float64()
		} else {
			a.Verb, a.Delay = "delay", w.rng.between(50*time.Millisecond, 800*time.Millisecond)
		}
		if w.rng.chance(0.5) {
			targets = []int{w.rng.intn(len(w.servers))}
		}
	case FaultFillSpace:
		free := n.free(failover.RoleStandby)
		if len(free) == 0 {
			return
		}
		targets = []int{n.pick(free)}
		a.Verb, a.For = "fill-space", n.span(20*time.Second, 3*time.Minute)
	case FaultLicense:
		free := n.free(0)
		if len(free) == 0 {
			return
		}
		i := n.pick(free)
		targets = []int{i}
		s := w.servers[i]
		top, low := 0, 1<<30
		for _, j := range s.t.Group.Servers {
			o := w.servers[j]
			if o.t.Role != s.t.Role {
				if o.t.Role == failover.RoleRecording {
					top = max(top, o.t.Facts.LicenseChannels)
				} else {
					low = min(low, o.t.Facts.LicenseChannels)
				}
			}
		}
		ch := s.t.Facts.LicenseChannels
		if s.t.Role == failover.RoleStandby {
			ch = max(1, top-8) // too few for the largest recording server
		} else if low < 1<<30 {
			ch = max(ch, low+8) // more than some standby has
		}
		a.Verb, a.Amount, a.For = "license", float64(ch), n.span(30*time.Second, 3*time.Minute)
	case FaultFlap:
		free := n.free(failover.RoleRecording)
		if len(free) == 0 {
			return
		}
		targets = []int{n.pick(free)}
		a.Verb, a.Times = "flap", 2+w.rng.intn(4)
		a.Delay, a.Up = w.rng.between(2*time.Second, 8*time.Second), w.rng.between(5*time.Second, 40*time.Second)
		total := time.Duration(a.Times) * (a.Delay + a.Up)
		if w.now+total > n.stopAt {
			return
		}
		n.hold(targets, total)
	case FaultMultiFail:
		free := n.free(failover.RoleRecording)
		if len(free) < 2 {
			return
		}
		want := 2 + w.rng.intn(3)
		for len(targets) < want && len(free) > 0 {
			j := w.rng.intn(len(free))
			targets = append(targets, free[j])
			free = slices.Delete(free, j, j+1)
		}
		a.Verb, a.For = "crash", n.span(10*time.Second, 2*time.Minute)
	case FaultCenterCrash:
		if !w.c.t.Up {
			return
		}
		a.Verb, a.For = "center-crash", w.rng.between(time.Second, 10*time.Second)
	default:
		return
	}
	for _, i := range targets {
		a.Targets = append(a.Targets, n.id(i))
	}
	if a.For > 0 {
		n.hold(targets, a.For)
	}
	w.do(a)
}

// onTakeover may strike a takeover that just started.
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
	ri, si := w.byID[e.Server], w.byID[e.Peer]
	after := w.rng.between(0, 2*time.Second)
	a := &Action{Fault: r.Kind}
	pair := []string{n.id(ri), n.id(si)}
	switch r.Kind {
	case FaultStandbyMidTakeover:
		after = w.rng.between(0, 300*time.Millisecond)
		a.Verb, a.Targets, a.For = "crash", []string{n.id(si)}, n.span(5*time.Second, time.Minute)
	case FaultCenterMidTakeover:
		d := w.rng.between(time.Second, 8*time.Second)
		if w.rng.chance(0.5) {
			w.emitAction(a, nil, w.faultOf(a, nil))
			w.noteDisturbance(&Action{Verb: "center-crash"}, nil)
			w.c.crashBeforeSend, w.c.crashDowntime = true, d
			return
		}
		after = w.rng.between(0, 500*time.Millisecond)
		a.Verb, a.For = "center-crash", d
	case FaultAdminDisable:
		a.Verb, a.Targets, a.For = "disable", []string{pair[w.rng.intn(2)]}, n.span(5*time.Second, time.Minute)
	case FaultAdminRemove:
		a.Verb, a.Targets, a.Mode, a.For = "remove", []string{pair[w.rng.intn(2)]}, "force", n.span(10*time.Second, time.Minute)
	case FaultAdminDeleteGroup:
		g := w.servers[ri].t.Group
		if g.Index == 1 {
			return
		}
		a.Verb, a.Targets, a.For = "delete-group", []string{groupRef(g.Index)}, n.span(10*time.Second, time.Minute)
	case FaultAdminProtectionOff:
		g := w.servers[ri].t.Group
		a.Verb, a.Targets, a.Mode, a.For = "protection", []string{groupRef(g.Index)}, "off", n.span(5*time.Second, time.Minute)
	}
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
