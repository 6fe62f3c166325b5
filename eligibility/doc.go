// Package eligibility owns every rule that decides whether a server may join a
// Failover Group as a recording server or as a standby server, and whether a
// standby server can cover a recording server.
//
// The checks are pure functions of their arguments: they read facts, never
// change them, and keep no state, so a center can run them for a UI preview
// and again when it applies the change, and get the same answer.
//
// # Rules
//
// A check returns every rule the server fails, not just the first, so that a
// UI can answer "Why can't I add this server as a standby server?" in one go
// instead of making an administrator fix one problem at a time. Each failed
// rule is a [Reason]: a stable [Code] for programs and a sentence with the
// specifics for people. The reasons always come in this order, which is also
// the order of the list below:
//
//  1. [CodeInvalidFacts]: the server's facts fail [nvrha.Facts.Validate].
//     When this fails it is the only reason returned, because no other rule
//     can be judged on malformed input.
//  2. [CodeUnsupportedProduct]: the server must run a supported product: QVR
//     Surveillance (including TVR-AI200), QVR Elite or QVR Pro by default, or
//     the vendor's own list in [Rules.SupportedProducts].
//  3. [CodeAdvancedModeDisabled]: the server must have Advanced Mode enabled.
//  4. [CodeInAnotherGroup] or [CodeAlreadyInGroup]: a server belongs to at most
//     one Failover Group, so it must not be in another group, nor already in
//     this one. At most one of the two is reported.
//  5. [CodeGroupFull]: a group holds at most 64 servers (recording and standby
//     together) on an x86_64 center and 8 on an ARM64 center; see
//     [MaxServersPerGroup]. A group whose center platform is unknown has no
//     known capacity and is treated as full rather than as unlimited.
//
// A standby server must also pass:
//
//  6. [CodeNoEmptyRecordingSpace]: at least one empty recording space, to
//     record the cameras it takes over.
//  7. [CodeCameraListNotEmpty]: an empty camera list, so that it is free to
//     record another server's cameras.
//  8. [CodeInsufficientLicense]: at least as many license channels as every
//     recording server already in the group. One reason is given, naming the
//     recording server with the most channels (the first of them when several
//     share the maximum).
//
// The rules are independent of each other apart from rule 1: a server already
// in this group that is also over capacity gets both reasons, because each is
// a separate thing an administrator could be asked to change.
//
// # Eligibility is judged when a server joins
//
// The license rule compares a standby with the recording servers in the group
// at the moment the standby joins. QVR Center sets no license rule for a
// recording server, so one that joins later may have more license channels
// than some or all standbys. It is not refused: it is "Normal, unprotected"
// when no standby has enough licensed channel quota to take it over fully,
// which is the status the manual gives for exactly this case. Takeover and
// status therefore ask [CanCover] about each standby and recording server pair
// when they need the answer, instead of trusting the join-time check.
package eligibility
