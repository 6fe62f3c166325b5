package eligibility_test

import (
	"reflect"
	"slices"
	"testing"

	"pgregory.net/rapid"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
)

// The reference below restates QVR Center's manual's rules as a flat list of
// predicates, written apart from the implementation and without its helpers,
// so that the two can only agree by both being right.

type refInput struct {
	supported []nvrha.Product
	c         eligibility.Candidate
	g         eligibility.Group
}

type refRule struct {
	code        eligibility.Code
	standbyOnly bool
	fails       func(in refInput) bool
}

var refCapacity = map[nvrha.Platform]int{
	nvrha.PlatformX86_64: 64,
	nvrha.PlatformARM64:  8,
}

var refRules = []refRule{
	{eligibility.CodeUnsupportedProduct, false, func(in refInput) bool {
		allowed := in.supported
		if len(allowed) == 0 {
			allowed = []nvrha.Product{"qvr-surveillance", "qvr-elite", "qvr-pro"}
		}
		for _, p := range allowed {
			if p == in.c.Facts.Product {
				return false
			}
		}
		return true
	}},
	{eligibility.CodeAdvancedModeDisabled, false, func(in refInput) bool {
		return !in.c.Facts.AdvancedMode
	}},
	{eligibility.CodeInAnotherGroup, false, func(in refInput) bool {
		return in.c.CurrentGroup != "" && in.c.CurrentGroup != in.g.Name
	}},
	{eligibility.CodeAlreadyInGroup, false, func(in refInput) bool {
		return in.c.CurrentGroup != "" && in.c.CurrentGroup == in.g.Name
	}},
	{eligibility.CodeGroupFull, false, func(in refInput) bool {
		limit, known := refCapacity[in.g.Platform]
		return !known || in.g.Members >= limit
	}},
	{eligibility.CodeNoEmptyRecordingSpace, true, func(in refInput) bool {
		return !slices.ContainsFunc(in.c.Facts.RecordingSpaces, func(s nvrha.RecordingSpace) bool { return s.Empty })
	}},
	{eligibility.CodeCameraListNotEmpty, true, func(in refInput) bool {
		return len(in.c.Facts.Cameras) != 0
	}},
	{eligibility.CodeInsufficientLicense, true, func(in refInput) bool {
		return slices.ContainsFunc(in.g.RecordingServers, func(rec nvrha.Facts) bool {
			return rec.LicenseChannels > in.c.Facts.LicenseChannels
		})
	}},
}

func refCheck(standby bool, in refInput) []eligibility.Code {
	if in.c.Facts.Validate() != nil {
		return []eligibility.Code{eligibility.CodeInvalidFacts}
	}
	var out []eligibility.Code
	for _, r := range refRules {
		if r.standbyOnly && !standby {
			continue
		}
		if r.fails(in) {
			out = append(out, r.code)
		}
	}
	return out
}

// bad reports that a generated value should break a rule. Only the largest
// value means "break", because generators lean towards small values and
// eligible servers must stay common enough to be exercised.
func bad(t *rapid.T, label string) bool {
	return rapid.IntRange(0, 3).Draw(t, label) == 3
}

