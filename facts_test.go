package nvrha_test

import (
	"testing"

	"github.com/nvrha/nvrha"
)

func TestFactsEqual(t *testing.T) {
	base := nvrha.Facts{ID: "rec-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 16,
		Cameras: []nvrha.CameraID{"c1", "c2"}, RecordingSpaces: []nvrha.RecordingSpace{{Name: "v1", CapacityBytes: 1 << 40}}}
	if !base.Equal(base.Clone()) {
		t.Fatal("facts differ from their clone")
	}
	for name, edit := range map[string]func(*nvrha.Facts){
		"name":     func(f *nvrha.Facts) { f.Name = "lobby" },
		"product":  func(f *nvrha.Facts) { f.Product = nvrha.ProductQVRElite },
		"advanced": func(f *nvrha.Facts) { f.AdvancedMode = false },
		"license":  func(f *nvrha.Facts) { f.LicenseChannels = 32 },
		"camera":   func(f *nvrha.Facts) { f.Cameras[1] = "c3" },
		"cameras":  func(f *nvrha.Facts) { f.Cameras = f.Cameras[:1] },
		"space":    func(f *nvrha.Facts) { f.RecordingSpaces[0].Empty = true },
		"spaces":   func(f *nvrha.Facts) { f.RecordingSpaces = nil },
	} {
		g := base.Clone()
		edit(&g)
		if base.Equal(g) || g.Equal(base) {
			t.Errorf("%s: a change is not seen", name)
		}
	}
}
