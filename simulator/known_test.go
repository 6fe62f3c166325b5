package simulator

// tolerated are the known Machine issues the batch tests record instead of
// failing on; TestKnownIssuesReproduce fails once one of them is fixed.
var tolerated = []string{"takeover-reordered-forever", "stray-cover-never-released", "stale-retry-unbounded"}
