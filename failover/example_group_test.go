package failover_test

import (
	"errors"
	"fmt"
	"log"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// Why can't I add this server as a standby server? A refused batch lists
// every refused server with every rule it failed, so an administrator can
// fix them all at once. Nothing of the batch was added.
func Example_whyNotStandby() {
	m, err := failover.NewMachine(failover.Config{Platform: nvrha.PlatformX86_64})
	if err != nil {
		log.Fatal(err)
	}
	g := failover.DefaultGroupID
	err = m.AddRecordingServers(g, nvrha.Facts{
		ID: "rec-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 32,
		Cameras:         []nvrha.CameraID{"lobby", "dock"},
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1"}},
	})
	if err != nil {
		log.Fatal(err)
	}

	err = m.AddStandbyServers(g, nvrha.Facts{
		ID:              "nvr-7",
		Product:         nvrha.ProductQVRSurveillance,
		AdvancedMode:    false,
		LicenseChannels: 16,
		Cameras:         []nvrha.CameraID{"gate"},
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: false}},
	})
	var refused *failover.RejectedError
	if errors.As(err, &refused) {
		for _, r := range refused.Servers {
			fmt.Printf("%s cannot be a standby server of %q:\n", r.Server, refused.Group)
			for _, reason := range r.Reasons {
				fmt.Printf("- [%s] %s\n", reason.Code, reason.Message)
			}
		}
	}
	fmt.Println("members:", len(m.Snapshot().Groups[0].Members))
	// Output:
	// nvr-7 cannot be a standby server of "Failover Group 1":
	// - [advanced-mode-disabled] The server does not have Advanced Mode enabled; the center can manage the recording of a server in a Failover Group only in Advanced Mode.
	// - [no-empty-recording-space] The server's only recording space is in use; a standby server needs at least one empty recording space to record the cameras it takes over.
	// - [camera-list-not-empty] The server's camera list has 1 camera; a standby server must have an empty camera list, so that it is free to record the cameras of a failed recording server.
	// - [insufficient-license-channels] The server has 16 license channels, fewer than the 32 of recording server rec-1; a standby server needs at least as many license channels as every recording server in the group, so that it can take over all of its cameras.
	// members: 1
}

// Build a Failover Group: create it, add recording servers, then standby
// servers with at least as many license channels as each of them. Until the
// center has probed a server it does not know that the server works, so the
// new members show as not functioning; switching the server or the group's
// Failover Protection off shows "Disabled".
func Example_buildGroup() {
	m, err := failover.NewMachine(failover.Config{})
	if err != nil {
		log.Fatal(err)
	}
	lobby, err := m.AddGroup("Lobby")
	if err != nil {
		log.Fatal(err)
	}

	recording := func(id nvrha.ServerID, channels int) nvrha.Facts {
		return nvrha.Facts{
			ID: id, Product: nvrha.ProductQVRElite, AdvancedMode: true, LicenseChannels: channels,
			Cameras:         []nvrha.CameraID{nvrha.CameraID(id + "-cam")},
			RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1"}},
		}
	}
	standby := func(id nvrha.ServerID, channels int) nvrha.Facts {
		return nvrha.Facts{
			ID: id, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: channels,
			RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: true}},
		}
	}
	if err := m.AddRecordingServers(lobby, recording("rec-1", 16), recording("rec-2", 32)); err != nil {
		log.Fatal(err)
	}
	if err := m.AddStandbyServers(lobby, standby("sb-1", 32)); err != nil {
		log.Fatal(err)
	}
	if _, err := m.SetServerEnabled("rec-2", false); err != nil {
		log.Fatal(err)
	}

	show := func() {
		for _, g := range m.Snapshot().Groups {
			fmt.Printf("%s (protection %v): %d servers\n", g.Name, g.Protection, len(g.Members))
			for _, mem := range g.Members {
				fmt.Printf("  %-5s %-9s %2d channels  %s\n", mem.ID, mem.Role, mem.LicenseChannels, mem.Status())
			}
		}
	}
	show()
	if _, err := m.SetProtection(lobby, false); err != nil {
		log.Fatal(err)
	}
	show()
	// Output:
	// Failover Group 1 (protection true): 0 servers
	// Lobby (protection true): 3 servers
	//   rec-1 recording 16 channels  Abnormal, unprotected
	//   rec-2 recording 32 channels  Disabled
	//   sb-1  standby   32 channels  Abnormal
	// Failover Group 1 (protection true): 0 servers
	// Lobby (protection false): 3 servers
	//   rec-1 recording 16 channels  Disabled
	//   rec-2 recording 32 channels  Disabled
	//   sb-1  standby   32 channels  Disabled
}
