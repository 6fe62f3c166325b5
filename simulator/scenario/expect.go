package scenario

import (
	"slices"

	"github.com/nvrha/nvrha/simulator/history"
)

// expectKind is one kind of expect line: how many arguments it takes and
// how they are checked.
type expectKind struct {
	min, max int
	check    func(p *parser, args []string) error
}

// expectKinds are the expectations, by the word after "expect".
var expectKinds = map[string]expectKind{
	"takeover":           {1, 3, checkTakeoverArgs},
	"no-takeover":        {1, 1, nil},
	"recovery":           {1, 1, checkRecoveryArg},
	"fault":              {1, 1, checkFaultArg},
	"refused":            {1, 1, nil},
	"max-gap":            {1, 1, func(p *parser, a []string) error { _, err := p.dur(a, 0); return err }},
	"status":             {2, 2, checkStatusArgs},
	"no-false-takeover":  {0, 0, nil},
	"settled":            {0, 0, nil},
	"orphan":             {1, 1, nil},
	"max-flaps":          {1, 1, func(p *parser, a []string) error { _, err := p.intArg(a, 0, 0, 1<<20); return err }},
	"known-issue":        {1, 1, nil},
	"elections":          {1, 1, func(p *parser, a []string) error { _, err := p.intArg(a, 0, 1, 1<<20); return err }},
	"stale-term-refused": {0, 0, nil},
	"max-resume":         {1, 1, func(p *parser, a []string) error { _, err := p.dur(a, 0); return err }},
}

// parseExpect reads "expect <what> <args...>".
func parseExpect(p *parser, t []string) error {
	if len(t) < 2 {
		return p.errf("want: expect <what> ...")
	}
	e := Expect{Line: p.line, Kind: t[1], Args: t[2:]}
	k, ok := expectKinds[e.Kind]
	if !ok {
		return p.errf("unknown expectation %q", e.Kind)
	}
	if len(e.Args) < k.min || len(e.Args) > k.max {
		return p.errf("expect %s takes %d to %d arguments", e.Kind, k.min, k.max)
	}
	if k.check != nil {
		if err := k.check(p, e.Args); err != nil {
			return err
		}
	}
	p.s.Expects = append(p.s.Expects, e)
	return nil
}

func checkTakeoverArgs(p *parser, a []string) error {
	if len(a) == 2 || len(a) == 3 && a[1] != "by" {
		return p.errf("want: expect takeover <recording> [by <standby>]")
	}
	return nil
}

func checkRecoveryArg(p *parser, a []string) error {
	if !slices.Contains(history.Recoveries(), history.Recovery(a[0])) {
		return p.errf("unknown recovery path %q", a[0])
	}
	return nil
}

func checkFaultArg(p *parser, a []string) error {
	if !slices.Contains(history.FaultKinds(), history.FaultKind(a[0])) {
		return p.errf("unknown fault kind %q", a[0])
	}
	return nil
}

func checkStatusArgs(p *parser, a []string) error {
	if _, err := unquote(a[1]); err != nil {
		return p.errf("%v", err)
	}
	return nil
}
