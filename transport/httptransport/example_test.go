package httptransport_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// A standby's agent served over HTTP, and a center that orders it about: a
// takeover, a late release from an earlier attempt refused for its stale
// epoch, and a probe.
func ExampleNewHandler() {
	ctx := context.Background()
	key := httptransport.Key{ID: "center-2026", Secret: []byte("replace with 32+ random bytes....")}
	auth := httptransport.Auth{Keys: []httptransport.Key{key}}

	// On the standby server: its agent behind the handler. In production,
	// serve it with httptransport.NewServer(addr, h) and TLS.
	standby := agenttest.New(nvrha.Facts{ID: "standby-1", Product: nvrha.ProductQVRPro, AdvancedMode: true,
		LicenseChannels: 32, RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: true}}})
	h, err := httptransport.NewHandler(standby, httptransport.HandlerConfig{Server: "standby-1", Auth: auth})
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	// On the center: a client that knows where each agent listens.
	c, err := httptransport.NewClient(httptransport.ClientConfig{
		Resolver:        httptransport.StaticResolver{"standby-1": srv.URL},
		Auth:            auth,
		VerifyResponses: true,
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()

	err = c.Takeover(ctx, "standby-1", transport.TakeoverOrder{Recording: "rec-1", Epoch: 2, Cameras: []nvrha.CameraID{"cam-1", "cam-2"}})
	fmt.Println("takeover:", err)

	err = c.Release(ctx, "standby-1", transport.ReleaseOrder{Recording: "rec-1", Epoch: 1})
	var stale *transport.StaleEpochError
	if errors.As(err, &stale) {
		fmt.Printf("late release refused: epoch %d, newest %d\n", stale.Got, stale.Newest)
	}

	r, err := c.Probe(ctx, "standby-1")
	fmt.Printf("standby-1 covers %s at epoch %d (%v)\n", r.Covering, r.Epoch, err)
	// Output:
	// takeover: <nil>
	// late release refused: epoch 1, newest 2
	// standby-1 covers rec-1 at epoch 2 (<nil>)
}

// A request built by hand, as a tool or another language would: sign it,
// send it, read the JSON answer.
func ExampleSignRequest() {
	key := httptransport.Key{ID: "center-2026", Secret: []byte("replace with 32+ random bytes....")}
	rec := agenttest.New(nvrha.Facts{ID: "rec-1", Product: nvrha.ProductQVRPro, Cameras: []nvrha.CameraID{"cam-1"}})
	h, err := httptransport.NewHandler(rec, httptransport.HandlerConfig{Server: "rec-1", Auth: httptransport.Auth{Keys: []httptransport.Key{key}}})
	if err != nil {
		panic(err)
	}

	body := []byte(`{"epoch":3}`)
	for _, signIt := range []bool{false, true} {
		r := httptest.NewRequest(http.MethodPost, "/nvrha/v1/stand-down", bytes.NewReader(body))
		if signIt {
			if err := httptransport.SignRequest(r, body, "rec-1", key, time.Now()); err != nil {
				panic(err)
			}
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Println(strings.TrimSpace(fmt.Sprint(w.Code, " ", w.Body.String())))
	}
	fmt.Println("recording:", rec.Recording())
	// Output:
	// 401 {"code":"unauthenticated","message":"missing or malformed Nvrha-Key-Id"}
	// 204
	// recording: false
}
