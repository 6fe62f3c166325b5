package simulator

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/simulator/history"
	"github.com/nvrha/nvrha/status"
)

// broken wraps the real Machine and breaks it on purpose.
type broken struct {
	*failover.Machine
	mode string
	last failover.Ready // the Machine's own Ready, for Advance
	n    int
	// first holds the recording servers' statuses at the first look
	// from 5s on ("stale-status").
	first map[nvrha.ServerID]status.Recording
}

func (b *broken) Ready() failover.Ready {
	rd := b.Machine.Ready()
	b.last = rd
	out := rd
	out.Commands = nil
	b.n++
	switch b.mode {
	case "forget-state":
		// Persist only every third State.
		if b.n%3 != 0 {
			out.State, out.Changes = nil, nil
		}
	}
	for _, c := range rd.Commands {
		switch b.mode {
		case "second-standby":
			out.Commands = append(out.Commands, c)
			if c.Kind == failover.CmdTakeover {
				if other := b.otherStandby(c.Server, c.Recording); other != "" {
					dup := c
					dup.ID |= 1 << 40
					dup.Server = other
					out.Commands = append(out.Commands, dup)
				}
			}
		case "ignore-releases":
			if c.Kind != failover.CmdRelease {
				out.Commands = append(out.Commands, c)
			}
		case "release-early":
			// Break before make: the standby is told to release together
			// with the resume, not once the recording server records.
			out.Commands = append(out.Commands, c)
			if c.Kind == failover.CmdResume {
				if peer := b.peer(c.Server); peer != "" {
					out.Commands = append(out.Commands, failover.Command{Kind: failover.CmdRelease, ID: c.ID | 1<<40,
						Server: peer, Recording: c.Server, Epoch: c.Epoch, Deadline: c.Deadline})
				}
			}
		case "no-stand-down":
			if c.Kind != failover.CmdStandDown {
				out.Commands = append(out.Commands, c)
			}
		case "lower-epochs":
			if c.Kind == failover.CmdTakeover && c.Epoch > 1 {
				c.Epoch--
			}
			out.Commands = append(out.Commands, c)
		default:
			out.Commands = append(out.Commands, c)
		}
	}
	return out
}

func (b *broken) Advance(failover.Ready) { b.Machine.Advance(b.last) }

func (b *broken) HasReady() bool { return b.Machine.HasReady() }

func (b *broken) Snapshot() failover.Snapshot {
	s := b.Machine.Snapshot()
	if b.mode == "stale-status" && b.Machine.Now().Sub(history.Start) >= 5*time.Second {
		// From 5s on (the world settled, every status checked), every
		// recording server keeps the status it showed then, whatever
		// happens to it or its group's standbys.
		if b.first == nil {
			b.first = map[nvrha.ServerID]status.Recording{}
		}
		for gi := range s.Groups {
			for mi := range s.Groups[gi].Members {
				m := &s.Groups[gi].Members[mi]
				if m.Role != failover.RoleRecording {
					continue
				}
				if st, ok := b.first[m.ID]; ok {
					m.Recording = st
				} else {
					b.first[m.ID] = m.Recording
				}
			}
		}
	}
	if b.mode == "lie-status" {
		for gi := range s.Groups {
			for mi := range s.Groups[gi].Members {
				if m := &s.Groups[gi].Members[mi]; m.Role == failover.RoleRecording {
					m.Recording = status.RecordingNormalProtected
				}
			}
		}
	}
	return s
}

// peer returns the server the Machine pairs with id in a takeover, or "".
func (b *broken) peer(id nvrha.ServerID) nvrha.ServerID {
	for _, g := range b.Machine.Snapshot().Groups {
		for _, m := range g.Members {
			if m.ID == id {
				return m.Peer
			}
		}
	}
	return ""
}

// otherStandby returns a standby of rec's group other than sb.
func (b *broken) otherStandby(sb, rec nvrha.ServerID) nvrha.ServerID {
	for _, g := range b.Machine.Snapshot().Groups {
		if !slices.ContainsFunc(g.Members, func(m failover.MemberSnapshot) bool { return m.ID == rec }) {
			continue
		}
		for _, m := range g.Members {
			if m.Role == failover.RoleStandby && m.ID != sb {
				return m.ID
			}
		}
	}
	return ""
}

// amnesia restores every Machine without its epochs.
func amnesia(m *failover.Machine) Machine {
	st := m.State()
	if len(st.Epochs) == 0 {
		return m
	}
	st.Epochs = nil
	st.Takeovers = nil
	st.Owed = nil
	m2, err := failover.RestoreMachine(m.Config(), st, m.Now())
	if err != nil {
		panic(err)
	}
	return m2
}

const brokenWorld = `
name broken machine
duration 4m
groups 1
recording 3 channels 16 cameras 4
standby 2 channels 32
failback hold-down 10s
at 10s crash rec-1 for 30s
on takeover-confirm rec-1 after 100ms crash standby for 20s
at 90s crash rec-2 for 30s
on takeover-confirm rec-2 after 1s disable standby for 10s
at 150s crash rec-3 for 20s
on takeover-confirm rec-3 after 1s center-crash for 2s
`

