package daemon_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wgtray/wgtray/helper/config"
	"github.com/wgtray/wgtray/helper/daemon"
	"github.com/wgtray/wgtray/ipc"
)

// The fakes of what the server is given besides the engine: the config
// store, the authorizer and the log, each safe for the server's handler
// goroutines and the test's at once.

// fakeStore is an in-memory config store with the errors of package
// store: a missing tunnel matches fs.ErrNotExist, an existing one
// fs.ErrExist, and a config that does not parse is refused with
// config.Parse's error. (The real store insists on a root-owned
// directory.)
type fakeStore struct {
	mu      sync.Mutex
	configs map[string][]byte
	// onRead and onRemove, when set, are called by Read once it has read
	// and by Remove before it removes, without the lock, so that a test
	// can order them against other calls.
	onRead, onRemove func(name string)
}

// hooks returns onRead and onRemove.
func (s *fakeStore) hooks() (onRead, onRemove func(string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.onRead, s.onRemove
}

// setHooks sets onRead and onRemove.
func (s *fakeStore) setHooks(onRead, onRemove func(string)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onRead, s.onRemove = onRead, onRemove
}

func (s *fakeStore) List() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := []string{}
	for n := range s.configs {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

func (s *fakeStore) Read(name string) ([]byte, error) {
	if f, _ := s.hooks(); f != nil {
		defer f(name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	data, ok := s.configs[name]
	if !ok {
		return nil, fmt.Errorf("read tunnel %q: %w", name, fs.ErrNotExist)
	}
	return bytes.Clone(data), nil
}

func (s *fakeStore) Import(name string, data []byte) error {
	if err := ipc.ValidName(name); err != nil {
		return err
	}
	if _, err := config.Parse(data); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.configs[name]; ok {
		return fmt.Errorf("import tunnel %q: %w", name, fs.ErrExist)
	}
	s.configs[name] = bytes.Clone(data)
	return nil
}

func (s *fakeStore) Remove(name string) error {
	if _, f := s.hooks(); f != nil {
		f(name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.configs[name]; !ok {
		return fmt.Errorf("remove tunnel %q: %w", name, fs.ErrNotExist)
	}
	delete(s.configs, name)
	return nil
}

// authCall is one question the server asked the authorizer.
type authCall struct {
	Sender      string
	Action      string
	Interactive bool
}

// fakeAuth allows the actions set in allow and refuses the others, and
// records every question. It stands where polkitd does, so a held action
// is a question polkit takes its time over, as while a person types a
// password.
type fakeAuth struct {
	mu    sync.Mutex
	cond  *sync.Cond // broadcast on every question
	allow map[string]bool
	calls []authCall
	// held actions are answered only once their channel is closed, or
	// the call's context ends.
	held map[string]chan struct{}
}

func newFakeAuth() *fakeAuth {
	a := &fakeAuth{allow: map[string]bool{daemon.ActionConnect: true, daemon.ActionManage: true}, held: map[string]chan struct{}{}}
	a.cond = sync.NewCond(&a.mu)
	return a
}

func (a *fakeAuth) Authorize(ctx context.Context, sender, action string, interactive bool) error {
	a.mu.Lock()
	a.calls = append(a.calls, authCall{sender, action, interactive})
	a.cond.Broadcast()
	hold := a.held[action]
	a.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.allow[action] {
		return errors.New("refused by the test")
	}
	return nil
}

// hold makes the questions about action wait until the returned release
// is called; the test's end releases them too.
func (a *fakeAuth) hold(t *testing.T, action string) (release func()) {
	ch := make(chan struct{})
	a.mu.Lock()
	a.held[action] = ch
	a.mu.Unlock()
	var once sync.Once
	release = func() {
		once.Do(func() {
			a.mu.Lock()
			delete(a.held, action)
			a.mu.Unlock()
			close(ch)
		})
	}
	t.Cleanup(release)
	return release
}

// waitQuestions waits until the authorizer has been asked n questions.
func (a *fakeAuth) waitQuestions(t *testing.T, n int) {
	t.Helper()
	timer := time.AfterFunc(eventTimeout, func() { a.mu.Lock(); a.cond.Broadcast(); a.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(eventTimeout)
	a.mu.Lock()
	defer a.mu.Unlock()
	for len(a.calls) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d questions to the authorizer within %v, want %d: %v", len(a.calls), eventTimeout, n, a.calls)
		}
		a.cond.Wait()
	}
}

// set allows or refuses an action.
func (a *fakeAuth) set(action string, allowed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.allow[action] = allowed
}

func (a *fakeAuth) questions() []authCall {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.calls)
}

// lockedLog collects the server's log, written from its handler
// goroutines, for the failure message of the test.
type lockedLog struct {
	mu   sync.Mutex
	cond *sync.Cond // broadcast on every write
	buf  bytes.Buffer
}

func newLockedLog() *lockedLog {
	l := &lockedLog{}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	defer l.cond.Broadcast()
	return l.buf.Write(p)
}

// waitFor waits until the log holds substr.
func (l *lockedLog) waitFor(t *testing.T, substr string) {
	t.Helper()
	timer := time.AfterFunc(eventTimeout, func() { l.mu.Lock(); l.cond.Broadcast(); l.mu.Unlock() })
	defer timer.Stop()
	deadline := time.Now().Add(eventTimeout)
	l.mu.Lock()
	defer l.mu.Unlock()
	for !strings.Contains(l.buf.String(), substr) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the server's log within %v", substr, eventTimeout)
		}
		l.cond.Wait()
	}
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}
