package assign_test

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover/assign"
	"pgregory.net/rapid"
)

// tb is the part of testing.TB and *rapid.T that the checks use.
type tb interface {
	Helper()
	Fatalf(format string, args ...any)
}

// score is the value of a matching under criteria 1 to 3.
type score struct {
	count      int // recording servers covered (maximise)
	channels   int // license channels covered (maximise)
	standbySum int // license channels of the standbys used (minimise)
}

// compareScore returns a positive number if a is better than b, negative if
// worse, zero if equal.
func compareScore(a, b score) int {
	if c := cmp.Compare(a.count, b.count); c != 0 {
		return c
	}
	if c := cmp.Compare(a.channels, b.channels); c != 0 {
		return c
	}
	return cmp.Compare(b.standbySum, a.standbySum)
}

func scoreOf(t tb, recs []assign.Recording, stbs []assign.Standby, pairs []assign.Pair) score {
	t.Helper()
	rc := map[nvrha.ServerID]int{}
	for _, r := range recs {
		rc[r.ID] = r.Channels
	}
	sc := map[nvrha.ServerID]int{}
	for _, s := range stbs {
		sc[s.ID] = s.Channels
	}
	var sum score
	for _, p := range pairs {
		sum.count++
		sum.channels += rc[p.Recording]
		sum.standbySum += sc[p.Standby]
	}
	return sum
}

// checkValid fails t unless pairs is a valid matching of recs and stbs:
// every ID is known, every standby fits its recording server, no server is
// used twice, and the pairs are sorted by Recording ID.
func checkValid(t tb, recs []assign.Recording, stbs []assign.Standby, pairs []assign.Pair) {
	t.Helper()
	rc := map[nvrha.ServerID]int{}
	for _, r := range recs {
		rc[r.ID] = r.Channels
	}
	sc := map[nvrha.ServerID]int{}
	for _, s := range stbs {
		sc[s.ID] = s.Channels
	}
	usedR := map[nvrha.ServerID]bool{}
	usedS := map[nvrha.ServerID]bool{}
	for i, p := range pairs {
		r, okR := rc[p.Recording]
		s, okS := sc[p.Standby]
		switch {
		case !okR:
			t.Fatalf("pair %d: unknown recording server %q", i, p.Recording)
		case !okS:
			t.Fatalf("pair %d: unknown standby %q", i, p.Standby)
		case s < r:
			t.Fatalf("pair %d: standby %q (%d channels) cannot cover %q (%d channels)", i, p.Standby, s, p.Recording, r)
		case usedR[p.Recording]:
			t.Fatalf("pair %d: recording server %q covered twice", i, p.Recording)
		case usedS[p.Standby]:
			t.Fatalf("pair %d: standby %q used twice", i, p.Standby)
		case i > 0 && pairs[i-1].Recording >= p.Recording:
			t.Fatalf("pairs not sorted by recording ID at %d: %v", i, pairs)
		}
		usedR[p.Recording] = true
		usedS[p.Standby] = true
	}
}

// candidate is a matching with everything needed to rank it under criteria
// 1 to 4, computed straight from the definitions in the package
// documentation.
type candidate struct {
	pairs   []assign.Pair
	score   score
	covered []nvrha.ServerID // 4(a): covered recording IDs, sorted
	chosen  []assign.Standby // 4(b): standbys of the covered recording servers, by decreasing channels then ID
}

func compareCandidate(a, b candidate) int {
	if c := compareScore(a.score, b.score); c != 0 {
		return c
	}
	if c := slices.Compare(a.covered, b.covered); c != 0 {
		return -c
	}
	return -slices.CompareFunc(a.chosen, b.chosen, func(x, y assign.Standby) int {
		return cmp.Or(cmp.Compare(x.Channels, y.Channels), cmp.Compare(x.ID, y.ID))
	})
}

