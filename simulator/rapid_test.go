package simulator

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// drawScenario draws a small world and a fault plan, as scenario text.
func drawScenario(t *rapid.T) string {
	var b strings.Builder
	groups := rapid.IntRange(1, 2).Draw(t, "groups")
	recs := rapid.IntRange(1, 4).Draw(t, "recording")
	sbs := rapid.IntRange(1, 2).Draw(t, "standbys")
	cams := rapid.SampledFrom([]int{2, 4, 8}).Draw(t, "cameras")
	fmt.Fprintf(&b, "name rapid\nduration 3m\ngroups %d\nrecording %d channels 16 cameras %d\nstandby %d channels 32\n", groups, recs, cams, sbs)
	b.WriteString("failback hold-down 10s max 1m flap-window 2m\n")
	if rapid.Bool().Draw(t, "noisy") {
		b.WriteString("net noisy\n")
	}
	// Streams that start slowly (longer than TakeoverTimeout at 5 s), and
	// servers that answer takeovers and resumes only once footage flows.
	if d := rapid.SampledFrom([]string{"1s", "1s", "1s", "2500ms", "5s"}).Draw(t, "stream-start"); d != "1s" {
		b.WriteString("stream-start " + d + "\n")
	}
	if rapid.IntRange(0, 3).Draw(t, "ack-when-recording") == 0 {
		b.WriteString("ack-when-recording\n")
	}
	nrec, nsb := groups*recs, groups*sbs
	rec := func(label string) string { return fmt.Sprintf("rec-%d", rapid.IntRange(1, nrec).Draw(t, label)) }
	sb := func(label string) string { return fmt.Sprintf("sb-%d", rapid.IntRange(1, nsb).Draw(t, label)) }
	any := func(label string) string {
		if rapid.Bool().Draw(t, label+"-is-standby") {
			return sb(label)
		}
		return rec(label)
	}
	dur := func(label string, lo, hi time.Duration) string {
		ms := rapid.Int64Range(int64(lo/time.Millisecond), int64(hi/time.Millisecond)).Draw(t, label)
		return (time.Duration(ms) * time.Millisecond).String()
	}
	grp := func(label string) string { return fmt.Sprintf("g%d", rapid.IntRange(1, groups).Draw(t, label)) }
	action := func(label string, placeholders bool) string {
		target := any
		if placeholders {
			target = func(l string) string { return rapid.SampledFrom([]string{"standby", "recording"}).Draw(t, l) }
		}
		switch rapid.IntRange(0, 15).Draw(t, label) {
		case 0:
			return "crash " + target(label+"-x") + " for " + dur(label+"-d", time.Second, 90*time.Second)
		case 1:
			return "pause " + target(label+"-x") + " for " + dur(label+"-d", 100*time.Millisecond, 10*time.Second)
		case 2:
			mode := ""
			if rapid.Bool().Draw(t, label+"-degraded") {
				mode = " recording" // it records on until stood down
			}
			return "abnormal " + target(label+"-x") + mode + " for " + dur(label+"-d", time.Second, 60*time.Second)
		case 3:
			dir := rapid.SampledFrom([]string{"", " in", " out"}).Draw(t, label+"-dir")
			return "partition " + target(label+"-x") + dir + " for " + dur(label+"-d", time.Second, 40*time.Second)
		case 4:
			return fmt.Sprintf("loss %.2f %s for %s", rapid.Float64Range(0.1, 1).Draw(t, label+"-p"), target(label+"-x"), dur(label+"-d", time.Second, 20*time.Second))
		case 5:
			return "delay " + dur(label+"-delay", 10*time.Millisecond, time.Second) + " for " + dur(label+"-d", time.Second, 20*time.Second)
		case 6:
			if placeholders {
				return "fill-space standby for " + dur(label+"-d", time.Second, 60*time.Second)
			}
			return "fill-space " + sb(label+"-x") + " for " + dur(label+"-d", time.Second, 60*time.Second)
		case 7:
			return fmt.Sprintf("license %s %d for %s", target(label+"-x"), rapid.SampledFrom([]int{8, 16, 24, 48}).Draw(t, label+"-n"), dur(label+"-d", time.Second, 60*time.Second))
		case 8:
			if placeholders {
				return "crash recording for " + dur(label+"-d", time.Second, 30*time.Second)
			}
			return fmt.Sprintf("flap %s times %d down %s up %s", rec(label+"-x"), rapid.IntRange(1, 4).Draw(t, label+"-n"),
				dur(label+"-down", time.Second, 8*time.Second), dur(label+"-up", time.Second, 20*time.Second))
		case 9:
			return "center-crash for " + dur(label+"-d", 100*time.Millisecond, 10*time.Second)
		case 10:
			return "disable " + target(label+"-x") + " for " + dur(label+"-d", time.Second, 40*time.Second)
		case 11:
			return "remove " + target(label+"-x") + " force for " + dur(label+"-d", time.Second, 40*time.Second)
		case 12:
			return "delete-group " + grp(label+"-g") + " for " + dur(label+"-d", time.Second, 40*time.Second)
		case 13:
			return "protection " + grp(label+"-g") + " off for " + dur(label+"-d", time.Second, 40*time.Second)
		case 14:
			if placeholders {
				return "failback recording"
			}
			return "failback " + rec(label+"-x")
		default:
			if placeholders || nrec < 2 {
				return "crash " + target(label+"-x") + " for " + dur(label+"-d", time.Second, 60*time.Second)
			}
			return "crash rec-1,rec-2 for " + dur(label+"-d", time.Second, 60*time.Second)
		}
	}
	steps := rapid.IntRange(1, 8).Draw(t, "steps")
	for i := range steps {
		at := dur(fmt.Sprintf("at%d", i), 5*time.Second, 150*time.Second)
		fmt.Fprintf(&b, "at %s %s\n", at, action(fmt.Sprintf("step%d", i), false))
	}
	for i := range rapid.IntRange(0, 2).Draw(t, "triggers") {
		on := rapid.SampledFrom([]string{"takeover-start", "takeover-confirm", "failback-start"}).Draw(t, fmt.Sprintf("on%d", i))
		after := ""
		if rapid.Bool().Draw(t, fmt.Sprintf("after%d", i)) {
			after = " after " + dur(fmt.Sprintf("afterd%d", i), 0, 3*time.Second)
		}
		fmt.Fprintf(&b, "on %s%s %s\n", on, after, action(fmt.Sprintf("trigger%d", i), true))
	}
	return b.String()
}

