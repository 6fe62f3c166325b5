package simulator

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// ErrScenario is wrapped by every error about a scenario file.
var ErrScenario = errors.New("simulator: bad scenario")

// ScenarioError is a scenario problem on one line.
type ScenarioError struct {
	File string
	Line int
	Msg  string
}

func (e *ScenarioError) Error() string {
	f := e.File
	if f == "" {
		f = "scenario"
	}
	return fmt.Sprintf("%s:%d: %s", f, e.Line, e.Msg)
}

// Unwrap returns ErrScenario.
func (e *ScenarioError) Unwrap() error { return ErrScenario }

// Scenario is a parsed scenario file: an optional world header, timed
// actions, triggers and expectations. The package documentation describes
// the format.
type Scenario struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration,omitempty"`
	// World is the header's world; HasWorld is false when the file has
	// none and the Config's world is used.
	World    WorldSpec      `json:"world"`
	HasWorld bool           `json:"has_world"`
	Net      *NetConfig     `json:"net,omitempty"`
	Nemesis  *NemesisConfig `json:"nemesis,omitempty"`
	Baseline bool           `json:"baseline,omitempty"`
	Failback struct {
		Mode        string        `json:"mode,omitempty"` // "", "manual"
		HoldDown    time.Duration `json:"hold_down,omitempty"`
		MaxHoldDown time.Duration `json:"max_hold_down,omitempty"`
		FlapWindow  time.Duration `json:"flap_window,omitempty"`
	} `json:"failback"`
	StreamStart      time.Duration `json:"stream_start,omitempty"`
	AckWhenRecording bool          `json:"ack_when_recording,omitempty"`
	// Platform is "arm64" for an ARM64 center (8 servers per group), ""
	// for the default x86_64.
	Platform string `json:"platform,omitempty"`

	Steps    []Step    `json:"steps"`
	Triggers []Trigger `json:"triggers,omitempty"`
	Expects  []Expect  `json:"expects,omitempty"`

	header []string // the world header lines, for String
}

// Step is an action at a simulated time.
type Step struct {
	At     time.Duration `json:"at"`
	Action Action        `json:"action"`
}

// Trigger runs an action when the Machine publishes an event On
// ("takeover-start", "takeover-confirm" or "failback-start") about
// Recording (any recording server when empty), After later; without After,
// a center-crash happens right after the Machine persisted the change and
// before its orders leave. The placeholders "standby" and "recording" in
// the action's targets name the takeover's pair. A trigger fires once.
type Trigger struct {
	Line      int           `json:"line"`
	On        string        `json:"on"`
	Recording string        `json:"recording,omitempty"`
	After     time.Duration `json:"after,omitempty"`
	HasAfter  bool          `json:"has_after,omitempty"`
	Action    Action        `json:"action"`
}

// Expect is an expectation checked when the run ends.
type Expect struct {
	Line int      `json:"line"`
	Kind string   `json:"kind"` // takeover, no-takeover, recovery, fault, refused, max-gap, status, no-false-takeover, settled
	Args []string `json:"args,omitempty"`
}