// bruteForce enumerates every matching of recs and stbs and returns the best
// one under criteria 1 to 4.
func bruteForce(recs []assign.Recording, stbs []assign.Standby) candidate {
	var best candidate
	haveBest := false
	choice := make([]int, len(recs)) // standby index per recording server, -1 for none
	used := make([]bool, len(stbs))
	var walk func(i int)
	walk = func(i int) {
		if i < len(recs) {
			choice[i] = -1
			walk(i + 1)
			for j, s := range stbs {
				if !used[j] && s.Channels >= recs[i].Channels {
					used[j] = true
					choice[i] = j
					walk(i + 1)
					used[j] = false
				}
			}
			return
		}
		var c candidate
		var order []int
		for i, j := range choice {
			if j < 0 {
				continue
			}
			c.pairs = append(c.pairs, assign.Pair{Recording: recs[i].ID, Standby: stbs[j].ID})
			c.score.count++
			c.score.channels += recs[i].Channels
			c.score.standbySum += stbs[j].Channels
			c.covered = append(c.covered, recs[i].ID)
			order = append(order, i)
		}
		slices.Sort(c.covered)
		slices.SortFunc(c.pairs, func(a, b assign.Pair) int { return cmp.Compare(a.Recording, b.Recording) })
		slices.SortFunc(order, func(a, b int) int {
			return cmp.Or(cmp.Compare(recs[b].Channels, recs[a].Channels), cmp.Compare(recs[a].ID, recs[b].ID))
		})
		for _, i := range order {
			c.chosen = append(c.chosen, stbs[choice[i]])
		}
		if !haveBest || compareCandidate(c, best) > 0 {
			best, haveBest = c, true
		}
	}
	walk(0)
	return best
}

// genInstance draws up to maxR recording servers and maxS standbys with
// distinct IDs whose order is unrelated to the input order, and channels
// from a small set so that ties are common.
func genInstance(t *rapid.T, maxR, maxS int, channels []int) ([]assign.Recording, []assign.Standby) {
	nr := rapid.IntRange(0, maxR).Draw(t, "recordings")
	ns := rapid.IntRange(0, maxS).Draw(t, "standbys")
	pool := make([]nvrha.ServerID, nr+ns)
	for i := range pool {
		pool[i] = nvrha.ServerID(fmt.Sprintf("srv-%02d", i))
	}
	pool = rapid.Permutation(pool).Draw(t, "ids")
	ch := rapid.SampledFrom(channels)
	recs := make([]assign.Recording, nr)
	for i := range recs {
		recs[i] = assign.Recording{ID: pool[i], Channels: ch.Draw(t, "recordingChannels")}
	}
	stbs := make([]assign.Standby, ns)
	for i := range stbs {
		stbs[i] = assign.Standby{ID: pool[nr+i], Channels: ch.Draw(t, "standbyChannels")}
	}
	return recs, stbs
}

var smallChannels = []int{0, 4, 8, 16, 32, 64}

func TestAssignMatchesBruteForce(t *testing.T) {
	var scratch assign.Scratch // shared on purpose: state must not leak between calls
	rapid.Check(t, func(t *rapid.T) {
		recs, stbs := genInstance(t, 6, 6, smallChannels)
		got, err := assign.Assign(recs, stbs)
		if err != nil {
			t.Fatalf("Assign: %v", err)
		}
		checkValid(t, recs, stbs, got)

		want := bruteForce(recs, stbs)
		if gs := scoreOf(t, recs, stbs, got); gs != want.score {
			t.Fatalf("score %+v, brute force %+v\nrecordings %v\nstandbys %v\ngot  %v\nwant %v", gs, want.score, recs, stbs, got, want.pairs)
		}
		if !slices.Equal(got, want.pairs) {
			t.Fatalf("tie-break differs from the documented one\nrecordings %v\nstandbys %v\ngot  %v\nwant %v", recs, stbs, got, want.pairs)
		}

		shuffled, err := assign.Assign(rapid.Permutation(recs).Draw(t, "recsShuffled"), rapid.Permutation(stbs).Draw(t, "standbysShuffled"))
		if err != nil {
			t.Fatalf("Assign (shuffled): %v", err)
		}
		if !slices.Equal(got, shuffled) {
			t.Fatalf("result depends on input order: %v vs %v", got, shuffled)
		}

		prefix := []assign.Pair{{Recording: "keep", Standby: "me"}}
		into, err := assign.AssignInto(prefix, &scratch, recs, stbs)
		if err != nil {
			t.Fatalf("AssignInto: %v", err)
		}
		if into[0] != prefix[0] || !slices.Equal(into[1:], got) {
			t.Fatalf("AssignInto = %v, want %v after the prefix", into, got)
		}
	})
}

