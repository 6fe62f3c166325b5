package scenario

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
)

// The header's directives: the world, its network and policies.

func parseName(p *parser, t []string) error {
	p.s.Name = strings.Join(t[1:], " ")
	return nil
}

func parseDuration(p *parser, t []string) error {
	d, err := p.dur(t, 1)
	if err != nil {
		return err
	}
	p.s.Duration = d
	return nil
}

func parseGroups(p *parser, t []string) error {
	n, err := p.intArg(t, 1, 1, failover.MaxGroups)
	if err != nil {
		return err
	}
	p.groups = n
	p.header(t)
	return nil
}

// parseTemplate reads "recording <n> [channels <c>] [cameras <k>]" or
// "standby <n> [channels <c>] [space none]".
func parseTemplate(p *parser, t []string) error {
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
	return nil
}

func parseSet(p *parser, t []string) error {
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
	return nil
}

func parseNet(p *parser, t []string) error {
	n := history.QuietLAN()
	if p.s.Net != nil {
		n = *p.s.Net
	}
	for i := 1; i < len(t); i++ {
		switch t[i] {
		case "quiet":
			n = history.QuietLAN()
		case "noisy":
			n = history.NoisyLAN()
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

func parseNemesis(p *parser, t []string) error {
	if len(t) < 2 {
		return p.errf("want: nemesis off | default | <kind,kind,...> [rate <x>]")
	}
	on, kinds, err := history.ParseFaultKinds(t[1])
	if err != nil {
		return p.errf("%v", err)
	}
	nc := Nemesis{Enabled: on, Kinds: kinds}
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

func parseBaseline(p *parser, _ []string) error {
	p.s.Baseline = true
	return nil
}

func parseFailback(p *parser, t []string) error {
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

func parseStreamStart(p *parser, t []string) error {
	d, err := p.dur(t, 1)
	if err != nil {
		return err
	}
	p.s.StreamStart = d
	return nil
}

func parseAckWhenRecording(p *parser, _ []string) error {
	p.s.AckWhenRecording = true
	return nil
}

func parsePlatform(p *parser, t []string) error {
	if len(t) != 2 || t[1] != "arm64" && t[1] != "x86_64" {
		return p.errf("want: platform arm64 | x86_64")
	}
	p.s.Platform = t[1]
	if t[1] == "x86_64" {
		p.s.Platform = ""
	}
	return nil
}

// parseCenters reads "centers <n> [lease <t>]".
func parseCenters(p *parser, t []string) error {
	n, err := p.intArg(t, 1, 1, history.MaxCenters)
	if err != nil {
		return err
	}
	p.s.Centers = n
	switch {
	case len(t) == 2:
	case len(t) == 4 && t[2] == "lease":
		d, err := p.dur(t, 3)
		if err != nil {
			return err
		}
		p.s.Lease = d
	default:
		return p.errf("want: centers <n> [lease <time>]")
	}
	return nil
}

// finishWorld builds the header's world once every line is read: each
// group gets every template, then the set lines change single servers.
func (p *parser) finishWorld() error {
	if p.groups == 0 && len(p.tmpl) == 0 && len(p.sets) == 0 {
		return nil
	}
	if p.groups == 0 {
		p.groups = 1
	}
	w := p.templateWorld()
	for _, st := range p.sets {
		if !applySet(&w, st) {
			return &Error{Line: st.line, Msg: fmt.Sprintf("unknown server %q", st.id)}
		}
	}
	if err := w.Validate(); err != nil {
		return &Error{Line: p.line, Msg: err.Error()}
	}
	p.s.World, p.s.HasWorld = w, true
	return nil
}

// templateWorld is the world of the groups and templates, servers
// numbered across the world.
func (p *parser) templateWorld() history.WorldSpec {
	var w history.WorldSpec
	r, sb := 0, 0
	for range p.groups {
		var g history.GroupSpec
		for _, tp := range p.tmpl {
			for range tp.n {
				if tp.standby {
					sb++
					ch := tp.channels
					if ch == 0 {
						ch = history.DefaultStandbyChannels
					}
					g.Standby = append(g.Standby, history.ServerSpec{ID: history.StandbyID(sb), Channels: ch, NoEmptySpace: tp.noSpace})
					continue
				}
				r++
				cams := tp.cameras
				if cams == 0 {
					cams = history.DefaultCameras
				}
				ch := tp.channels
				if ch == 0 {
					ch = max(history.DefaultRecordingChannels, cams)
				}
				g.Recording = append(g.Recording, history.ServerSpec{ID: history.RecordingID(r), Channels: ch, Cameras: cams, NoEmptySpace: tp.noSpace})
			}
		}
		w.Groups = append(w.Groups, g)
	}
	return w
}

// applySet changes the server a set line names, reporting whether there
// is one.
func applySet(w *history.WorldSpec, st set) bool {
	found := false
	for gi := range w.Groups {
		for _, list := range []*[]history.ServerSpec{&w.Groups[gi].Recording, &w.Groups[gi].Standby} {
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
	return found
}
