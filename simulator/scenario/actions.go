package scenario

import (
	"strconv"
	"strings"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// parseAt reads "at <time> <action>" and "at <time> expect status <server>
// "<label>"".
func parseAt(p *parser, t []string) error {
	at, err := p.dur(t, 1)
	if err != nil {
		return err
	}
	if len(t) >= 3 && t[2] == "expect" {
		if len(t) != 6 || t[3] != "status" {
			return p.errf(`want: at <time> expect status <server> "<label>"`)
		}
		label, err := unquote(t[5])
		if err != nil {
			return p.errf("%v", err)
		}
		p.s.Steps = append(p.s.Steps, Step{At: at, Action: history.Action{Line: p.line, Verb: "expect-status", Targets: []string{t[4]}, Text: label}})
		return nil
	}
	a, err := p.action(t[2:])
	if err != nil {
		return err
	}
	p.s.Steps = append(p.s.Steps, Step{At: at, Action: a})
	return nil
}

// parseOn reads "on <event> [<recording>] [after <time>] <action>".
func parseOn(p *parser, t []string) error {
	if len(t) < 3 || TriggerEvent(t[1]) == 0 {
		return p.errf("want: on takeover-start|takeover-confirm|failback-start [<recording>] [after <time>] <action>")
	}
	tr := Trigger{Line: p.line, On: t[1]}
	rest := t[2:]
	if len(rest) > 0 && actions[rest[0]] == nil && rest[0] != "after" {
		tr.Recording = rest[0]
		rest = rest[1:]
	}
	if len(rest) >= 2 && rest[0] == "after" {
		d, err := time.ParseDuration(rest[1])
		if err != nil || d < 0 {
			return p.errf("bad duration %q", rest[1])
		}
		tr.After, tr.HasAfter = d, true
		rest = rest[2:]
	}
	a, err := p.action(rest)
	if err != nil {
		return err
	}
	tr.Action = a
	p.s.Triggers = append(p.s.Triggers, tr)
	return nil
}

// actions are the verbs of "at" and "on" lines: one function each, given
// the action with its verb and "for" already read, and the other
// arguments.
var actions = map[string]func(p *parser, a *history.Action, rest []string) error{
	"crash":         parseServers,
	"restart":       parseServers,
	"recover":       parseServers,
	"fill-space":    parseServers,
	"free-space":    parseServers,
	"disable":       parseServers,
	"enable":        parseServers,
	"failback":      parseServers,
	"abnormal":      parseAbnormal,
	"pause":         parsePause,
	"partition":     parsePartition,
	"heal":          parsePartition,
	"loss":          parseBurst,
	"delay":         parseBurst,
	"license":       parseLicense,
	"flap":          parseFlap,
	"center-crash":  parseCenterVerb,
	"center-freeze": parseCenterVerb,
	"cut-store":     parseCenterVerb,
	"heal-store":    parseCenterVerb,
	"store-down":    parseStoreVerb,
	"store-up":      parseStoreVerb,
	"remove":        parseRemove,
	"add":           parseAdd,
	"delete-group":  parseGroupVerb,
	"add-group":     parseGroupVerb,
	"protection":    parseProtection,
	"broken":        parseBroken,
	"mend":          parseServers,
}

// action parses "<verb> <args...> [for <time>]".
func (p *parser) action(t []string) (history.Action, error) {
	if len(t) == 0 {
		return history.Action{}, p.errf("missing action")
	}
	a := history.Action{Line: p.line, Verb: t[0]}
	parse := actions[a.Verb]
	if parse == nil {
		return a, p.errf("unknown action %q", a.Verb)
	}
	rest := t[1:]
	if n := len(rest); n >= 2 && rest[n-2] == "for" {
		d, err := time.ParseDuration(rest[n-1])
		if err != nil || d <= 0 {
			return a, p.errf("bad duration %q", rest[n-1])
		}
		a.For = d
		rest = rest[:n-2]
	}
	return a, parse(p, &a, rest)
}

// targets sets the action's servers from a comma-separated list.
func (p *parser) targets(a *history.Action, r []string) error {
	if len(r) == 0 {
		return p.errf("%s needs a target", a.Verb)
	}
	a.Targets = strings.Split(r[0], ",")
	return nil
}

// parseServers reads the verbs that take servers and nothing else.
func parseServers(p *parser, a *history.Action, rest []string) error {
	if len(rest) != 1 {
		return p.errf("want: %s <servers>%s", a.Verb, forHint(a.Verb))
	}
	return p.targets(a, rest)
}

func forHint(v string) string {
	switch v {
	case "crash", "abnormal", "fill-space", "disable", "partition":
		return " [for <time>]"
	}
	return ""
}

func parseAbnormal(p *parser, a *history.Action, rest []string) error {
	if len(rest) == 2 && rest[1] == "recording" {
		a.Mode, rest = "recording", rest[:1]
	}
	if len(rest) != 1 {
		return p.errf("want: abnormal <servers> [recording] [for <time>]")
	}
	return p.targets(a, rest)
}

func parsePause(p *parser, a *history.Action, rest []string) error {
	if len(rest) != 1 || a.For <= 0 {
		return p.errf("want: pause <servers> for <time>")
	}
	return p.targets(a, rest)
}

func parsePartition(p *parser, a *history.Action, rest []string) error {
	if len(rest) < 1 || len(rest) > 2 {
		return p.errf("want: %s <servers> [in|out]%s", a.Verb, forHint(a.Verb))
	}
	if len(rest) == 2 {
		if rest[1] != "in" && rest[1] != "out" {
			return p.errf(`direction must be "in" (center to server) or "out" (server to center)`)
		}
		a.Mode = rest[1]
	}
	return p.targets(a, rest)
}

// parseBurst reads "loss <p> [<servers>] for <t>" and "delay <t>
// [<servers>] for <t>".
func parseBurst(p *parser, a *history.Action, rest []string) error {
	if len(rest) < 1 || len(rest) > 2 || a.For <= 0 {
		return p.errf("want: %s <amount> [<servers>] for <time>", a.Verb)
	}
	if a.Verb == "loss" {
		v, err := strconv.ParseFloat(rest[0], 64)
		if err != nil || v <= 0 || v > 1 {
			return p.errf("bad loss probability %q", rest[0])
		}
		a.Amount = v
	} else {
		d, err := time.ParseDuration(rest[0])
		if err != nil || d <= 0 {
			return p.errf("bad delay %q", rest[0])
		}
		a.Delay = d
	}
	if len(rest) == 2 {
		return p.targets(a, rest[1:])
	}
	return nil
}

func parseLicense(p *parser, a *history.Action, rest []string) error {
	if len(rest) != 2 {
		return p.errf("want: license <server> <channels> [for <time>]")
	}
	n, err := strconv.Atoi(rest[1])
	if err != nil || n < 0 || n > nvrha.MaxLicenseChannels {
		return p.errf("bad channels %q", rest[1])
	}
	a.Amount = float64(n)
	return p.targets(a, rest)
}

func parseFlap(p *parser, a *history.Action, rest []string) error {
	if len(rest) != 7 || rest[1] != "times" || rest[3] != "down" || rest[5] != "up" {
		return p.errf("want: flap <server> times <n> down <time> up <time>")
	}
	n, err := strconv.Atoi(rest[2])
	d1, err1 := time.ParseDuration(rest[4])
	d2, err2 := time.ParseDuration(rest[6])
	if err != nil || err1 != nil || err2 != nil || n < 1 || n > 100 || d1 <= 0 || d2 <= 0 {
		return p.errf("bad flap numbers")
	}
	a.Times, a.Delay, a.Up = n, d1, d2
	return p.targets(a, rest)
}

// parseCenterVerb reads "center-crash [<center>]", "center-freeze
// [<center>] for <t>", "cut-store [<center>]" and "heal-store
// [<center>]": a center is c1, c2, ... or "leader", whichever leads when
// the action is taken (the default).
func parseCenterVerb(p *parser, a *history.Action, rest []string) error {
	switch {
	case a.Verb == "center-freeze" && (len(rest) > 1 || a.For <= 0):
		return p.errf("want: center-freeze [c<n>|leader] for <time>")
	case len(rest) > 1:
		return p.errf("want: %s [c<n>|leader] [for <time>]", a.Verb)
	}
	if len(rest) == 1 {
		if _, ok := history.CenterNumber(rest[0]); !ok {
			return p.errf("%s: %q is no center (c1 to c%d, or leader)", a.Verb, rest[0], history.MaxCenters)
		}
		a.Targets = []string{rest[0]}
	}
	return nil
}

// parseStoreVerb reads "store-down" and "store-up", which take no target.
func parseStoreVerb(p *parser, a *history.Action, rest []string) error {
	if len(rest) != 0 {
		if a.Verb == "store-down" {
			return p.errf("want: store-down [for <time>]")
		}
		return p.errf("want: %s", a.Verb)
	}
	return nil
}

func parseRemove(p *parser, a *history.Action, rest []string) error {
	if len(rest) < 1 || len(rest) > 2 || len(rest) == 2 && rest[1] != "force" {
		return p.errf("want: remove <servers> [force] [for <time>]")
	}
	if len(rest) == 2 {
		a.Mode = "force"
	}
	return p.targets(a, rest)
}

func parseAdd(p *parser, a *history.Action, rest []string) error {
	switch {
	case len(rest) == 1:
	case len(rest) == 3 && rest[1] == "to" && IsGroupRef(rest[2]):
		a.Mode = rest[2]
	default:
		return p.errf("want: add <servers> [to g<n>]")
	}
	return p.targets(a, rest)
}

// parseGroupVerb reads "delete-group g<n>" and "add-group g<n>".
func parseGroupVerb(p *parser, a *history.Action, rest []string) error {
	if len(rest) != 1 || !IsGroupRef(rest[0]) {
		return p.errf("want: %s g<n>", a.Verb)
	}
	a.Targets = []string{rest[0]}
	return nil
}

func parseProtection(p *parser, a *history.Action, rest []string) error {
	if len(rest) != 2 || !IsGroupRef(rest[0]) || rest[1] != "on" && rest[1] != "off" {
		return p.errf("want: protection g<n> on|off [for <time>]")
	}
	a.Targets, a.Mode = []string{rest[0]}, rest[1]
	return nil
}

// parseBroken reads "broken <servers> <hostility> [<delay>]"; the delay
// is a late agent's, and only its.
func parseBroken(p *parser, a *history.Action, rest []string) error {
	const want = "want: broken <servers> absurd-epoch|leap-epoch|absurd-report|refuse-takeover|fake-takeover|late [<delay>]|replay [for <time>]"
	if len(rest) < 2 || len(rest) > 3 {
		return p.errf(want)
	}
	h, err := history.ParseHostility(rest[1])
	if err != nil {
		return p.errf("%v", err)
	}
	a.Mode = string(h)
	if len(rest) == 3 {
		d, err := time.ParseDuration(rest[2])
		if err != nil || d <= 0 || h != history.HostileLate {
			return p.errf(want)
		}
		a.Delay = d
	}
	return p.targets(a, rest)
}

// IsGroupRef reports whether s is a group reference, g1 to g16.
func IsGroupRef(s string) bool {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "g"))
	return strings.HasPrefix(s, "g") && err == nil && n >= 1 && n <= failover.MaxGroups
}
