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
// When failed recording servers outnumber the standbys that fit them, some
// stay uncovered and lose footage, camera by camera. So which ones are
// covered matters: first what the operator asked for (Priority, a failover
// sequence set per recording server), then what is at stake (Cameras).
//
// Recording servers are ranked by value, a total order: higher Priority
// first, then more Cameras, then more Channels, then smaller ID. [Assign]
// returns a matching that is optimal for these criteria, compared
// lexicographically (each one only breaks ties left by those before it):
//
//  1. cover as many recording servers as possible;
//  2. then cover the most valuable recording servers, in this sense: for
//     every k, the k most valuable covered servers are, one by one, at
//     least as valuable as the k most valuable servers of any other
//     matching (the i-th of ours ranks no lower than the i-th of theirs).
//     Such a matching exists (see below), so among the largest matchings
//     it is also the one whose covered servers, listed most valuable
//     first, are lexicographically greatest. So the
//     highest Priority is covered first, as many of its servers as fit;
//     then, within a Priority, the most Cameras; then the most license
//     Channels; then the smallest IDs. With equal Priority and Cameras
//     everywhere, this is: cover as many license channels as possible (the
//     sum of Channels of the covered servers), then, among servers with
//     equal Channels, smaller IDs first;
//  3. then use as few standby channels as possible (the sum of Channels of
//     the standbys used): the smallest standby that fits is preferred, so
//     large standbys stay free for large recording servers;
//  4. then, to make the answer unique: taking the covered recording servers
//     in order of decreasing Channels and then increasing ID, each gets the
//     smallest standby, by Channels and then by ID, that still allows
//     criteria 1 to 3 to be met; equivalently, that sequence of standbys is
//     lexicographically smallest.
//
// A matching optimal for criterion 2 maximises, among matchings of maximum
// size, every sum of weights that never rank a less valuable server above a
// more valuable one: for instance the number of Cameras covered among the
// servers of the highest Priority, and, with equal Priority everywhere, the
// total of Cameras covered.
//
// IDs are compared as Go strings (byte by byte). Since IDs are unique, the
// value order is total and the result is unique.
//
// # The algorithm
//
// Sort the recording servers by decreasing value and the standbys by
// increasing Channels (then increasing ID). First choose the set T of
// recording servers to cover: walk the recording servers by decreasing
// value and give each the smallest free standby with at least its channels,
// if there is one; T is those that got one. Then cover T again from
// scratch, walking T by decreasing Channels (then increasing ID) and giving
// each the smallest free standby with at least its channels; that is the
// answer. A union-find over standby positions finds the smallest free
// standby at or after a position in near-constant time; a binary search
// finds the first standby that fits in the first walk, and a pointer that
// only moves one way in the second, because channels only decrease there.
// Total cost: O(n log n) for the sorts and searches, plus near-linear work.
// Working memory lives in a [Scratch] so that [AssignInto] allocates
// nothing once the Scratch is warm.
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
// The first walk is an exact test in any order. With the standbys sorted by
// increasing Channels, each recording server fits exactly the standbys from
// some position p on. Suppose recording server r, fitting from p, finds no
// free standby at or after p. Let q <= p be the smallest position such that
// every standby from q on is taken. Each of them was given to a server s
// that fits only from q on: had s fitted from some position before q, the
// standby just before q, which is free now and so was free then, would have
// been the smallest free one for s, not the one s got. So r and the m-q
// servers holding the standbys from q on (m standbys in all) all fit only
// the m-q standbys from q on: Hall's condition fails, and r cannot be added
// to T. If r does find a standby, the walk has just covered T with r.
//
// Criteria 1 and 2. The sets of recording servers that can be covered at
// once are the independent sets of a transversal matroid. For a matroid,
// the greedy algorithm (take elements in a fixed order, keep each that keeps
// the set independent) yields a basis, so a set of maximum size (criterion
// 1), and that basis is Gale-optimal for the order (Gale, 1968): its k-th
// element, for every k, ranks at least as high as the k-th element of any
// independent set. (Let G be the greedy basis and I independent, both
// listed by decreasing value, and suppose the k-th element of I ranks above
// the k-th of G, for the smallest such k. The first k elements of I are
// independent and, by the exchange property, one of them, x, can be added
// to the first k-1 elements of G. x ranks above the k-th element of G, so
// the greedy algorithm met x before it and, when it did, had kept a subset
// of those k-1 elements; x with that subset is independent, so the greedy
// algorithm kept x, and x is among the first k-1 elements of G, which
// contradicts how x was chosen.) So the greedy basis is at least as good as
// every matching for criterion 2; since the order is total, any basis
// equally good has the same members, one by one: T is the only set of
// recording servers optimal for criteria 1 and 2. Dominating one by one, G
// also maximises, over bases, every sum of weights that are monotone in the
// order, which is what the remark after the criteria says. With equal
// Priority and Cameras, the value order is decreasing Channels then
// increasing ID, and Gale optimality is exactly "most channels, then
// smallest IDs among equal Channels": the sum of Channels is such a
// monotone sum, and a basis with the most channels has, at each k, a k-th
// element with the same Channels as the greedy one's (each is at most the
// greedy one's and their sums are equal), so the two can only differ in
// which servers of equal Channels they take, where the greedy one takes the
// smallest IDs.
//
// Criteria 3 and 4 depend only on the set T, which criteria 1 and 2 fix.
// It remains to cover T with the least total standby channels, which is what
// the second walk does. Take r, the member of T with the most channels
// (first by ID among equals), and u, the smallest free standby (by
// Channels, then ID) that fits it. Let M be any optimal cover of T in which
// r has standby u' other than u; u' fits r, so u' has at least as many
// channels as u. If u is unused in M, giving r u instead of u' changes the
// sum by u - u' <= 0; as M is optimal the sum is unchanged. If u covers
// another member q of T in M, then q <= r <= u <= u' in channels, so
// swapping (r gets u, q gets u') is valid and leaves the sum unchanged.
// Either way some optimal cover gives r the standby u, and the rest of it is
// an optimal cover of T without r using the standbys other than u: the same
// problem, smaller. By induction the second walk is optimal for criterion
// 3, and since at each step u is the smallest standby that any optimal
// cover can give r, the sequence of choices is lexicographically smallest:
// criterion 4. (The first walk's cover of T is not reused: it served
// servers in value order, so a small server of high priority may hold a
// standby that the second walk keeps for a larger one.)
//
// [FirstFit] is the naive baseline for comparison: recording servers in
// input order, each takes the first free standby in input order that fits.
// It can cover fewer recording servers than [Assign]: with standbys of 64
// and 8 channels and recording servers of 8 and 64 channels, in that order,
// the 8-channel server takes the 64-channel standby and the 64-channel
// server is left uncovered.
package assign
