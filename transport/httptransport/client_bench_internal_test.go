package httptransport

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/nvrha/nvrha/transport"
)

// answeringRoundTripper answers every probe in memory with a healthy report,
// signed for its request as a handler would sign it: the client's own cost
// of a call, without sockets or a handler.
type answeringRoundTripper struct{ key Key }

var probeAnswerBody = []byte(`{"server":"standby-1","healthy":true,"recording":false,"epoch":0,"has_empty_recording_space":true}`)

func (rt answeringRoundTripper) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	h := make(http.Header, 4)
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(probeAnswerBody)))
	h.Set(HeaderKeyID, rt.key.ID)
	h.Set(HeaderSignature, sign(rt.key.Secret, responseCanonical(http.StatusOK, Path(transport.MethodProbe),
		r.Header.Get(HeaderServer), rt.key.ID, r.Header.Get(HeaderNonce), probeAnswerBody)))
	return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(bytes.NewReader(probeAnswerBody)),
		ContentLength: int64(len(probeAnswerBody)), Request: r}, nil
}

// BenchmarkClientProbe measures a Client's own CPU and allocations per probe
// (building, signing, verifying and decoding), with a round tripper that
// answers in memory.
func BenchmarkClientProbe(b *testing.B) {
	c, err := NewClient(ClientConfig{
		Resolver:        StaticResolver{"standby-1": "http://127.0.0.1:9"},
		Auth:            Auth{Keys: []Key{internalKey}},
		HTTPClient:      &http.Client{Transport: answeringRoundTripper{key: internalKey}},
		VerifyResponses: true,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := c.Probe(ctx, "standby-1")
		if err != nil || !r.Healthy {
			b.Fatal(r, err)
		}
	}
}
