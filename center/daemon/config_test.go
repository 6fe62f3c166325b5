package daemon

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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
		{"etcd table without etcd store", "store = \"s\"\n" + goodAdmin + "[etcd]\nendpoints = [\"http://h:2379\"]\n", "c.toml:6: etcd: the [etcd] table is for store = \"etcd\""},
		{"etcd store without endpoints", "store = \"etcd\"\n" + goodAdmin, "needs endpoints"},
		{"etcd endpoint not a URL", "store = \"etcd\"\n" + goodAdmin + "[etcd]\nendpoints = [\"h:2379\"]\n", "c.toml:6: etcd: endpoint"},
		{"etcd tls over http", "store = \"etcd\"\n" + goodAdmin + "[etcd]\nendpoints = [\"http://h:2379\"]\nca = \"ca.pem\"\n", "need https endpoints"},
		{"etcd cert without key", "store = \"etcd\"\n" + goodAdmin + "[etcd]\nendpoints = [\"https://h:2379\"]\ncert = \"c.pem\"\n", "both cert and key"},
		{"etcd lease in fractions", "store = \"etcd\"\n" + goodAdmin + "[etcd]\nendpoints = [\"https://h:2379\"]\nlease_ttl = \"2500ms\"\n", "whole seconds"},
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

// A file that keeps the State in etcd parses, and the nvrcenter of the
// core module, which has no etcd, says what to run instead.
func TestEtcdStoreNeedsNvrcenterHA(t *testing.T) {
	file := "store = \"etcd\"\n" + goodAdmin + "[etcd]\nendpoints = [\"https://10.0.0.1:2379\", \"https://10.0.0.2:2379\"]\nname = \"center-1\"\nlease_ttl = \"5s\"\n"
	c, err := parseConfig("c.toml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	e, err := c.etcd()
	if err != nil || len(e.Endpoints) != 2 || e.Name != "center-1" || e.LeaseTTL != 5*time.Second || e.TLS != nil {
		t.Fatalf("etcd config %+v, %v", e, err)
	}
	path := filepath.Join(t.TempDir(), "c.toml")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"-config", path, "-check-config"}, nil, io.Discard, io.Discard, nil)
	if !errors.Is(err, errNeedsHA) || !strings.Contains(err.Error(), "nvrcenter-ha") {
		t.Errorf("nvrcenter with store = \"etcd\": %v, want a pointer to nvrcenter-ha", err)
	}
}

// An error about a file the configuration names (a key, a certificate)
// names the configuration file and the line of the key that names it.
func TestFileErrorsNameTheLine(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("good.key", strings.Repeat("ab", 32)+"\n")
	write("short.key", "short\n")
	write("junk.pem", "not a certificate\n")
	agent := func(id, extra string) string {
		return "\n[[agent]]\nid = \"" + id + "\"\nurl = \"https://h:1\"\n" + extra
	}
	for _, tc := range []struct {
		name, file, want string
		is               error
	}{
		{"missing secret", "store = \"s\"\n" + goodAdmin + agent("rec-1", "secret_file = \"good.key\"\n") +
			agent("rec-2", "key_id = \"k\"\nsecret_file = \"nokey.key\"\n"),
			`c.toml:16: [[agent]] "rec-2": secret_file: open `, fs.ErrNotExist},
		{"short secret", "store = \"s\"\n" + goodAdmin + agent("rec-1", "secret_file = \"short.key\"\n"),
			`c.toml:10: [[agent]] "rec-1": secret_file short.key: the secret has 5 bytes, want at least 32`, nil},
		{"missing ca", "store = \"s\"\n" + goodAdmin + agent("rec-1", "secret_file = \"good.key\"\nca = \"ca.pem\"\n"),
			`c.toml:11: [[agent]] "rec-1": ca ca.pem: open `, fs.ErrNotExist},
		{"ca without PEM", "store = \"s\"\n" + goodAdmin + agent("rec-1", "secret_file = \"good.key\"\nca = \"junk.pem\"\n"),
			`c.toml:11: [[agent]] "rec-1": ca junk.pem: no PEM certificate in it`, errNoPEM},
		{"bad client certificate", "store = \"s\"\n" + goodAdmin + agent("rec-1", "secret_file = \"good.key\"\ncert = \"junk.pem\"\nkey = \"junk.pem\"\n"),
			`c.toml:11: [[agent]] "rec-1": cert junk.pem, key junk.pem: `, nil},
		{"serving certificate", "store = \"s\"\n[tls]\nkey = \"k.pem\"\ncert = \"nocert.pem\"\n" + goodAdmin,
			`c.toml:4: tls: cert nocert.pem, key k.pem: open `, fs.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "c.toml")
			write("c.toml", tc.file)
			err := run(context.Background(), []string{"-config", path, "-check-config"}, nil, io.Discard, io.Discard, nil)
			want := dir + string(filepath.Separator) + tc.want
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("error %v, want one starting %q", err, want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("errors.Is(%v, %v) is false", err, tc.is)
			}
		})
	}
}

// The etcd table's files are read with -check-config too, and their errors
// name their line.
func TestEtcdFileErrorsNameTheLine(t *testing.T) {
	c, err := parseConfig("c.toml", []byte("store = \"etcd\"\n"+goodAdmin+"[etcd]\nendpoints = [\"https://h:2379\"]\nca = \"/nonexistent/ca.pem\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.etcd(); err == nil || !strings.HasPrefix(err.Error(), "c.toml:8: etcd: ca /nonexistent/ca.pem: open ") {
		t.Fatalf("error %v, want one naming c.toml:8", err)
	}
}
