package httptransport

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha"
	"github.com/nvrha/nvrha/transport"
	"github.com/nvrha/nvrha/transport/agenttest"
)

// agentProtocolPath is the protocol description with the test vectors,
// relative to this package.
const agentProtocolPath = "../../docs/agent-protocol.md"

// The inputs of the test vectors in docs/agent-protocol.md.
var (
	vectorKey       = Key{ID: "center-2026", Secret: []byte("nvrha-test-vector-secret-32bytes")}
	vectorTimestamp = time.Unix(1767254400, 0) // 2026-01-01 08:00:00 UTC
	vectorServer    = nvrha.ServerID("standby-1")
	vectorHost      = "standby-1.example:8443"
	vectorTakeover  = transport.TakeoverOrder{Recording: "rec-1", Epoch: 7, Cameras: []nvrha.CameraID{"rec-1/cam-01", "rec-1/cam-02"}}
	// The nonces: 16 bytes each, 0x00 to 0x0f, 0x10 to 0x1f and 0x20 to
	// 0x2f; over HTTP in unpadded base64url.
	vectorTakeoverNonce = "AAECAwQFBgcICQoLDA0ODw"
	vectorProbeNonce    = "EBESExQVFhcYGRobHB0eHw"
	vectorUDPNonce      = [nonceSize]byte{0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f}
	vectorUDPWait       = uint32(100)
)

// TestAgentProtocolVectors keeps the test vectors of docs/agent-protocol.md
// true: it makes each of them with this package's code, from the inputs
// above (which the document gives), sends the requests to a real handler
// and ProbeListener over an agenttest standby, and checks that the
// document holds every request, canonical string, signature, answer and
// datagram exactly as the code makes and the handler answers them.
func TestAgentProtocolVectors(t *testing.T) {
	raw, err := os.ReadFile(agentProtocolPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	for _, b := range vectorBlocks(t) {
		if !strings.Contains(doc, b.text) {
			t.Errorf("%s does not hold the vector %q exactly; it is:\n%s", agentProtocolPath, b.name, b.text)
		}
	}
}

// block is one piece of text the document must hold verbatim.
type block struct{ name, text string }

func vectorBlocks(t *testing.T) []block {
	t.Helper()
	agent := agenttest.New(nvrha.Facts{
		ID: vectorServer, Product: nvrha.ProductQVRPro, AdvancedMode: true, LicenseChannels: 32,
		RecordingSpaces: []nvrha.RecordingSpace{{Name: "vol1", Empty: true}},
	})
	h, err := NewHandler(agent, HandlerConfig{Server: vectorServer, Auth: Auth{Keys: []Key{vectorKey}},
		Now: func() time.Time { return vectorTimestamp }})
	if err != nil {
		t.Fatal(err)
	}
	blocks := []block{{"the key's secret in hex", hex.EncodeToString(vectorKey.Secret)}}

	body, err := encodeOrder(vectorTakeover)
	if err != nil {
		t.Fatal(err)
	}
	blocks = append(blocks, httpVector(t, h, "takeover", transport.MethodTakeover, body, vectorTakeoverNonce, http.StatusNoContent)...)
	blocks = append(blocks, httpVector(t, h, "probe", transport.MethodProbe, nil, vectorProbeNonce, http.StatusOK)...)

	// The same handler answers the probe over UDP, once the takeover has
	// made its standby cover rec-1 at epoch 7.
	l, err := ListenProbes("127.0.0.1:0", h)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	req := appendProbeRequest(nil, vectorKey.ID, vectorServer, uint64(vectorTimestamp.Unix()), &vectorUDPNonce, vectorUDPWait)
	req = append(req, mac(vectorKey.Secret, req)...)
	answer := exchangeDatagram(t, l.Addr().String(), req)
	return append(blocks, udpVectors(t, req, answer)...)
}

// encodeOrder is the body a Client sends for an order.
func encodeOrder(o any) ([]byte, error) { return json.Marshal(o) }

// httpVector signs a request for m with body and nonce, has the handler
// answer it, checks the status, and returns the request, its canonical
// string and signature, and the response with its canonical string and
// signature, as the document shows them.
func httpVector(t *testing.T, h http.Handler, name string, m transport.Method, body []byte, nonce string, status int) []block {
	t.Helper()
	s := signedRequest{method: routeMethod, path: Path(m), fullPath: Path(m), server: string(vectorServer), keyID: vectorKey.ID,
		timestamp: strconv.FormatInt(vectorTimestamp.Unix(), 10), nonce: nonce, body: body}
	canon := s.canonical()
	sig := sign(vectorKey.Secret, canon)
	req := httptest.NewRequest(routeMethod, "https://"+vectorHost+Path(m), bytes.NewReader(body))
	var text strings.Builder
	fmt.Fprintf(&text, "%s %s HTTP/1.1\nHost: %s\n", routeMethod, Path(m), vectorHost)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		fmt.Fprintf(&text, "Content-Type: application/json\nContent-Length: %d\n", len(body))
	}
	for _, kv := range s.headers(sig) {
		req.Header.Set(kv[0], kv[1])
		fmt.Fprintf(&text, "%s: %s\n", kv[0], kv[1])
	}
	if body != nil {
		fmt.Fprintf(&text, "\n%s", body)
	}

	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if w.Code != status {
		t.Fatalf("%s: the handler answered %d, want %d: %s", name, w.Code, status, w.Body)
	}
	resBody := w.Body.Bytes()
	resCanon := responseCanonical(w.Code, s.path, s.server, vectorKey.ID, nonce, resBody)
	resSig := w.Header().Get(HeaderSignature)
	if want := sign(vectorKey.Secret, resCanon); resSig != want {
		t.Fatalf("%s: the handler signed its answer %s, want %s", name, resSig, want)
	}
	var res strings.Builder
	fmt.Fprintf(&res, "HTTP/1.1 %d %s\n", w.Code, http.StatusText(w.Code))
	if len(resBody) > 0 {
		fmt.Fprintf(&res, "Content-Type: %s\nContent-Length: %d\n", w.Header().Get("Content-Type"), len(resBody))
	}
	fmt.Fprintf(&res, "%s: %s\n%s: %s\n", HeaderKeyID, w.Header().Get(HeaderKeyID), HeaderSignature, resSig)
	if len(resBody) > 0 {
		fmt.Fprintf(&res, "\n%s", resBody)
	}
	return []block{
		{name + " request", text.String()},
		{name + " request's canonical string", string(canon)},
		{name + " request's signature", "Nvrha-Signature: " + sig},
		{name + " response", res.String()},
		{name + " response's canonical string", string(resCanon)},
	}
}

