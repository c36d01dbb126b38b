package dns

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"

	"github.com/wgtray/wgtray/helper/plan"
)

// resolvconfAdd registers the servers under the tunnel's record as
// wg-quick does: metric 0 and exclusive, so that while the tunnel is up
// its servers are the only ones used.
func resolvconfAdd(ctx context.Context, d *plan.DNS) error {
	return resolvconf(ctx, d.ResolvConfText(), "-a", d.Name, "-m", "0", "-x")
}

// resolvconfDelete removes the record; -f makes a missing one fine.
func resolvconfDelete(ctx context.Context, d *plan.DNS) error {
	return resolvconf(ctx, nil, "-d", d.Name, "-f")
}

func resolvconf(ctx context.Context, stdin []byte, args ...string) error {
	cmd := exec.CommandContext(ctx, "resolvconf", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("resolvconf %v: %w (%q)", args, err, bytes.TrimSpace(out))
	}
	return nil
}
