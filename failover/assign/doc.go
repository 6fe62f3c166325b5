// Package assign decides which free standby server takes over which failed
// recording server when several recording servers fail together.
//
// It owns pure maths and nothing else: no clock, no goroutines, no IO, no
// randomness, and no map whose iteration order could reach the output. The
// answer depends only on the set of inputs, not on their order, so the
// failover Machine can call it on every decision and still replay byte for
// byte. Which recording servers have failed and which standbys are free and
// eligible is decided elsewhere; this package is handed both lists.
//
// # The rule
//
// A standby with S license channels can cover a recording server with R
// license channels if and only if S >= R (QVR Center's license-quota rule,
// the same as [github.com/nvrha/nvrha/eligibility.CanCover]). A standby
// covers at most one recording server and a recording server gets at most
// one standby.
//
// # The objective
//
// [Assign] returns a matching that is optimal for these criteria, compared
// lexicographically (each one only breaks ties left by those before it):
//
//  1. cover as many recording servers as possible;
//  2. then cover as many license channels as possible (the sum of Channels
//     of the covered recording servers);
//  3. then use as few standby channels as possible (the sum of Channels of
//     the standbys used): the smallest standby that fits is preferred, so
//     large standbys stay free for large recording servers;
//  4. then, to make the answer unique:
//     (a) among recording servers with equal Channels, those with smaller
//     IDs are covered first; equivalently, the sorted list of covered
//     recording server IDs is lexicographically smallest;
//     (b) taking the covered recording servers in order of decreasing
//     Channels and then increasing ID, each gets the smallest standby, by
//     Channels and then by ID, that still allows criteria 1 to 3 to be met;
//     equivalently, that sequence of standbys is lexicographically smallest.
//
// IDs are compared as Go strings (byte by byte). Since IDs are unique, the
// result is unique.
//
// # The algorithm
//
// Sort the recording servers by decreasing Channels (then increasing ID) and
// the standbys by increasing Channels (then increasing ID). Walk the
// recording servers in that order, keeping the number k covered so far.
// Recording server r, with c channels, is covered if and only if k is less
// than the number of standbys with at least c channels; if so it gets the
// smallest standby with at least c channels that is still free. A
// union-find over standby positions finds that standby in near-constant
// time, and the count of standbys with at least c channels comes from a
// pointer that only moves one way, because c only decreases. Total cost:
// O(n log n) for the sorts, plus near-linear work. Working memory lives in a
// [Scratch] so that [AssignInto] allocates nothing once the Scratch is warm.
//
// # Why it is exact
//
// Fitting is nested: a standby that fits a recording server fits every
// recording server with fewer channels. So Hall's condition takes a simple
// form: a set T of recording servers can all be covered at once if and only
// if, for every c, T has no more members with at least c channels than there
// are standbys with at least c channels. (Necessity is plain. Sufficiency:
// cover T in decreasing order of channels, giving each any free standby that
// fits; when the i-th, with c channels, is reached, the i-1 standbys already
// used each fit a recording server with at least c channels, so all have at
// least c channels, and the condition at c says there are at least i such
// standbys, so one is free.)
//
// Criteria 1 and 2. The sets of recording servers that can be covered at
// once are the independent sets of a transversal matroid. For a matroid, the
// greedy algorithm (take elements by decreasing weight, keep each that keeps
// the set independent) yields a basis, so a set of maximum size (criterion
// 1), of maximum weight among bases (criterion 2, weight = Channels). Every
// basis B of maximum weight has the same number of members with at least c
// channels, for every c: the greedy basis has the most possible for every c
// at once (its members with at least c channels are what the greedy
// algorithm picks from those recording servers alone, hence a basis of
// them), and the weight of B is the sum over the distinct positive channel
// values c1 < c2 < ... of (ci - c(i-1)) times the number of members of B
// with at least ci channels (c0 = 0), with every coefficient positive, so a
// shortfall at any ci would lose weight. Hence all solutions optimal for criteria 1 and 2
// cover the same multiset of channel values, and differ only in which of
// several recording servers with equal Channels are covered. Taking equal
// Channels by increasing ID gives criterion 4(a): for any other choice with
// the same counts per channel value, the smallest ID covered by only one of
// the two choices is covered by the greedy one.
//
// The greedy test is O(1): the candidate r, with c channels, has no more
// channels than any member of T so far, so adding it raises, by one, the
// count of T at thresholds at or below c only, to |T|+1; the number of
// standbys with at least c' channels only grows as c' falls, so the tightest
// of these conditions is the one at c: |T|+1 <= number of standbys with at
// least c channels.
//
// Criterion 3 depends only on the standbys used, and whether a set of
// standbys can cover a set of recording servers depends only on their
// channel values, so any solution optimal for 1 and 2 can be moved onto the
// set T the greedy chose without changing criterion 3. It remains to cover T
// with the least total standby channels. Take r, the member of T with the
// most channels (first by ID among equals), and u, the smallest free standby
// (by Channels, then ID) that fits it. Let M be any optimal cover of T in
// which r has standby u' other than u; u' fits r, so u' has at least as many
// channels as u. If u is unused in M, giving r u instead of u' changes the
// sum by u - u' <= 0; as M is optimal the sum is unchanged. If u covers
// another member q of T in M, then q <= r <= u <= u' in channels, so swapping
// (r gets u, q gets u') is valid and leaves the sum unchanged. Either way
// some optimal cover gives r the standby u, and the rest of it is an optimal
// cover of T without r using the standbys other than u: the same problem,
// smaller. By induction the greedy cover is optimal for criterion 3, and
// since at each step u is the smallest standby that any optimal cover can
// give r, the sequence of choices is lexicographically smallest: criterion
// 4(b).
//
// [FirstFit] is the naive baseline for comparison: recording servers in
// input order, each takes the first free standby in input order that fits.
// It can cover fewer recording servers than [Assign]: with standbys of 64
// and 8 channels and recording servers of 8 and 64 channels, in that order,
// the 8-channel server takes the 64-channel standby and the 64-channel
// server is left uncovered.
package assign