// minCostScore solves the same problem as an assignment problem with the
// Hungarian method, an exact algorithm independent of the one under test,
// with the three criteria folded into one cost. It returns the optimal score.
func minCostScore(recs []assign.Recording, stbs []assign.Standby) score {
	n := max(len(recs), len(stbs))
	if n == 0 {
		return score{}
	}
	const w1, w2 = 1 << 40, 1 << 20 // w2 > any standby sum; w1 > w2 * any channel sum
	cost := func(i, j int) int {
		if i >= len(recs) || j >= len(stbs) || stbs[j].Channels < recs[i].Channels {
			return 0 // unmatched
		}
		return -w1 - w2*recs[i].Channels + stbs[j].Channels
	}
	// Classic O(n^3) Hungarian algorithm with potentials, 1-based.
	const inf = 1 << 62
	u := make([]int, n+1)
	v := make([]int, n+1)
	p := make([]int, n+1) // p[j]: row matched to column j
	way := make([]int, n+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		minv := make([]int, n+1)
		usedCol := make([]bool, n+1)
		for j := range minv {
			minv[j] = inf
		}
		for p[j0] != 0 {
			usedCol[j0] = true
			i0, delta, j1 := p[j0], inf, 0
			for j := 1; j <= n; j++ {
				if usedCol[j] {
					continue
				}
				if cur := cost(i0-1, j-1) - u[i0] - v[j]; cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= n; j++ {
				if usedCol[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	var sc score
	for j := 1; j <= n; j++ {
		i := p[j] - 1
		if cost(i, j-1) < 0 {
			sc.count++
			sc.channels += recs[i].Channels
			sc.standbySum += stbs[j-1].Channels
		}
	}
	return sc
}

func TestAssignMatchesMinCostReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		recs, stbs := genInstance(t, 40, 40, []int{0, 1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 128})
		got, err := assign.Assign(recs, stbs)
		if err != nil {
			t.Fatalf("Assign: %v", err)
		}
		checkValid(t, recs, stbs, got)
		if gs, want := scoreOf(t, recs, stbs, got), minCostScore(recs, stbs); gs != want {
			t.Fatalf("score %+v, min-cost reference %+v\nrecordings %v\nstandbys %v\ngot %v", gs, want, recs, stbs, got)
		}
	})
}

func TestAssignConcrete(t *testing.T) {
	rec := func(id string, ch int) assign.Recording {
		return assign.Recording{ID: nvrha.ServerID(id), Channels: ch}
	}
	stb := func(id string, ch int) assign.Standby { return assign.Standby{ID: nvrha.ServerID(id), Channels: ch} }
	for _, tc := range []struct {
		name string
		recs []assign.Recording
		stbs []assign.Standby
		want []assign.Pair
	}{
		{
			name: "smallest standby that fits",
			recs: []assign.Recording{rec("r1", 8)},
			stbs: []assign.Standby{stb("big", 64), stb("small", 8), stb("mid", 16)},
			want: []assign.Pair{{"r1", "small"}},
		},
		{
			name: "large standby kept for the large server",
			recs: []assign.Recording{rec("r8", 8), rec("r64", 64)},
			stbs: []assign.Standby{stb("s64", 64), stb("s8", 8)},
			want: []assign.Pair{{"r64", "s64"}, {"r8", "s8"}},
		},
		{
			name: "more servers before more channels",
			recs: []assign.Recording{rec("a", 64), rec("b", 8), rec("c", 8)},
			stbs: []assign.Standby{stb("s1", 64), stb("s2", 64)},
			want: []assign.Pair{{"a", "s1"}, {"b", "s2"}},
		},
		{
			name: "more channels before smaller standbys",
			recs: []assign.Recording{rec("a", 16), rec("b", 4)},
			stbs: []assign.Standby{stb("s", 16)},
			want: []assign.Pair{{"a", "s"}},
		},
		{
			name: "equal channels: smaller recording ID covered, smaller standby ID used",
			recs: []assign.Recording{rec("z", 8), rec("y", 8), rec("x", 8)},
			stbs: []assign.Standby{stb("q", 8), stb("p", 8)},
			want: []assign.Pair{{"x", "p"}, {"y", "q"}},
		},
		{
			name: "larger server picks first",
			recs: []assign.Recording{rec("a", 4), rec("b", 8)},
			stbs: []assign.Standby{stb("t", 8), stb("s", 8)},
			want: []assign.Pair{{"a", "t"}, {"b", "s"}},
		},
		{
			name: "nothing fits",
			recs: []assign.Recording{rec("a", 32)},
			stbs: []assign.Standby{stb("s", 16)},
			want: []assign.Pair{},
		},
		{
			name: "zero channels",
			recs: []assign.Recording{rec("a", 0)},
			stbs: []assign.Standby{stb("s", 4), stb("t", 0)},
			want: []assign.Pair{{"a", "t"}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := assign.Assign(tc.recs, tc.stbs)
			if err != nil {
				t.Fatalf("Assign: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Assign = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFirstFitValid(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		recs, stbs := genInstance(t, 8, 8, smallChannels)
		ff, err := assign.FirstFit(recs, stbs)
		if err != nil {
			t.Fatalf("FirstFit: %v", err)
		}
		checkValid(t, recs, stbs, ff)
		got, err := assign.Assign(recs, stbs)
		if err != nil {
			t.Fatalf("Assign: %v", err)
		}
		if c := compareScore(scoreOf(t, recs, stbs, got), scoreOf(t, recs, stbs, ff)); c < 0 {
			t.Fatalf("FirstFit %v beats Assign %v on %v, %v", ff, got, recs, stbs)
		}
	})
}

func TestFirstFitCoversFewer(t *testing.T) {
	recs := []assign.Recording{{ID: "r8", Channels: 8}, {ID: "r64", Channels: 64}}
	stbs := []assign.Standby{{ID: "s64", Channels: 64}, {ID: "s8", Channels: 8}}
	ff, err := assign.FirstFit(recs, stbs)
	if err != nil {
		t.Fatal(err)
	}
	if want := []assign.Pair{{Recording: "r8", Standby: "s64"}}; !slices.Equal(ff, want) {
		t.Fatalf("FirstFit = %v, want %v", ff, want)
	}
	got, err := assign.Assign(recs, stbs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || len(ff) >= len(got) {
		t.Fatalf("Assign covers %d (%v), FirstFit %d: want Assign to cover both and FirstFit fewer", len(got), got, len(ff))
	}
}

func TestInvalidInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		recs []assign.Recording
		stbs []assign.Standby
	}{
		{"duplicate recording ID", []assign.Recording{{"a", 8}, {"b", 8}, {"a", 16}}, []assign.Standby{{"s", 64}}},
		{"duplicate standby ID", []assign.Recording{{"a", 8}}, []assign.Standby{{"s", 8}, {"s", 64}}},
		{"ID in both lists", []assign.Recording{{"a", 8}}, []assign.Standby{{"b", 8}, {"a", 64}}},
		{"negative recording channels", []assign.Recording{{"a", -1}}, []assign.Standby{{"s", 8}}},
		{"negative standby channels", []assign.Recording{{"a", 8}}, []assign.Standby{{"s", -8}}},
		{"negative channels, no standbys", []assign.Recording{{"a", -8}}, nil},
		{"duplicate IDs, no recording servers", nil, []assign.Standby{{"s", 8}, {"s", 8}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := assign.Assign(tc.recs, tc.stbs)
			if !errors.Is(err, assign.ErrInvalidInput) || got != nil {
				t.Errorf("Assign = %v, %v; want nil, ErrInvalidInput", got, err)
			}
			var s assign.Scratch
			dst := []assign.Pair{{Recording: "x", Standby: "y"}}
			into, err := assign.AssignInto(dst, &s, tc.recs, tc.stbs)
			if !errors.Is(err, assign.ErrInvalidInput) || !slices.Equal(into, dst) {
				t.Errorf("AssignInto = %v, %v; want dst unchanged, ErrInvalidInput", into, err)
			}
			ff, err := assign.FirstFit(tc.recs, tc.stbs)
			if !errors.Is(err, assign.ErrInvalidInput) || ff != nil {
				t.Errorf("FirstFit = %v, %v; want nil, ErrInvalidInput", ff, err)
			}
		})
	}
}

func TestEmptyInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		recs []assign.Recording
		stbs []assign.Standby
	}{
		{"both nil", nil, nil},
		{"no standbys", []assign.Recording{{"a", 8}}, nil},
		{"no recording servers", nil, []assign.Standby{{"s", 8}}},
		{"both empty", []assign.Recording{}, []assign.Standby{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := assign.Assign(tc.recs, tc.stbs); err != nil || len(got) != 0 {
				t.Errorf("Assign = %v, %v; want empty, nil", got, err)
			}
			if got, err := assign.FirstFit(tc.recs, tc.stbs); err != nil || len(got) != 0 {
				t.Errorf("FirstFit = %v, %v; want empty, nil", got, err)
			}
			var s assign.Scratch
			if got, err := assign.AssignInto(nil, &s, tc.recs, tc.stbs); err != nil || len(got) != 0 {
				t.Errorf("AssignInto = %v, %v; want empty, nil", got, err)
			}
		})
	}
}

// instance returns nr recording servers and ns standbys with mixed channels,
// in an order unrelated to their IDs, the same for the same arguments.
func instance(nr, ns int, seed uint64) ([]assign.Recording, []assign.Standby) {
	rng := rand.New(rand.NewPCG(seed, 0x6e7672))
	channels := []int{4, 8, 8, 16, 16, 16, 32, 32, 64, 128}
	recs := make([]assign.Recording, nr)
	for i := range recs {
		recs[i] = assign.Recording{ID: nvrha.ServerID(fmt.Sprintf("nvr-%04d", i)), Channels: channels[rng.IntN(len(channels))]}
	}
	stbs := make([]assign.Standby, ns)
	for i := range stbs {
		stbs[i] = assign.Standby{ID: nvrha.ServerID(fmt.Sprintf("standby-%04d", i)), Channels: channels[rng.IntN(len(channels))]}
	}
	rng.Shuffle(len(recs), func(i, j int) { recs[i], recs[j] = recs[j], recs[i] })
	rng.Shuffle(len(stbs), func(i, j int) { stbs[i], stbs[j] = stbs[j], stbs[i] })
	return recs, stbs
}

func TestAssignIntoAllocs(t *testing.T) {
	for _, n := range []int{8, 32, 512} {
		recs, stbs := instance(n, n, uint64(n))
		var s assign.Scratch
		dst := make([]assign.Pair, 0, n)
		if _, err := assign.AssignInto(dst, &s, recs, stbs); err != nil { // warm up
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			var err error
			if dst, err = assign.AssignInto(dst[:0], &s, recs, stbs); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%dx%d: AssignInto with a warm Scratch allocates %v times per call, want 0", n, n, allocs)
		}
	}
}

func benchmarkAssign(b *testing.B, nr, ns int) {
	recs, stbs := instance(nr, ns, uint64(nr*1000+ns))
	b.Run("Assign", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := assign.Assign(recs, stbs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("AssignInto", func(b *testing.B) {
		b.ReportAllocs()
		var s assign.Scratch
		dst := make([]assign.Pair, 0, nr)
		for b.Loop() {
			var err error
			if dst, err = assign.AssignInto(dst[:0], &s, recs, stbs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("FirstFit", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := assign.FirstFit(recs, stbs); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAssign8 is a full ARM64 group's worth: 8 failures, 8 standbys.
func BenchmarkAssign8(b *testing.B) { benchmarkAssign(b, 8, 8) }

func BenchmarkAssign32x32(b *testing.B) { benchmarkAssign(b, 32, 32) }

func BenchmarkAssign512x512(b *testing.B) { benchmarkAssign(b, 512, 512) }
