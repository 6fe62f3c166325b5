package httptransport

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
)

func TestDecodeStrictAcceptsWhatTheClientSends(t *testing.T) {
	for body, want := range map[string]transport.TakeoverOrder{
		`{"recording":"rec-1","epoch":3,"cameras":["a","b"]}`:        {Recording: "rec-1", Epoch: 3, Cameras: []nvrha.CameraID{"a", "b"}},
		" \n{ \"epoch\" : 3 , \"recording\" : \"rec-1\" } \r\n":      {Recording: "rec-1", Epoch: 3},
		`{"recording":"rec-\ud83d\ude00","epoch":3,"cameras":null}`:  {Recording: "rec-😀", Epoch: 3},
		`{"recording":"caf\u00e9 \\ \"1\"","epoch":3,"cameras":[]}`:  {Recording: `café \ "1"`, Epoch: 3, Cameras: []nvrha.CameraID{}},
		`{"recording":"Entrée «Nord»","epoch":18446744073709551615}`: {Recording: "Entrée «Nord»", Epoch: ^nvrha.Epoch(0)},
	} {
		var got transport.TakeoverOrder
		if err := decodeStrict([]byte(body), &got); err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if got.Recording != want.Recording || got.Epoch != want.Epoch || !slices.Equal(got.Cameras, want.Cameras) {
			t.Errorf("%s: decoded %+v, want %+v", body, got, want)
		}
	}
}

// TestDecodeStrictRefusesWhatEncodingJSONAccepts lists bodies that
// encoding/json decodes (the first premise of each case), and that
// decodeStrict must refuse with errNotStrictJSON.
func TestDecodeStrictRefusesWhatEncodingJSONAccepts(t *testing.T) {
	for name, body := range map[string]string{
		"key in another case":       `{"Recording":"rec-1","epoch":3}`,
		"duplicate key":             `{"recording":"rec-1","epoch":3,"epoch":9}`,
		"duplicate, other case":     `{"recording":"rec-1","epoch":3,"EPOCH":9}`,
		"duplicate first key":       `{"recording":"rec-1","epoch":3,"recording":"rec-2"}`,
		"invalid UTF-8":             "{\"recording\":\"rec-\xff\",\"epoch\":3}",
		"overlong UTF-8":            "{\"recording\":\"rec-\xc0\xaf\",\"epoch\":3}",
		"encoded surrogate":         "{\"recording\":\"rec-\xed\xa0\x80\",\"epoch\":3}",
		"lone low surrogate":        `{"recording":"rec-\udc00","epoch":3}`,
		"lone high surrogate":       `{"recording":"rec-\ud800","epoch":3}`,
		"high then not low":         `{"recording":"rec-\ud800\u0041","epoch":3}`,
		"high surrogate at the end": `{"recording":"rec-1","epoch":3,"cameras":["\ud800"]}`,
	} {
		var o transport.TakeoverOrder
		if err := json.Unmarshal([]byte(body), &o); err != nil {
			t.Errorf("%s: encoding/json refuses it too (%v): not a case for this test", name, err)
		}
		if err := decodeStrict([]byte(body), &o); !errors.Is(err, errNotStrictJSON) {
			t.Errorf("%s: decodeStrict(%q) = %v, want errNotStrictJSON", name, body, err)
		}
	}
	// Keys of nested objects are checked for repeats too.
	var v struct {
		A map[string]int `json:"a"`
	}
	if err := decodeStrict([]byte(`{"a":{"x":1,"x":2}}`), &v); !errors.Is(err, errNotStrictJSON) {
		t.Errorf("a repeated nested key: %v", err)
	}
	if err := decodeStrict([]byte(`{"a":{"x":1,"X":2}}`), &v); err != nil {
		t.Errorf("nested keys differing in case are distinct keys: %v", err)
	}
}

// FuzzDecodeStrict checks decodeStrict against encoding/json on any body:
// whatever it accepts, encoding/json decodes to the same order, from valid
// UTF-8 whose outermost keys are exactly the order's JSON names, each once;
// and every order the client encodes decodes back to itself.
func FuzzDecodeStrict(f *testing.F) {
	for _, s := range []string{
		`{"recording":"rec-1","epoch":3,"cameras":["a","b"]}`, `{"epoch":1}`, `{"Epoch":1}`, `{"epoch":1,"epoch":2}`,
		`{"recording":"\ud83d\ude00","epoch":1}`, `{"recording":"\udc00","epoch":1}`, "{\"recording\":\"\xff\",\"epoch\":1}",
		`{"recording":"rec-1","epoch":1} {}`, `{"cameras":[[],{}],"epoch":1}`, `[{"epoch":1}]`, `{"recording":"a\\u","epoch":1}`,
	} {
		f.Add([]byte(s))
	}
	names := []string{"recording", "epoch", "cameras"}
	f.Fuzz(func(t *testing.T, body []byte) {
		var o transport.TakeoverOrder
		err := decodeStrict(body, &o)
		if err != nil {
			return
		}
		if !utf8.Valid(body) {
			t.Fatalf("accepted invalid UTF-8: %q", body)
		}
		var std transport.TakeoverOrder
		if err := json.Unmarshal(body, &std); err != nil {
			t.Fatalf("accepted %q, which encoding/json refuses: %v", body, err)
		}
		if std.Recording != o.Recording || std.Epoch != o.Epoch || !slices.Equal(std.Cameras, o.Cameras) {
			t.Fatalf("%q: decoded %+v, encoding/json %+v", body, o, std)
		}
		if strings.ContainsRune(string(o.Recording), utf8.RuneError) && !strings.Contains(string(body), "\uFFFD") && !strings.Contains(strings.ToLower(string(body)), `\ufffd`) {
			t.Fatalf("%q: U+FFFD in %q that the body does not hold", body, o.Recording)
		}
		var keys map[string]json.RawMessage
		if err := json.Unmarshal(body, &keys); err != nil {
			t.Fatalf("accepted %q, which is not an object: %v", body, err)
		}
		for k := range keys {
			if !slices.Contains(names, k) {
				t.Fatalf("accepted key %q", k)
			}
		}
		// The client's encoding of what was accepted decodes to itself.
		again, err := json.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		var back transport.TakeoverOrder
		if err := decodeStrict(again, &back); err != nil || back.Recording != o.Recording || back.Epoch != o.Epoch || !slices.Equal(back.Cameras, o.Cameras) {
			t.Fatalf("%s: decodes to %+v, %v; want %+v", again, back, err, o)
		}
	})
}
