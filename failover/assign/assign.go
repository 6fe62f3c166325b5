package assign

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/nvrha/nvrha"
)

// ErrInvalidInput is wrapped by every error about malformed input: a
// duplicate server ID or a negative channel count. Such input is a mistake of
// the caller, not a state of the world, so it is reported rather than
// repaired.
var ErrInvalidInput = errors.New("assign: invalid input")

// Recording is a failed recording server that needs a standby.
type Recording struct {
	ID       nvrha.ServerID
	Channels int // license channels; must not be negative
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
// package documentation: most recording servers covered, then most license
// channels covered, then fewest standby channels used, then a tie-break by
// ID. The result does not depend on the order of recs or standbys.
//
// It returns an error wrapping [ErrInvalidInput] if an ID appears twice
// (within or across the two lists) or a channel count is negative.
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
	slices.SortFunc(rs, byChannelsDescID)
	ss := append(s.stbs[:0], standbys...)
	slices.SortFunc(ss, byChannelsAscID)
	s.recs, s.stbs = rs, ss

	// next is a union-find over standby positions: find(i) is the first free
	// position at or after i, and len(ss) means none.
	m := len(ss)
	next := slices.Grow(s.next[:0], m+1)[:m+1]
	for i := range next {
		next[i] = i
	}
	s.next = next

	start := len(dst)
	covered := 0
	lo := m // first position with at least the current channels; only falls
	for _, r := range rs {
		for lo > 0 && ss[lo-1].Channels >= r.Channels {
			lo--
		}
		if covered >= m-lo {
			// Hall's condition at r.Channels is tight: r cannot be
			// added, and neither can anything with as many channels.
			continue
		}
		// Every standby used so far sits at lo or later, and fewer than
		// m-lo are used, so j < m.
		j := find(next, lo)
		next[j] = j + 1
		dst = append(dst, Pair{Recording: r.ID, Standby: ss[j].ID})
		covered++
	}
	slices.SortFunc(dst[start:], byRecordingID)
	return dst, nil
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

// validate reports duplicate IDs and negative channel counts.
func (s *Scratch) validate(recs []Recording, standbys []Standby) error {
	ids := s.ids[:0]
	for _, r := range recs {
		if r.Channels < 0 {
			return fmt.Errorf("%w: recording server %q has %d license channels", ErrInvalidInput, r.ID, r.Channels)
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
