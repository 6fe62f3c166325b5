package eligibility

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nvrha/nvrha"
)

// Group capacities from QVR Center's manual, where the ARM64 center is the
// TS-AI642. They count recording and standby servers together.
const (
	maxServersX86_64 = 64
	maxServersARM64  = 8
)

// Rules configures the checks. The zero value is QVR Center's rules.
type Rules struct {
	// SupportedProducts lists the products allowed in a group; nil or empty
	// means nvrha.QVRProducts(). A vendor lists its own products here; the QVR
	// products are then allowed only if listed too.
	SupportedProducts []nvrha.Product
}

// Group is what the rules need to know about the group a server would join.
type Group struct {
	// Name identifies the group in messages and in the membership rules.
	Name string
	// Platform is the center's platform, which sets the group's capacity.
	Platform nvrha.Platform
	// Members counts the servers already in the group (recording and
	// standby), not counting the one being checked.
	Members int
	// RecordingServers are the group's current recording servers; a standby
	// needs at least as many license channels as each of them.
	RecordingServers []nvrha.Facts
}

// Candidate is a server that would join.
type Candidate struct {
	Facts nvrha.Facts
	// CurrentGroup is the name of the group the server already belongs to, ""
	// if none.
	CurrentGroup string
}

// MaxServersPerGroup returns how many servers, recording and standby together,
// one Failover Group may hold on a center of platform p: 64 for x86_64, 8 for
// ARM64, and 0 for an unknown platform, so that an unknown platform can never
// be mistaken for an unlimited one.
func MaxServersPerGroup(p nvrha.Platform) int {
	switch p {
	case nvrha.PlatformX86_64:
		return maxServersX86_64
	case nvrha.PlatformARM64:
		return maxServersARM64
	}
	return 0
}

// CanCover reports whether standby has enough license channels to take over
// every camera of recording (standby.LicenseChannels >=
// recording.LicenseChannels). It is the license-quota rule used by takeover,
// which must ask it again at takeover time: a recording server may have
// joined after the standby with more channels than the standby has.
func CanCover(standby, recording nvrha.Facts) bool {
	return standby.LicenseChannels >= recording.LicenseChannels
}

// Supported reports whether product p may join a Failover Group under r.
func (r Rules) Supported(p nvrha.Product) bool {
	return slices.Contains(r.products(), p)
}

// CheckRecording returns every rule that keeps c from joining g as a recording
// server, in the documented order, or nil when c is eligible.
func (r Rules) CheckRecording(c Candidate, g Group) Reasons {
	if rs := checkFacts(c); rs != nil {
		return rs
	}
	return nilIfEmpty(r.common(c, g))
}

// CheckStandby returns every rule that keeps c from joining g as a standby
// server, in the documented order, or nil when c is eligible. It answers "Why
// can't I add this server as a standby server?".
func (r Rules) CheckStandby(c Candidate, g Group) Reasons {
	if rs := checkFacts(c); rs != nil {
		return rs
	}
	return nilIfEmpty(standbyOnly(r.common(c, g), c, g))
}

func (r Rules) products() []nvrha.Product {
	if len(r.SupportedProducts) == 0 {
		return nvrha.QVRProducts()
	}
	return r.SupportedProducts
}

// checkFacts runs first and alone: the other rules read fields that only mean
// something once the facts are well formed.
func checkFacts(c Candidate) Reasons {
	err := c.Facts.Validate()
	if err == nil {
		return nil
	}
	return Reasons{{
		Code:    CodeInvalidFacts,
		Message: fmt.Sprintf("The server's facts are malformed, so no eligibility rule can be judged: %v.", err),
	}}
}