// TestBrokenMachineIsCaught wraps the Machine with deliberately broken
// ones; each must be caught by an invariant, with the seed and a replay
// command in the report, with one center and with three (whose center
// crashes are failovers to another center: amnesia is a new leader that
// forgets the epochs).
func TestBrokenMachineIsCaught(t *testing.T) {
	sc, err := ParseScenario(strings.NewReader(brokenWorld))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode string
		want []int
	}{
		{"second-standby", []int{1, 3}},
		{"ignore-releases", []int{1, 7}},
		{"lower-epochs", []int{1, 3}},
		{"forget-state", []int{3, 8}},
		{"lie-status", []int{5}},
		{"stale-status", []int{5}},
		{"amnesia", []int{3, 8}},
	} {
		for _, centers := range []int{1, 3} {
			t.Run(tc.mode+"/centers-"+strconv.Itoa(centers), func(t *testing.T) {
				cfg := Config{Seed: 99, Centers: centers}
				cfg.ApplyScenario(sc)
				mode := tc.mode
				cfg.Center.WrapMachine = func(m *failover.Machine) Machine {
					if mode == "amnesia" {
						return amnesia(m)
					}
					return &broken{Machine: m, mode: mode}
				}
				w, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				r := w.Run()
				v := r.Violation
				if v == nil {
					t.Fatalf("the %s Machine was not caught", tc.mode)
				}
				if !slices.Contains(tc.want, v.Invariant) {
					t.Errorf("caught by invariant %d, want one of %v: %v", v.Invariant, tc.want, v)
				}
				if v.Seed != 99 || !strings.Contains(v.Replay, "-seed 99 ") || len(v.LastEvents) == 0 ||
					!strings.Contains(v.Error(), "replay: go run ./simulator/cmd/nvrsim") || v.Scenario == "" {
					t.Errorf("the violation lacks its seed, replay or last events: %v", v)
				}
				t.Logf("caught: invariant %d at %s: %s", v.Invariant, fmtDur(v.At), v.Detail)
			})
		}
	}
}

// TestBreakBeforeMakeIsCaught: a Machine that tells the standby to release
// together with the failback's resume, before the recording server (stood
// down while its disk failed) records again, breaks invariant 7.
func TestBreakBeforeMakeIsCaught(t *testing.T) {
	sc, err := ParseScenario(strings.NewReader("duration 2m\ngroups 1\nrecording 2 cameras 4\nstandby 1\n" +
		"failback hold-down 10s\nat 10s abnormal rec-1 for 20s\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Seed: 5}
	cfg.ApplyScenario(sc)
	r := mustRun(t, cfg)
	if r.Recoveries[RecoveryStandDown] == 0 || r.Recoveries[RecoveryFailback] == 0 {
		t.Fatalf("the real Machine: recoveries %v, want a stand-down and a failback", r.Recoveries)
	}
	cfg.Center.WrapMachine = func(m *failover.Machine) Machine { return &broken{Machine: m, mode: "release-early"} }
	v := smallRun(t, cfg).Violation
	if v == nil || v.Invariant != 7 || !strings.Contains(v.Detail, "make-before-break") {
		t.Fatalf("violation %v, want invariant 7 (make-before-break)", v)
	}
}

// TestDegradedServerLeftRecordingIsCaught: a Machine that never tells a
// degraded recording server (abnormal, still recording) to stand down
// while a standby records its cameras breaks invariant 1.
func TestDegradedServerLeftRecordingIsCaught(t *testing.T) {
	sc, err := ParseScenario(strings.NewReader("duration 1m\ngroups 1\nrecording 2 cameras 4\nstandby 1\n" +
		"at 10s abnormal rec-1 recording for 30s\n"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Seed: 5}
	cfg.ApplyScenario(sc)
	if r := mustRun(t, cfg); r.Recoveries[RecoveryStandDown] == 0 {
		t.Fatalf("the real Machine: recoveries %v, want a stand-down", r.Recoveries)
	}
	cfg.Center.WrapMachine = func(m *failover.Machine) Machine { return &broken{Machine: m, mode: "no-stand-down"} }
	v := smallRun(t, cfg).Violation
	if v == nil || v.Invariant != 1 || !strings.Contains(v.Detail, "never stood down") {
		t.Fatalf("violation %v, want invariant 1 (never stood down)", v)
	}
}

// TestBrokenMachineCaughtByNemesis checks that the nemesis alone, in random
// worlds, catches a Machine that sends every takeover to a second standby.
func TestBrokenMachineCaughtByNemesis(t *testing.T) {
	caught := 0
	for seed := uint64(1); seed <= 5; seed++ {
		cfg := batchConfig(seed)
		cfg.Duration = 5 * time.Minute
		cfg.Center.WrapMachine = func(m *failover.Machine) Machine { return &broken{Machine: m, mode: "second-standby"} }
		w, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if v := w.Run().Violation; v != nil {
			caught++
			if !strings.Contains(v.Replay, "-seed "+strconv.FormatUint(seed, 10)+" ") {
				t.Errorf("replay %q", v.Replay)
			}
		}
	}
	if caught < 3 {
		t.Fatalf("caught the broken Machine in %d of 5 seeds", caught)
	}
}
