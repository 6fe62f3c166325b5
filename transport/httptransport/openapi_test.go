package httptransport

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

// openAPIPath is the protocol description for vendors, relative to this
// package.
const openAPIPath = "../../docs/openapi.yaml"

// loadOpenAPI parses and validates an OpenAPI 3 document: kin-openapi checks
// its structure, that every $ref resolves and that its schemas are well
// formed.
func loadOpenAPI(data []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("loading: %w", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		return nil, fmt.Errorf("validating: %w", err)
	}
	return doc, nil
}

func readOpenAPI(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestOpenAPIDescribesEveryRouteAndNothingElse keeps docs/openapi.yaml true:
// it is a valid OpenAPI 3.0 document; its paths are exactly the handler's,
// each with POST only; every answer the handler gives is one the document
// lists, with a body its schema accepts; its schemas have exactly the JSON
// fields of the Go types; its error codes and headers are exactly the
// package's.
func TestOpenAPIDescribesEveryRouteAndNothingElse(t *testing.T) {
	raw := readOpenAPI(t)
	doc, err := loadOpenAPI(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range openAPIProblems(t, doc, raw) {
		t.Error(p)
	}
}

// openAPIProblems lists every way doc (whose text is raw) and the handler
// disagree.
func openAPIProblems(t *testing.T, doc *openapi3.T, raw []byte) []string {
	t.Helper()
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if !strings.HasPrefix(doc.OpenAPI, "3.0") {
		fail("not an OpenAPI 3.0 document: %q", doc.OpenAPI)
	}
	if doc.Info == nil || doc.Info.Version != Version {
		fail("info.version is not %s", Version)
	}

	// The routes the handler actually serves, against the documented ones.
	fx := newInternalFixture(t, HandlerConfig{})
	served := fx.h.(*handler).paths
	var servedPaths []string
	for p := range served {
		servedPaths = append(servedPaths, p)
	}
	docPaths := doc.Paths.Keys()
	if !slices.Equal(sorted(docPaths), sorted(servedPaths)) {
		fail("documented paths %v, served %v", sorted(docPaths), sorted(servedPaths))
	}

	for _, p := range docPaths {
		item := doc.Paths.Value(p)
		var ops []string
		for op := range item.Operations() {
			ops = append(ops, op)
		}
		if !slices.Equal(ops, []string{routeMethod}) {
			fail("%s documents operations %v, want [%s]", p, sorted(ops), routeMethod)
		}
		var headers []string
		for _, param := range item.Parameters {
			if param.Value != nil && param.Value.In == openapi3.ParameterInHeader && param.Value.Required {
				headers = append(headers, param.Value.Name)
			}
		}
		if want := []string{HeaderKeyID, HeaderTimestamp, HeaderNonce, HeaderServer, HeaderSignature}; !slices.Equal(sorted(headers), sorted(want)) {
			fail("%s requires headers %v, want %v", p, sorted(headers), sorted(want))
		}
		op := item.Post
		m, ok := served[p]
		if !ok || op == nil {
			continue
		}

		// A signed POST is served, answers with a status the document
		// lists, and its body is what the documented schema accepts.
		success, body := "204", []byte(`{"recording":"rec-1","epoch":1,"term":3}`)
		switch m {
		case transport.MethodStandDown, transport.MethodResume:
			body = []byte(`{"epoch":1,"term":3}`)
		case transport.MethodProbe, transport.MethodInventory:
			success, body = "200", nil
		}
		if op.Responses.Value(success) == nil {
			fail("%s does not document its success status %s", p, success)
		}
		if body != nil {
			if problem := schemaProblem(op.RequestBody, body); problem != "" {
				fail("%s: the request body %s: %s", p, body, problem)
			}
		}
		for _, r := range []struct {
			name string
			req  *http.Request
		}{
			{"a signed request", fx.request(m, body)},
			{"an unsigned request", fx.unsigned(m, body)},
		} {
			w := fx.serve(r.req)
			status := strconv.Itoa(w.Code)
			resp := op.Responses.Value(status)
			if resp == nil || resp.Value == nil {
				fail("%s answered %s to %s, which it does not document (%v): %s", p, status, r.name, op.Responses.Keys(), w.Body)
				continue
			}
			if w.Body.Len() > 0 {
				if problem := schemaProblem(resp.Value, w.Body.Bytes()); problem != "" {
					fail("%s: the %s answer to %s, %s: %s", p, status, r.name, w.Body, problem)
				}
			}
		}
		// Every status documented is one the handler can give on this path.
		for _, s := range op.Responses.Keys() {
			code, _ := strconv.Atoi(s)
			if s != success && !slices.Contains(statusesOfCodes(), code) {
				fail("%s documents status %s, which no error code has", p, s)
			}
		}
	}

	// Schemas have exactly the Go types' JSON fields.
	schemas := doc.Components.Schemas
	for name, typ := range map[string]reflect.Type{
		"ProbeReport":    reflect.TypeFor[probeAnswer](),
		"Facts":          reflect.TypeFor[nvrha.Facts](),
		"RecordingSpace": reflect.TypeFor[nvrha.RecordingSpace](),
		"TakeoverOrder":  reflect.TypeFor[transport.TakeoverOrder](),
		"ReleaseOrder":   reflect.TypeFor[transport.ReleaseOrder](),
		"StandDownOrder": reflect.TypeFor[transport.StandDownOrder](),
		"ResumeOrder":    reflect.TypeFor[transport.ResumeOrder](),
		"Error":          reflect.TypeFor[ErrorBody](),
	} {
		s := schemas[name]
		if s == nil || s.Value == nil {
			fail("no schema %s", name)
			continue
		}
		fields := jsonFields(t, typ)
		var props []string
		for p := range s.Value.Properties {
			props = append(props, p)
		}
		if !slices.Equal(sorted(props), sorted(fields)) {
			fail("schema %s documents %v, the Go type has %v", name, sorted(props), sorted(fields))
		}
		for _, r := range s.Value.Required {
			if !slices.Contains(fields, r) {
				fail("schema %s requires unknown field %s", name, r)
			}
		}
	}

	// Error codes: exactly the package's, each with its status.
	var codes, documented []string
	for c := range codeStatus {
		codes = append(codes, c)
	}
	if e := schemas["Error"]; e != nil && e.Value != nil && e.Value.Properties["code"] != nil {
		for _, v := range e.Value.Properties["code"].Value.Enum {
			documented = append(documented, fmt.Sprint(v))
		}
	}
	if !slices.Equal(sorted(documented), sorted(codes)) {
		fail("documented codes %v, the package has %v", sorted(documented), sorted(codes))
	}
	for c, status := range codeStatus {
		if !strings.Contains(string(raw), strconv.Itoa(status)+" "+c) {
			fail("the document does not say %q", strconv.Itoa(status)+" "+c)
		}
	}
	for _, scheme := range []string{requestScheme, responseScheme} {
		if !strings.Contains(string(raw), scheme+"\n") {
			fail("the document does not give the canonical string's first line %s", scheme)
		}
	}
	return problems
}

// schemaProblem checks body against the JSON schema of the content of a
// request body or a response, whichever c is.
func schemaProblem(c any, body []byte) string {
	var content openapi3.Content
	switch c := c.(type) {
	case *openapi3.RequestBodyRef:
		if c == nil || c.Value == nil {
			return "no request body documented"
		}
		content = c.Value.Content
	case *openapi3.Response:
		content = c.Content
	}
	mt := content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return "no application/json schema documented"
	}
	var v any
	if err := json.Unmarshal(body, &v); err != nil {
		return err.Error()
	}
	if err := mt.Schema.Value.VisitJSON(v); err != nil {
		return err.Error()
	}
	return ""
}

// unsigned returns a request to the path of m with body and no headers.
func (f *internalFixture) unsigned(m transport.Method, body []byte) *http.Request {
	r := f.request(m, body)
	for _, h := range []string{HeaderKeyID, HeaderTimestamp, HeaderNonce, HeaderServer, HeaderSignature} {
		r.Header.Del(h)
	}
	return r
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// jsonFields lists the JSON names of typ's fields, those of embedded
// structs included, as encoding/json flattens them.
func jsonFields(t *testing.T, typ reflect.Type) []string {
	var fields []string
	for f := range typ.Fields() {
		if f.Anonymous && f.Type.Kind() == reflect.Struct && f.Tag.Get("json") == "" {
			fields = append(fields, jsonFields(t, f.Type)...)
			continue
		}
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag == "" || tag == "-" {
			t.Fatalf("%s.%s has no JSON name", typ, f.Name)
		}
		fields = append(fields, tag)
	}
	return fields
}

func statusesOfCodes() []int {
	var s []int
	for _, st := range codeStatus {
		s = append(s, st)
	}
	return s
}

// TestOpenAPICheckNoticesDrift shows that the document test can fail: each
// change to a copy of the document, of a kind that could creep in, is
// noticed, either by kin-openapi's validation or by the comparison with the
// handler.
func TestOpenAPICheckNoticesDrift(t *testing.T) {
	raw := string(readOpenAPI(t))
	for name, c := range map[string]struct{ old, new string }{
		"a path the handler does not serve":  {"paths:\n", "paths:\n  /nvrha/v1/reboot:\n    post:\n      operationId: reboot\n      responses:\n        '204':\n          description: rebooted\n"},
		"a path left out":                    {"  /nvrha/v1/resume:\n", "  /nvrha/v1/resumed:\n"},
		"a GET beside the POST":              {"    post:\n      operationId: probe\n", "    get:\n      operationId: probeGet\n      responses:\n        '200':\n          description: x\n    post:\n      operationId: probe\n"},
		"a field the Go type lacks":          {"        recording:\n          $ref: '#/components/schemas/ServerID'\n        epoch:\n          $ref: '#/components/schemas/Epoch'\n        term:", "        recording:\n          $ref: '#/components/schemas/ServerID'\n        priority:\n          type: integer\n        epoch:\n          $ref: '#/components/schemas/Epoch'\n        term:"},
		"a field the document lacks":         {"        term:\n          $ref: '#/components/schemas/Term'\n        cameras:", "        cameras:"},
		"a reference to nothing":             {"$ref: '#/components/schemas/ResumeOrder'", "$ref: '#/components/schemas/ResumeOrders'"},
		"a wrong type":                       {"    ServerID:\n      type: string\n", "    ServerID:\n      type: strin\n"},
		"a status the handler does not give": {"        '421':\n          $ref: '#/components/responses/WrongServer'\n        '500':\n          $ref: '#/components/responses/AgentError'\n        '503':\n          $ref: '#/components/responses/Unavailable'\n  /nvrha/v1/inventory:", "        '418':\n          $ref: '#/components/responses/WrongServer'\n        '500':\n          $ref: '#/components/responses/AgentError'\n        '503':\n          $ref: '#/components/responses/Unavailable'\n  /nvrha/v1/inventory:"},
		"a header dropped":                   {"  /nvrha/v1/release:\n    parameters:\n      - $ref: '#/components/parameters/KeyID'\n", "  /nvrha/v1/release:\n    parameters:\n"},
		"a schema the answers break":         {"        healthy:\n          type: boolean\n", "        healthy:\n          type: string\n"},
		"an error code too many":             {"enum: [unauthenticated,", "enum: [teapot, unauthenticated,"},
	} {
		t.Run(name, func(t *testing.T) {
			if !strings.Contains(raw, c.old) {
				t.Fatalf("the document no longer holds %q", c.old)
			}
			changed := []byte(strings.Replace(raw, c.old, c.new, 1))
			doc, err := loadOpenAPI(changed)
			if err != nil {
				t.Logf("refused by kin-openapi: %v", err)
				return
			}
			problems := openAPIProblems(t, doc, changed)
			if len(problems) == 0 {
				t.Fatal("not noticed")
			}
			t.Logf("noticed: %s", problems[0])
		})
	}
}
