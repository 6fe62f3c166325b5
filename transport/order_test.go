package transport_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

type validator interface{ Validate() error }

func TestOrderValidate(t *testing.T) {
	tests := []struct {
		name      string
		order     validator
		wantErr   bool
		invalidID bool
	}{
		{"takeover ok", transport.TakeoverOrder{Recording: "r1", Epoch: 1, Cameras: []nvrha.CameraID{"c1", "c2"}}, false, false},
		{"takeover no cameras", transport.TakeoverOrder{Recording: "r1", Epoch: 1}, false, false},
		{"takeover zero epoch", transport.TakeoverOrder{Recording: "r1", Cameras: []nvrha.CameraID{"c1"}}, true, false},
		{"takeover empty recording", transport.TakeoverOrder{Epoch: 1}, true, true},
		{"takeover bad camera", transport.TakeoverOrder{Recording: "r1", Epoch: 1, Cameras: []nvrha.CameraID{"c1", " c2"}}, true, true},
		{"takeover duplicate camera", transport.TakeoverOrder{Recording: "r1", Epoch: 1, Cameras: []nvrha.CameraID{"c1", "c2", "c1"}}, true, false},
		{"takeover too many cameras", transport.TakeoverOrder{Recording: "r1", Epoch: 1, Cameras: make([]nvrha.CameraID, nvrha.MaxCamerasPerServer+1)}, true, false},
		{"release ok", transport.ReleaseOrder{Recording: "r1", Epoch: 2}, false, false},
		{"release zero epoch", transport.ReleaseOrder{Recording: "r1"}, true, false},
		{"release bad recording", transport.ReleaseOrder{Recording: nvrha.ServerID(strings.Repeat("x", nvrha.MaxIDLength+1)), Epoch: 2}, true, true},
		{"stand-down ok", transport.StandDownOrder{Epoch: 3}, false, false},
		{"stand-down zero epoch", transport.StandDownOrder{}, true, false},
		{"resume ok", transport.ResumeOrder{Epoch: 4}, false, false},
		{"resume zero epoch", transport.ResumeOrder{}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.order.Validate()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Validate() = %v, want error: %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, transport.ErrInvalidOrder) {
				t.Errorf("errors.Is(%v, ErrInvalidOrder) = false", err)
			}
			if got := errors.Is(err, nvrha.ErrInvalidID); got != tt.invalidID {
				t.Errorf("errors.Is(%v, nvrha.ErrInvalidID) = %v, want %v", err, got, tt.invalidID)
			}
		})
	}
}

func TestTakeoverOrderCloneIsDeep(t *testing.T) {
	o := transport.TakeoverOrder{Recording: "r1", Epoch: 1, Cameras: []nvrha.CameraID{"c1", "c2"}}
	c := o.Clone()
	c.Cameras[0] = "changed"
	if o.Cameras[0] != "c1" {
		t.Errorf("changing the clone changed the original: %v", o.Cameras)
	}
	if (transport.TakeoverOrder{}).Clone().Cameras != nil {
		t.Errorf("Clone of a nil camera list is not nil")
	}
}

func TestErrorIdentities(t *testing.T) {
	if !errors.Is(transport.ErrUnknownServer, transport.ErrUnreachable) {
		t.Errorf("ErrUnknownServer is not ErrUnreachable")
	}
	if errors.Is(transport.ErrUnreachable, transport.ErrUnknownServer) {
		t.Errorf("ErrUnreachable is ErrUnknownServer")
	}
	var err error = &transport.StaleEpochError{Key: "r1", Got: 1, Newest: 2}
	if !errors.Is(err, transport.ErrStaleEpoch) || errors.Is(err, transport.ErrUnreachable) {
		t.Errorf("StaleEpochError identities wrong: %v", err)
	}
	if want := "transport: stale epoch 1 for r1: already accepted 2"; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}
