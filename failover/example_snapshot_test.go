package failover_test

import (
	"fmt"
	"log"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
)

// A page that shows every group redraws only the groups that changed: it
// keeps one snapshot, brings it up to date with UpdateSnapshot, which
// writes only the groups whose Generation moved, and compares each
// group's Generation with the one it drew.
func ExampleMachine_UpdateSnapshot() {
	m, err := failover.NewMachine(failover.Config{})
	if err != nil {
		log.Fatal(err)
	}
	lobby, err := m.AddGroup("Lobby")
	if err != nil {
		log.Fatal(err)
	}
	parking, err := m.AddGroup("Parking")
	if err != nil {
		log.Fatal(err)
	}
	for _, g := range []struct {
		id  failover.GroupID
		rec nvrha.ServerID
	}{{lobby, "rec-1"}, {parking, "rec-2"}} {
		err := m.AddRecordingServers(g.id, nvrha.Facts{
			ID: g.rec, Product: nvrha.ProductQVRElite, AdvancedMode: true, LicenseChannels: 16,
			Cameras:         []nvrha.CameraID{nvrha.CameraID(g.rec + "-cam")},
			RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1"}},
		})
		if err != nil {
			log.Fatal(err)
		}
	}

	var snap failover.Snapshot
	drawn := map[failover.GroupID]uint64{}
	redraw := func() {
		m.UpdateSnapshot(&snap)
		for _, g := range snap.Groups {
			if drawn[g.ID] == g.Generation {
				continue
			}
			drawn[g.ID] = g.Generation
			fmt.Printf("draw %s:", g.Name)
			for _, mem := range g.Members {
				fmt.Printf(" %s %q", mem.ID, mem.Status())
			}
			fmt.Println()
		}
	}
	redraw()
	fmt.Println("-- rec-2 is disabled")
	if _, err := m.SetServerEnabled("rec-2", false); err != nil {
		log.Fatal(err)
	}
	redraw()
	fmt.Println("-- nothing changed")
	redraw()
	// Output:
	// draw Failover Group 1:
	// draw Lobby: rec-1 "Abnormal, unprotected"
	// draw Parking: rec-2 "Abnormal, unprotected"
	// -- rec-2 is disabled
	// draw Parking: rec-2 "Disabled"
	// -- nothing changed
}