func genFacts(t *rapid.T, label string) nvrha.Facts {
	f := nvrha.Facts{
		ID:              nvrha.ServerID(rapid.SampledFrom([]string{"srv-a", "srv-b", "rec-1", "nvr 7"}).Draw(t, label+".id")),
		Name:            rapid.SampledFrom([]string{"", "Lobby NVR"}).Draw(t, label+".name"),
		Product:         nvrha.ProductQVRPro,
		AdvancedMode:    !bad(t, label+".advancedModeOff"),
		LicenseChannels: rapid.IntRange(0, 80).Draw(t, label+".channels"),
	}
	if bad(t, label+".otherProduct") {
		f.Product = rapid.SampledFrom([]nvrha.Product{"acme-nvr", "QVR Pro", "qvr-elite", "qvr-surveillance"}).Draw(t, label+".product")
	}
	if bad(t, label+".hasCameras") {
		f.Cameras = rapid.SliceOfNDistinct(rapid.SampledFrom([]nvrha.CameraID{"c1", "c2", "c3", "c4"}), 1, 4,
			func(c nvrha.CameraID) nvrha.CameraID { return c }).Draw(t, label+".cameras")
	}
	f.RecordingSpaces = rapid.SliceOfN(rapid.Custom(func(t *rapid.T) nvrha.RecordingSpace {
		return nvrha.RecordingSpace{
			Name:          "vol",
			CapacityBytes: rapid.Int64Range(0, 1<<40).Draw(t, "capacity"),
			Empty:         !bad(t, "inUse"),
		}
	}), 0, 3).Draw(t, label+".spaces")

	// Malformed facts, rarely, in each way Validate knows; counted down from
	// the top for the same reason as in bad.
	switch 24 - rapid.IntRange(0, 24).Draw(t, label+".corrupt") {
	case 0:
		f.ID = ""
	case 1:
		f.Product = ""
	case 2:
		f.LicenseChannels = -1
	case 3:
		f.LicenseChannels = nvrha.MaxLicenseChannels + 1
	case 4:
		f.Cameras = append(f.Cameras, "dup", "dup")
	case 5:
		f.ID = " padded"
	}
	return f
}

func genRules(t *rapid.T) eligibility.Rules {
	switch rapid.IntRange(0, 2).Draw(t, "rulesKind") {
	case 0:
		return eligibility.Rules{}
	case 1:
		return eligibility.Rules{SupportedProducts: []nvrha.Product{}}
	}
	return eligibility.Rules{SupportedProducts: rapid.SliceOfN(rapid.SampledFrom([]nvrha.Product{
		"acme-nvr", nvrha.ProductQVRPro, nvrha.ProductQVRElite, "other",
	}), 1, 3).Draw(t, "supported")}
}

func genGroup(t *rapid.T) eligibility.Group {
	return eligibility.Group{
		Name:             rapid.SampledFrom([]string{"Failover Group 1", "Parking", ""}).Draw(t, "group.name"),
		Platform:         rapid.SampledFrom([]nvrha.Platform{nvrha.PlatformX86_64, nvrha.PlatformARM64, nvrha.PlatformX86_64, nvrha.PlatformARM64, 2, 200}).Draw(t, "group.platform"),
		Members:          rapid.IntRange(-1, 70).Draw(t, "group.members"),
		RecordingServers: rapid.SliceOfN(rapid.Custom(func(t *rapid.T) nvrha.Facts { return genFacts(t, "rec") }), 0, 4).Draw(t, "group.recs"),
	}
}

func genCandidate(t *rapid.T) eligibility.Candidate {
	c := eligibility.Candidate{Facts: genFacts(t, "cand")}
	if bad(t, "cand.inGroup") {
		c.CurrentGroup = rapid.SampledFrom([]string{"Failover Group 1", "Parking", "Lobby"}).Draw(t, "cand.group")
	}
	return c
}

func supportedOf(r eligibility.Rules) []nvrha.Product {
	if len(r.SupportedProducts) == 0 {
		return nvrha.QVRProducts()
	}
	return r.SupportedProducts
}

func setOf(codes []eligibility.Code) map[eligibility.Code]bool {
	s := make(map[eligibility.Code]bool, len(codes))
	for _, c := range codes {
		s[c] = true
	}
	return s
}

func TestPropertyChecksMatchReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r, c, g := genRules(t), genCandidate(t), genGroup(t)
		in := refInput{supported: r.SupportedProducts, c: c, g: g}
		wantR0, wantC0, wantG0 := deepCopy(r, c, g)

		for _, role := range []struct {
			standby bool
			check   func(eligibility.Candidate, eligibility.Group) eligibility.Reasons
		}{{false, r.CheckRecording}, {true, r.CheckStandby}} {
			got := role.check(c, g)
			want := refCheck(role.standby, in)
			if !reflect.DeepEqual(setOf(got.Codes()), setOf(want)) {
				t.Fatalf("standby=%v: codes %v, reference %v\nmessages: %s", role.standby, got.Codes(), want, got)
			}
			// The reference lists its rules in the documented order, so equal
			// sequences also pin the order.
			if !slices.Equal(got.Codes(), want) {
				t.Fatalf("standby=%v: order %v, reference %v", role.standby, got.Codes(), want)
			}
			if len(want) == 0 && got != nil {
				t.Fatalf("standby=%v: eligible but non-nil %#v", role.standby, got)
			}
			for _, reason := range got {
				if reason.Message == "" {
					t.Fatalf("empty message for %s", reason.Code)
				}
			}
			if again := role.check(c, g); !reflect.DeepEqual(again, got) {
				t.Fatalf("second call differs: %v then %v", got, again)
			}
		}

		gotR, gotC, gotG := deepCopy(r, c, g)
		if !reflect.DeepEqual(wantR0, gotR) || !reflect.DeepEqual(wantC0, gotC) || !reflect.DeepEqual(wantG0, gotG) {
			t.Fatal("a check changed its input")
		}
	})
}

