package privatefs

import (
	"os"
	"path/filepath"
	"testing"
)

// FS is a file system view for processes that change /etc: they
// run in a private mount namespace where /etc is an overlay whose changes
// land in Upper, a directory of the test. Files put in Upper before a
// process starts replace the machine's (a test's own /etc/resolv.conf);
// what the process writes shows in Upper; the machine's /etc is never
// written. Usr, when set, is laid read-only over /usr, to add programs
// that must not be installed on the machine.
type FS struct {
	Upper string
	Usr   string
	work  string
}

// New makes the directories of a FS.
func New(tb testing.TB) *FS {
	tb.Helper()
	dir := tb.TempDir()
	fs := &FS{Upper: filepath.Join(dir, "upper"), work: filepath.Join(dir, "work")}
	for _, d := range []string{fs.Upper, fs.work} {
		if err := os.Mkdir(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	return fs
}

// privateFSScript mounts the overlays, then runs the command. /usr goes
// first: mounting /etc needs nothing from it, but later steps might.
const privateFSScript = `set -e
[ -z "$3" ] || mount -t overlay wgtray-usr -o "ro,lowerdir=$3:/usr" /usr
mount -t overlay wgtray-etc -o "lowerdir=/etc,upperdir=$1,workdir=$2" /etc
shift 3
exec "$@"`

// Argv wraps argv to run in the private view; give the result to
// StartProc or Run. Each call makes a new mount namespace over the same
// directories, so a later process sees what an earlier one left — but
// only one may run at a time, as overlayfs allows one mount per upper
// directory.
func (fs *FS) Argv(argv ...string) []string {
	return append([]string{"unshare", "--mount", "--propagation", "private", "--",
		"/bin/sh", "-c", privateFSScript, "sh", fs.Upper, fs.work, fs.Usr}, argv...)
}

// Path is where a file of /etc, as the private view has it, is in Upper.
// It is only there once written (or put there); otherwise the view shows
// the machine's file.
func (fs *FS) Path(etcRel string) string { return filepath.Join(fs.Upper, etcRel) }
