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

// byValue is the value order of the package documentation, written out
// again here so that the tests do not trust the code under test: negative
// if a is more valuable than b.
func byValue(a, b assign.Recording) int {
	return cmp.Or(
		cmp.Compare(b.Priority, a.Priority),
		cmp.Compare(b.Cameras, a.Cameras),
		cmp.Compare(b.Channels, a.Channels),
		cmp.Compare(a.ID, b.ID),
	)
}

func byStandbyChannelsID(x, y assign.Standby) int {
	return cmp.Or(cmp.Compare(x.Channels, y.Channels), cmp.Compare(x.ID, y.ID))
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

// coveredByValue returns the recording servers that pairs cover, most
// valuable first: the key vector that criterion 2 compares.
func coveredByValue(recs []assign.Recording, pairs []assign.Pair) []assign.Recording {
	byID := map[nvrha.ServerID]assign.Recording{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	var out []assign.Recording
	for _, p := range pairs {
		out = append(out, byID[p.Recording])
	}
	slices.SortFunc(out, byValue)
	return out
}

// standbySum is criterion 3: the license channels of the standbys used.
func standbySum(stbs []assign.Standby, pairs []assign.Pair) int {
	sc := map[nvrha.ServerID]int{}
	for _, s := range stbs {
		sc[s.ID] = s.Channels
	}
	sum := 0
	for _, p := range pairs {
		sum += sc[p.Standby]
	}
	return sum
}

// dominates reports whether a, most valuable first, is one by one at least
// as valuable as b: for every k < len(b), a[k] exists and ranks no lower
// than b[k]. This is the Gale order of criterion 2.
func dominates(a, b []assign.Recording) bool {
	if len(a) < len(b) {
		return false
	}
	for k := range b {
		if byValue(a[k], b[k]) > 0 {
			return false
		}
	}
	return true
}

// matching is one matching of an instance, as enumerated by the brute
// force: choice[i] is the standby index of recs[i], or -1.
type matching struct {
	pairs   []assign.Pair      // sorted by Recording ID
	covered []assign.Recording // criterion 2: most valuable first
	sum     int                // criterion 3
	chosen  []assign.Standby   // criterion 4: standbys of the covered servers, by decreasing channels then ID
	byChan  []assign.Recording // covered servers by decreasing channels then ID
}

// enumerate calls visit with every matching of recs and stbs, including the
// empty one.
func enumerate(recs []assign.Recording, stbs []assign.Standby, visit func(matching)) {
	choice := make([]int, len(recs))
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
		var m matching
		var order []int
		for i, j := range choice {
			if j < 0 {
				continue
			}
			m.pairs = append(m.pairs, assign.Pair{Recording: recs[i].ID, Standby: stbs[j].ID})
			m.covered = append(m.covered, recs[i])
			m.sum += stbs[j].Channels
			order = append(order, i)
		}
		slices.SortFunc(m.pairs, func(a, b assign.Pair) int { return cmp.Compare(a.Recording, b.Recording) })
		slices.SortFunc(m.covered, byValue)
		slices.SortFunc(order, func(a, b int) int {
			return cmp.Or(cmp.Compare(recs[b].Channels, recs[a].Channels), cmp.Compare(recs[a].ID, recs[b].ID))
		})
		for _, i := range order {
			m.chosen = append(m.chosen, stbs[choice[i]])
			m.byChan = append(m.byChan, recs[i])
		}
		visit(m)
	}
	walk(0)
}

// compareMatching ranks two matchings under criteria 1 to 4 straight from
// their definitions in the package documentation: positive if a is better.
func compareMatching(a, b matching) int {
	if c := cmp.Compare(len(a.covered), len(b.covered)); c != 0 {
		return c
	}
	// Equal sizes: lexicographic order of the key vectors, most valuable
	// first, which for bases is the Gale order.
	if c := slices.CompareFunc(a.covered, b.covered, byValue); c != 0 {
		return -c
	}
	if c := cmp.Compare(b.sum, a.sum); c != 0 {
		return c
	}
	return -slices.CompareFunc(a.chosen, b.chosen, byStandbyChannelsID)
}

// bruteForce returns the best matching of recs and stbs under criteria 1
// to 4, and fails t unless want, most valuable first, dominates one by one
// the covered servers of every matching (criterion 2 as defined).
func bruteForce(t tb, recs []assign.Recording, stbs []assign.Standby, got []assign.Recording) matching {
	t.Helper()
	var best matching
	first := true
	enumerate(recs, stbs, func(m matching) {
		if !dominates(got, m.covered) {
			t.Fatalf("covered %v does not dominate %v of matching %v\nrecordings %v\nstandbys %v", got, m.covered, m.pairs, recs, stbs)
		}
		if first || compareMatching(m, best) > 0 {
			best, first = m, false
		}
	})
	return best
}

// oldBruteForce returns the best matching under the objective of earlier
// releases, which had no Priority or Cameras: most servers, most license
// channels, fewest standby channels, then smallest covered IDs, then the
// smallest standbys in order of decreasing channels.
func oldBruteForce(recs []assign.Recording, stbs []assign.Standby) matching {
	channels := func(m matching) int {
		n := 0
		for _, r := range m.covered {
			n += r.Channels
		}
		return n
	}
	ids := func(m matching) []nvrha.ServerID {
		var out []nvrha.ServerID
		for _, r := range m.covered {
			out = append(out, r.ID)
		}
		slices.Sort(out)
		return out
	}
	better := func(a, b matching) bool {
		c := cmp.Or(
			cmp.Compare(len(a.covered), len(b.covered)),
			cmp.Compare(channels(a), channels(b)),
			cmp.Compare(b.sum, a.sum),
			-slices.Compare(ids(a), ids(b)),
			-slices.CompareFunc(a.chosen, b.chosen, byStandbyChannelsID),
		)
		return c > 0
	}
	var best matching
	first := true
	enumerate(recs, stbs, func(m matching) {
		if first || better(m, best) {
			best, first = m, false
		}
	})
	return best
}

// genInstance draws up to maxR recording servers and maxS standbys with
// distinct IDs whose order is unrelated to the input order, and channels,
// priorities and cameras from small sets so that ties are common.
func genInstance(t *rapid.T, maxR, maxS int, channels, priorities, cameras []int) ([]assign.Recording, []assign.Standby) {
	nr := rapid.IntRange(0, maxR).Draw(t, "recordings")
	ns := rapid.IntRange(0, maxS).Draw(t, "standbys")
	pool := make([]nvrha.ServerID, nr+ns)
	for i := range pool {
		pool[i] = nvrha.ServerID(fmt.Sprintf("srv-%02d", i))
	}
	pool = rapid.Permutation(pool).Draw(t, "ids")
	ch := rapid.SampledFrom(channels)
	pr := rapid.SampledFrom(priorities)
	cam := rapid.SampledFrom(cameras)
	recs := make([]assign.Recording, nr)
	for i := range recs {
		recs[i] = assign.Recording{
			ID:       pool[i],
			Channels: ch.Draw(t, "recordingChannels"),
			Priority: pr.Draw(t, "priority"),
			Cameras:  cam.Draw(t, "cameras"),
		}
	}
	stbs := make([]assign.Standby, ns)
	for i := range stbs {
		stbs[i] = assign.Standby{ID: pool[nr+i], Channels: ch.Draw(t, "standbyChannels")}
	}
	return recs, stbs
}

var (
	smallChannels   = []int{0, 4, 8, 16, 32, 64}
	smallPriorities = []int{-1, 0, 0, 1}
	smallCameras    = []int{0, 4, 16, 16, 32}
)

func TestAssignMatchesBruteForce(t *testing.T) {
	var scratch assign.Scratch // shared on purpose: state must not leak between calls
	rapid.Check(t, func(t *rapid.T) {
		recs, stbs := genInstance(t, 6, 6, smallChannels, smallPriorities, smallCameras)
		got, err := assign.Assign(recs, stbs)
		if err != nil {
			t.Fatalf("Assign: %v", err)
		}
		checkValid(t, recs, stbs, got)

		want := bruteForce(t, recs, stbs, coveredByValue(recs, got))
		if !slices.Equal(got, want.pairs) {
			t.Fatalf("not the documented optimum\nrecordings %v\nstandbys %v\ngot  %v\nwant %v", recs, stbs, got, want.pairs)
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

// TestAssignEqualValueMatchesOldObjective pins that Priority and Cameras
// change nothing while they are equal everywhere: the answer is the one
// earlier releases gave (most channels, then smallest IDs).
func TestAssignEqualValueMatchesOldObjective(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		prio := rapid.IntRange(-2, 2).Draw(t, "priority")
		cams := rapid.IntRange(0, 64).Draw(t, "cameras")
		recs, stbs := genInstance(t, 6, 6, smallChannels, []int{prio}, []int{cams})
		got, err := assign.Assign(recs, stbs)
		if err != nil {
			t.Fatalf("Assign: %v", err)
		}
		if want := oldBruteForce(recs, stbs); !slices.Equal(got, want.pairs) {
			t.Fatalf("differs from the objective without priorities\nrecordings %v\nstandbys %v\ngot  %v\nwant %v", recs, stbs, got, want.pairs)
		}
	})
}

// score is the value of a matching under criteria 1 to 3, with criterion 2
// folded into a weight that is strictly monotone in the value order (ID
// aside): see weight.
type score struct {
	count      int // recording servers covered (maximise)
	weight     int // sum of weight of the covered servers (maximise)
	standbySum int // license channels of the standbys used (minimise)
}

// Bounds of the draws in TestAssignMatchesMinCostReference, which weight
// relies on.
const (
	maxPriority = 2
	maxCameras  = 64
	maxChannels = 128
)

// weight ranks recording servers as the value order does, as a number:
// Priority dominates Cameras, which dominate Channels. A matching optimal
// for criterion 2 dominates every other one server by server, so it has the
// largest total weight among the largest matchings; and since weight tells
// apart every (Priority, Cameras, Channels), the largest total weight pins
// the channels covered, hence the best standby sum.
func weight(r assign.Recording) int {
	const c = maxChannels + 1
	const p = (maxCameras + 1) * c
	return (r.Priority+maxPriority)*p + r.Cameras*c + r.Channels
}

func scoreOf(recs []assign.Recording, stbs []assign.Standby, pairs []assign.Pair) score {
	var sc score
	for _, r := range coveredByValue(recs, pairs) {
		sc.count++
		sc.weight += weight(r)
	}
	sc.standbySum = standbySum(stbs, pairs)
	return sc
}

// minCostScore solves the same problem as an assignment problem with the
// Hungarian method, an exact algorithm independent of the one under test,
// with the three criteria folded into one cost. It returns the optimal score.
func minCostScore(recs []assign.Recording, stbs []assign.Standby) score {
	n := max(len(recs), len(stbs))
	if n == 0 {
		return score{}
	}
	// w2 > any standby sum (40 x 128); w1 > w2 times any weight sum.
	const w1, w2 = 1 << 44, 1 << 13
	cost := func(i, j int) int {
		if i >= len(recs) || j >= len(stbs) || stbs[j].Channels < recs[i].Channels {
			return 0 // unmatched
		}
		return -w1 - w2*weight(recs[i]) + stbs[j].Channels
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
			sc.weight += weight(recs[i])
			sc.standbySum += stbs[j-1].Channels
		}
	}
	return sc
}

func TestAssignMatchesMinCostReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		recs, stbs := genInstance(t, 40, 40,
			[]int{0, 1, 2, 4, 8, 12, 16, 24, 32, 48, 64, maxChannels},
			[]int{-maxPriority, -1, 0, 0, 0, 1, maxPriority},
			[]int{0, 1, 4, 8, 8, 16, 16, 32, maxCameras})
		got, err := assign.Assign(recs, stbs)
		if err != nil {
			t.Fatalf("Assign: %v", err)
		}
		checkValid(t, recs, stbs, got)
		if gs, want := scoreOf(recs, stbs, got), minCostScore(recs, stbs); gs != want {
			t.Fatalf("score %+v, min-cost reference %+v\nrecordings %v\nstandbys %v\ngot %v", gs, want, recs, stbs, got)
		}
	})
}

