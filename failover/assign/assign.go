package assign

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/nvrha/nvrha"
)

// ErrInvalidInput is wrapped by every error about malformed input: a
// duplicate server ID, a negative channel count or a negative camera count.
// Such input is a mistake of the caller, not a state of the world, so it is
// reported rather than repaired.
var ErrInvalidInput = errors.New("assign: invalid input")

// Recording is a failed recording server that needs a standby.
//
// When there are fewer fitting standbys than failed recording servers,
// Priority and then Cameras say which are covered first; see the package
// documentation.
type Recording struct {
	ID       nvrha.ServerID
	Channels int // license channels; must not be negative

	// Priority is the operator's failover sequence: a higher Priority is
	// covered first, whatever the cameras. Zero by default; may be negative
	// to put a server behind the default.
	Priority int
	// Cameras is the number of cameras whose footage is lost while the
	// server stays uncovered; among equal Priority, more cameras are
	// covered first. Must not be negative.
	Cameras int
}

// Standby is a free standby server, eligible to take over.
type Standby struct {
	ID       nvrha.ServerID
	Channels int // license channels; must not be negative
}

// Pair says that Standby takes over Recording.
type Pair struct {
	Recording, Standby nvrha.ServerID
}

// Scratch is the working memory of [AssignInto]. Its zero value is ready to
// use. Reusing one Scratch across calls avoids allocation once it has grown
// to the largest input seen. A Scratch must not be used by two calls at the
// same time.
type Scratch struct {
	recs []Recording
	stbs []Standby
	ids  []nvrha.ServerID
	next []int
}

// Assign returns which standby takes over which recording server, sorted by
// Recording ID. The choice is optimal for the objective described in the
// package documentation: most recording servers covered; then the best
// recording servers covered, by Priority, then Cameras, then Channels, then
// ID; then fewest standby channels used; then a tie-break by standby ID. The
// result does not depend on the order of recs or standbys.
//
// It returns an error wrapping [ErrInvalidInput] if an ID appears twice
// (within or across the two lists) or a channel or camera count is
// negative.
func Assign(recs []Recording, standbys []Standby) ([]Pair, error) {
	var s Scratch
	pairs, err := AssignInto(make([]Pair, 0, min(len(recs), len(standbys))), &s, recs, standbys)
	if err != nil {
		return nil, err
	}
	return pairs, nil
}

// AssignInto is [Assign] for hot paths: it appends the pairs, sorted by
// Recording ID, to dst and returns the extended slice, using s for its
// working memory. With a warm s and enough capacity in dst it allocates
// nothing. On error it returns dst unchanged.
func AssignInto(dst []Pair, s *Scratch, recs []Recording, standbys []Standby) ([]Pair, error) {
	if err := s.validate(recs, standbys); err != nil {
		return dst, err
	}
	if len(recs) == 0 || len(standbys) == 0 {
		return dst, nil
	}

	rs := append(s.recs[:0], recs...)
	slices.SortFunc(rs, byValue)
	ss := append(s.stbs[:0], standbys...)
	slices.SortFunc(ss, byChannelsAscID)
	s.recs, s.stbs = rs, ss

	// next is a union-find over standby positions: find(i) is the first free
	// position at or after i, and len(ss) means none.
	m := len(ss)
	next := slices.Grow(s.next[:0], m+1)[:m+1]
	s.next = next

	// Choose the set T of recording servers to cover: most valuable first,
	// each kept if T stays coverable. Placing each on the smallest free
	// standby that fits is an exact test in any order (doc.go); the chosen
	// servers are packed at the front of rs.
	resetFree(next)
	covered := 0
	for _, r := range rs {
		if covered == m {
			break // every standby is taken: T is a basis
		}
		j := find(next, firstFit(ss, r.Channels))
		if j == m {
			continue
		}
		next[j] = j + 1
		rs[covered] = r
		covered++
	}

	// Cover T again, now largest first, so that each gets the smallest
	// standby left that fits: the fewest standby channels (doc.go).
	t := rs[:covered]
	slices.SortFunc(t, byChannelsDescID)
	resetFree(next)
	start := len(dst)
	lo := m // first position with at least the current channels; only falls
	for _, r := range t {
		for lo > 0 && ss[lo-1].Channels >= r.Channels {
			lo--
		}
		// T is coverable, so Hall's condition at r.Channels leaves a free
		// standby at lo or later: j < m.
		j := find(next, lo)
		next[j] = j + 1
		dst = append(dst, Pair{Recording: r.ID, Standby: ss[j].ID})
	}
	slices.SortFunc(dst[start:], byRecordingID)
	return dst, nil
}

// resetFree marks every standby position free.
func resetFree(next []int) {
	for i := range next {
		next[i] = i
	}
}

// firstFit returns the first position in ss, sorted by increasing
// channels, whose standby has at least c channels, or len(ss).
func firstFit(ss []Standby, c int) int {
	lo, hi := 0, len(ss)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if ss[mid].Channels >= c {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// find returns the first free position at or after i, halving paths as it
// goes.
func find(next []int, i int) int {
	for next[i] != i {
		next[i] = next[next[i]]
		i = next[i]
	}
	return i
}

// validate reports duplicate IDs and negative channel and camera counts.
func (s *Scratch) validate(recs []Recording, standbys []Standby) error {
	ids := s.ids[:0]
	for _, r := range recs {
		if r.Channels < 0 {
			return fmt.Errorf("%w: recording server %q has %d license channels", ErrInvalidInput, r.ID, r.Channels)
		}
		if r.Cameras < 0 {
			return fmt.Errorf("%w: recording server %q has %d cameras", ErrInvalidInput, r.ID, r.Cameras)
		}
		ids = append(ids, r.ID)
	}
	for _, sb := range standbys {
		if sb.Channels < 0 {
			return fmt.Errorf("%w: standby server %q has %d license channels", ErrInvalidInput, sb.ID, sb.Channels)
		}
		ids = append(ids, sb.ID)
	}
	s.ids = ids
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			return fmt.Errorf("%w: server ID %q appears more than once", ErrInvalidInput, ids[i])
		}
	}
	return nil
}

// byValue orders recording servers most valuable first: the order of
// criterion 2 in the package documentation.
func byValue(a, b Recording) int {
	if c := cmp.Compare(b.Priority, a.Priority); c != 0 {
		return c
	}
	if c := cmp.Compare(b.Cameras, a.Cameras); c != 0 {
		return c
	}
	return byChannelsDescID(a, b)
}

func byChannelsDescID(a, b Recording) int {
	if c := cmp.Compare(b.Channels, a.Channels); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func byChannelsAscID(a, b Standby) int {
	if c := cmp.Compare(a.Channels, b.Channels); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func byRecordingID(a, b Pair) int { return cmp.Compare(a.Recording, b.Recording) }
