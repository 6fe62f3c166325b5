package center

import (
	"os"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// openAPIPath is the API's description for operators and vendors,
// relative to this package.
const openAPIPath = "../docs/center-openapi.yaml"

// TestOpenAPIMatchesRoutes keeps docs/center-openapi.yaml true: every route
// of the handler is documented, every documented operation is a route, and
// the demo's routes, and only they, are marked demo-only.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	demoOnly := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, node := range ops {
			if method == "parameters" {
				continue
			}
			key := strings.ToUpper(method) + " " + path
			documented[key] = true
			var op struct {
				Demo      bool           `yaml:"x-demo-only"`
				Responses map[string]any `yaml:"responses"`
			}
			if err := node.Decode(&op); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			demoOnly[key] = op.Demo
			if len(op.Responses) == 0 {
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
