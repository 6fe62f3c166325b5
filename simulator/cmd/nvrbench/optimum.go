package main

import (
	"fmt"
	"math/rand/v2"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover/assign"
)

// optimality is how the standby choice fared on random groups in which
// many recording servers fail at once.
type optimality struct {
	groups, failures, standbys int
	// optimal counts the groups where nvrha's choice protected the optimum
	// (servers, then channels).
	optimal int
	// firstFit is the share of the optimum's channels the naive first-fit
	// baseline protected: mean and worst over the groups.
	firstFitMean, firstFitWorst float64
	nvrhaWorst                  float64
}

// measureOptimality draws groups of 48 recording servers and 16 standbys
// with mixed license channels, fails `failures` recording servers at once,
// and compares nvrha's assignment and first-fit with the optimum, found
// exactly by dynamic programming over the subsets of standbys: an
// independent method, not the one package assign uses.
func measureOptimality(groups, failures int, seed uint64) (optimality, error) {
	const standbys = 16
	rng := rand.New(rand.NewPCG(seed, 0x6e7672))
	sizes := []int{8, 16, 24, 32, 48, 64}
	o := optimality{groups: groups, failures: failures, standbys: standbys, firstFitWorst: 1, nvrhaWorst: 1}
	for g := range groups {
		recs := make([]assign.Recording, failures)
		for i := range recs {
			recs[i] = assign.Recording{ID: nvrha.ServerID(fmt.Sprintf("g%d-rec-%02d", g, i)), Channels: sizes[rng.IntN(len(sizes))]}
		}
		sbs := make([]assign.Standby, standbys)
		for i := range sbs {
			sbs[i] = assign.Standby{ID: nvrha.ServerID(fmt.Sprintf("g%d-sb-%02d", g, i)), Channels: sizes[rng.IntN(len(sizes))]}
		}
		best := optimum(recs, sbs)
		nv, err := assign.Assign(recs, sbs)
		if err != nil {
			return o, err
		}
		ff, err := assign.FirstFit(recs, sbs)
		if err != nil {
			return o, err
		}
		got, base := value(recs, nv), value(recs, ff)
		if got == best {
			o.optimal++
		}
		share := func(v score) float64 {
			if best.channels == 0 {
				return 1
			}
			return float64(v.channels) / float64(best.channels)
		}
		o.nvrhaWorst = min(o.nvrhaWorst, share(got))
		o.firstFitMean += share(base) / float64(groups)
		o.firstFitWorst = min(o.firstFitWorst, share(base))
	}
	return o, nil
}

// score is what an assignment protects: recording servers, then channels.
type score struct{ servers, channels int }

func (a score) better(b score) bool {
	return a.servers > b.servers || a.servers == b.servers && a.channels > b.channels
}

func value(recs []assign.Recording, pairs []assign.Pair) score {
	ch := map[nvrha.ServerID]int{}
	for _, r := range recs {
		ch[r.ID] = r.Channels
	}
	var s score
	for _, p := range pairs {
		s.servers++
		s.channels += ch[p.Recording]
	}
	return s
}

// optimum returns the best score any assignment reaches: best[mask] is the
// best score of the recording servers seen so far using exactly the
// standbys in mask (or fewer), built one recording server at a time.
func optimum(recs []assign.Recording, sbs []assign.Standby) score {
	n := 1 << len(sbs)
	best := make([]score, n)
	valid := make([]bool, n)
	valid[0] = true
	next := make([]score, n)
	nextValid := make([]bool, n)
	for _, r := range recs {
		copy(next, best)
		copy(nextValid, valid)
		for mask := range n {
			if !valid[mask] {
				continue
			}
			for j, sb := range sbs {
				bit := 1 << j
				if mask&bit != 0 || sb.Channels < r.Channels {
					continue
				}
				cand := score{best[mask].servers + 1, best[mask].channels + r.Channels}
				if !nextValid[mask|bit] || cand.better(next[mask|bit]) {
					next[mask|bit], nextValid[mask|bit] = cand, true
				}
			}
		}
		best, next = next, best
		valid, nextValid = nextValid, valid
	}
	var top score
	for mask := range n {
		if valid[mask] && best[mask].better(top) {
			top = best[mask]
		}
	}
	return top
}
