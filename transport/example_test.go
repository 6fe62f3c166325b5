package transport_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// An agent fences each order by the recording server it is about. A retry
// with the same epoch passes; an order from before a newer one is refused.
func ExampleFence() {
	var f transport.Fence
	fmt.Println(f.Admit("rec-1", 7))
	fmt.Println(f.Admit("rec-1", 7)) // the retry of an order whose answer was lost
	err := f.Admit("rec-1", 6)       // a delayed order from an earlier attempt
	fmt.Println(err, errors.Is(err, transport.ErrStaleEpoch))
	fmt.Println(f.Admit("rec-2", 1)) // other recording servers have their own epochs
	fmt.Println(f.Newest("rec-1"), f.Newest("rec-2"))
	// Output:
	// <nil>
	// <nil>
	// transport: stale epoch 6 for rec-1: already accepted 7 true
	// <nil>
	// 7 1
}

// A takeover over an InMemory transport, with the answer to the first attempt
// lost on the way back: the center cannot know it worked, so it sends the same
// order again, and the standby accepts the retry.
func ExampleInMemory() {
	ctx := context.Background()
	rec := agenttest.New(nvrha.Facts{ID: "rec-1", Product: nvrha.ProductQVRPro, Cameras: []nvrha.CameraID{"cam-1", "cam-2"}})
	standby := agenttest.New(nvrha.Facts{ID: "standby-1", Product: nvrha.ProductQVRPro, RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol-1", Empty: true}}})

	tr := transport.NewInMemory()
	for _, s := range []*agenttest.Server{rec, standby} {
		if err := tr.Register(s.ID(), s); err != nil {
			panic(err)
		}
	}

	rec.Crash()
	_, err := tr.Probe(ctx, "rec-1")
	fmt.Println("probe rec-1:", errors.Is(err, transport.ErrUnreachable))

	order := transport.TakeoverOrder{Recording: "rec-1", Epoch: 1, Cameras: []nvrha.CameraID{"cam-1", "cam-2"}}
	tr.SetHook("standby-1", transport.DropAfterDelivery())
	err = tr.Takeover(ctx, "standby-1", order)
	fmt.Println("takeover:", errors.Is(err, transport.ErrUnreachable))

	tr.ClearHook("standby-1")
	fmt.Println("retry:", tr.Takeover(ctx, "standby-1", order))

	r, _ := tr.Probe(ctx, "standby-1")
	fmt.Printf("standby-1 covers %s at epoch %d\n", r.Covering, r.Epoch)
	// Output:
	// probe rec-1: true
	// takeover: true
	// retry: <nil>
	// standby-1 covers rec-1 at epoch 1
}
