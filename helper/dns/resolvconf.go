package dns

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"syscall"
	"time"

	"github.com/wgtray/wgtray/helper/plan"
)

// waitDelay is how long a killed resolvconf's output may stay open: the
// whole process group is killed, so only a child that left the group can
// hold it.
const waitDelay = 2 * time.Second

// resolvconfAdd registers the servers under the tunnel's record as
// wg-quick does: metric 0 and exclusive, so that while the tunnel is up
// its servers are the only ones used.
func (h *Host) resolvconfAdd(ctx context.Context, d *plan.DNS) error {
	return h.resolvconf(ctx, d.ResolvConfText(), "-a", d.Name, "-m", "0", "-x")
}

// resolvconfDelete removes the record; -f makes a missing one fine.
func (h *Host) resolvconfDelete(ctx context.Context, d *plan.DNS) error {
	return h.resolvconf(ctx, nil, "-d", d.Name, "-f")
}

func (h *Host) resolvconfProgram() string {
	if h.Resolvconf != "" {
		return h.Resolvconf
	}
	return "resolvconf"
}

// resolvconf runs the program with stdin, within Timeout: a hung one is
// killed with all it started (its process group), and the step fails.
func (h *Host) resolvconf(ctx context.Context, stdin []byte, args ...string) error {
	ctx, cancel, limit := h.withTimeout(ctx)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.resolvconfProgram(), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil
	}
	err = timedOut(ctx, limit, err)
	if out = bytes.TrimSpace(out); len(out) > 0 {
		return fmt.Errorf("resolvconf %v: %w (%q)", args, err, out)
	}
	return fmt.Errorf("resolvconf %v: %w", args, err)
}
