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

// Three recording servers fail and only one standby is free. The operator
// put the vault first, so it is covered although the lobby has more cameras;
// without that Priority the lobby, with the most cameras at stake, would be.
func ExampleAssign_priority() {
	failed := []assign.Recording{
		{ID: "nvr-vault", Channels: 8, Cameras: 4, Priority: 1},
		{ID: "nvr-lobby", Channels: 16, Cameras: 12},
		{ID: "nvr-garage", Channels: 32, Cameras: 6},
	}
	free := []assign.Standby{{ID: "standby-32", Channels: 32}}
	pairs, err := assign.Assign(failed, free)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, p := range pairs {
		fmt.Printf("%s -> %s\n", p.Recording, p.Standby)
	}
	// Output:
	// nvr-vault -> standby-32
}
