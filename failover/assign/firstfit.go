package assign

import "slices"

// FirstFit is the naive baseline that [Assign] is compared with: recording
// servers in input order, each takes the first free standby, in input order,
// that fits. The pairs are returned sorted by Recording ID, like [Assign].
// It can cover fewer recording servers than [Assign] (see the package
// documentation), and it depends on the order of its inputs.
//
// It rejects the same invalid input as [Assign], with an error wrapping
// [ErrInvalidInput].
func FirstFit(recs []Recording, standbys []Standby) ([]Pair, error) {
	var s Scratch
	if err := s.validate(recs, standbys); err != nil {
		return nil, err
	}
	pairs := make([]Pair, 0, min(len(recs), len(standbys)))
	used := make([]bool, len(standbys))
	for _, r := range recs {
		for j, sb := range standbys {
			if !used[j] && sb.Channels >= r.Channels {
				used[j] = true
				pairs = append(pairs, Pair{Recording: r.ID, Standby: sb.ID})
				break
			}
		}
	}
	slices.SortFunc(pairs, byRecordingID)
	return pairs, nil
}
