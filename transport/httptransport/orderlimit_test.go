package httptransport_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// The largest takeover order of a server that may join a group fits the
// body an agent accepts by default: the camera limit and the body limit are
// one limit, so a server that joined can always be taken over.
func TestLargestTakeoverOrderFitsDefaultBody(t *testing.T) {
	// '<' is the ASCII byte JSON escapes the most (\u003c, six bytes).
	cams := make([]nvrha.CameraID, nvrha.MaxCamerasPerServer)
	for i := range cams {
		id := fmt.Sprintf("%d-", i)
		cams[i] = nvrha.CameraID(id + strings.Repeat("<", nvrha.MaxIDLength-len(id)))
	}
	rec := nvrha.ServerID(strings.Repeat("<", nvrha.MaxIDLength))
	o := transport.TakeoverOrder{Recording: rec, Epoch: ^nvrha.Epoch(0), Cameras: cams}
	if err := o.Validate(); err != nil {
		t.Fatalf("the largest valid order does not validate: %v", err)
	}
	body, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(body)) > httptransport.DefaultMaxBodyBytes {
		t.Errorf("the largest takeover order is %d bytes; agents accept %d", len(body), httptransport.DefaultMaxBodyBytes)
	}
	f := nvrha.Facts{ID: "rec-1", Product: nvrha.ProductQVRPro, AdvancedMode: true, Cameras: append(cams, "one-more")}
	if err := f.Validate(); err == nil {
		t.Errorf("a server with %d cameras validates: its takeover order could not be delivered", len(f.Cameras))
	}
}
