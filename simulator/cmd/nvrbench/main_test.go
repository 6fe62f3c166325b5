package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover/assign"
)

// bruteForce tries every way to give each recording server a standby or
// none.
func bruteForce(recs []assign.Recording, sbs []assign.Standby) score {
	var best score
	used := make([]bool, len(sbs))
	var walk func(i int, s score)
	walk = func(i int, s score) {
		if i == len(recs) {
			if s.better(best) {
				best = s
			}
			return
		}
		walk(i+1, s)
		for j, sb := range sbs {
			if !used[j] && sb.Channels >= recs[i].Channels {
				used[j] = true
				walk(i+1, score{s.servers + 1, s.channels + recs[i].Channels})
				used[j] = false
			}
		}
	}
	walk(0, score{})
	return best
}

// The optimum the benchmark compares nvrha with is itself checked against
// brute force on small groups.
func TestOptimumIsTheBruteForceOptimum(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for k := range 300 {
		recs := make([]assign.Recording, 1+rng.IntN(6))
		for i := range recs {
			recs[i] = assign.Recording{ID: nvrha.ServerID(fmt.Sprint("r", i)), Channels: 8 * (1 + rng.IntN(6))}
		}
		sbs := make([]assign.Standby, rng.IntN(5))
		for i := range sbs {
			sbs[i] = assign.Standby{ID: nvrha.ServerID(fmt.Sprint("s", i)), Channels: 8 * (1 + rng.IntN(6))}
		}
		if got, want := optimum(recs, sbs), bruteForce(recs, sbs); got != want {
			t.Fatalf("instance %d: optimum %+v, brute force %+v\nrecs %+v\nstandbys %+v", k, got, want, recs, sbs)
		}
	}
}

func TestAssignSection(t *testing.T) {
	var out, errOut bytes.Buffer
	code, err := run(context.Background(), []string{"-only", "assign", "-quick", "-json"}, &out, &errOut)
	if err != nil || code != 0 {
		t.Fatalf("code %d, err %v\n%s", code, err, errOut.String())
	}
	var rows []row
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Met != "yes" || !strings.Contains(rows[0].Measured, "optimum in 3/3") {
		t.Fatalf("rows: %+v", rows)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-only", "nope"}, {"-day", "0s"}, {"-workers", "0"}, {"-incidents", "-1"}} {
		var out, errOut bytes.Buffer
		if code, _ := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
