package status_test

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/nvrha/nvrha/status"
)

func ExampleOfRecording() {
	// A recording server has failed and a standby records its cameras.
	s := status.OfRecording(status.RecordingFacts{
		Enabled:          true,
		Functional:       false,
		TakenOver:        true,
		StandbyAvailable: true,
	})
	fmt.Println(s)
	fmt.Println(s.Description())
	// Output:
	// Abnormal, protected
	// This recording server is not functioning properly, and is taken over by standby server now.
}

func ExampleOfStandby() {
	// A working standby whose recording spaces are all in use.
	s := status.OfStandby(status.StandbyFacts{
		Enabled:           true,
		Functional:        true,
		HasRecordingSpace: false,
	})
	fmt.Println(s)
	fmt.Println(s.Description())
	// Output:
	// Warning
	// This standby server is functional, but is unable to take over recording server because it does not have a recording space.
}

func ExampleRecordingStatuses() {
	for _, s := range status.RecordingStatuses() {
		fmt.Printf("%-22s %s\n", s.Code(), s.Label())
	}
	// Output:
	// normal-protected       Normal, protected
	// normal-unprotected     Normal, unprotected
	// abnormal-protected     Abnormal, protected
	// abnormal-unprotected   Abnormal, unprotected
	// disabled               Disabled
}

func ExampleStandbyStatuses() {
	for _, s := range status.StandbyStatuses() {
		fmt.Printf("%-28s %s\n", s.Code(), s.Label())
	}
	// Output:
	// normal-protection-ready      Normal, protection ready
	// normal-protecting            Normal, protecting
	// warning                      Warning
	// abnormal                     Abnormal
	// abnormal-protection-failed   Abnormal, protection failed
	// disabled                     Disabled
}

func ExampleRecording_UnmarshalText() {
	var member struct {
		Server string           `json:"server"`
		Status status.Recording `json:"status"`
	}
	err := json.Unmarshal([]byte(`{"server":"nvr-1","status":"normal-unprotected"}`), &member)
	fmt.Println(member.Status, err)

	_ = json.NewEncoder(os.Stdout).Encode(member)

	err = member.Status.UnmarshalText([]byte("Normal, protected"))
	fmt.Println(err)
	// Output:
	// Normal, unprotected <nil>
	// {"server":"nvr-1","status":"normal-unprotected"}
	// status: unknown recording Failover Status code "Normal, protected"
}
