package engine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/internal/testenv/netns"
)

// scriptChild runs commands read from stdin, one a line, against one
// engine — several tunnels in one process, as the helper holds them — and
// answers each with a line "done N ok" or "done N error: ...", N counting
// from 0:
//
//	up CONF     connect the tunnel of config file CONF
//	down NAME   disconnect tunnel NAME
//	cleanup     Engine.Cleanup
//	recover     Linux.RecoverDNS, as the helper's start does after cleanup
func scriptChild(ctx context.Context, e *Engine, sys *Linux) int {
	sc := bufio.NewScanner(os.Stdin)
	for n := 0; sc.Scan(); n++ {
		verb, arg, _ := strings.Cut(sc.Text(), " ")
		var err error
		switch verb {
		case "up":
			var name string
			var cfg *config.Config
			if name, cfg, err = loadConf(arg); err == nil {
				_, err = e.Up(ctx, name, cfg)
			}
		case "upks":
			// Up with the kill switch, allow-lan off.
			e.SetTunnelOptions(func(string, *config.Config) (bool, bool) { return true, false })
			var name string
			var cfg *config.Config
			if name, cfg, err = loadConf(arg); err == nil {
				_, err = e.Up(ctx, name, cfg)
			}
		case "follow":
			var name string
			var cfg *config.Config
			if name, cfg, err = loadConf(arg); err == nil {
				_, err = e.FollowEndpoints(ctx, name, cfg)
			}
		case "down":
			err = e.Down(ctx, arg)
		case "cleanup":
			err = e.Cleanup(ctx)
		case "recover":
			err = sys.RecoverDNS(ctx)
		default:
			err = fmt.Errorf("unknown command %q", verb)
		}
		if err != nil {
			fmt.Printf("done %d error: %s\n", n, strings.ReplaceAll(err.Error(), "\n", "; "))
		} else {
			fmt.Printf("done %d ok\n", n)
		}
	}
	return 0
}

// script is a test's handle on a script child.
type script struct {
	p *netns.Proc
	n int
}

// startScript starts argv, which runs a script child, in ns.
func startScript(t testing.TB, ns string, argv, env []string) *script {
	t.Helper()
	return &script{p: netns.StartProc(t, ns, env, argv...)}
}

// do runs one command and returns its error.
func (s *script) do(t testing.TB, cmd string) error {
	t.Helper()
	from := len(s.p.Lines())
	if err := s.p.WriteStdin(cmd + "\n"); err != nil {
		t.Fatalf("%s: %v; stderr: %s", cmd, err, s.p.Stderr())
	}
	line := s.p.WaitLineFrom(t, from, fmt.Sprintf("done %d ", s.n), waitUp)
	s.n++
	if msg, failed := strings.CutPrefix(line, fmt.Sprintf("done %d error: ", s.n-1)); failed {
		return errors.New(msg)
	}
	return nil
}

// must runs one command and fails the test if it fails.
func (s *script) must(t testing.TB, cmd string) {
	t.Helper()
	if err := s.do(t, cmd); err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
}

// stop ends the child, which must have nothing left to do.
func (s *script) stop(t testing.TB) {
	t.Helper()
	s.p.CloseStdin()
	if stderr, err := s.p.Wait(t, waitUp); err != nil {
		t.Fatalf("script child: %v: %s", err, stderr)
	}
}