func TestAssignConcrete(t *testing.T) {
	rec := func(id string, ch int) assign.Recording {
		return assign.Recording{ID: nvrha.ServerID(id), Channels: ch}
	}
	cams := func(id string, ch, cameras int) assign.Recording {
		return assign.Recording{ID: nvrha.ServerID(id), Channels: ch, Cameras: cameras}
	}
	prio := func(id string, ch, cameras, priority int) assign.Recording {
		return assign.Recording{ID: nvrha.ServerID(id), Channels: ch, Cameras: cameras, Priority: priority}
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
		{
			name: "more cameras at stake before more channels",
			recs: []assign.Recording{cams("nvr-4cams", 16, 4), cams("nvr-16cams", 8, 16)},
			stbs: []assign.Standby{stb("s", 16)},
			want: []assign.Pair{{"nvr-16cams", "s"}},
		},
		{
			name: "priority before more cameras",
			recs: []assign.Recording{prio("vault", 8, 2, 1), prio("lobby", 8, 32, 0)},
			stbs: []assign.Standby{stb("s", 8)},
			want: []assign.Pair{{"vault", "s"}},
		},
		{
			name: "negative priority behind the default",
			recs: []assign.Recording{prio("spare", 8, 64, -1), prio("door", 8, 1, 0)},
			stbs: []assign.Standby{stb("s", 8)},
			want: []assign.Pair{{"door", "s"}},
		},
		{
			name: "priority does not cost coverage",
			recs: []assign.Recording{prio("hi", 8, 1, 5), prio("lo", 64, 1, 0)},
			stbs: []assign.Standby{stb("s64", 64), stb("s8", 8)},
			want: []assign.Pair{{"hi", "s8"}, {"lo", "s64"}},
		},
		{
			name: "priority covers a whole class before the next",
			recs: []assign.Recording{
				prio("a", 8, 1, 1), prio("b", 32, 1, 1), prio("c", 8, 64, 0), prio("d", 8, 0, 2),
			},
			stbs: []assign.Standby{stb("s1", 32), stb("s2", 32), stb("s3", 32)},
			want: []assign.Pair{{"a", "s2"}, {"b", "s1"}, {"d", "s3"}},
		},
		{
			name: "a covered server of high priority does not hold a larger standby",
			recs: []assign.Recording{prio("hi", 4, 1, 1), prio("lo", 8, 1, 0)},
			stbs: []assign.Standby{stb("s16", 16), stb("s8", 8)},
			want: []assign.Pair{{"hi", "s16"}, {"lo", "s8"}},
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
		recs, stbs := genInstance(t, 8, 8, smallChannels, smallPriorities, smallCameras)
		ff, err := assign.FirstFit(recs, stbs)
		if err != nil {
			t.Fatalf("FirstFit: %v", err)
		}
		checkValid(t, recs, stbs, ff)
		got, err := assign.Assign(recs, stbs)
		if err != nil {
			t.Fatalf("Assign: %v", err)
		}
		if a, f := coveredByValue(recs, got), coveredByValue(recs, ff); !dominates(a, f) {
			t.Fatalf("FirstFit covers %v, not dominated by Assign's %v on %v, %v", f, a, recs, stbs)
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
	rec := func(id string, ch int) assign.Recording {
		return assign.Recording{ID: nvrha.ServerID(id), Channels: ch}
	}
	stb := func(id string, ch int) assign.Standby { return assign.Standby{ID: nvrha.ServerID(id), Channels: ch} }
	for _, tc := range []struct {
		name string
		recs []assign.Recording
		stbs []assign.Standby
	}{
		{"duplicate recording ID", []assign.Recording{rec("a", 8), rec("b", 8), rec("a", 16)}, []assign.Standby{stb("s", 64)}},
		{"duplicate standby ID", []assign.Recording{rec("a", 8)}, []assign.Standby{stb("s", 8), stb("s", 64)}},
		{"ID in both lists", []assign.Recording{rec("a", 8)}, []assign.Standby{stb("b", 8), stb("a", 64)}},
		{"negative recording channels", []assign.Recording{rec("a", -1)}, []assign.Standby{stb("s", 8)}},
		{"negative standby channels", []assign.Recording{rec("a", 8)}, []assign.Standby{stb("s", -8)}},
		{"negative channels, no standbys", []assign.Recording{rec("a", -8)}, nil},
		{"duplicate IDs, no recording servers", nil, []assign.Standby{stb("s", 8), stb("s", 8)}},
		{"negative cameras", []assign.Recording{rec("a", 8), {ID: "b", Channels: 8, Cameras: -1}}, []assign.Standby{stb("s", 8)}},
		{"negative cameras, no standbys", []assign.Recording{{ID: "b", Channels: 8, Cameras: -4, Priority: 3}}, nil},
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

// TestNegativePriorityIsValid pins that Priority, unlike Cameras, may be
// negative.
func TestNegativePriorityIsValid(t *testing.T) {
	got, err := assign.Assign([]assign.Recording{{ID: "a", Channels: 8, Priority: -3}}, []assign.Standby{{ID: "s", Channels: 8}})
	if want := []assign.Pair{{Recording: "a", Standby: "s"}}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("Assign = %v, %v; want %v, nil", got, err, want)
	}
}

func TestEmptyInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		recs []assign.Recording
		stbs []assign.Standby
	}{
		{"both nil", nil, nil},
		{"no standbys", []assign.Recording{{ID: "a", Channels: 8}}, nil},
		{"no recording servers", nil, []assign.Standby{{ID: "s", Channels: 8}}},
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
// priorities and cameras, in an order unrelated to their IDs, the same for
// the same arguments. Priorities and cameras come from a stream of their
// own, so the channels and the order are those of earlier releases, which
// had neither, and benchmarks compare across them.
func instance(nr, ns int, seed uint64) ([]assign.Recording, []assign.Standby) {
	rng := rand.New(rand.NewPCG(seed, 0x6e7672))
	value := rand.New(rand.NewPCG(seed, 0x63616d))
	channels := []int{4, 8, 8, 16, 16, 16, 32, 32, 64, 128}
	recs := make([]assign.Recording, nr)
	for i := range recs {
		ch := channels[rng.IntN(len(channels))]
		recs[i] = assign.Recording{
			ID:       nvrha.ServerID(fmt.Sprintf("nvr-%04d", i)),
			Channels: ch,
			Priority: value.IntN(3) - 1,
			Cameras:  value.IntN(ch + 1),
		}
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