// exchangeDatagram sends req to addr and returns the answer.
func exchangeDatagram(t *testing.T, addr string, req []byte) []byte {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(req); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, maxDatagram+macSize)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("no answer to the probe datagram: %v", err)
	}
	return buf[:n]
}

// layoutRow is one row of a datagram layout table of the document.
type layoutRow struct{ field, offset, size, order string }

// layoutTable reads the table that follows the line heading in doc.
func layoutTable(t *testing.T, doc, heading string) []layoutRow {
	t.Helper()
	_, rest, ok := strings.Cut(doc, "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s has no line %q", agentProtocolPath, heading)
	}
	var rows []layoutRow
	for line := range strings.Lines(rest) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if len(rows) > 0 {
				break
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		if len(cells) < 4 || cells[0] == "Field" || strings.HasPrefix(cells[0], "---") {
			continue
		}
		rows = append(rows, layoutRow{cells[0], cells[1], cells[2], cells[3]})
	}
	return rows
}

// eval evaluates an offset or size of a layout table: numbers and
// variables joined by "+".
func eval(t *testing.T, expr string, vars map[string]int) int {
	t.Helper()
	sum := 0
	for term := range strings.SplitSeq(expr, "+") {
		term = strings.TrimSpace(term)
		if v, ok := vars[term]; ok {
			sum += v
			continue
		}
		n, err := strconv.Atoi(term)
		if err != nil {
			t.Fatalf("layout expression %q: %q is neither a number nor one of %v", expr, term, vars)
		}
		sum += n
	}
	return sum
}

