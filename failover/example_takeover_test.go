package failover_test

import (
	"context"
	"fmt"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// A recording server crashes and the standby takes over its cameras. The
// Machine runs on virtual time over in-process servers, so the events carry
// the same times on every run.
func Example_crashAndTakeover() {
	rec := nvrha.Facts{ID: "nvr-lobby", Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 16,
		Cameras:         []nvrha.CameraID{"lobby-door", "lobby-desk"},
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", CapacityBytes: 8 << 40}}}
	sb := nvrha.Facts{ID: "nvr-spare", Product: nvrha.ProductQVRElite, AdvancedMode: true, LicenseChannels: 16,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", CapacityBytes: 8 << 40, Empty: true}}}

	tr := transport.NewInMemory()
	lobby, spare := agenttest.New(rec), agenttest.New(sb)
	_ = tr.Register(rec.ID, lobby)
	_ = tr.Register(sb.ID, spare)

	m, _ := failover.NewMachine(failover.Config{})
	_ = m.AddStandbyServers(failover.DefaultGroupID, sb)
	_ = m.AddRecordingServers(failover.DefaultGroupID, rec)

	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for step := range 100 { // 5 s in steps of 50 ms
		if step == 40 {
			lobby.Crash()
		}
		now = now.Add(50 * time.Millisecond)
		m.Tick(now)
		for m.HasReady() {
			rd, _ := failover.Exchange(context.Background(), m, tr, nil, now)
			for _, e := range rd.Events {
				if e.Kind != failover.EventStatusChanged {
					fmt.Println(e)
				}
			}
		}
	}
	covering, cams := spare.Covering()
	fmt.Println(spare.ID(), "records", cams, "of", covering)
	for _, mem := range m.Snapshot().Groups[0].Members {
		fmt.Printf("%s: %s\n", mem.ID, mem.Status())
	}

	// Output:
	// 00:00:00.050 server-up nvr-spare
	// 00:00:00.050 server-up nvr-lobby
	// 00:00:03.250 server-down nvr-lobby
	// 00:00:03.250 takeover-started nvr-lobby peer=nvr-spare epoch=1
	// 00:00:03.250 takeover-succeeded nvr-lobby peer=nvr-spare epoch=1
	// nvr-spare records [lobby-door lobby-desk] of nvr-lobby
	// nvr-spare: Normal, protecting
	// nvr-lobby: Abnormal, protected
}