func TestPropertyStandbyIsRecordingPlusStandbyRules(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r, c, g := genRules(t), genCandidate(t), genGroup(t)
		rec, sb := r.CheckRecording(c, g).Codes(), r.CheckStandby(c, g).Codes()
		withoutStandbyOnly := slices.DeleteFunc(slices.Clone(sb), func(code eligibility.Code) bool {
			return slices.Contains(standbyOnlyCodes, code)
		})
		if !slices.Equal(rec, withoutStandbyOnly) {
			t.Fatalf("recording %v, standby %v", rec, sb)
		}
	})
}

func TestPropertyCanCoverIsLicenseComparison(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		s, r := genFacts(t, "standby"), genFacts(t, "recording")
		s.LicenseChannels = rapid.IntRange(-3, nvrha.MaxLicenseChannels+3).Draw(t, "standby.channels")
		r.LicenseChannels = rapid.IntRange(-3, nvrha.MaxLicenseChannels+3).Draw(t, "recording.channels")
		if rapid.Bool().Draw(t, "equal") {
			r.LicenseChannels = s.LicenseChannels
		}
		if got, want := eligibility.CanCover(s, r), s.LicenseChannels >= r.LicenseChannels; got != want {
			t.Fatalf("CanCover(%d, %d) = %v, want %v", s.LicenseChannels, r.LicenseChannels, got, want)
		}
	})
}

func TestPropertyEligibleStandbyCoversEveryRecordingServer(t *testing.T) {
	eligible := 0
	rapid.Check(t, func(t *rapid.T) {
		r, c, g := genRules(t), genCandidate(t), genGroup(t)
		if rapid.Bool().Draw(t, "passOtherRules") {
			// Random facts rarely pass every rule at once; make all but the
			// license rule pass, so that the license rule alone decides.
			c.Facts = c.Facts.Clone()
			c.Facts.Product = rapid.SampledFrom(supportedOf(r)).Draw(t, "supportedProduct")
			c.Facts.AdvancedMode = true
			c.Facts.Cameras = nil
			c.Facts.RecordingSpaces = append(c.Facts.RecordingSpaces, nvrha.RecordingSpace{Name: "spare", Empty: true})
			c.CurrentGroup = ""
			g.Platform = rapid.SampledFrom([]nvrha.Platform{nvrha.PlatformX86_64, nvrha.PlatformARM64}).Draw(t, "knownPlatform")
			g.Members = rapid.IntRange(0, 7).Draw(t, "roomyMembers")
		}
		if rapid.Bool().Draw(t, "enoughChannels") {
			// Make the license rule pass often enough to reach the other branch.
			for _, rec := range g.RecordingServers {
				c.Facts.LicenseChannels = max(c.Facts.LicenseChannels, rec.LicenseChannels)
			}
		}
		rs := r.CheckStandby(c, g)
		if rs != nil {
			return
		}
		eligible++
		for _, rec := range g.RecordingServers {
			if !eligibility.CanCover(c.Facts, rec) {
				t.Fatalf("eligible standby with %d channels cannot cover %s with %d", c.Facts.LicenseChannels, rec.ID, rec.LicenseChannels)
			}
		}
	})
	if eligible == 0 {
		t.Fatal("no generated standby was eligible; the property was never exercised")
	}
}
