package failover_test

import (
	"context"
	"fmt"

	"github.com/nvrha/nvrha/failover"
	"github.com/nvrha/nvrha/transport"
)

// A Controller runs a center: Run owns the Machine, and admin operations
// from any goroutine are applied by it and saved before they return.
func ExampleController() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctl, err := failover.NewController(ctx, failover.ControllerConfig{
		Transport: transport.NewInMemory(),
		Store:     &failover.MemoryStore{}, // failover.NewFileStore(path) in production
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx) }()

	if _, err := ctl.AddGroup(ctx, "Parking garage"); err != nil {
		fmt.Println(err)
		return
	}
	s, err := ctl.Snapshot(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range s.Groups {
		fmt.Printf("%d %q protection=%v\n", g.ID, g.Name, g.Protection)
	}

	cancel()
	fmt.Println("Run:", <-done)
	_, err = ctl.AddGroup(context.Background(), "Lobby")
	fmt.Println(err)
	// Output:
	// 1 "Failover Group 1" protection=true
	// 2 "Parking garage" protection=true
	// Run: <nil>
	// failover: controller stopped
}
