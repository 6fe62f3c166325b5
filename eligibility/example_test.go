package eligibility_test

import (
	"fmt"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/eligibility"
)

// Why can't I add this server as a standby server? Every failed rule is
// listed, so the administrator can fix them all in one visit.
func ExampleRules_CheckStandby() {
	group := eligibility.Group{
		Name:     "Failover Group 1",
		Platform: nvrha.PlatformX86_64,
		Members:  2,
		RecordingServers: []nvrha.Facts{
			{ID: "rec-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 16},
			{ID: "rec-2", Product: nvrha.ProductQVRElite, AdvancedMode: true, LicenseChannels: 32},
		},
	}
	server := eligibility.Candidate{Facts: nvrha.Facts{
		ID:              "nvr-7",
		Product:         nvrha.ProductQVRSurveillance,
		AdvancedMode:    false,
		LicenseChannels: 16,
		Cameras:         []nvrha.CameraID{"lobby", "dock"},
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: false}},
	}}

	reasons := eligibility.Rules{}.CheckStandby(server, group)
	fmt.Printf("%s cannot be a standby server (%d reasons):\n", server.Facts.DisplayName(), len(reasons))
	for _, r := range reasons {
		fmt.Printf("- [%s] %s\n", r.Code, r.Message)
	}
	// Output:
	// nvr-7 cannot be a standby server (4 reasons):
	// - [advanced-mode-disabled] The server does not have Advanced Mode enabled; the center can manage the recording of a server in a Failover Group only in Advanced Mode.
	// - [no-empty-recording-space] The server's only recording space is in use; a standby server needs at least one empty recording space to record the cameras it takes over.
	// - [camera-list-not-empty] The server's camera list has 2 cameras; a standby server must have an empty camera list, so that it is free to record the cameras of a failed recording server.
	// - [insufficient-license-channels] The server has 16 license channels, fewer than the 32 of recording server rec-2; a standby server needs at least as many license channels as every recording server in the group, so that it can take over all of its cameras.
}

// The same server can still join as a recording server, and a vendor lists
// its own products in place of QVR Center's.
func ExampleRules_CheckRecording() {
	rules := eligibility.Rules{SupportedProducts: []nvrha.Product{"acme-nvr"}}
	group := eligibility.Group{Name: "Parking", Platform: nvrha.PlatformARM64, Members: 8}
	server := eligibility.Candidate{
		Facts:        nvrha.Facts{ID: "nvr-9", Product: nvrha.ProductQVRPro, AdvancedMode: true},
		CurrentGroup: "Lobby",
	}
	fmt.Println(rules.CheckRecording(server, group).Codes())

	server.Facts.Product = "acme-nvr"
	server.CurrentGroup = ""
	group.Members = 7
	fmt.Println(rules.CheckRecording(server, group) == nil)
	// Output:
	// [unsupported-product in-another-group group-full]
	// true
}

// Takeover asks CanCover at the moment it needs a standby, because a
// recording server that joined after the standby may be too large for it.
func ExampleCanCover() {
	standby := nvrha.Facts{ID: "sb-1", LicenseChannels: 32}
	for _, rec := range []nvrha.Facts{
		{ID: "rec-1", LicenseChannels: 16},
		{ID: "rec-2", LicenseChannels: 32},
		{ID: "rec-3", LicenseChannels: 64},
	} {
		fmt.Printf("%s (%d channels) can cover %s (%d channels): %v\n",
			standby.ID, standby.LicenseChannels, rec.ID, rec.LicenseChannels, eligibility.CanCover(standby, rec))
	}
	// Output:
	// sb-1 (32 channels) can cover rec-1 (16 channels): true
	// sb-1 (32 channels) can cover rec-2 (32 channels): true
	// sb-1 (32 channels) can cover rec-3 (64 channels): false
}

func ExampleMaxServersPerGroup() {
	fmt.Println(eligibility.MaxServersPerGroup(nvrha.PlatformX86_64))
	fmt.Println(eligibility.MaxServersPerGroup(nvrha.PlatformARM64))
	// Output:
	// 64
	// 8
}
