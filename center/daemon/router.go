package daemon

import (
	"context"
	"fmt"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

// router sends each server's calls through the transport that holds its
// credentials: agents need not share one key.
type router map[nvrha.ServerID]transport.Transport

func (r router) to(server nvrha.ServerID) (transport.Transport, error) {
	t, ok := r[server]
	if !ok {
		return nil, fmt.Errorf("%w: %s is not in the configuration", transport.ErrUnknownServer, server)
	}
	return t, nil
}

func (r router) Probe(ctx context.Context, server nvrha.ServerID) (transport.ProbeReport, error) {
	t, err := r.to(server)
	if err != nil {
		return transport.ProbeReport{}, err
	}
	return t.Probe(ctx, server)
}

func (r router) Inventory(ctx context.Context, server nvrha.ServerID) (nvrha.Facts, error) {
	t, err := r.to(server)
	if err != nil {
		return nvrha.Facts{}, err
	}
	return t.Inventory(ctx, server)
}

func (r router) Takeover(ctx context.Context, standby nvrha.ServerID, o transport.TakeoverOrder) error {
	t, err := r.to(standby)
	if err != nil {
		return err
	}
	return t.Takeover(ctx, standby, o)
}

func (r router) Release(ctx context.Context, standby nvrha.ServerID, o transport.ReleaseOrder) error {
	t, err := r.to(standby)
	if err != nil {
		return err
	}
	return t.Release(ctx, standby, o)
}

func (r router) StandDown(ctx context.Context, recording nvrha.ServerID, o transport.StandDownOrder) error {
	t, err := r.to(recording)
	if err != nil {
		return err
	}
	return t.StandDown(ctx, recording, o)
}

func (r router) Resume(ctx context.Context, recording nvrha.ServerID, o transport.ResumeOrder) error {
	t, err := r.to(recording)
	if err != nil {
		return err
	}
	return t.Resume(ctx, recording, o)
}
