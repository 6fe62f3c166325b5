package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nvrha/nvrha/failover"
)

const goodAdmin = `
[[admin]]
user = "admin"
bcrypt = "$2a$10$7EqJtq98hPqEX7fNZaFWoOhi5BWX4Z3d6Jm0U2wnb2e6aK6/3Jk9a"
`

func TestExampleConfigParses(t *testing.T) {
	c, err := loadConfig("../../docs/nvrcenter.example.toml")
	if err != nil {
		t.Fatal(err)
	}
	m := c.machine()
	if len(c.Agents) != 2 || len(c.Admins) != 2 || m.Failback.HoldDown != 30*time.Second ||
		m.Detector.ProbeInterval != 200*time.Millisecond || m.Failback.Mode != failover.FailbackAutomatic {
		t.Fatalf("parsed %+v, machine %+v", c, m)
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("the example's failover config: %v", err)
	}
}

// Every error in the file names the line it is on.
func TestConfigErrorsNameTheLine(t *testing.T) {
	for _, tc := range []struct {
		name, file, want string
	}{
		{"syntax", "store = \"s\"\nlisten = \n", "c.toml:2:"},
		{"bad duration", "store = \"s\"\n[failback]\nhold_down = \"soon\"\n" + goodAdmin, "c.toml:3:"},
		{"bad platform", "store = \"s\"\nplatform = \"sparc\"\n" + goodAdmin, "c.toml:2:"},
		{"unknown key", "store = \"s\"\nlisten = \"x\"\nlistne = \"y\"\n" + goodAdmin, "c.toml:3: unknown key"},
		{"no admin", "store = \"s\"\n", "at least one admin user"},
		{"admin without hash", "store = \"s\"\n\n[[admin]]\nuser = \"a\"\nbcrypt = \"plain\"\n", "c.toml:3:"},
		{"agent without secret", "store = \"s\"\n" + goodAdmin + "\n[[agent]]\nid = \"rec-1\"\nurl = \"http://h:1\"\n", "c.toml:7: [[agent]] \"rec-1\": secret_file"},
		{"second agent bad url", "store = \"s\"\n" + goodAdmin + "[[agent]]\nid = \"a\"\nurl = \"http://h:1\"\nsecret_file = \"k\"\n[[agent]]\nid = \"b\"\nurl = \"ftp://h\"\nsecret_file = \"k\"\n", "c.toml:10:"},
		{"duplicate agent", "store = \"s\"\n" + goodAdmin + "[[agent]]\nid = \"a\"\nurl = \"http://h:1\"\nsecret_file = \"k\"\n[[agent]]\nid = \"a\"\nurl = \"http://h:2\"\nsecret_file = \"k\"\n", "listed twice"},
		{"mtls over http", "store = \"s\"\n" + goodAdmin + "[[agent]]\nid = \"a\"\nurl = \"http://h:1\"\nsecret_file = \"k\"\nca = \"ca.pem\"\n", "need an https url"},
		{"scheduled without window", "store = \"s\"\n" + goodAdmin + "[failback]\nmode = \"scheduled\"\n", "c.toml:6:"},
		{"bad window", "store = \"s\"\n[failback]\nwindow = \"1-5\"\n" + goodAdmin, "c.toml:3:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("c.toml", []byte(tc.file))
			var ce *configError
			if !errors.As(err, &ce) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want a configError containing %q", err, tc.want)
			}
		})
	}
}
