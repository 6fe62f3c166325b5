package eligibility_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
)

// documentedOrder is the order the package overview promises. The tests hold
// it separately from the implementation so that a reordering there is caught.
var documentedOrder = []eligibility.Code{
	eligibility.CodeInvalidFacts,
	eligibility.CodeUnsupportedProduct,
	eligibility.CodeAdvancedModeDisabled,
	eligibility.CodeInAnotherGroup,
	eligibility.CodeAlreadyInGroup,
	eligibility.CodeGroupFull,
	eligibility.CodeNoEmptyRecordingSpace,
	eligibility.CodeCameraListNotEmpty,
	eligibility.CodeInsufficientLicense,
}

var standbyOnlyCodes = []eligibility.Code{
	eligibility.CodeNoEmptyRecordingSpace,
	eligibility.CodeCameraListNotEmpty,
	eligibility.CodeInsufficientLicense,
}

// server returns facts that pass every rule for both roles.
func server(id string, channels int) nvrha.Facts {
	return nvrha.Facts{
		ID:              nvrha.ServerID(id),
		Product:         nvrha.ProductQVRPro,
		AdvancedMode:    true,
		LicenseChannels: channels,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", CapacityBytes: 4 << 40, Empty: true}},
	}
}

func recorder(id string, channels int, cams ...nvrha.CameraID) nvrha.Facts {
	f := server(id, channels)
	f.Cameras = cams
	f.RecordingSpaces[0].Empty = false
	return f
}

// group returns an x86_64 group with two recording servers of 16 and 32
// channels and room to spare.
func group() eligibility.Group {
	return eligibility.Group{
		Name:     "Failover Group 1",
		Platform: nvrha.PlatformX86_64,
		Members:  2,
		RecordingServers: []nvrha.Facts{
			recorder("rec-1", 16, "cam-1"),
			recorder("rec-2", 32, "cam-2", "cam-3"),
		},
	}
}

func candidate() eligibility.Candidate {
	return eligibility.Candidate{Facts: server("sb-1", 32)}
}

type check struct {
	name string
	fn   func(eligibility.Rules, eligibility.Candidate, eligibility.Group) eligibility.Reasons
}

var bothRoles = []check{
	{"recording", eligibility.Rules.CheckRecording},
	{"standby", eligibility.Rules.CheckStandby},
}

// wantOnly fails the test unless rs holds exactly the codes want, in order,
// and every message is a non-empty sentence.
func wantOnly(t *testing.T, rs eligibility.Reasons, want ...eligibility.Code) {
	t.Helper()
	if got := rs.Codes(); !slices.Equal(got, want) {
		t.Fatalf("codes = %v, want %v\nmessages: %s", got, want, rs)
	}
	if len(want) == 0 && rs != nil {
		t.Fatalf("eligible check returned non-nil %#v", rs)
	}
	for _, r := range rs {
		if r.Message == "" || !strings.HasSuffix(r.Message, ".") || strings.ToUpper(r.Message[:1]) != r.Message[:1] {
			t.Errorf("message for %s is not a sentence: %q", r.Code, r.Message)
		}
	}
}

func wantInMessage(t *testing.T, rs eligibility.Reasons, c eligibility.Code, parts ...string) {
	t.Helper()
	for _, r := range rs {
		if r.Code != c {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(r.Message, p) {
				t.Errorf("message for %s lacks %q: %q", c, p, r.Message)
			}
		}
		return
	}
	t.Fatalf("no reason %s in %v", c, rs.Codes())
}

func TestEligibleServerHasNoReasons(t *testing.T) {
	for _, ck := range bothRoles {
		t.Run(ck.name, func(t *testing.T) {
			wantOnly(t, ck.fn(eligibility.Rules{}, candidate(), group()))
		})
	}
}

