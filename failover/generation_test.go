package failover_test

import (
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"pgregory.net/rapid"
)

// generationWatch holds Machine.Generation to its promise: while it stands
// still, the Snapshot, the State (but NextCommandID), and with it the
// epochs and the ledger, are what they were. It looks at one Machine at a
// time and starts over when the Machine is replaced (a restart).
type generationWatch struct {
	t     testing.TB
	m     *failover.Machine
	gen   uint64
	snap  failover.Snapshot
	st    failover.State
	looks int
	// still counts the looks that found the generation where it was.
	still int
}

func (g *generationWatch) look(m *failover.Machine, after string) {
	g.t.Helper()
	gen := m.Generation()
	snap, st := m.Snapshot(), m.State()
	st.NextCommandID = 0
	if m == g.m {
		switch {
		case gen < g.gen:
			g.t.Fatalf("after %s: Generation went back from %d to %d", after, g.gen, gen)
		case gen == g.gen && !reflect.DeepEqual(snap, g.snap):
			g.t.Fatalf("after %s: Generation stayed %d, but the Snapshot changed:\nwas %+v\nnow %+v", after, gen, g.snap, snap)
		case gen == g.gen && !reflect.DeepEqual(st, g.st):
			g.t.Fatalf("after %s: Generation stayed %d, but the State changed:\nwas %+v\nnow %+v", after, gen, g.st, st)
		case gen == g.gen:
			g.still++
		}
	}
	g.m, g.gen, g.snap, g.st = m, gen, snap, st
	g.looks++
}

// TestGenerationArbitraryInputs looks at the Machine after every input of
// the arbitrary driver: whatever the agents answer and whatever times the
// caller passes, an unchanged Generation means an unchanged Machine.
func TestGenerationArbitraryInputs(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		tb := rapidTB{t, rt}
		w := newArbitraryWorld(tb)
		g := &generationWatch{t: tb}
		g.look(w.m, "the start")
		src := rapidSource{rt}
		n := rapid.IntRange(1, 300).Draw(rt, "inputs")
		for i := range n {
			w.step(src)
			g.look(w.m, "input "+strconv.Itoa(i))
		}
	})
}

// TestGenerationModel looks at the Machine after every Tick and every
// exchange of the engine model's random worlds: faults, admin operations,
// center restarts, incremental persistence or not.
func TestGenerationModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var opt modelOptions
		if rapid.Bool().Draw(rt, "incremental") {
			opt.changes = &changesFollower{}
		}
		s := newEngineModelWith(t, rt, opt)
		g := &generationWatch{t: s.tb}
		s.w.watch = func() { g.look(s.w.m, "a step at "+s.w.now.Sub(epoch0).String()) }
		rt.Repeat(s.actions())
		if g.looks >= 100 && g.still == 0 {
			rt.Fatalf("Generation moved at every one of %d looks", g.looks)
		}
	})
}

// TestGenerationStillWhileQuiet checks that Generation is worth asking: on
// a quiet center, probes answered healthy tick after tick, it stands still;
// a server that fails moves it.
func TestGenerationStillWhileQuiet(t *testing.T) {
	w := newWorld(t, failover.Config{})
	facts := []nvrha.Facts{recordingFacts("rec-1", 16), recordingFacts("rec-2", 16), standbyFacts("sb-1", 32)}
	w.serve(facts...)
	mustAddRecording(t, w.m, failover.DefaultGroupID, facts[0], facts[1])
	mustAddStandby(t, w.m, failover.DefaultGroupID, facts[2])
	w.run(5 * time.Second)
	gen := w.m.Generation()
	w.run(time.Minute)
	if got := w.m.Generation(); got != gen {
		t.Fatalf("Generation moved from %d to %d over a quiet minute", gen, got)
	}
	w.servers["rec-1"].Crash()
	if _, ok := w.until(10*time.Second, func() bool { return w.status("rec-1") == "Abnormal, protected" }); !ok {
		t.Fatalf("rec-1 is %q, not taken over", w.status("rec-1"))
	}
	if got := w.m.Generation(); got == gen {
		t.Fatalf("Generation stayed %d through a takeover", got)
	}
}