// common checks the rules that recording and standby servers share.
func (r Rules) common(c Candidate, g Group) Reasons {
	var rs Reasons
	f := c.Facts
	if !r.Supported(f.Product) {
		rs = append(rs, Reason{CodeUnsupportedProduct, fmt.Sprintf(
			"The server runs %s, which cannot join a Failover Group; the supported products are %s.",
			f.Product, productList(r.products()))})
	}
	if !f.AdvancedMode {
		rs = append(rs, Reason{CodeAdvancedModeDisabled,
			"The server does not have Advanced Mode enabled; the center can manage the recording of a server in a Failover Group only in Advanced Mode."})
	}
	switch {
	case c.CurrentGroup == "":
	case c.CurrentGroup == g.Name:
		rs = append(rs, Reason{CodeAlreadyInGroup, fmt.Sprintf(
			"The server is already a member of Failover Group %q and cannot be added to it twice.", g.Name)})
	default:
		rs = append(rs, Reason{CodeInAnotherGroup, fmt.Sprintf(
			"The server already belongs to Failover Group %q; a server can be in only one Failover Group, so remove it from there first.",
			c.CurrentGroup)})
	}
	if limit := MaxServersPerGroup(g.Platform); limit == 0 {
		rs = append(rs, Reason{CodeGroupFull, fmt.Sprintf(
			"The center's platform %s is unknown, so %s has no known capacity and cannot accept servers.",
			g.Platform, groupRef(g.Name))})
	} else if g.Members >= limit {
		rs = append(rs, Reason{CodeGroupFull, fmt.Sprintf(
			"%s already has %d %s; a Failover Group on an %s center holds at most %d.",
			capitalize(groupRef(g.Name)), g.Members, plural(g.Members, "server", "servers"), g.Platform, limit)})
	}
	return rs
}

// standbyOnly appends the rules that make a server able to take over: room to
// record, no cameras of its own, and enough licenses for any recording server.
func standbyOnly(rs Reasons, c Candidate, g Group) Reasons {
	f := c.Facts
	if !f.HasEmptyRecordingSpace() {
		var msg string
		switch n := len(f.RecordingSpaces); n {
		case 0:
			msg = "The server has no recording space"
		case 1:
			msg = "The server's only recording space is in use"
		default:
			msg = fmt.Sprintf("None of the server's %d recording spaces is empty", n)
		}
		rs = append(rs, Reason{CodeNoEmptyRecordingSpace,
			msg + "; a standby server needs at least one empty recording space to record the cameras it takes over."})
	}
	if n := len(f.Cameras); n > 0 {
		rs = append(rs, Reason{CodeCameraListNotEmpty, fmt.Sprintf(
			"The server's camera list has %d %s; a standby server must have an empty camera list, so that it is free to record the cameras of a failed recording server.",
			n, plural(n, "camera", "cameras"))})
	}
	if top, ok := mostLicensed(g.RecordingServers); ok && !CanCover(f, top) {
		rs = append(rs, Reason{CodeInsufficientLicense, fmt.Sprintf(
			"The server has %d license %s, fewer than the %d of recording server %s; a standby server needs at least as many license channels as every recording server in the group, so that it can take over all of its cameras.",
			f.LicenseChannels, plural(f.LicenseChannels, "channel", "channels"), top.LicenseChannels, serverRef(top))})
	}
	return rs
}

// mostLicensed returns the first recording server with the most license
// channels: beating it means beating all of them, and naming the first keeps
// the message stable for a given group order.
func mostLicensed(recs []nvrha.Facts) (nvrha.Facts, bool) {
	if len(recs) == 0 {
		return nvrha.Facts{}, false
	}
	top := recs[0]
	for _, f := range recs[1:] {
		if f.LicenseChannels > top.LicenseChannels {
			top = f
		}
	}
	return top, true
}

func nilIfEmpty(rs Reasons) Reasons {
	if len(rs) == 0 {
		return nil
	}
	return rs
}

func groupRef(name string) string {
	if name == "" {
		return "the Failover Group"
	}
	return fmt.Sprintf("Failover Group %q", name)
}

// serverRef names a server that may come with malformed facts, since the
// group's recording servers are not validated here.
func serverRef(f nvrha.Facts) string {
	if n := f.DisplayName(); n != "" {
		return n
	}
	return "(unnamed)"
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// productList renders products as "A, B or C" by display name, once each, in
// the configured order.
func productList(ps []nvrha.Product) string {
	var names []string
	for _, p := range ps {
		if n := p.String(); !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	switch len(names) {
	case 0:
		return "none"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
