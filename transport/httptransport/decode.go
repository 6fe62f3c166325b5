package httptransport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"unicode/utf8"
)

// errNotStrictJSON is wrapped by every error decodeStrict returns for a body
// that is not the strict JSON an order must be.
var errNotStrictJSON = errors.New("not strict JSON")

// decodeStrict decodes exactly one JSON object into v, a pointer to a
// struct, more strictly than encoding/json: it refuses
//
//   - bytes that are not UTF-8, and \u escapes that are not whole Unicode
//     characters (a lone surrogate), which encoding/json would turn into
//     U+FFFD: an ID must reach the agent as the center wrote it, or not at
//     all;
//   - a key given twice in any object, of which encoding/json would keep
//     the last: a signed order must mean one thing to every reader;
//   - a key that is not exactly the JSON name of one of v's fields
//     ("Epoch" for "epoch" included, which encoding/json would accept): a
//     field this version does not know is refused rather than ignored, and
//     a change that needs one gets a new protocol version;
//   - anything after the object.
//
// Every error wraps errNotStrictJSON or is encoding/json's own.
func decodeStrict(body []byte, v any) error {
	if !utf8.Valid(body) {
		return fmt.Errorf("%w: the body is not valid UTF-8", errNotStrictJSON)
	}
	if err := checkEscapes(body); err != nil {
		return err
	}
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return fmt.Errorf("%w: the body is not a JSON object", errNotStrictJSON)
	}
	if err := checkKeys(body, fieldNames(reflect.TypeOf(v))); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// checkEscapes refuses a \u escape of a surrogate that is not the first
// half of a pair followed by its second half. In valid JSON a backslash
// occurs only inside strings, so a scan for them needs no parser; any other
// syntax error is left to encoding/json.
func checkEscapes(b []byte) error {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		if i+1 < len(b) && b[i+1] != 'u' {
			i++ // \" \\ \/ \b \f \n \r \t, or a syntax error
			continue
		}
		r, ok := hex4(b, i+2)
		switch {
		case !ok:
			continue // a syntax error
		case 0xD800 <= r && r < 0xDC00:
			if lo, ok := hex4(b, i+8); ok && b[i+6] == '\\' && b[i+7] == 'u' && 0xDC00 <= lo && lo < 0xE000 {
				i += 11
				continue
			}
			return fmt.Errorf("%w: \\u%04X at byte %d is half a surrogate pair", errNotStrictJSON, r, i)
		case 0xDC00 <= r && r < 0xE000:
			return fmt.Errorf("%w: \\u%04X at byte %d is half a surrogate pair", errNotStrictJSON, r, i)
		}
		i += 5
	}
	return nil
}

// hex4 reads the four hex digits at b[i:i+4].
func hex4(b []byte, i int) (rune, bool) {
	if i < 0 || i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		d, ok := fromHexChar(c)
		if !ok {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

// maxJSONDepth bounds the nesting of a body: an order nests two deep.
const maxJSONDepth = 32

// checkKeys walks the JSON text b and refuses a key repeated in any object,
// a key of the outermost object not in names, and anything after that
// object.
func checkKeys(b []byte, names map[string]bool) error {
	type frame struct {
		object, wantKey bool
		seen            map[string]bool
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var stack []frame
	done := false
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if !done {
				return fmt.Errorf("%w: the JSON object is cut short", errNotStrictJSON)
			}
			return nil
		}
		if err != nil {
			return err
		}
		if done {
			return fmt.Errorf("%w: data after the JSON object", errNotStrictJSON)
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			if n := len(stack); n == 0 {
				done = true
			} else if stack[n-1].object {
				stack[n-1].wantKey = true
			}
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			k, _ := tok.(string) // the decoder returns keys as strings
			top := &stack[n-1]
			if top.seen[k] {
				return fmt.Errorf("%w: key %q given twice", errNotStrictJSON, k)
			}
			if top.seen == nil {
				top.seen = map[string]bool{}
			}
			top.seen[k] = true
			if n == 1 && !names[k] {
				for name := range names {
					if strings.EqualFold(name, k) {
						return fmt.Errorf("%w: key %q: keys are case-sensitive, want %q", errNotStrictJSON, k, name)
					}
				}
				return fmt.Errorf("%w: unknown key %q", errNotStrictJSON, k)
			}
			top.wantKey = false
			continue
		}
		if d, ok := tok.(json.Delim); ok { // '{' or '['
			if len(stack) == maxJSONDepth {
				return fmt.Errorf("%w: nested deeper than %d", errNotStrictJSON, maxJSONDepth)
			}
			stack = append(stack, frame{object: d == '{', wantKey: d == '{'})
			continue
		}
		if n := len(stack); n > 0 && stack[n-1].object {
			stack[n-1].wantKey = true
		}
	}
}

// fieldNames caches the JSON names of the fields of each struct type
// decodeStrict decodes into.
var fieldNamesCache sync.Map // reflect.Type → map[string]bool

// fieldNames returns the JSON names of the fields of the struct t points
// to, those of embedded structs included, as encoding/json reads them.
func fieldNames(t reflect.Type) map[string]bool {
	if m, ok := fieldNamesCache.Load(t); ok {
		return m.(map[string]bool)
	}
	names := map[string]bool{}
	addFieldNames(t.Elem(), names)
	fieldNamesCache.Store(t, names)
	return names
}

func addFieldNames(t reflect.Type, names map[string]bool) {
	for f := range t.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case tag == "-" || !f.IsExported() && !f.Anonymous:
		case f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct:
			addFieldNames(f.Type, names)
		case tag != "":
			names[tag] = true
		default:
			names[f.Name] = true
		}
	}
}
