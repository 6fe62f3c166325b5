package main

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/httptransport"
)

// docHex returns the first code block after the line heading in
// docs/agent-protocol.md, decoded from hex.
func docHex(t *testing.T, heading string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../docs/agent-protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("no %q in docs/agent-protocol.md", heading)
	}
	_, rest, _ = strings.Cut(rest, "```\n")
	block, _, _ := strings.Cut(rest, "```")
	b, err := hex.DecodeString(strings.ReplaceAll(block, "\n", ""))
	if err != nil {
		t.Fatalf("%s: %v", heading, err)
	}
	return b
}

// The check's own datagram code, written from docs/agent-protocol.md,
// makes the document's request and reads its answer; an answer changed in
// any byte is refused.
func TestUDPDatagramsMatchTheDocument(t *testing.T) {
	key := httptransport.Key{ID: "center-2026", Secret: []byte("nvrha-test-vector-secret-32bytes")}
	nonce := [udpNonceSize]byte{0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f}
	want := docHex(t, "### 4. A probe request over UDP")
	if got := udpRequest(key, "standby-1", 1767254400, nonce, 100); string(got) != string(want) {
		t.Errorf("request\n%x, the document's\n%x", got, want)
	}
	answer := docHex(t, "### 5. Its answer")
	r, err := parseUDPAnswer(answer, key, "standby-1", nonce)
	if w := (transport.ProbeReport{Server: "standby-1", Healthy: true, Covering: "rec-1", Epoch: 7, HasEmptyRecordingSpace: true}); err != nil || r != w {
		t.Fatalf("the document's answer: %+v, %v; want %+v", r, err, w)
	}
	for i := range answer {
		changed := append([]byte(nil), answer...)
		changed[i] ^= 0x01
		if _, err := parseUDPAnswer(changed, key, "standby-1", nonce); err == nil {
			t.Errorf("the answer with byte %d changed is accepted", i)
		}
	}
	if _, err := parseUDPAnswer(answer[:len(answer)-1], key, "standby-1", nonce); err == nil {
		t.Error("the answer cut short is accepted")
	}
}
