// Package tunnelname names the tunnel a config file is imported as, when
// the user gives no name: the command line's import and the tray's.
package tunnelname

import (
	"path/filepath"
	"strings"

	"github.com/wgtray/wgtray/ipc"
)

// FromFile turns a file name into a valid tunnel name: the base name
// without .conf, other characters replaced by '_', at most 15 long;
// "tunnel" if that is not a valid name (ipc.ValidName).
func FromFile(path string) string {
	base := strings.TrimSuffix(filepath.Base(path), ".conf")
	var b strings.Builder
	for _, r := range base {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_=+.-", r)) {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	name := b.String()
	if len(name) > 15 {
		name = name[:15]
	}
	if ipc.ValidName(name) != nil {
		return "tunnel"
	}
	return name
}