func TestInvalidFactsIsTheOnlyReason(t *testing.T) {
	bad := []struct {
		name string
		mut  func(*nvrha.Facts)
	}{
		{"empty ID", func(f *nvrha.Facts) { f.ID = "" }},
		{"empty product", func(f *nvrha.Facts) { f.Product = "" }},
		{"negative channels", func(f *nvrha.Facts) { f.LicenseChannels = -1 }},
		{"too many channels", func(f *nvrha.Facts) { f.LicenseChannels = nvrha.MaxLicenseChannels + 1 }},
		{"duplicate camera", func(f *nvrha.Facts) { f.Cameras = []nvrha.CameraID{"c", "c"} }},
		{"negative capacity", func(f *nvrha.Facts) { f.RecordingSpaces[0].CapacityBytes = -1 }},
	}
	for _, b := range bad {
		for _, ck := range bothRoles {
			t.Run(b.name+"/"+ck.name, func(t *testing.T) {
				c := candidate()
				b.mut(&c.Facts)
				// Everything else is wrong too; only the facts may be reported.
				c.Facts.AdvancedMode = false
				c.CurrentGroup = "Other"
				g := group()
				g.Members = 64
				rs := ck.fn(eligibility.Rules{}, c, g)
				wantOnly(t, rs, eligibility.CodeInvalidFacts)
				err := c.Facts.Validate()
				if !errors.Is(err, nvrha.ErrInvalidFacts) && !errors.Is(err, nvrha.ErrInvalidID) {
					t.Fatalf("Validate = %v", err)
				}
				wantInMessage(t, rs, eligibility.CodeInvalidFacts, err.Error())
			})
		}
	}
}

func TestQVRProductsAreSupportedByDefault(t *testing.T) {
	// QVR Center's manual: QVR Surveillance (including TVR-AI200), QVR Elite and QVR Pro.
	var r eligibility.Rules
	for _, p := range []nvrha.Product{nvrha.ProductQVRSurveillance, nvrha.ProductQVRElite, nvrha.ProductQVRPro} {
		if !r.Supported(p) {
			t.Errorf("zero Rules do not support %s", p)
		}
		for _, ck := range bothRoles {
			c := candidate()
			c.Facts.Product = p
			wantOnly(t, ck.fn(r, c, group()))
		}
	}
	for _, p := range []nvrha.Product{"acme-nvr", "qvr", "QVR Pro", ""} {
		if r.Supported(p) {
			t.Errorf("zero Rules support %q", p)
		}
	}
	if !(eligibility.Rules{SupportedProducts: []nvrha.Product{}}).Supported(nvrha.ProductQVRElite) {
		t.Error("an empty product list is not the QVR default")
	}
}

func TestRecordingNeedsSupportedProduct(t *testing.T) {
	testNeedsSupportedProduct(t, eligibility.Rules.CheckRecording)
}

func TestStandbyNeedsSupportedProduct(t *testing.T) {
	testNeedsSupportedProduct(t, eligibility.Rules.CheckStandby)
}

func testNeedsSupportedProduct(t *testing.T, fn func(eligibility.Rules, eligibility.Candidate, eligibility.Group) eligibility.Reasons) {
	c := candidate()
	c.Facts.Product = "acme-nvr"
	rs := fn(eligibility.Rules{}, c, group())
	wantOnly(t, rs, eligibility.CodeUnsupportedProduct)
	wantInMessage(t, rs, eligibility.CodeUnsupportedProduct, "acme-nvr", "QVR Surveillance, QVR Elite or QVR Pro")
}

func TestVendorProductList(t *testing.T) {
	r := eligibility.Rules{SupportedProducts: []nvrha.Product{"acme-nvr", "acme-nvr-lite"}}
	for _, p := range []nvrha.Product{"acme-nvr", "acme-nvr-lite"} {
		if !r.Supported(p) {
			t.Errorf("vendor product %s not supported", p)
		}
	}
	// A vendor list replaces the QVR products rather than adding to them.
	for _, p := range nvrha.QVRProducts() {
		if r.Supported(p) {
			t.Errorf("%s supported although the vendor did not list it", p)
		}
	}
	for _, ck := range bothRoles {
		t.Run(ck.name, func(t *testing.T) {
			c := candidate()
			c.Facts.Product = "acme-nvr"
			wantOnly(t, ck.fn(r, c, group()))
			c.Facts.Product = nvrha.ProductQVRPro
			rs := ck.fn(r, c, group())
			wantOnly(t, rs, eligibility.CodeUnsupportedProduct)
			wantInMessage(t, rs, eligibility.CodeUnsupportedProduct, "QVR Pro", "acme-nvr or acme-nvr-lite")
		})
	}
}

func TestRecordingNeedsAdvancedMode(t *testing.T) {
	c := candidate()
	c.Facts.AdvancedMode = false
	rs := eligibility.Rules{}.CheckRecording(c, group())
	wantOnly(t, rs, eligibility.CodeAdvancedModeDisabled)
	wantInMessage(t, rs, eligibility.CodeAdvancedModeDisabled, "Advanced Mode")
}