// Expectation is an expect line and whether it held.
type Expectation struct {
	Line   int    `json:"line"`
	Text   string `json:"text"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// ParseScenarioFile parses a scenario file.
func ParseScenarioFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := ParseScenario(f)
	var se *ScenarioError
	if errors.As(err, &se) {
		se.File = path
	}
	return s, err
}

// ParseScenario parses scenario text. Errors are *ScenarioError with the
// line number.
func ParseScenario(r io.Reader) (*Scenario, error) {
	s := &Scenario{}
	p := &parser{s: s}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p.line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 && !inQuotes(text, i) {
			text = text[:i]
		}
		toks, err := tokenize(text)
		if err != nil {
			return nil, p.errf("%v", err)
		}
		if len(toks) == 0 {
			continue
		}
		if err := p.parseLine(toks); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := p.finishWorld(); err != nil {
		return nil, err
	}
	if s.HasWorld {
		if err := s.Validate(s.World); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func inQuotes(s string, i int) bool { return strings.Count(s[:i], `"`)%2 == 1 }

func tokenize(s string) ([]string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, nil
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, errors.New("unterminated quote")
			}
			out = append(out, s[:end+2])
			s = s[end+2:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}

type parser struct {
	s      *Scenario
	line   int
	groups int
	tmpl   []tmpl
	sets   []set
}

type tmpl struct {
	standby  bool
	n        int
	channels int
	cameras  int
	noSpace  bool
}

type set struct {
	line    int
	id, key string
	value   int
}

func (p *parser) errf(format string, args ...any) error {
	return &ScenarioError{Line: p.line, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parseLine(t []string) error {
	s := p.s
	switch t[0] {
	case "name":
		s.Name = strings.Join(t[1:], " ")
	case "duration":
		d, err := p.dur(t, 1)
		if err != nil {
			return err
		}
		s.Duration = d
	case "groups":
		n, err := p.intArg(t, 1, 1, failover.MaxGroups)
		if err != nil {
			return err
		}
		p.groups = n
		p.header(t)
	case "recording", "standby":
		tp := tmpl{standby: t[0] == "standby"}
		n, err := p.intArg(t, 1, 0, 64)
		if err != nil {
			return err
		}
		tp.n = n
		for i := 2; i < len(t); i++ {
			switch t[i] {
			case "channels", "cameras":
				v, err := p.intArg(t, i+1, 0, nvrha.MaxLicenseChannels)
				if err != nil {
					return err
				}
				if t[i] == "channels" {
					tp.channels = v
				} else if tp.standby {
					return p.errf("a standby has no cameras")
				} else {
					tp.cameras = v
				}
				i++
			case "space":
				if i+1 >= len(t) || t[i+1] != "none" {
					return p.errf(`want "space none"`)
				}
				tp.noSpace = true
				i++
			default:
				return p.errf("unknown %s option %q", t[0], t[i])
			}
		}
		p.tmpl = append(p.tmpl, tp)
		p.header(t)
	case "set":
		if len(t) < 3 {
			return p.errf("want: set <server> channels <n> | cameras <n> | space none")
		}
		st := set{line: p.line, id: t[1], key: t[2]}
		switch t[2] {
		case "channels", "cameras":
			v, err := p.intArg(t, 3, 0, nvrha.MaxLicenseChannels)
			if err != nil {
				return err
			}
			st.value = v
		case "space":
			if len(t) < 4 || t[3] != "none" {
				return p.errf(`want "set <server> space none"`)
			}
		default:
			return p.errf("unknown setting %q", t[2])
		}
		p.sets = append(p.sets, st)
		p.header(t)
	case "net":
		return p.parseNet(t)
	case "nemesis":
		return p.parseNemesis(t)
	case "baseline":
		s.Baseline = true
	case "failback":
		return p.parseFailback(t)
	case "stream-start":
		d, err := p.dur(t, 1)
		if err != nil {
			return err
		}
		s.StreamStart = d
	case "ack-when-recording":
		s.AckWhenRecording = true
	case "platform":
		if len(t) != 2 || t[1] != "arm64" && t[1] != "x86_64" {
			return p.errf("want: platform arm64 | x86_64")
		}
		s.Platform = t[1]
		if t[1] == "x86_64" {
			s.Platform = ""
		}
	case "at":
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
			s.Steps = append(s.Steps, Step{At: at, Action: Action{Line: p.line, Verb: "expect-status", Targets: []string{t[4]}, Text: label}})
			return nil
		}
		a, err := p.action(t[2:])
		if err != nil {
			return err
		}
		s.Steps = append(s.Steps, Step{At: at, Action: a})
	case "on":
		if len(t) < 3 || triggerEvent(t[1]) == 0 {
			return p.errf("want: on takeover-start|takeover-confirm|failback-start [<recording>] [after <time>] <action>")
		}
		tr := Trigger{Line: p.line, On: t[1]}
		rest := t[2:]
		if len(rest) > 0 && !isVerb(rest[0]) && rest[0] != "after" {
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
		s.Triggers = append(s.Triggers, tr)
	case "expect":
		return p.parseExpect(t)
	default:
		return p.errf("unknown line %q", t[0])
	}
	return nil
}

func (p *parser) header(t []string) { p.s.header = append(p.s.header, strings.Join(t, " ")) }

func unquote(s string) (string, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", fmt.Errorf("want a quoted label, got %s", s)
	}
	return s[1 : len(s)-1], nil
}

func (p *parser) dur(t []string, i int) (time.Duration, error) {
	if i >= len(t) {
		return 0, p.errf("missing duration")
	}
	d, err := time.ParseDuration(t[i])
	if err != nil || d < 0 {
		return 0, p.errf("bad duration %q", t[i])
	}
	return d, nil
}

func (p *parser) intArg(t []string, i, lo, hi int) (int, error) {
	if i >= len(t) {
		return 0, p.errf("missing number")
	}
	n, err := strconv.Atoi(t[i])
	if err != nil || n < lo || n > hi {
		return 0, p.errf("bad number %q (want %d..%d)", t[i], lo, hi)
	}
	return n, nil
}

func (p *parser) parseNet(t []string) error {
	n := QuietLAN()
	if p.s.Net != nil {
		n = *p.s.Net
	}
	for i := 1; i < len(t); i++ {
		switch t[i] {
		case "quiet":
			n = QuietLAN()
		case "noisy":
			n = NoisyLAN()
		case "latency", "jitter":
			d, err := p.dur(t, i+1)
			if err != nil {
				return err
			}
			if t[i] == "latency" {
				n.Latency = d
			} else {
				n.Jitter = d
			}
			n.Quiet = true
			i++
		case "loss", "dup":
			if i+1 >= len(t) {
				return p.errf("missing probability")
			}
			v, err := strconv.ParseFloat(t[i+1], 64)
			if err != nil || v < 0 || v >= 1 {
				return p.errf("bad probability %q", t[i+1])
			}
			if t[i] == "loss" {
				n.Loss = v
			} else {
				n.Duplicate = v
			}
			i++
		default:
			return p.errf("unknown net option %q", t[i])
		}
	}
	p.s.Net = &n
	return nil
}

func (p *parser) parseNemesis(t []string) error {
	if len(t) < 2 {
		return p.errf("want: nemesis off | default | <kind,kind,...> [rate <x>]")
	}
	nc, err := ParseFaults(t[1])
	if err != nil {
		return p.errf("%v", err)
	}
	if len(t) >= 4 && t[2] == "rate" {
		v, err := strconv.ParseFloat(t[3], 64)
		if err != nil || v <= 0 {
			return p.errf("bad rate %q", t[3])
		}
		nc.Rate = v
	} else if len(t) > 2 {
		return p.errf("unknown nemesis option %q", t[2])
	}
	p.s.Nemesis = &nc
	return nil
}

func (p *parser) parseFailback(t []string) error {
	fb := &p.s.Failback
	for i := 1; i < len(t); i++ {
		switch t[i] {
		case "manual":
			fb.Mode = "manual"
		case "hold-down", "max", "flap-window":
			d, err := p.dur(t, i+1)
			if err != nil {
				return err
			}
			switch t[i] {
			case "hold-down":
				fb.HoldDown = d
			case "max":
				fb.MaxHoldDown = d
			default:
				fb.FlapWindow = d
			}
			i++
		default:
			return p.errf("unknown failback option %q", t[i])
		}
	}
	return nil
}

func (p *parser) parseExpect(t []string) error {
	if len(t) < 2 {
		return p.errf("want: expect <what> ...")
	}
	e := Expect{Line: p.line, Kind: t[1], Args: t[2:]}
	want := map[string][2]int{
		"takeover": {1, 3}, "no-takeover": {1, 1}, "recovery": {1, 1}, "fault": {1, 1}, "refused": {1, 1},
		"max-gap": {1, 1}, "status": {2, 2}, "no-false-takeover": {0, 0}, "settled": {0, 0}, "orphan": {1, 1},
		"max-flaps": {1, 1}, "known-issue": {1, 1},
	}
	n, ok := want[e.Kind]
	if !ok {
		return p.errf("unknown expectation %q", e.Kind)
	}
	if len(e.Args) < n[0] || len(e.Args) > n[1] {
		return p.errf("expect %s takes %d to %d arguments", e.Kind, n[0], n[1])
	}
	switch e.Kind {
	case "takeover":
		if len(e.Args) == 2 || len(e.Args) == 3 && e.Args[1] != "by" {
			return p.errf("want: expect takeover <recording> [by <standby>]")
		}
	case "max-gap":
		if _, err := p.dur(e.Args, 0); err != nil {
			return err
		}
	case "max-flaps":
		if _, err := p.intArg(e.Args, 0, 0, 1<<20); err != nil {
			return err
		}
	case "status":
		if _, err := unquote(e.Args[1]); err != nil {
			return p.errf("%v", err)
		}
	case "recovery":
		if !slices.Contains(Recoveries(), Recovery(e.Args[0])) {
			return p.errf("unknown recovery path %q", e.Args[0])
		}
	case "fault":
		if !slices.Contains(FaultKinds(), FaultKind(e.Args[0])) {
			return p.errf("unknown fault kind %q", e.Args[0])
		}
	}
	p.s.Expects = append(p.s.Expects, e)
	return nil
}

var verbs = []string{"crash", "restart", "pause", "abnormal", "recover", "partition", "heal", "loss", "delay",
	"fill-space", "free-space", "license", "flap", "center-crash", "disable", "enable", "remove", "add",
	"delete-group", "add-group", "protection", "failback"}

func isVerb(s string) bool { return slices.Contains(verbs, s) }

// action parses "<verb> <args...>".
func (p *parser) action(t []string) (Action, error) {
	if len(t) == 0 {
		return Action{}, p.errf("missing action")
	}
	a := Action{Line: p.line, Verb: t[0]}
	if !isVerb(a.Verb) {
		return a, p.errf("unknown action %q", a.Verb)
	}
	rest := t[1:]
	// take "for <d>" off the end
	if n := len(rest); n >= 2 && rest[n-2] == "for" {
		d, err := time.ParseDuration(rest[n-1])
		if err != nil || d <= 0 {
			return a, p.errf("bad duration %q", rest[n-1])
		}
		a.For = d
		rest = rest[:n-2]
	}
	ids := func(r []string) error {
		if len(r) == 0 {
			return p.errf("%s needs a target", a.Verb)
		}
		a.Targets = strings.Split(r[0], ",")
		return nil
	}
	switch a.Verb {
	case "abnormal":
		if len(rest) == 2 && rest[1] == "recording" {
			a.Mode, rest = "recording", rest[:1]
		}
		if len(rest) != 1 {
			return a, p.errf("want: abnormal <servers> [recording] [for <time>]")
		}
		return a, ids(rest)
	case "crash", "restart", "recover", "fill-space", "free-space", "disable", "enable", "failback":
		if len(rest) != 1 {
			return a, p.errf("want: %s <servers>%s", a.Verb, forHint(a.Verb))
		}
		return a, ids(rest)
	case "pause":
		if len(rest) != 1 || a.For <= 0 {
			return a, p.errf("want: pause <servers> for <time>")
		}
		return a, ids(rest)
	case "partition", "heal":
		if len(rest) < 1 || len(rest) > 2 {
			return a, p.errf("want: %s <servers> [in|out]%s", a.Verb, forHint(a.Verb))
		}
		if len(rest) == 2 {
			if rest[1] != "in" && rest[1] != "out" {
				return a, p.errf(`direction must be "in" (center to server) or "out" (server to center)`)
			}
			a.Mode = rest[1]
		}
		return a, ids(rest)
	case "loss", "delay":
		if len(rest) < 1 || len(rest) > 2 || a.For <= 0 {
			return a, p.errf("want: %s <amount> [<servers>] for <time>", a.Verb)
		}
		if a.Verb == "loss" {
			v, err := strconv.ParseFloat(rest[0], 64)
			if err != nil || v <= 0 || v > 1 {
				return a, p.errf("bad loss probability %q", rest[0])
			}
			a.Amount = v
		} else {
			d, err := time.ParseDuration(rest[0])
			if err != nil || d <= 0 {
				return a, p.errf("bad delay %q", rest[0])
			}
			a.Delay = d
		}
		if len(rest) == 2 {
			return a, ids(rest[1:])
		}
		return a, nil
	case "license":
		if len(rest) != 2 {
			return a, p.errf("want: license <server> <channels> [for <time>]")
		}
		n, err := strconv.Atoi(rest[1])
		if err != nil || n < 0 || n > nvrha.MaxLicenseChannels {
			return a, p.errf("bad channels %q", rest[1])
		}
		a.Amount = float64(n)
		return a, ids(rest)
	case "flap":
		if len(rest) != 7 || rest[1] != "times" || rest[3] != "down" || rest[5] != "up" {
			return a, p.errf("want: flap <server> times <n> down <time> up <time>")
		}
		n, err := strconv.Atoi(rest[2])
		d1, err1 := time.ParseDuration(rest[4])
		d2, err2 := time.ParseDuration(rest[6])
		if err != nil || err1 != nil || err2 != nil || n < 1 || n > 100 || d1 <= 0 || d2 <= 0 {
			return a, p.errf("bad flap numbers")
		}
		a.Times, a.Delay, a.Up = n, d1, d2
		return a, ids(rest)
	case "center-crash":
		if len(rest) != 0 {
			return a, p.errf("want: center-crash [for <time>]")
		}
		return a, nil
	case "remove":
		if len(rest) < 1 || len(rest) > 2 || len(rest) == 2 && rest[1] != "force" {
			return a, p.errf("want: remove <servers> [force] [for <time>]")
		}
		if len(rest) == 2 {
			a.Mode = "force"
		}
		return a, ids(rest)
	case "add":
		switch {
		case len(rest) == 1:
		case len(rest) == 3 && rest[1] == "to" && isGroupRef(rest[2]):
			a.Mode = rest[2]
		default:
			return a, p.errf("want: add <servers> [to g<n>]")
		}
		return a, ids(rest)
	case "delete-group", "add-group":
		if len(rest) != 1 || !isGroupRef(rest[0]) {
			return a, p.errf("want: %s g<n>", a.Verb)
		}
		a.Targets = []string{rest[0]}
		return a, nil
	case "protection":
		if len(rest) != 2 || !isGroupRef(rest[0]) || rest[1] != "on" && rest[1] != "off" {
			return a, p.errf("want: protection g<n> on|off [for <time>]")
		}
		a.Targets, a.Mode = []string{rest[0]}, rest[1]
		return a, nil
	}
	return a, p.errf("unknown action %q", a.Verb)
}

func forHint(v string) string {
	switch v {
	case "crash", "abnormal", "fill-space", "disable", "partition":
		return " [for <time>]"
	}
	return ""
}

func isGroupRef(s string) bool {
	n, err := strconv.Atoi(strings.TrimPrefix(s, "g"))
	return strings.HasPrefix(s, "g") && err == nil && n >= 1 && n <= failover.MaxGroups
}

// finishWorld builds the header's world.
func (p *parser) finishWorld() error {
	if p.groups == 0 && len(p.tmpl) == 0 && len(p.sets) == 0 {
		return nil
	}
	if p.groups == 0 {
		p.groups = 1
	}
	var w WorldSpec
	r, sb := 0, 0
	for range p.groups {
		var g GroupSpec
		for _, tp := range p.tmpl {
			for range tp.n {
				if tp.standby {
					sb++
					ch := tp.channels
					if ch == 0 {
						ch = DefaultStandbyChannels
					}
					g.Standby = append(g.Standby, ServerSpec{ID: sbID(sb), Channels: ch, NoEmptySpace: tp.noSpace})
				} else {
					r++
					cams := tp.cameras
					if cams == 0 {
						cams = DefaultCameras
					}
					ch := tp.channels
					if ch == 0 {
						ch = max(DefaultRecordingChannels, cams)
					}
					g.Recording = append(g.Recording, ServerSpec{ID: recID(r), Channels: ch, Cameras: cams, NoEmptySpace: tp.noSpace})
				}
			}
		}
		w.Groups = append(w.Groups, g)
	}
	for _, st := range p.sets {
		found := false
		for gi := range w.Groups {
			for _, list := range []*[]ServerSpec{&w.Groups[gi].Recording, &w.Groups[gi].Standby} {
				for k := range *list {
					sp := &(*list)[k]
					if string(sp.ID) != st.id {
						continue
					}
					found = true
					switch st.key {
					case "channels":
						sp.Channels = st.value
					case "cameras":
						sp.Cameras = st.value
					case "space":
						sp.NoEmptySpace = true
					}
				}
			}
		}
		if !found {
			return &ScenarioError{Line: st.line, Msg: fmt.Sprintf("unknown server %q", st.id)}
		}
	}
	if err := w.Validate(); err != nil {
		return &ScenarioError{Line: p.line, Msg: err.Error()}
	}
	p.s.World, p.s.HasWorld = w, true
	return nil
}

// Validate checks that every server and group the scenario names exists in
// world w.
func (s *Scenario) Validate(w WorldSpec) error {
	ids := map[string]bool{}
	for _, sp := range w.Servers() {
		ids[string(sp.ID)] = true
	}
	bad := func(line int, format string, args ...any) error {
		return &ScenarioError{Line: line, Msg: fmt.Sprintf(format, args...)}
	}
	check := func(a Action, placeholders bool) error {
		for _, t := range a.Targets {
			switch {
			case isGroupRef(t) && isGroupVerb(a.Verb):
				n, _ := strconv.Atoi(t[1:])
				if n > len(w.Groups) {
					return bad(a.Line, "unknown group %s (the world has %d)", t, len(w.Groups))
				}
			case placeholders && (t == "standby" || t == "recording"):
			case !ids[t]:
				return bad(a.Line, "unknown server %q", t)
			}
		}
		if a.Mode != "" && isGroupRef(a.Mode) {
			if n, _ := strconv.Atoi(a.Mode[1:]); n > len(w.Groups) {
				return bad(a.Line, "unknown group %s", a.Mode)
			}
		}
		return nil
	}
	for _, st := range s.Steps {
		if err := check(st.Action, false); err != nil {
			return err
		}
	}
	for _, tr := range s.Triggers {
		if tr.Recording != "" && !ids[tr.Recording] {
			return bad(tr.Line, "unknown server %q", tr.Recording)
		}
		if err := check(tr.Action, true); err != nil {
			return err
		}
	}
	for _, e := range s.Expects {
		switch e.Kind {
		case "takeover", "no-takeover", "refused", "status", "orphan":
			if !ids[e.Args[0]] {
				return bad(e.Line, "unknown server %q", e.Args[0])
			}
			if e.Kind == "takeover" && len(e.Args) == 3 && !ids[e.Args[2]] {
				return bad(e.Line, "unknown server %q", e.Args[2])
			}
		}
	}
	return nil
}

// Apply sets what the scenario's header says on cfg: the world, the
// network, the duration, the nemesis, the baseline, failback and server
// settings. Fields the header does not mention are left alone.
func (s *Scenario) Apply(cfg *Config) {
	cfg.Scenario = s
	if s.HasWorld {
		cfg.World, cfg.RandomWorld = s.World, false
	}
	if s.Net != nil {
		cfg.Net = *s.Net
	}
	if s.Duration > 0 {
		cfg.Duration = s.Duration
	}
	if s.Nemesis != nil {
		cfg.Nemesis = *s.Nemesis
	}
	if s.Baseline {
		cfg.Baseline = true
	}
	fb := &cfg.Center.Failover.Failback
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
		cfg.Servers.StreamStart = s.StreamStart
	}
	if s.AckWhenRecording {
		cfg.Servers.AckWhenRecording = true
	}
	if s.Platform == "arm64" {
		cfg.Center.Failover.Platform = nvrha.PlatformARM64
	}
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
		case NoisyLAN():
			b.WriteString("net noisy\n")
		case QuietLAN():
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
	if fb := s.Failback; fb.Mode != "" || fb.HoldDown > 0 || fb.MaxHoldDown > 0 || fb.FlapWindow > 0 {
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
		b.WriteString("expect " + e.Kind)
		for _, a := range e.Args {
			b.WriteString(" " + a)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// trigger is a Trigger armed in a world.
type trigger struct {
	Trigger
	fired bool
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
		text := "expect " + e.Kind
		if len(e.Args) > 0 {
			text += " " + strings.Join(e.Args, " ")
		}
		w.expects = append(w.expects, &expectation{ex: e, Expectation: Expectation{Line: e.Line, Text: text}})
	}
}

// triggerEvent maps a trigger's "on" word to the Machine event.
func triggerEvent(on string) failover.EventKind {
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

// fireTriggers runs the triggers an event matches.
func (w *World) fireTriggers(e failover.Event) {
	for _, tr := range w.triggers {
		if tr.fired || triggerEvent(tr.On) != e.Kind || tr.Recording != "" && tr.Recording != string(e.Server) {
			continue
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
			}
			w.countFault(&a, nil)
			w.noteDisturbance(&a, nil)
			w.c.crashBeforeSend = true
			w.c.crashDowntime = a.For
			if a.For <= 0 {
				w.c.crashDowntime = 3 * time.Second
			}
			continue
		}
		w.scheduleAction(w.now+tr.After, &a)
	}
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
	if !w.c.up {
		return "(center down)"
	}
	for _, g := range w.snapshot().Groups {
		for _, m := range g.Members {
			if m.ID == id {
				return m.Status()
			}
		}
	}
	return "(not a member)"
}

// checkExpectations evaluates the expect lines at the end of the run.
func (w *World) checkExpectations() {
	m := w.meas
	for _, e := range w.expects {
		if e.ex.Kind == "" {
			continue // an "at ... expect status", evaluated at its time
		}
		ok, detail := false, ""
		switch e.ex.Kind {
		case "takeover", "no-takeover":
			n := 0
			for _, t := range m.takeovers {
				if string(t.Recording) == e.ex.Args[0] && t.Confirmed >= 0 && (len(e.ex.Args) < 3 || string(t.Standby) == e.ex.Args[2]) {
					n++
				}
			}
			started := 0
			for _, t := range m.takeovers {
				if string(t.Recording) == e.ex.Args[0] {
					started++
				}
			}
			if e.ex.Kind == "takeover" {
				ok, detail = n > 0, fmt.Sprintf("%d confirmed takeovers", n)
			} else {
				ok, detail = started == 0, fmt.Sprintf("%d takeovers started", started)
			}
		case "recovery":
			n := w.recoveries[Recovery(e.ex.Args[0])]
			ok, detail = n > 0, fmt.Sprintf("%d times", n)
		case "fault":
			n := w.faults[FaultKind(e.ex.Args[0])]
			ok, detail = n > 0, fmt.Sprintf("%d times", n)
		case "refused":
			for _, r := range w.refused {
				if string(r.Server) == e.ex.Args[0] {
					ok, detail = true, strings.Join(r.Reasons, "; ")
				}
			}
			if !ok {
				detail = "it was never refused"
			}
		case "max-gap":
			limit, _ := time.ParseDuration(e.ex.Args[0])
			mx := StatsOf(m.gapVals).Max
			ok, detail = mx <= limit, "max gap "+sec(mx)
		case "status":
			label, _ := unquote(e.ex.Args[1])
			got := w.statusOf(nvrha.ServerID(e.ex.Args[0]))
			ok, detail = got == label, fmt.Sprintf("status %q", got)
		case "no-false-takeover":
			ok, detail = m.falseTk == 0, fmt.Sprintf("%d false takeovers", m.falseTk)
		case "settled":
			ok, detail = w.chk.everSettl, "settled="+strconv.FormatBool(w.chk.everSettl)
		case "orphan":
			ok = w.chk.orphans[nvrha.ServerID(e.ex.Args[0])]
			detail = "orphan=" + strconv.FormatBool(ok)
		case "max-flaps":
			n, _ := strconv.Atoi(e.ex.Args[0])
			ok, detail = m.flaps <= n, fmt.Sprintf("%d flaps", m.flaps)
		case "known-issue":
			for _, k := range w.known {
				if k.ID == e.ex.Args[0] {
					ok, detail = true, k.Detail
				}
			}
			if !ok {
				detail = "it did not happen"
			}
		}
		e.OK, e.Detail = ok, detail
	}
}
