package engine

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// hookLines are the four hooks of a config, each appending its phase to
// file — PreUp also whether the link exists yet — with a trailing comment
// that wg-quick cuts off (it strips "#..." from every line). postUp is
// PostUp's command after its echo.
func hookLines(file, postUp string) string {
	return fmt.Sprintf(`PreUp = if ip link show dev %%i >/dev/null 2>&1; then echo PreUp-after-link; else echo PreUp; fi >> %[1]s # a comment: wg-quick runs only what is before it
PostUp = echo PostUp >> %[1]s%[2]s
PreDown = echo PreDown %%i >> %[1]s
PostDown = echo PostDown >> %[1]s
`, file, postUp)
}

func readHooks(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	os.Remove(file)
	return strings.ReplaceAll(string(b), "\n", " ")
}

// TestHooksLikeWgQuick runs the same hooks with Debian's wg-quick and with
// the engine, on a good config and on one whose PostUp fails, and compares
// which hooks ran, in which order: PreUp before the link exists, comments
// cut, and no PreDown or PostDown after a failed up (wg-quick's trap only
// deletes the interface).
func TestHooksLikeWgQuick(t *testing.T) {
	netns.RequireRootFor(t, "it brings tunnels up with wg-quick and the engine in a network namespace")
	for _, c := range []struct{ name, postUp, want string }{
		{"good", "", "PreUp PostUp PreDown wg PostDown "},
		{"postup-fails", "; false", "PreUp PostUp "},
	} {
		t.Run(c.name, func(t *testing.T) {
			tp := netns.New(t)
			iface := netns.UniqueName("wgh")
			file := filepath.Join(t.TempDir(), "hooks")
			conf := netns.WriteConf(t, t.TempDir(), iface, tp.ClientConfig(netns.ClientOpts{
				Addresses: "203.0.113.2/32", AllowedIPs: "198.51.100.0/24", Extra: hookLines(file, c.postUp),
			}))
			before := netns.Dump(t, tp.Client)
			if c.postUp == "" {
				netns.WgQuick(t, tp.Client, "up", conf)
				netns.WgQuick(t, tp.Client, "down", conf)
			} else {
				netns.WgQuickFails(t, tp.Client, conf)
			}
			theirs := readHooks(t, file)
			want := strings.ReplaceAll(c.want, "wg", iface)
			if theirs != want {
				t.Fatalf("wg-quick ran %q, want %q: the test's idea of wg-quick is wrong", theirs, want)
			}

			out := runChild(t, tp.Client, childEnv("try", conf, t.TempDir(), "userspace", "WGTRAY_ALLOW_SCRIPTS=1"))
			if ours := readHooks(t, file); ours != theirs {
				t.Errorf("the engine ran %q (%s), wg-quick %q", ours, strings.TrimSpace(out), theirs)
			}
			if dump := netns.Dump(t, tp.Client); dump != before {
				t.Errorf("left changes:\n%s", netns.DumpDiff(before, dump))
			}
		})
	}
}

// TestHookTimeout runs a PostUp that never ends (sleep 600, in a child
// of bash): the engine kills its process group at the hook timeout, fails
// the Up with ErrHookTimeout, and leaves the namespace as it was.
func TestHookTimeout(t *testing.T) {
	netns.RequireRootFor(t, "it brings a tunnel up in a network namespace")
	tp := netns.New(t)
	iface := netns.UniqueName("wgt")
	// A duration no other sleep has, to find this one by.
	marker := fmt.Sprintf("600.%d", time.Now().UnixNano()%1e9)
	conf := netns.WriteConf(t, t.TempDir(), iface, tp.ClientConfig(netns.ClientOpts{
		Addresses: "203.0.113.2/32", AllowedIPs: "0.0.0.0/0", Extra: "PostUp = sleep " + marker + "; true\n",
	}))
	before := netns.Dump(t, tp.Client)
	t0 := time.Now()
	out := runChild(t, tp.Client, childEnv("try", conf, t.TempDir(), "userspace", "WGTRAY_ALLOW_SCRIPTS=1", "WGTRAY_HOOK_TIMEOUT=1s"))
	if !strings.Contains(out, "failed") || !strings.Contains(out, ErrHookTimeout.Error()) {
		t.Fatalf("Up with a hung PostUp: %q, want a failure saying the hook timed out", out)
	}
	if d := time.Since(t0); d > 15*time.Second {
		t.Errorf("the Up took %v with a 1 s hook timeout", d)
	}
	if dump := netns.Dump(t, tp.Client); dump != before {
		t.Errorf("left changes:\n%s", netns.DumpDiff(before, dump))
	}
	if pids := netns.FindProcs("sleep", marker); len(pids) != 0 {
		t.Errorf("the hook's sleep still runs: pids %v", pids)
	}
}