func TestStandbyNeedsAdvancedMode(t *testing.T) {
	c := candidate()
	c.Facts.AdvancedMode = false
	rs := eligibility.Rules{}.CheckStandby(c, group())
	wantOnly(t, rs, eligibility.CodeAdvancedModeDisabled)
	wantInMessage(t, rs, eligibility.CodeAdvancedModeDisabled, "Advanced Mode")
}

func TestStandbyNotInAnotherGroup(t *testing.T) {
	testNotInAnotherGroup(t, eligibility.Rules.CheckStandby)
}

func TestRecordingNotInAnotherGroup(t *testing.T) {
	testNotInAnotherGroup(t, eligibility.Rules.CheckRecording)
}

func testNotInAnotherGroup(t *testing.T, fn func(eligibility.Rules, eligibility.Candidate, eligibility.Group) eligibility.Reasons) {
	c := candidate()
	c.CurrentGroup = "Lobby cameras"
	rs := fn(eligibility.Rules{}, c, group())
	wantOnly(t, rs, eligibility.CodeInAnotherGroup)
	wantInMessage(t, rs, eligibility.CodeInAnotherGroup, `"Lobby cameras"`)
}

func TestAlreadyInGroup(t *testing.T) {
	for _, ck := range bothRoles {
		t.Run(ck.name, func(t *testing.T) {
			c := candidate()
			c.CurrentGroup = "Failover Group 1"
			rs := ck.fn(eligibility.Rules{}, c, group())
			wantOnly(t, rs, eligibility.CodeAlreadyInGroup)
			wantInMessage(t, rs, eligibility.CodeAlreadyInGroup, `"Failover Group 1"`)
		})
	}
}

func TestNoGroupNameIsNotMembership(t *testing.T) {
	// CurrentGroup "" means "in no group", even for a group whose name is
	// also empty.
	g := group()
	g.Name = ""
	for _, ck := range bothRoles {
		wantOnly(t, ck.fn(eligibility.Rules{}, candidate(), g))
	}
}

func TestMaxServersPerGroup(t *testing.T) {
	cases := []struct {
		p    nvrha.Platform
		want int
	}{
		{nvrha.PlatformX86_64, 64},
		{nvrha.PlatformARM64, 8},
		{nvrha.Platform(2), 0},
		{nvrha.Platform(255), 0},
	}
	for _, tc := range cases {
		if got := eligibility.MaxServersPerGroup(tc.p); got != tc.want {
			t.Errorf("MaxServersPerGroup(%s) = %d, want %d", tc.p, got, tc.want)
		}
	}
}

func TestGroupCapacityX86_64IsSixtyFour(t *testing.T) {
	testCapacity(t, nvrha.PlatformX86_64, 64)
}

func TestGroupCapacityARM64IsEight(t *testing.T) {
	testCapacity(t, nvrha.PlatformARM64, 8)
}

func testCapacity(t *testing.T, p nvrha.Platform, limit int) {
	for _, ck := range bothRoles {
		t.Run(ck.name, func(t *testing.T) {
			g := group()
			g.Platform = p
			for _, members := range []int{0, limit - 1} {
				g.Members = members
				wantOnly(t, ck.fn(eligibility.Rules{}, candidate(), g))
			}
			for _, members := range []int{limit, limit + 1, 1000} {
				g.Members = members
				rs := ck.fn(eligibility.Rules{}, candidate(), g)
				wantOnly(t, rs, eligibility.CodeGroupFull)
				wantInMessage(t, rs, eligibility.CodeGroupFull, p.String(), `"Failover Group 1"`)
			}
			g.Members = limit
			wantInMessage(t, ck.fn(eligibility.Rules{}, candidate(), g), eligibility.CodeGroupFull,
				"has "+strconv.Itoa(limit)+" servers", "at most "+strconv.Itoa(limit))
		})
	}
}

func TestUnknownPlatformIsFull(t *testing.T) {
	for _, ck := range bothRoles {
		t.Run(ck.name, func(t *testing.T) {
			g := group()
			g.Platform = nvrha.Platform(7)
			g.Members = 0
			rs := ck.fn(eligibility.Rules{}, candidate(), g)
			wantOnly(t, rs, eligibility.CodeGroupFull)
			wantInMessage(t, rs, eligibility.CodeGroupFull, "unknown", "Platform(7)")
		})
	}
}

