package center_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// The API's description, as the API tests check every exchange against it.
var apiDoc struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

func openAPIRouter(t testing.TB) routers.Router {
	t.Helper()
	apiDoc.once.Do(func() {
		raw, err := os.ReadFile("../docs/center-openapi.yaml")
		if err != nil {
			apiDoc.err = err
			return
		}
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(raw)
		if err != nil {
			apiDoc.err = err
			return
		}
		apiDoc.doc = doc
		apiDoc.router, apiDoc.err = legacy.NewRouter(doc)
	})
	if apiDoc.err != nil {
		t.Fatalf("docs/center-openapi.yaml: %v", apiDoc.err)
	}
	return apiDoc.router
}

// sessionAuth stands for the session cookie the document asks for: a
// request without one is invalid, and the center must refuse it.
func sessionAuth(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if _, err := in.RequestValidationInput.Request.Cookie(in.SecurityScheme.Name); err != nil {
		return errors.New("no session cookie")
	}
	return nil
}

// checkOpenAPI holds one exchange of the API tests to
// docs/center-openapi.yaml: a request the document calls invalid must be
// refused (4xx) and every response, refusals included, must be one the
// document describes, status, content type and body. An event stream's
// body is not checked: it is not JSON but a text stream that outlives the
// request.
func (cl *client) checkOpenAPI(req *http.Request, body []byte, res *http.Response, raw []byte) {
	cl.t.Helper()
	vreq := req.Clone(context.Background())
	vreq.URL = &url.URL{Path: req.URL.Path, RawQuery: req.URL.RawQuery}
	vreq.Body = io.NopCloser(bytes.NewReader(body))
	if cl.hc.Jar != nil {
		for _, ck := range cl.hc.Jar.Cookies(req.URL) {
			vreq.AddCookie(ck)
		}
	}
	what := req.Method + " " + req.URL.RequestURI()
	route, params, err := openAPIRouter(cl.t).FindRoute(vreq)
	if err != nil {
		if res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusMethodNotAllowed {
			cl.t.Errorf("%s: not in docs/center-openapi.yaml (%v), yet answered %d", what, err, res.StatusCode)
		}
		return
	}
	in := &openapi3filter.RequestValidationInput{Request: vreq, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: sessionAuth, RejectWhenRequestBodyNotSpecified: true, MultiError: true}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil && res.StatusCode < 400 {
		cl.t.Errorf("%s: docs/center-openapi.yaml calls the request invalid, yet it was answered %d:\n%v", what, res.StatusCode, err)
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt == "text/event-stream" {
		opts.ExcludeResponseBody = true
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.StatusCode, Header: res.Header, Options: opts}
	out.SetBodyBytes(raw)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		cl.t.Errorf("%s: the response is not as docs/center-openapi.yaml describes it: %d %s\n%v", what, res.StatusCode, raw, err)
	}
}

// Every operation refuses a caller without a session, and every change
// one without a JSON body, as the document says (the check of do()
// holds each answer to it).
func TestEveryOperationRefusesAsDocumented(t *testing.T) {
	e := newEnv(t)
	anon := e.client()
	cl := e.login("admin", adminPassword)
	openAPIRouter(t)
	n := 0
	for path, item := range apiDoc.doc.Paths.Map() {
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		url := strings.NewReplacer("{group}", "1", "{server}", "rec-01").Replace(path)
		if strings.Contains(path, "candidates") {
			url += "?role=standby"
		}
		for method, op := range item.Operations() {
			if op.Security == nil || len(*op.Security) > 0 {
				var body any
				if method != http.MethodGet {
					body = map[string]any{}
				}
				if code, raw := anon.do(method, url, body, nil); code != http.StatusUnauthorized {
					t.Errorf("%s %s without a session: %d %s", method, url, code, raw)
				}
				n++
			}
			if method != http.MethodGet {
				if code, raw := cl.do(method, url, nil, nil); code != http.StatusUnsupportedMediaType {
					t.Errorf("%s %s without a JSON body: %d %s", method, url, code, raw)
				}
				n++
			}
		}
	}
	if n < 30 {
		t.Fatalf("%d requests: the document lost its operations?", n)
	}
}
