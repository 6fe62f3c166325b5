package assign_test

import (
	"fmt"

	"github.com/nvrha/nvrha/failover/assign"
)

// Two recording servers fail. Each gets the smallest standby that fits, and
// the 64-channel standby stays free for a large recording server.
func ExampleAssign() {
	failed := []assign.Recording{
		{ID: "nvr-lobby", Channels: 8},
		{ID: "nvr-garage", Channels: 16},
	}
	free := []assign.Standby{
		{ID: "standby-64", Channels: 64},
		{ID: "standby-16", Channels: 16},
		{ID: "standby-8", Channels: 8},
	}
	pairs, err := assign.Assign(failed, free)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range pairs {
		fmt.Printf("%s -> %s\n", p.Recording, p.Standby)
	}
	// Output:
	// nvr-garage -> standby-16
	// nvr-lobby -> standby-8
}
