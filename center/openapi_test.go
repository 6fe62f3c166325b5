package center

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// openAPIPath is the API's description for operators and vendors,
// relative to this package.
const openAPIPath = "../docs/center-openapi.yaml"

// TestOpenAPIMatchesRoutes keeps docs/center-openapi.yaml true: it is a
// valid OpenAPI document, every route of the handler is documented, every
// documented operation is a route, and the demo's routes, and only they,
// are marked demo-only. The API tests hold every exchange they make to the
// document as well (checkOpenAPI, in do()).
func TestOpenAPIMatchesRoutes(t *testing.T) {
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("%s is not a valid OpenAPI document: %v", openAPIPath, err)
	}
	documented := map[string]bool{}
	demoOnly := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := strings.ToUpper(method) + " " + path
			documented[key] = true
			demo, _ := op.Extensions["x-demo-only"].(bool)
			demoOnly[key] = demo
			if op.Responses == nil || op.Responses.Len() == 0 {
				t.Errorf("%s documents no response", key)
			}
		}
	}
	routes := map[string]route{}
	for _, rt := range slices.Concat(apiRoutes, plainRoutes) {
		routes[rt.method+" "+rt.pattern] = rt
	}
	for key, rt := range routes {
		if !documented[key] {
			t.Errorf("route %s is not in %s", key, openAPIPath)
		} else if demoOnly[key] != rt.demo {
			t.Errorf("%s: x-demo-only is %v, the route's demo is %v", key, demoOnly[key], rt.demo)
		}
	}
	for key := range documented {
		if _, ok := routes[key]; !ok {
			t.Errorf("%s documents %s, which the handler does not serve", openAPIPath, key)
		}
	}
}
