package nvrha_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/nvrha/nvrha"
)

// Tests of the vocabulary that QVR Center's failover management page names:
// its products, the center's two platforms, a server's recording spaces,
// license channels and camera list as facts, and a server that works.

// "QVR Surveillance (including TVR-AI200), QVR Elite, and QVR Pro": the
// three products, in that order, shown by the page's names; a vendor's own
// product shows as given.
func TestManual_SupportedProductsAreQVRSurveillanceQVREliteQVRPro(t *testing.T) {
	ps := nvrha.QVRProducts()
	want := []nvrha.Product{nvrha.ProductQVRSurveillance, nvrha.ProductQVRElite, nvrha.ProductQVRPro}
	if !slices.Equal(ps, want) {
		t.Fatalf("QVRProducts() = %v, want %v", ps, want)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.String())
	}
	if !slices.Equal(names, []string{"QVR Surveillance", "QVR Elite", "QVR Pro"}) {
		t.Errorf("product names %q", names)
	}
	ps[0] = "changed"
	if nvrha.QVRProducts()[0] != nvrha.ProductQVRSurveillance {
		t.Error("QVRProducts shares its slice between calls")
	}
	if got := nvrha.Product("acme-nvr").String(); got != "acme-nvr" {
		t.Errorf("a vendor's product shows as %q", got)
	}
}

// "x86_64 server" and "ARM64 server (TS-AI642)": the two center platforms,
// x86_64 the zero value; anything else is not a platform.
func TestManual_CenterPlatformsX86_64AndARM64(t *testing.T) {
	var zero nvrha.Platform
	if zero != nvrha.PlatformX86_64 {
		t.Errorf("the zero Platform is %v, want x86_64", zero)
	}
	for p, name := range map[nvrha.Platform]string{nvrha.PlatformX86_64: "x86_64", nvrha.PlatformARM64: "ARM64"} {
		if p.String() != name || !p.Valid() {
			t.Errorf("platform %d: %q, valid %v; want %q, valid", p, p.String(), p.Valid(), name)
		}
	}
	if p := nvrha.Platform(2); p.Valid() || p.String() != "Platform(2)" {
		t.Errorf("Platform(2): valid %v, %q", p.Valid(), p.String())
	}
}

// "At least one empty recording space": the fact a standby needs.
func TestManual_AtLeastOneEmptyRecordingSpace(t *testing.T) {
	for _, tc := range []struct {
		name   string
		spaces []nvrha.RecordingSpace
		want   bool
	}{
		{"no recording space", nil, false},
		{"only space in use", []nvrha.RecordingSpace{{Name: "vol1"}}, false},
		{"all spaces in use", []nvrha.RecordingSpace{{Name: "vol1"}, {Name: "vol2"}}, false},
		{"one empty space", []nvrha.RecordingSpace{{Name: "vol1", Empty: true}}, true},
		{"last of several empty", []nvrha.RecordingSpace{{Name: "vol1"}, {Name: "vol2"}, {Name: "vol3", Empty: true}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := nvrha.Facts{ID: "sb-1", RecordingSpaces: tc.spaces}
			if got := f.HasEmptyRecordingSpace(); got != tc.want {
				t.Errorf("HasEmptyRecordingSpace() = %v, want %v", got, tc.want)
			}
		})
	}
}

// A Failover Status says whether a server "is functional": only a server the
// center has seen up is; one not yet probed is not.
func TestManual_FunctionalOnlyWhenUp(t *testing.T) {
	for h, want := range map[nvrha.Health]bool{nvrha.HealthUnknown: false, nvrha.HealthUp: true, nvrha.HealthDown: false, nvrha.Health(9): false} {
		if got := h.Functional(); got != want {
			t.Errorf("%v.Functional() = %v, want %v", h, got, want)
		}
	}
}

// License channels, the camera list and the recording spaces are facts a
// center trusts only when well formed: a negative license count, a camera
// listed twice or a bad ID is refused with the typed sentinel.
func TestManual_MalformedFactsAreRefused(t *testing.T) {
	good := nvrha.Facts{
		ID: "rec-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 16,
		Cameras:         []nvrha.CameraID{"cam-1", "cam-2"},
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", CapacityBytes: 1 << 40}},
	}
	if err := good.Validate(); err != nil {
		t.Fatalf("well-formed facts refused: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*nvrha.Facts)
		want error
	}{
		{"negative license channels", func(f *nvrha.Facts) { f.LicenseChannels = -1 }, nvrha.ErrInvalidFacts},
		{"too many license channels", func(f *nvrha.Facts) { f.LicenseChannels = nvrha.MaxLicenseChannels + 1 }, nvrha.ErrInvalidFacts},
		{"camera listed twice", func(f *nvrha.Facts) { f.Cameras = append(f.Cameras, "cam-1") }, nvrha.ErrInvalidFacts},
		{"empty camera ID", func(f *nvrha.Facts) { f.Cameras = append(f.Cameras, "") }, nvrha.ErrInvalidID},
		{"negative recording space capacity", func(f *nvrha.Facts) { f.RecordingSpaces[0].CapacityBytes = -1 }, nvrha.ErrInvalidFacts},
		{"empty server ID", func(f *nvrha.Facts) { f.ID = "" }, nvrha.ErrInvalidID},
		{"server ID with surrounding space", func(f *nvrha.Facts) { f.ID = " rec-1" }, nvrha.ErrInvalidID},
		{"no product", func(f *nvrha.Facts) { f.Product = "" }, nvrha.ErrInvalidFacts},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := good.Clone()
			tc.edit(&f)
			if err := f.Validate(); !errors.Is(err, tc.want) {
				t.Errorf("Validate() = %v, want an error wrapping %v", err, tc.want)
			}
		})
	}
}
