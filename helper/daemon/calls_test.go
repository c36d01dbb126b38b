package daemon_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/godbus/dbus/v5"

	"github.com/wgtray/wgtray/helper/daemon"
	"github.com/wgtray/wgtray/internal/testenv/privbus"
	"github.com/wgtray/wgtray/ipc"
)

// TestDaemonWrongArgumentTypes calls every method over the bus with
// arguments of other types than the contract's: each call gets
// org.freedesktop.DBus.Error.InvalidArgs, before the authorizer is asked
// or anything is applied. (godbus would convert an int32 5 into the
// string "\x05", answered as an invalid name.)
func TestDaemonWrongArgumentTypes(t *testing.T) {
	h := start(t, map[string]string{"home": splitConf()})
	obj := h.client.Conn().Object(ipc.BusName, ipc.ObjectPath)
	for _, c := range []struct {
		method string
		args   []any
	}{
		{ipc.MethodList, []any{"home"}},
		{ipc.MethodStatus, []any{int32(5)}},
		{ipc.MethodStatus, []any{dbus.ObjectPath("/home")}},
		{ipc.MethodConnect, []any{int32(5)}},
		{ipc.MethodConnect, []any{uint32(7)}},
		{ipc.MethodConnect, []any{"home", "home"}},
		{ipc.MethodConnect, []any{}},
		{ipc.MethodConnect, []any{dbus.MakeVariant("home")}},
		{ipc.MethodDisconnect, []any{int64(1)}},
		{ipc.MethodImport, []any{"new", int32(1)}},
		{ipc.MethodImport, []any{int32(1), "[Interface]\n"}},
		{ipc.MethodImport, []any{"new"}},
		{ipc.MethodRemove, []any{uint64(1)}},
		{ipc.MethodGetConfig, []any{int16(1)}},
		{ipc.MethodGetConfig, []any{dbus.Signature{}}},
	} {
		err := obj.CallWithContext(t.Context(), ipc.Interface+"."+c.method, 0, c.args...).Err
		var de dbus.Error
		if !errors.As(err, &de) || de.Name != ipc.ErrorInvalidArgs {
			t.Errorf("%s%v (signature %q): %v, want %s", c.method, c.args, dbus.SignatureOf(c.args...), err, ipc.ErrorInvalidArgs)
		}
	}
	if q := h.auth.questions(); len(q) != 0 {
		t.Errorf("calls with wrong arguments asked the authorizer: %v", q)
	}
	if log := h.sys.Log(); len(log) != 0 {
		t.Errorf("calls with wrong arguments applied: %v", log)
	}
	// The right types still work, on the same object.
	if err := obj.CallWithContext(t.Context(), ipc.Interface+"."+ipc.MethodConnect, 0, "home").Err; err != nil {
		t.Errorf("Connect(s): %v", err)
	}
}

// TestDaemonCallsPerSender holds the authorization of Connect, as a
// password prompt would: one connection with 4 calls in progress gets
// LimitsExceeded for its fifth, whatever the method, while another
// connection's calls go through; once the 4 have answered the first
// connection is served again.
func TestDaemonCallsPerSender(t *testing.T) {
	const limit = 4
	h := start(t, map[string]string{"home": splitConf()})
	release := h.auth.hold(t, daemon.ActionConnect)
	var replies []<-chan error
	for range limit {
		replies = append(replies, async(func() error { return h.client.Connect(t.Context(), "home") }))
	}
	h.auth.waitQuestions(t, limit)

	_, err := h.client.List(t.Context())
	wantErr(t, "List of a connection with 4 calls in progress", err, ipc.ErrLimitsExceeded)
	if err == nil || !strings.Contains(err.Error(), "try again") {
		t.Errorf("the refusal does not say what to do: %v", err)
	}
	wantErr(t, "Connect of a connection with 4 calls in progress", h.client.Connect(t.Context(), "home"), ipc.ErrLimitsExceeded)
	if n := len(h.auth.questions()); n != limit {
		t.Errorf("the refused Connect asked the authorizer: %d questions", n)
	}

	other := ipc.NewClient(privbus.Connect(t, h.addr))
	if _, err := other.List(t.Context()); err != nil {
		t.Errorf("List of another connection: %v", err)
	}
	if _, err := other.Status(t.Context(), "home"); err != nil {
		t.Errorf("Status of another connection: %v", err)
	}

	release()
	for _, r := range replies {
		if err := await(t, r, "reply to a held Connect"); err != nil {
			t.Errorf("held Connect: %v", err)
		}
	}
	if _, err := h.client.List(t.Context()); err != nil {
		t.Errorf("List once the calls answered: %v", err)
	}
	if st := h.status(t, "home"); st.State != ipc.StateConnected {
		t.Errorf("Status: %+v", st)
	}
}
