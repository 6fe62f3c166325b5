package eligibility_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
)

// Tests named after items of QVR Center's failover management page that the
// other tests of this package cover without naming: the TVR-AI200 as a QVR
// Surveillance server, the TS-AI642 as the ARM64 center, and the FAQ "Why
// can't I add server as a standby server?" answered one criterion at a time.

// fitServer returns facts that meet every rule for both roles in fitGroup.
func fitServer(id nvrha.ServerID, p nvrha.Product) nvrha.Facts {
	return nvrha.Facts{
		ID: id, Product: p, AdvancedMode: true, LicenseChannels: 32,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", CapacityBytes: 2 << 40, Empty: true}},
	}
}

func fitGroup(p nvrha.Platform, members int) eligibility.Group {
	return eligibility.Group{
		Name: "Failover Group 1", Platform: p, Members: members,
		RecordingServers: []nvrha.Facts{{
			ID: "rec-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 32,
			Cameras:         []nvrha.CameraID{"cam-1"},
			RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1"}},
		}},
	}
}

// "QVR Center only supports QVR Surveillance (including TVR-AI200), QVR Elite,
// and QVR Pro servers with Advanced Mode enabled": a TVR-AI200 runs QVR
// Surveillance and joins as either role; each of the three products does;
// any of them with Advanced Mode off, or any other product, does not.
func TestManual_QVRSurveillanceIncludingTVRAI200QVREliteQVRProWithAdvancedMode(t *testing.T) {
	tvr := fitServer("tvr-ai200-1", nvrha.ProductQVRSurveillance)
	tvr.Name = "TVR-AI200"
	if got := tvr.Product.String(); got != "QVR Surveillance" {
		t.Errorf("the TVR-AI200's product shows as %q, want QVR Surveillance", got)
	}
	candidates := []nvrha.Facts{
		tvr,
		fitServer("qvr-surveillance", nvrha.ProductQVRSurveillance),
		fitServer("qvr-elite", nvrha.ProductQVRElite),
		fitServer("qvr-pro", nvrha.ProductQVRPro),
	}
	var r eligibility.Rules
	for _, f := range candidates {
		c := eligibility.Candidate{Facts: f}
		if rs := r.CheckRecording(c, fitGroup(nvrha.PlatformX86_64, 1)); rs != nil {
			t.Errorf("%s (%s) refused as recording server: %v", f.DisplayName(), f.Product, rs)
		}
		if rs := r.CheckStandby(c, fitGroup(nvrha.PlatformX86_64, 1)); rs != nil {
			t.Errorf("%s (%s) refused as standby server: %v", f.DisplayName(), f.Product, rs)
		}
		c.Facts.AdvancedMode = false
		for role, rs := range map[string]eligibility.Reasons{
			"recording": r.CheckRecording(c, fitGroup(nvrha.PlatformX86_64, 1)),
			"standby":   r.CheckStandby(c, fitGroup(nvrha.PlatformX86_64, 1)),
		} {
			if !slices.Equal(rs.Codes(), []eligibility.Code{eligibility.CodeAdvancedModeDisabled}) {
				t.Errorf("%s without Advanced Mode as %s server: %v; want only %s", f.DisplayName(), role, rs.Codes(), eligibility.CodeAdvancedModeDisabled)
			}
		}
	}
	// Another product, even one named like a QVR product, is refused, and
	// the reason names the three supported ones.
	for _, p := range []nvrha.Product{"tvr-ai200", "QVR Surveillance", "qvr-center"} {
		c := eligibility.Candidate{Facts: fitServer("other", p)}
		rs := r.CheckStandby(c, fitGroup(nvrha.PlatformX86_64, 1))
		if !slices.Equal(rs.Codes(), []eligibility.Code{eligibility.CodeUnsupportedProduct}) {
			t.Fatalf("product %q: %v; want only %s", p, rs.Codes(), eligibility.CodeUnsupportedProduct)
		}
		if msg := rs[0].Message; !strings.Contains(msg, "QVR Surveillance, QVR Elite or QVR Pro") {
			t.Errorf("product %q: the reason does not name the supported products: %q", p, msg)
		}
	}
}

