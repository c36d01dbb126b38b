package tray

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"time"

	"github.com/godbus/dbus/v5"
)

// portalTimeout bounds each call to the portal, which may have to be
// started first (D-Bus activation). The user's choosing is
// not bounded: it lasts as long as the person takes, or ctx.
const portalTimeout = 25 * time.Second

// ChooseFile asks the user for a WireGuard config file with the desktop's
// own file chooser, through xdg-desktop-portal; when no portal answers it
// falls back to zenity or kdialog. It returns "" if the user cancelled.
func ChooseFile(ctx context.Context, session *dbus.Conn, title string) (string, error) {
	path, err := portalOpenFile(ctx, session, title)
	if err == nil || !errors.Is(err, errNoPortal) {
		return path, err
	}
	for _, tool := range [][]string{
		{"zenity", "--file-selection", "--title=" + title, "--file-filter=WireGuard configs | *.conf", "--file-filter=All files | *"},
		{"kdialog", "--getopenfilename", ".", "*.conf|WireGuard configs", "--title", title},
	} {
		if _, err := exec.LookPath(tool[0]); err != nil {
			continue
		}
		out, err := exec.CommandContext(ctx, tool[0], tool[1:]...).Output()
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 1 {
			return "", nil // cancelled
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", tool[0], err)
		}
		return strings.TrimRight(string(out), "\n"), nil
	}
	return "", errors.New("no file chooser: install xdg-desktop-portal-gtk (or -kde), zenity or kdialog")
}

var errNoPortal = errors.New("no desktop portal")

const (
	portalName = "org.freedesktop.portal.Desktop"
	portalPath = "/org/freedesktop/portal/desktop"
)

// portalOpenFile calls org.freedesktop.portal.FileChooser.OpenFile. The
// answer comes later as a Response signal on a request object whose path
// is known in advance from our bus name and a token, so the match is in
// place before the call and the answer cannot be missed.
func portalOpenFile(ctx context.Context, session *dbus.Conn, title string) (string, error) {
	tokenBytes := make([]byte, 8)
	rand.Read(tokenBytes)
	token := "wgtray" + hex.EncodeToString(tokenBytes)
	sender := strings.ReplaceAll(strings.TrimPrefix(session.Names()[0], ":"), ".", "_")
	request := dbus.ObjectPath(portalPath + "/request/" + sender + "/" + token)
	match := []dbus.MatchOption{
		dbus.WithMatchObjectPath(request),
		dbus.WithMatchInterface("org.freedesktop.portal.Request"),
		dbus.WithMatchMember("Response"),
	}
	cctx, cancel := context.WithTimeout(ctx, portalTimeout)
	defer cancel()
	if err := session.AddMatchSignalContext(cctx, match...); err != nil {
		return "", err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), portalTimeout)
		defer cancel()
		// A failure leaves a match rule that dies with the connection.
		_ = session.RemoveMatchSignalContext(rctx, match...)
	}()
	sigs := make(chan *dbus.Signal, 4)
	session.Signal(sigs)
	defer session.RemoveSignal(sigs)

	filters := []struct {
		Name  string
		Rules []struct {
			Kind    uint32
			Pattern string
		}
	}{{Name: "WireGuard configs", Rules: []struct {
		Kind    uint32
		Pattern string
	}{{0, "*.conf"}}}}
	opts := map[string]dbus.Variant{
		"handle_token": dbus.MakeVariant(token),
		"modal":        dbus.MakeVariant(true),
		"filters":      dbus.MakeVariant(filters),
	}
	var handle dbus.ObjectPath
	err := session.Object(portalName, portalPath).CallWithContext(cctx,
		"org.freedesktop.portal.FileChooser.OpenFile", 0, "", title, opts).Store(&handle)
	if err != nil {
		// No portal service, or one without a FileChooser: fall back.
		return "", fmt.Errorf("%w: %v", errNoPortal, err)
	}
	for {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case s := <-sigs:
			if s == nil || (s.Path != request && s.Path != handle) || s.Name != "org.freedesktop.portal.Request.Response" || len(s.Body) != 2 {
				continue
			}
			code, _ := s.Body[0].(uint32)
			if code != 0 {
				return "", nil // 1: cancelled, 2: ended otherwise
			}
			results, _ := s.Body[1].(map[string]dbus.Variant)
			var uris []string
			if v, ok := results["uris"]; ok {
				v.Store(&uris)
			}
			if len(uris) == 0 {
				return "", nil
			}
			u, err := url.Parse(uris[0])
			if err != nil || u.Scheme != "file" {
				return "", fmt.Errorf("the file chooser returned %q, not a local file", uris[0])
			}
			return u.Path, nil
		}
	}
}
