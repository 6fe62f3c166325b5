//go:build unix

package failover_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/nvrha/nvrha/failover"
)

// TestFileStoreNamedPipeAtPath: Load neither blocks on a pipe nor calls it
// corrupt.
func TestFileStoreNamedPipeAtPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	s := failover.NewFileStore(path)
	if err := loadFails(t, s, failover.ErrStorePath); !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Load of a pipe: %v", err)
	}
	if err := s.Save(context.Background(), storeMachine(t).State()); !errors.Is(err, failover.ErrStorePath) {
		t.Errorf("Save over a pipe: %v, want ErrStorePath", err)
	}
}
