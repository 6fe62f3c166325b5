package simulator

// tolerated are the known Machine issues the batch tests record instead of
// failing on; TestKnownIssuesReproduce fails once one of them is fixed.
// None is known today.
var tolerated []string