func TestStandbyNeedsEmptyRecordingSpace(t *testing.T) {
	cases := []struct {
		name   string
		spaces []nvrha.RecordingSpace
		ok     bool
		says   string
	}{
		{"no spaces", nil, false, "no recording space"},
		{"one full space", []nvrha.RecordingSpace{{Name: "a"}}, false, "only recording space"},
		{"three full spaces", []nvrha.RecordingSpace{{Name: "a"}, {Name: "b"}, {Name: "c"}}, false, "3 recording spaces"},
		{"one empty space", []nvrha.RecordingSpace{{Name: "a", Empty: true}}, true, ""},
		{"last of several empty", []nvrha.RecordingSpace{{Name: "a"}, {Name: "b"}, {Name: "c", Empty: true}}, true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := candidate()
			c.Facts.RecordingSpaces = tc.spaces
			rs := eligibility.Rules{}.CheckStandby(c, group())
			if tc.ok {
				wantOnly(t, rs)
				return
			}
			wantOnly(t, rs, eligibility.CodeNoEmptyRecordingSpace)
			wantInMessage(t, rs, eligibility.CodeNoEmptyRecordingSpace, tc.says)
			// A recording server records into its own spaces; it needs none empty.
			wantOnly(t, eligibility.Rules{}.CheckRecording(c, group()))
		})
	}
}

func TestStandbyNeedsEmptyCameraList(t *testing.T) {
	cases := []struct {
		name string
		cams []nvrha.CameraID
		says string
	}{
		{"one camera", []nvrha.CameraID{"cam-9"}, "has 1 camera;"},
		{"four cameras", []nvrha.CameraID{"a", "b", "c", "d"}, "has 4 cameras;"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := candidate()
			c.Facts.Cameras = tc.cams
			rs := eligibility.Rules{}.CheckStandby(c, group())
			wantOnly(t, rs, eligibility.CodeCameraListNotEmpty)
			wantInMessage(t, rs, eligibility.CodeCameraListNotEmpty, tc.says)
			wantOnly(t, eligibility.Rules{}.CheckRecording(c, group()))
		})
	}
	c := candidate()
	c.Facts.Cameras = []nvrha.CameraID{}
	wantOnly(t, eligibility.Rules{}.CheckStandby(c, group()))
}

func TestStandbyNeedsEnoughLicenseChannels(t *testing.T) {
	cases := []struct {
		name     string
		channels int
		recs     []nvrha.Facts
		ok       bool
		says     []string
	}{
		{"no recording servers", 0, nil, true, nil},
		{"equal to the largest", 32, group().RecordingServers, true, nil},
		{"more than the largest", 33, group().RecordingServers, true, nil},
		{"fewer than the largest only", 16, group().RecordingServers, false,
			[]string{"has 16 license channels", "the 32 of recording server rec-2"}},
		{"fewer than all", 1, group().RecordingServers, false,
			[]string{"has 1 license channel,", "the 32 of recording server rec-2"}},
		{"largest listed first", 8, []nvrha.Facts{recorder("big", 64), recorder("small", 4)}, false,
			[]string{"the 64 of recording server big"}},
		{"tie names the first", 8, []nvrha.Facts{recorder("a", 4), recorder("b", 9), recorder("c", 9)}, false,
			[]string{"the 9 of recording server b;"}},
		{"display name is used", 8, []nvrha.Facts{func() nvrha.Facts {
			f := recorder("rec-7", 10)
			f.Name = "Loading dock NVR"
			return f
		}()}, false, []string{"recording server Loading dock NVR"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := candidate()
			c.Facts.LicenseChannels = tc.channels
			g := group()
			g.RecordingServers = tc.recs
			rs := eligibility.Rules{}.CheckStandby(c, g)
			if tc.ok {
				wantOnly(t, rs)
				return
			}
			wantOnly(t, rs, eligibility.CodeInsufficientLicense)
			wantInMessage(t, rs, eligibility.CodeInsufficientLicense, tc.says...)
			wantOnly(t, eligibility.Rules{}.CheckRecording(c, g))
		})
	}
}

func TestRecordingIgnoresStandbyRules(t *testing.T) {
	c := eligibility.Candidate{Facts: recorder("rec-3", 1, "cam-a", "cam-b")}
	c.Facts.RecordingSpaces = nil
	wantOnly(t, eligibility.Rules{}.CheckRecording(c, group()))
	wantOnly(t, eligibility.Rules{}.CheckStandby(c, group()), standbyOnlyCodes...)
}