// "ARM64 server (TS-AI642) can manage up to 8 servers for each Failover
// Group", against 64 on x86_64: the last server that fits joins, the next is
// refused as group-full whatever its role, with the platform and the limit
// in the sentence.
func TestManual_GroupOf64ServersOnX86_64And8OnARM64TSAI642(t *testing.T) {
	for _, tc := range []struct {
		platform nvrha.Platform
		limit    int
	}{{nvrha.PlatformX86_64, 64}, {nvrha.PlatformARM64, 8}} {
		t.Run(tc.platform.String(), func(t *testing.T) {
			if got := eligibility.MaxServersPerGroup(tc.platform); got != tc.limit {
				t.Fatalf("MaxServersPerGroup(%v) = %d, want %d", tc.platform, got, tc.limit)
			}
			var r eligibility.Rules
			c := eligibility.Candidate{Facts: fitServer("sb-1", nvrha.ProductQVRPro)}
			if rs := r.CheckStandby(c, fitGroup(tc.platform, tc.limit-1)); rs != nil {
				t.Errorf("server number %d refused: %v", tc.limit, rs)
			}
			if rs := r.CheckRecording(c, fitGroup(tc.platform, tc.limit-1)); rs != nil {
				t.Errorf("server number %d refused: %v", tc.limit, rs)
			}
			for role, rs := range map[string]eligibility.Reasons{
				"recording": r.CheckRecording(c, fitGroup(tc.platform, tc.limit)),
				"standby":   r.CheckStandby(c, fitGroup(tc.platform, tc.limit)),
			} {
				if !slices.Equal(rs.Codes(), []eligibility.Code{eligibility.CodeGroupFull}) {
					t.Fatalf("server number %d as %s: %v; want only %s", tc.limit+1, role, rs.Codes(), eligibility.CodeGroupFull)
				}
				for _, part := range []string{tc.platform.String(), "at most"} {
					if !strings.Contains(rs[0].Message, part) {
						t.Errorf("group-full reason lacks %q: %q", part, rs[0].Message)
					}
				}
			}
		})
	}
}

// "Why can't I add server as a standby server?" A server failing all four
// standby criteria of the page (at least one empty recording space, an empty
// camera list, not yet added to another Failover Group, license channels >=
// every recording server's) gets four reasons; fixing one criterion at a
// time removes exactly its reason, and the server is eligible once all four
// are met.
func TestManual_WhyCantIAddServerAsStandbyServer(t *testing.T) {
	f := fitServer("nvr-7", nvrha.ProductQVRElite)
	f.RecordingSpaces[0].Empty = false
	f.Cameras = []nvrha.CameraID{"gate", "yard"}
	f.LicenseChannels = 16
	c := eligibility.Candidate{Facts: f, CurrentGroup: "Warehouse"}
	g := fitGroup(nvrha.PlatformX86_64, 1)
	var r eligibility.Rules

	fixes := []struct {
		code eligibility.Code
		says string
		fix  func(*eligibility.Candidate)
	}{
		{eligibility.CodeInAnotherGroup, `"Warehouse"`, func(c *eligibility.Candidate) { c.CurrentGroup = "" }},
		{eligibility.CodeNoEmptyRecordingSpace, "empty recording space", func(c *eligibility.Candidate) {
			c.Facts.RecordingSpaces = append(c.Facts.RecordingSpaces, nvrha.RecordingSpace{Name: "vol2", Empty: true})
		}},
		{eligibility.CodeCameraListNotEmpty, "empty camera list", func(c *eligibility.Candidate) { c.Facts.Cameras = nil }},
		{eligibility.CodeInsufficientLicense, "32 of recording server rec-1", func(c *eligibility.Candidate) { c.Facts.LicenseChannels = 32 }},
	}
	var want []eligibility.Code
	for _, fx := range fixes {
		want = append(want, fx.code)
	}
	for _, fx := range fixes {
		rs := r.CheckStandby(c, g)
		got := slices.Clone(rs.Codes())
		slices.Sort(got)
		sorted := slices.Clone(want)
		slices.Sort(sorted)
		if !slices.Equal(got, sorted) {
			t.Fatalf("reasons %v, want %v", rs.Codes(), want)
		}
		for _, reason := range rs {
			if reason.Code == fx.code && !strings.Contains(reason.Message, fx.says) {
				t.Errorf("reason %s lacks %q: %q", fx.code, fx.says, reason.Message)
			}
		}
		fx.fix(&c)
		want = slices.DeleteFunc(want, func(x eligibility.Code) bool { return x == fx.code })
	}
	if rs := r.CheckStandby(c, g); rs != nil {
		t.Errorf("with every criterion met: %v; want eligible", rs)
	}
}