// span is a field's place in one datagram.
type span struct {
	field     string
	off, size int
}

// multiByteInts are the datagrams' integers of more than one byte, each
// big-endian.
var multiByteInts = map[string]bool{"timestamp": true, "wait": true, "status": true, "body length": true, "epoch": true}

// checkLayout checks that rows describe b: contiguous fields from offset 0
// to the end, each holding the bytes want gives for it (what this
// package's parser read there), and returns where each field lies.
func checkLayout(t *testing.T, what string, rows []layoutRow, b []byte, vars map[string]int, want map[string][]byte) []span {
	t.Helper()
	var spans []span
	next := 0
	for _, r := range rows {
		off, size := eval(t, r.offset, vars), eval(t, r.size, vars)
		if off != next {
			t.Errorf("%s: %s at offset %d (%s), want %d: the fields before it take %d bytes", what, r.field, off, r.offset, next, next)
		}
		next = off + size
		w, ok := want[r.field]
		switch {
		case !ok:
			t.Errorf("%s: the document's field %q is not one of the code's", what, r.field)
		case next > len(b):
			t.Errorf("%s: %s ends at %d, past the datagram's %d bytes", what, r.field, next, len(b))
		case !bytes.Equal(b[off:next], w):
			t.Errorf("%s: %s is % x at offset %d, want % x", what, r.field, b[off:next], off, w)
		}
		if multiByteInts[r.field] && r.order != "big-endian" {
			t.Errorf("%s: %s is %q, want big-endian", what, r.field, r.order)
		}
		delete(want, r.field)
		spans = append(spans, span{r.field, off, size})
	}
	if next != len(b) {
		t.Errorf("%s: the fields end at %d, the datagram at %d", what, next, len(b))
	}
	for f := range want {
		t.Errorf("%s: the document has no field %q", what, f)
	}
	return spans
}

// udpVectors checks the document's datagram layouts against the code's
// parsers on the vector datagrams, and returns the datagrams, in hex and
// annotated, as the document shows them.
func udpVectors(t *testing.T, req, answer []byte) []block {
	t.Helper()
	raw, err := os.ReadFile(agentProtocolPath)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	r, ok := parseProbeRequest(req)
	if !ok || !bytes.Equal(r.mac, mac(vectorKey.Secret, r.signed)) {
		t.Fatal("the vector request does not parse, or its MAC is wrong")
	}
	a, ok := parseProbeAnswer(answer)
	if !ok || !bytes.Equal(a.mac, mac(vectorKey.Secret, a.signed)) || a.status != http.StatusOK {
		t.Fatalf("the answer to the vector request does not parse, its MAC is wrong, or it is not a report: % x", answer)
	}
	rep, ok := parseReport(a.body, vectorServer)
	if want := (transport.ProbeReport{Server: vectorServer, Healthy: true, Covering: "rec-1", Epoch: 7, HasEmptyRecordingSpace: true}); !ok || rep != want {
		t.Fatalf("the answer's report is %+v, want %+v", rep, want)
	}
	be := func(n int, v uint64) []byte {
		b := binary.BigEndian.AppendUint64(nil, v)
		return b[8-n:]
	}
	reqSpans := checkLayout(t, "probe request", layoutTable(t, doc, "### Probe request"), req,
		map[string]int{"k": len(r.keyID), "s": len(r.server)},
		map[string][]byte{
			"magic": []byte(datagramMagic), "kind": {kindProbeRequest},
			"key ID length": {byte(len(r.keyID))}, "key ID": r.keyID,
			"server ID length": {byte(len(r.server))}, "server ID": r.server,
			"timestamp": be(8, r.timestamp), "nonce": r.nonce[:], "wait": be(4, uint64(r.waitMillis)), "MAC": r.mac,
		})
	ansSpans := checkLayout(t, "probe answer", layoutTable(t, doc, "### Probe answer"), answer,
		map[string]int{"k": len(a.keyID), "s": len(a.server), "n": len(a.body)},
		map[string][]byte{
			"magic": []byte(datagramMagic), "kind": {kindProbeAnswer},
			"key ID length": {byte(len(a.keyID))}, "key ID": a.keyID,
			"server ID length": {byte(len(a.server))}, "server ID": a.server,
			"nonce": a.nonce[:], "status": be(2, uint64(a.status)), "body length": be(2, uint64(len(a.body))), "body": a.body, "MAC": a.mac,
		})
	var flags byte
	for _, f := range []struct {
		on  bool
		bit byte
	}{{rep.Healthy, flagHealthy}, {rep.Recording, flagRecording}, {rep.HasEmptyRecordingSpace, flagHasEmptyRecordingSpace}} {
		if f.on {
			flags |= f.bit
		}
	}
	repSpans := checkLayout(t, "probe report", layoutTable(t, doc, "### Probe report"), a.body,
		map[string]int{"v": len(rep.Server), "c": len(rep.Covering)},
		map[string][]byte{
			"flags": {flags}, "epoch": be(8, uint64(rep.Epoch)),
			"server length": {byte(len(rep.Server))}, "server": []byte(rep.Server),
			"covering length": {byte(len(rep.Covering))}, "covering": []byte(rep.Covering),
		})
	// The flag bits the document lists are the code's.
	for _, f := range []struct {
		name string
		bit  byte
	}{{"healthy", flagHealthy}, {"recording", flagRecording}, {"has_empty_recording_space", flagHasEmptyRecordingSpace}} {
		if line := fmt.Sprintf("0x%02x %s", f.bit, f.name); !strings.Contains(doc, line) {
			t.Errorf("%s does not name flag %q", agentProtocolPath, line)
		}
	}

	// The report's spans lie within the answer's body.
	var bodyOff int
	for _, s := range ansSpans {
		if s.field == "body" {
			bodyOff = s.off
		}
	}
	var ansAnnotated []span
	for _, s := range ansSpans {
		if s.field != "body" {
			ansAnnotated = append(ansAnnotated, s)
			continue
		}
		for _, rs := range repSpans {
			ansAnnotated = append(ansAnnotated, span{"body: " + rs.field, bodyOff + rs.off, rs.size})
		}
	}
	return []block{
		{"probe request in hex", wrapHex(req)},
		{"probe request annotated", annotate(req, reqSpans)},
		{"probe answer in hex", wrapHex(answer)},
		{"probe answer annotated", annotate(answer, ansAnnotated)},
	}
}