func TestFiveReasonsAtOnce(t *testing.T) {
	c := candidate()
	c.Facts.Product = "acme-nvr"
	c.Facts.AdvancedMode = false
	c.Facts.Cameras = []nvrha.CameraID{"cam-1"}
	c.Facts.LicenseChannels = 4
	c.CurrentGroup = "Parking"
	rs := eligibility.Rules{}.CheckStandby(c, group())
	wantOnly(t, rs,
		eligibility.CodeUnsupportedProduct,
		eligibility.CodeAdvancedModeDisabled,
		eligibility.CodeInAnotherGroup,
		eligibility.CodeCameraListNotEmpty,
		eligibility.CodeInsufficientLicense,
	)
}

func TestAllReasonsAtOnceInDocumentedOrder(t *testing.T) {
	for _, membership := range []struct {
		current string
		code    eligibility.Code
	}{
		{"Parking", eligibility.CodeInAnotherGroup},
		{"Failover Group 1", eligibility.CodeAlreadyInGroup},
	} {
		t.Run(string(membership.code), func(t *testing.T) {
			c := eligibility.Candidate{Facts: recorder("rec-9", 4, "cam-1", "cam-2")}
			c.Facts.Product = "acme-nvr"
			c.Facts.AdvancedMode = false
			c.CurrentGroup = membership.current
			g := group()
			g.Platform = nvrha.PlatformARM64
			g.Members = 8

			common := []eligibility.Code{
				eligibility.CodeUnsupportedProduct,
				eligibility.CodeAdvancedModeDisabled,
				membership.code,
				eligibility.CodeGroupFull,
			}
			wantOnly(t, eligibility.Rules{}.CheckRecording(c, g), common...)
			sb := eligibility.Rules{}.CheckStandby(c, g)
			wantOnly(t, sb, append(slices.Clone(common), standbyOnlyCodes...)...)
			if !isInDocumentedOrder(sb.Codes()) {
				t.Fatalf("codes %v are not in the documented order", sb.Codes())
			}
		})
	}
}

func isInDocumentedOrder(codes []eligibility.Code) bool {
	last := -1
	for _, c := range codes {
		i := slices.Index(documentedOrder, c)
		if i <= last {
			return false
		}
		last = i
	}
	return true
}

func TestReasonsHelpers(t *testing.T) {
	var none eligibility.Reasons
	if none.Has(eligibility.CodeGroupFull) || none.Codes() != nil || none.String() != "" {
		t.Fatalf("nil Reasons: Has/Codes/String = %v/%v/%q", none.Has(eligibility.CodeGroupFull), none.Codes(), none.String())
	}
	rs := eligibility.Reasons{
		{Code: eligibility.CodeAdvancedModeDisabled, Message: "A."},
		{Code: eligibility.CodeGroupFull, Message: "B."},
	}
	if !rs.Has(eligibility.CodeGroupFull) || rs.Has(eligibility.CodeInvalidFacts) {
		t.Error("Has is wrong")
	}
	codes := rs.Codes()
	if !slices.Equal(codes, []eligibility.Code{eligibility.CodeAdvancedModeDisabled, eligibility.CodeGroupFull}) {
		t.Errorf("Codes = %v", codes)
	}
	codes[0] = "changed"
	if rs[0].Code != eligibility.CodeAdvancedModeDisabled {
		t.Error("Codes shares memory with the reasons")
	}
	if got := rs.String(); got != "A. B." {
		t.Errorf("String = %q", got)
	}
	if got := rs[1].String(); got != "B." {
		t.Errorf("Reason.String = %q", got)
	}
	b, err := json.Marshal(rs[0])
	if err != nil || string(b) != `{"code":"advanced-mode-disabled","message":"A."}` {
		t.Errorf("json = %s, %v", b, err)
	}
}

func TestCodesAreStable(t *testing.T) {
	// Codes are a wire format; renaming one breaks every stored or remote
	// caller.
	want := []string{
		"invalid-facts", "unsupported-product", "advanced-mode-disabled", "in-another-group",
		"already-in-group", "group-full", "no-empty-recording-space", "camera-list-not-empty",
		"insufficient-license-channels",
	}
	for i, c := range documentedOrder {
		if string(c) != want[i] {
			t.Errorf("code %d = %q, want %q", i, c, want[i])
		}
	}
}

