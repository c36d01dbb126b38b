package cli

import (
	"context"
	"fmt"
)

// The commands of wgtray's own settings: a tunnel's kill switch and
// allow-lan, and machine-wide lockdown. The helper validates keys and
// values; these only say what they did.
func init() {
	commands["set"] = command{"NAME KEY VALUE", "Set an option of tunnel NAME: kill-switch on|off (block traffic outside a full tunnel; on by default), allow-lan on|off (let the block pass the local network; on by default) or autoconnect off|boot (bring the tunnel up at boot, before anyone logs in; off by default).",
		[2]int{3, 3}, false, false, cmdSet, true, "wgtray status %s"}
	commands["lockdown"] = command{"[on|off]", "Without an argument, say whether lockdown is on. on: block all traffic outside a tunnel, even when none is connected, across restarts and reboots; off: stop.",
		[2]int{0, 1}, false, false, cmdLockdown, true, "wgtray lockdown"}
}

func cmdSet(ctx context.Context, h Helper, e Env, o opts) error {
	name, key, value := o.args[0], o.args[1], o.args[2]
	if err := h.SetTunnelOption(ctx, name, key, value); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "%s: %s %s\n", name, key, value)
	return nil
}

func cmdLockdown(ctx context.Context, h Helper, e Env, o opts) error {
	if len(o.args) == 1 {
		if err := h.SetOption(ctx, "lockdown", o.args[0]); err != nil {
			return err
		}
	}
	on, blocking, err := h.Lockdown(ctx)
	if err != nil {
		return err
	}
	state := "off"
	if on {
		state = "on"
	}
	block := "no traffic is blocked"
	if blocking {
		block = "traffic outside the tunnel is blocked"
	}
	fmt.Fprintf(e.Stdout, "lockdown: %s (%s)\n", state, block)
	return nil
}
