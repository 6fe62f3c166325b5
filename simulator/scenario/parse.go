package scenario

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// ParseFile parses a scenario file.
func ParseFile(path string) (*Scenario, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s, err := Parse(f)
	var se *Error
	if errors.As(err, &se) {
		se.File = path
	}
	return s, err
}

// Parse parses scenario text. Errors are *Error with the line number.
func Parse(r io.Reader) (*Scenario, error) {
	s := &Scenario{}
	p := &parser{s: s}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		p.line++
		toks, err := tokenize(stripComment(sc.Text()))
		if err != nil {
			return nil, p.errf("%v", err)
		}
		if len(toks) == 0 {
			continue
		}
		if err := p.parseLine(toks); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if err := p.finishWorld(); err != nil {
		return nil, err
	}
	if s.HasWorld {
		if err := s.Validate(s.World); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// directives are the statements of a scenario, by their first word: one
// function each, given the line's tokens.
var directives = map[string]func(p *parser, t []string) error{
	"name":               parseName,
	"duration":           parseDuration,
	"groups":             parseGroups,
	"recording":          parseTemplate,
	"standby":            parseTemplate,
	"set":                parseSet,
	"net":                parseNet,
	"nemesis":            parseNemesis,
	"baseline":           parseBaseline,
	"failback":           parseFailback,
	"stream-start":       parseStreamStart,
	"ack-when-recording": parseAckWhenRecording,
	"platform":           parsePlatform,
	"centers":            parseCenters,
	"at":                 parseAt,
	"on":                 parseOn,
	"expect":             parseExpect,
}

func (p *parser) parseLine(t []string) error {
	d, ok := directives[t[0]]
	if !ok {
		return p.errf("unknown line %q", t[0])
	}
	return d(p, t)
}

// stripComment drops a # comment that is not inside a quoted label.
func stripComment(text string) string {
	if i := strings.IndexByte(text, '#'); i >= 0 && !inQuotes(text, i) {
		return text[:i]
	}
	return text
}

func inQuotes(s string, i int) bool { return strings.Count(s[:i], `"`)%2 == 1 }

// tokenize splits a line on blanks; a quoted label is one token, quotes
// included.
func tokenize(s string) ([]string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " \t")
		if s == "" {
			return out, nil
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, errors.New("unterminated quote")
			}
			out = append(out, s[:end+2])
			s = s[end+2:]
			continue
		}
		end := strings.IndexAny(s, " \t")
		if end < 0 {
			end = len(s)
		}
		out = append(out, s[:end])
		s = s[end:]
	}
}

// parser is the state of one Parse: the scenario so far and the world
// header, which is built once every line is read.
type parser struct {
	s      *Scenario
	line   int
	groups int
	tmpl   []tmpl
	sets   []set
}

// tmpl is a "recording" or "standby" line: servers every group gets.
type tmpl struct {
	standby  bool
	n        int
	channels int
	cameras  int
	noSpace  bool
}

// set is a "set" line: one server's size changed.
type set struct {
	line    int
	id, key string
	value   int
}

func (p *parser) errf(format string, args ...any) error {
	return &Error{Line: p.line, Msg: fmt.Sprintf(format, args...)}
}

// header keeps a world header line for String.
func (p *parser) header(t []string) { p.s.header = append(p.s.header, strings.Join(t, " ")) }

func unquote(s string) (string, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", fmt.Errorf("want a quoted label, got %s", s)
	}
	return s[1 : len(s)-1], nil
}

func (p *parser) dur(t []string, i int) (time.Duration, error) {
	if i >= len(t) {
		return 0, p.errf("missing duration")
	}
	d, err := time.ParseDuration(t[i])
	if err != nil || d < 0 {
		return 0, p.errf("bad duration %q", t[i])
	}
	return d, nil
}

func (p *parser) intArg(t []string, i, lo, hi int) (int, error) {
	if i >= len(t) {
		return 0, p.errf("missing number")
	}
	n, err := strconv.Atoi(t[i])
	if err != nil || n < lo || n > hi {
		return 0, p.errf("bad number %q (want %d..%d)", t[i], lo, hi)
	}
	return n, nil
}