// wrapHex is b in lower-case hex, 64 digits a line.
func wrapHex(b []byte) string {
	h := hex.EncodeToString(b)
	var s strings.Builder
	for len(h) > 64 {
		s.WriteString(h[:64] + "\n")
		h = h[64:]
	}
	s.WriteString(h)
	return s.String()
}

// annotate lays b out a field a line (16 bytes a line at most), with its
// offset and name.
func annotate(b []byte, spans []span) string {
	var s strings.Builder
	s.WriteString("offset  bytes                                            field\n")
	for _, sp := range spans {
		for i := 0; i < sp.size || i == 0 && sp.size == 0; i += 16 {
			chunk := b[sp.off+i : sp.off+min(i+16, sp.size)]
			name := sp.field
			if i > 0 {
				name = "  (" + sp.field + ")"
			} else if v := fieldValue(sp.field, b[sp.off:sp.off+sp.size]); v != "" {
				name += " = " + v
			}
			fmt.Fprintf(&s, "%6d  %-47s  %s\n", sp.off+i, hexBytes(chunk), name)
		}
	}
	return strings.TrimRight(s.String(), "\n")
}

// fieldValue is what the bytes of field mean, for the annotation: text
// quoted, flags in hex, numbers in decimal, nothing for random bytes.
func fieldValue(field string, b []byte) string {
	switch strings.TrimPrefix(field, "body: ") {
	case "magic", "key ID", "server ID", "server", "covering":
		return strconv.Quote(string(b))
	case "flags":
		return fmt.Sprintf("0x%02x", b[0])
	case "nonce", "MAC":
		return ""
	}
	var n uint64
	for _, c := range b {
		n = n<<8 | uint64(c)
	}
	return strconv.FormatUint(n, 10)
}

func hexBytes(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02x", c)
	}
	return strings.Join(parts, " ")
}
