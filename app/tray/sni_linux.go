package tray

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"sync"

	"github.com/godbus/dbus/v5"
	"github.com/godbus/dbus/v5/prop"
)

// ItemID is the StatusNotifierItem's Id. Plasma and GNOME's AppIndicator
// extension key the user's choices about an item (hidden, shown, its
// place) on it, so it must never change.
const ItemID = "wgtray"

// The object fyne.io/systray exports, and its menu's.
const (
	itemPath     = dbus.ObjectPath("/StatusNotifierItem")
	itemMenuPath = dbus.ObjectPath("/StatusNotifierItem/menu")
	itemIface    = "org.kde.StatusNotifierItem"
)

// Item is the tray's StatusNotifierItem interface and its properties.
//
// fyne.io/systray exports the item, its dbusmenu and registers it with the
// watcher, but answers Activate and SecondaryActivate with "unknown
// method" (unless it is given tap handlers, which also turn ItemIsMenu
// off, so that Plasma and the GNOME extension would stop opening the menu
// on a left click), takes the Id from whatever title is set when it
// exports the item, and offers no IconName. So, once systray has
// exported its objects, Item exports its own method table and
// properties on the same path and interface of the same connection:
// godbus replaces an export on a path and interface, and systray keeps
// the menu and the registration. Nothing of the library is forked.
type Item struct {
	conn     *dbus.Conn
	props    *prop.Properties
	symbolic bool     // the panel wants symbolic icon names
	clicks   chan int // 1: Activate, 2: SecondaryActivate

	mu      sync.Mutex
	icon    Icon
	tooltip string
}

// pixmap is one image of IconPixmap: ARGB32, not premultiplied, in
// network byte order.
type pixmap struct {
	W, H int32
	Pix  []byte
}

// tooltipValue is the ToolTip property: icon name, icons, title, text.
type tooltipValue struct {
	Icon  string
	Image []pixmap
	Title string
	Text  string
}

// exportItem takes over the item's interface on conn. themePath is where
// the symbolic icons are (IconThemePath), "" for none; symbolic says to
// name them in IconName.
func exportItem(conn *dbus.Conn, themePath string, symbolic bool, icon Icon, tooltip string) (*Item, error) {
	it := &Item{conn: conn, symbolic: symbolic, clicks: make(chan int, 1), icon: icon, tooltip: tooltip}
	s := func(v any) *prop.Prop { return &prop.Prop{Value: v, Emit: prop.EmitTrue} }
	spec := map[string]map[string]*prop.Prop{itemIface: {
		"Category":          s("ApplicationStatus"),
		"Id":                s(ItemID),
		"Title":             s("wgtray"),
		"Status":            s("Active"),
		"WindowId":          s(int32(0)),
		"IconName":          s(it.iconName(icon)),
		"IconPixmap":        s(iconPixmaps(icon)),
		"IconThemePath":     s(themePath),
		"OverlayIconName":   s(""),
		"AttentionIconName": s(""),
		"ToolTip":           s(tooltipValue{Title: tooltip}),
		// A left click opens the menu where the host honours this
		// (xfce4-panel, Plasma, GNOME's extension); the others call
		// Activate.
		"ItemIsMenu": s(true),
		"Menu":       s(itemMenuPath),
	}}
	props, err := prop.Export(conn, itemPath, spec)
	if err != nil {
		return nil, fmt.Errorf("export the item's properties: %w", err)
	}
	it.props = props
	click := func(kind int) func(x, y int32) *dbus.Error {
		return func(x, y int32) *dbus.Error {
			select {
			case it.clicks <- kind:
			default: // one is waiting already: clicks coalesce
			}
			return nil
		}
	}
	err = conn.ExportSubtreeMethodTable(map[string]any{
		"Activate":          click(1),
		"SecondaryActivate": click(2),
		// Hosts ask for ContextMenu only when they do not show the
		// dbusmenu themselves; ours cannot draw a menu, so it says
		// what Activate says.
		"ContextMenu": click(1),
		"Scroll":      func(delta int32, orientation string) *dbus.Error { return nil },
		// Plasma passes a token before Activate, for the window the
		// item would raise; the tray has none.
		"ProvideXdgActivationToken": func(token string) *dbus.Error { return nil },
	}, itemPath, itemIface)
	if err != nil {
		return nil, fmt.Errorf("export the item's methods: %w", err)
	}
	// A host that read systray's properties in the moment before ours
	// were in place reads them again.
	for _, sig := range []string{"NewTitle", "NewIcon", "NewToolTip"} {
		conn.Emit(itemPath, itemIface+"."+sig)
	}
	conn.Emit(itemPath, itemIface+".NewStatus", "Active")
	return it, nil
}

// Clicks receives 1 for each Activate (left click where the panel does
// not open the menu itself) and 2 for each SecondaryActivate (middle
// click), coalesced while one waits.
func (it *Item) Clicks() <-chan int { return it.clicks }

func (it *Item) iconName(i Icon) string {
	if !it.symbolic {
		return ""
	}
	return "wgtray-" + i.String() + "-symbolic"
}

// SetIcon shows i.
func (it *Item) SetIcon(i Icon) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if i == it.icon {
		return
	}
	it.icon = i
	it.props.SetMust(itemIface, "IconPixmap", iconPixmaps(i))
	it.props.SetMust(itemIface, "IconName", it.iconName(i))
	it.conn.Emit(itemPath, itemIface+".NewIcon")
}

// SetTooltip shows title as the tooltip.
func (it *Item) SetTooltip(title string) {
	it.mu.Lock()
	defer it.mu.Unlock()
	if title == it.tooltip {
		return
	}
	it.tooltip = title
	it.props.SetMust(itemIface, "ToolTip", tooltipValue{Title: title})
	it.conn.Emit(itemPath, itemIface+".NewToolTip")
}

var (
	pixmapsMu sync.Mutex
	pixmaps   = map[Icon][]pixmap{}
)

// iconPixmaps is i's PNG as IconPixmap wants it, converted once. It
// returns a copy: prop.Properties stores a new value into the old one's
// memory, which must not be the cache's.
func iconPixmaps(i Icon) []pixmap {
	pixmapsMu.Lock()
	defer pixmapsMu.Unlock()
	p, ok := pixmaps[i]
	if !ok {
		img, err := png.Decode(bytes.NewReader(i.PNG()))
		if err != nil {
			panic(fmt.Sprintf("embedded icon %s: %v", i, err)) // a build defect
		}
		p = []pixmap{argb(img)}
		pixmaps[i] = p
	}
	out := make([]pixmap, len(p))
	for k, px := range p {
		out[k] = pixmap{W: px.W, H: px.H, Pix: bytes.Clone(px.Pix)}
	}
	return out
}

func argb(img image.Image) pixmap {
	b := img.Bounds()
	out := pixmap{W: int32(b.Dx()), H: int32(b.Dy()), Pix: make([]byte, 0, 4*b.Dx()*b.Dy())}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			out.Pix = append(out.Pix, c.A, c.R, c.G, c.B)
		}
	}
	return out
}