func TestCanCover(t *testing.T) {
	cases := []struct {
		standby, recording int
		want               bool
	}{
		{32, 32, true},
		{64, 32, true},
		{16, 32, false},
		{0, 0, true},
		{0, 1, false},
	}
	for _, tc := range cases {
		if got := eligibility.CanCover(server("s", tc.standby), server("r", tc.recording)); got != tc.want {
			t.Errorf("CanCover(%d, %d) = %v, want %v", tc.standby, tc.recording, got, tc.want)
		}
	}
}

func TestLaterLargerRecordingServerIsUnprotected(t *testing.T) {
	// A standby judged eligible stays a member when a bigger recording server
	// joins after it; only CanCover reveals the gap.
	sb := candidate()
	g := group()
	wantOnly(t, eligibility.Rules{}.CheckStandby(sb, g))
	big := eligibility.Candidate{Facts: recorder("rec-big", 128, "cam-x")}
	g.Members = 3
	wantOnly(t, eligibility.Rules{}.CheckRecording(big, g))
	if eligibility.CanCover(sb.Facts, big.Facts) {
		t.Fatal("a 32-channel standby covers a 128-channel recording server")
	}
}

func TestNoPanicOnBadInput(t *testing.T) {
	inputs := []struct {
		name string
		r    eligibility.Rules
		c    eligibility.Candidate
		g    eligibility.Group
	}{
		{"zero values", eligibility.Rules{}, eligibility.Candidate{}, eligibility.Group{}},
		{"zero group", eligibility.Rules{}, candidate(), eligibility.Group{}},
		{"unknown platform", eligibility.Rules{}, candidate(), eligibility.Group{Platform: 200, Members: -5}},
		{"negative members", eligibility.Rules{}, candidate(), eligibility.Group{Members: -1}},
		{"zero recording servers", eligibility.Rules{}, candidate(), eligibility.Group{RecordingServers: make([]nvrha.Facts, 3)}},
		{"malformed recording server", eligibility.Rules{}, candidate(), eligibility.Group{RecordingServers: []nvrha.Facts{{LicenseChannels: -7}}}},
		{"empty product in rules", eligibility.Rules{SupportedProducts: []nvrha.Product{""}}, candidate(), group()},
	}
	for _, in := range inputs {
		t.Run(in.name, func(t *testing.T) {
			for _, ck := range bothRoles {
				rs := ck.fn(in.r, in.c, in.g)
				_ = rs.String()
				_ = rs.Codes()
			}
			_ = eligibility.CanCover(in.c.Facts, nvrha.Facts{})
			_ = eligibility.MaxServersPerGroup(in.g.Platform)
			_ = in.r.Supported(in.c.Facts.Product)
		})
	}
	rs := eligibility.Rules{}.CheckStandby(eligibility.Candidate{Facts: candidate().Facts},
		eligibility.Group{RecordingServers: []nvrha.Facts{{LicenseChannels: 99}}})
	wantOnly(t, rs, eligibility.CodeInsufficientLicense)
	wantInMessage(t, rs, eligibility.CodeInsufficientLicense, "(unnamed)")
}

func TestChecksDoNotMutate(t *testing.T) {
	r := eligibility.Rules{SupportedProducts: []nvrha.Product{"acme-nvr", nvrha.ProductQVRPro}}
	c := eligibility.Candidate{Facts: recorder("x", 3, "cam-2", "cam-1"), CurrentGroup: "B"}
	g := group()
	wantR, wantC, wantG := deepCopy(r, c, g)
	_ = r.CheckRecording(c, g)
	_ = r.CheckStandby(c, g)
	_ = r.Supported("acme-nvr")
	gotR, gotC, gotG := deepCopy(r, c, g)
	if !reflect.DeepEqual(wantR, gotR) || !reflect.DeepEqual(wantC, gotC) || !reflect.DeepEqual(wantG, gotG) {
		t.Fatal("a check changed its input")
	}
}

func deepCopy(r eligibility.Rules, c eligibility.Candidate, g eligibility.Group) (eligibility.Rules, eligibility.Candidate, eligibility.Group) {
	r.SupportedProducts = slices.Clone(r.SupportedProducts)
	c.Facts = c.Facts.Clone()
	recs := make([]nvrha.Facts, len(g.RecordingServers))
	for i, f := range g.RecordingServers {
		recs[i] = f.Clone()
	}
	g.RecordingServers = recs
	return r, c, g
}
