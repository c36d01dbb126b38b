package tray

import _ "embed"

// The icons are drawn as SVG in icons/ (installed for icon themes too) and
// embedded here rendered to 64×64 PNG for the item's pixmap; the panel
// scales them. Regenerate with `make icons` after editing an SVG.
var (
	//go:embed icons/wgtray-disconnected.png
	iconDisconnected []byte
	//go:embed icons/wgtray-connecting.png
	iconConnecting []byte
	//go:embed icons/wgtray-connected.png
	iconConnected []byte
	//go:embed icons/wgtray-problem.png
	iconProblem []byte
)

// Icon is the look of the tray icon.
type Icon int

// The four looks, one per state a user must tell apart at a glance.
const (
	IconDisconnected Icon = iota
	IconConnecting
	IconConnected
	IconProblem
)

func (i Icon) String() string {
	return [...]string{"disconnected", "connecting", "connected", "problem"}[i]
}

// PNG returns the icon's image.
func (i Icon) PNG() []byte {
	return [...][]byte{iconDisconnected, iconConnecting, iconConnected, iconProblem}[i]
}