// TestRapidWorlds draws worlds and fault plans and runs them with every
// invariant; rapid shrinks a failing plan to a small one, which is saved as
// a scenario file with its replay command.
func TestRapidWorlds(t *testing.T) {
	t.Parallel()
	rapid.Check(t, func(rt *rapid.T) {
		text := drawScenario(rt)
		seed := rapid.Uint64Range(1, 1<<32).Draw(rt, "seed")
		sc, err := ParseScenario(strings.NewReader(text))
		if err != nil {
			rt.Fatalf("the drawn scenario does not parse: %v\n%s", err, text)
		}
		cfg := Config{Seed: seed, Tolerate: tolerated}
		cfg.ApplyScenario(sc)
		w, err := New(cfg)
		if err != nil {
			rt.Fatalf("%v\n%s", err, text)
		}
		r := w.Run()
		if v := r.Violation; v != nil {
			path := filepath.Join(os.TempDir(), fmt.Sprintf("nvrsim-rapid-%d.nvrsim", seed))
			_ = os.WriteFile(path, []byte(text), 0o644)
			rt.Fatalf("%v\nscenario saved as %s\nreplay: go run ./simulator/cmd/nvrsim -seed %d -scenario %s -tolerate %s",
				v, path, seed, path, strings.Join(tolerated, ","))
		}
	})
}
