package httptransport

import (
	"bufio"
	"net/http"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

// openAPIPath is the protocol description for vendors, relative to this
// package.
const openAPIPath = "../../docs/openapi.yaml"

// ynode is one "key: value" line of a YAML document written in block style,
// with the lines indented under it as children. It reads the subset of YAML
// docs/openapi.yaml is written in: two-space indentation, block mappings,
// "- " list items, flow lists on one line and "|" block scalars.
type ynode struct {
	key, value string
	children   []*ynode
}

func (n *ynode) child(key string) *ynode {
	if n == nil {
		return nil
	}
	for _, c := range n.children {
		if c.key == key {
			return c
		}
	}
	return nil
}

func (n *ynode) path(keys ...string) *ynode {
	for _, k := range keys {
		n = n.child(k)
	}
	return n
}

func (n *ynode) keys() []string {
	var ks []string
	if n != nil {
		for _, c := range n.children {
			ks = append(ks, c.key)
		}
	}
	return ks
}

func parseYAML(t *testing.T, name string) *ynode {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	root := &ynode{}
	type open struct {
		indent int
		node   *ynode
	}
	stack := []open{{-1, root}}
	blockIndent := -1 // inside a "|" scalar indented deeper than this
	sc := bufio.NewScanner(f)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		indent := len(line) - len(trimmed)
		if blockIndent >= 0 {
			if trimmed == "" || indent > blockIndent {
				continue
			}
			blockIndent = -1
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.Contains(line, "\t") {
			t.Fatalf("%s:%d: tab in indentation", name, lineNo)
		}
		if indent%2 != 0 {
			t.Fatalf("%s:%d: indentation of %d spaces", name, lineNo, indent)
		}
		for stack[len(stack)-1].indent >= indent {
			stack = stack[:len(stack)-1]
		}
		parent := stack[len(stack)-1].node
		n := &ynode{}
		if rest, ok := strings.CutPrefix(trimmed, "- "); ok {
			n.key, n.value = "-", rest
		} else {
			k, v, ok := strings.Cut(trimmed, ":")
			if !ok {
				t.Fatalf("%s:%d: not a key: value line: %q", name, lineNo, line)
			}
			n.key, n.value = strings.Trim(k, `'"`), strings.TrimSpace(v)
		}
		parent.children = append(parent.children, n)
		if n.value == "|" {
			blockIndent = indent
		}
		stack = append(stack, open{indent, n})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return root
}

// flowList reads "[a, b, c]".
func flowList(s string) []string {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	var out []string
	for _, p := range strings.Split(s, ",") {
		out = append(out, strings.TrimSpace(p))
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// TestOpenAPIDescribesEveryRouteAndNothingElse keeps docs/openapi.yaml true:
// its paths are exactly the handler's, each with POST only; its schemas have
// exactly the JSON fields of the Go types; its error codes and headers are
// exactly the package's.
func TestOpenAPIDescribesEveryRouteAndNothingElse(t *testing.T) {
	doc := parseYAML(t, openAPIPath)
	if v := doc.child("openapi"); v == nil || !strings.HasPrefix(v.value, "3.0") {
		t.Fatalf("not an OpenAPI 3.0 document: %+v", v)
	}
	if v := doc.path("info", "version"); v == nil || v.value != Version {
		t.Errorf("info.version %+v, want %s", v, Version)
	}

	// The routes the handler actually serves.
	fx := newInternalFixture(t, HandlerConfig{})
	served := fx.h.(*handler).paths
	var servedPaths []string
	for p := range served {
		servedPaths = append(servedPaths, p)
	}
	docPaths := doc.child("paths").keys()
	if !slices.Equal(sorted(docPaths), sorted(servedPaths)) {
		t.Errorf("documented paths %v, served %v", sorted(docPaths), sorted(servedPaths))
	}

	for _, p := range docPaths {
		node := doc.child("paths").child(p)
		var ops []string
		for _, k := range node.keys() {
			if k != "parameters" {
				ops = append(ops, k)
			}
		}
		if !slices.Equal(ops, []string{"post"}) {
			t.Errorf("%s documents operations %v, want [post]", p, ops)
		}
		var params []string
		for _, c := range node.child("parameters").children {
			params = append(params, strings.TrimPrefix(strings.Trim(strings.TrimPrefix(c.value, "$ref:"), ` '"`), "#/components/parameters/"))
		}
		for _, name := range params {
			if doc.path("components", "parameters", name) == nil {
				t.Errorf("%s refers to undefined parameter %s", p, name)
			}
		}
		if len(params) != 5 {
			t.Errorf("%s lists %d header parameters, want 5", p, len(params))
		}

		// Every documented path is served: a signed POST is not 404 or 405,
		// and answers with a status the document lists for it.
		m, ok := served[p]
		if !ok {
			continue
		}
		statuses := node.path("post", "responses").keys()
		success := "204"
		body := []byte(`{"recording":"rec-1","epoch":1}`)
		if m == transport.MethodStandDown || m == transport.MethodResume {
			body = []byte(`{"epoch":1}`)
		}
		if m == transport.MethodProbe || m == transport.MethodInventory {
			success, body = "200", nil
		}
		if !slices.Contains(statuses, success) {
			t.Errorf("%s does not document its success status %s", p, success)
		}
		w := fx.serve(fx.request(m, body))
		if got := strconv.Itoa(w.Code); !slices.Contains(statuses, got) {
			t.Errorf("%s answered %s, which it does not document (%v): %s", p, got, statuses, w.Body)
		}
		if w.Code == http.StatusNotFound || w.Code == http.StatusMethodNotAllowed {
			t.Errorf("documented %s is not served: %d", p, w.Code)
		}
		// Every status documented is one the handler can give on this path.
		for _, s := range statuses {
			code, _ := strconv.Atoi(s)
			if s != success && !slices.Contains(statusesOfCodes(), code) {
				t.Errorf("%s documents status %s, which no error code has", p, s)
			}
		}
	}

	// Schemas have exactly the Go types' JSON fields.
	schemas := doc.path("components", "schemas")
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
		fields := jsonFields(t, typ)
		props := schemas.path(name, "properties").keys()
		if !slices.Equal(sorted(props), sorted(fields)) {
			t.Errorf("schema %s documents %v, the Go type has %v", name, sorted(props), sorted(fields))
		}
		if req := schemas.path(name, "required"); req != nil {
			for _, r := range flowList(req.value) {
				if !slices.Contains(fields, r) {
					t.Errorf("schema %s requires unknown field %s", name, r)
				}
			}
		}
	}

	// Error codes: exactly the package's, each with its status.
	code := schemas.path("Error", "properties", "code")
	var codes []string
	for c := range codeStatus {
		codes = append(codes, c)
	}
	if got := flowList(code.child("enum").value); !slices.Equal(sorted(got), sorted(codes)) {
		t.Errorf("documented codes %v, the package has %v", sorted(got), sorted(codes))
	}
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	for c, status := range codeStatus {
		if !strings.Contains(string(raw), strconv.Itoa(status)+" "+c) {
			t.Errorf("the document does not say %q", strconv.Itoa(status)+" "+c)
		}
	}

	// Headers: exactly the package's.
	var headers []string
	for _, p := range doc.path("components", "parameters").children {
		if in := p.child("in"); in == nil || in.value != "header" {
			t.Errorf("parameter %s is not a header", p.key)
		}
		headers = append(headers, p.child("name").value)
	}
	want := []string{HeaderKeyID, HeaderTimestamp, HeaderNonce, HeaderServer, HeaderSignature}
	if !slices.Equal(sorted(headers), sorted(want)) {
		t.Errorf("documented headers %v, the package uses %v", sorted(headers), sorted(want))
	}
	for _, scheme := range []string{requestScheme, responseScheme} {
		if !strings.Contains(string(raw), scheme+"\n") {
			t.Errorf("the document does not give the canonical string's first line %s", scheme)
		}
	}
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

// TestOpenAPIParserNoticesDrift shows the document test can fail: a path or
// a field added to a copy of the document is noticed.
func TestOpenAPIParserNoticesDrift(t *testing.T) {
	raw, err := os.ReadFile(openAPIPath)
	if err != nil {
		t.Fatal(err)
	}
	extra := strings.Replace(string(raw), "paths:\n", "paths:\n  /nvrha/v1/reboot:\n    post:\n      operationId: reboot\n", 1)
	name := t.TempDir() + "/openapi.yaml"
	if err := os.WriteFile(name, []byte(extra), 0o600); err != nil {
		t.Fatal(err)
	}
	doc := parseYAML(t, name)
	if !slices.Contains(doc.child("paths").keys(), "/nvrha/v1/reboot") {
		t.Error("the parser missed an added path")
	}
	if got := len(doc.child("paths").keys()); got != len(routes)+1 {
		t.Errorf("parser found %d paths, want %d", got, len(routes)+1)
	}
	if props := doc.path("components", "schemas", "TakeoverOrder", "properties").keys(); !slices.Equal(props, []string{"recording", "epoch", "cameras"}) {
		t.Errorf("TakeoverOrder properties read as %v", props)
	}
}
