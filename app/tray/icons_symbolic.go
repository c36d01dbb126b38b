package tray

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// symbolicIcons are the monochrome variants (icons/*-symbolic.svg) that
// GNOME's top bar and Plasma's panel recolour to their own text colour,
// so the shield is legible on dark and light panels alike. The state is
// in the shape (empty, a dot inside, a check, an exclamation mark) and in
// a dot of class success/warning/error (GTK, GNOME Shell) and
// ColorScheme-Positive/Neutral/NegativeText (KDE), which those hosts
// colour with the theme's own green, amber and red.
//
//go:embed icons/*-symbolic.svg
var symbolicIcons embed.FS

// wantsSymbolic reports whether the desktop named in XDG_CURRENT_DESKTOP
// (a colon-separated list) draws its panel icons symbolic: GNOME (and
// Ubuntu's, Pop's) top bar and Plasma. Elsewhere the coloured pixmap is
// what fits the panel.
func wantsSymbolic(xdgCurrentDesktop string) bool {
	for _, d := range strings.Split(xdgCurrentDesktop, ":") {
		switch strings.ToUpper(d) {
		case "GNOME", "KDE", "UNITY", "POP":
			return true
		}
	}
	return false
}

// writeSymbolicTheme copies the symbolic icons into dir, which becomes the
// item's IconThemePath, both flat (GTK and GNOME Shell also look up
// icons in a search path's top directory) and in hicolor's layout (where
// KDE looks). The installed package puts the same files under
// /usr/share/icons/hicolor; this makes an uninstalled build, and an
// installed one of another version, show its own.
func writeSymbolicTheme(dir string) error {
	entries, err := symbolicIcons.ReadDir("icons")
	if err != nil {
		return err
	}
	themed := filepath.Join(dir, "hicolor", "scalable", "status")
	if err := os.MkdirAll(themed, 0o700); err != nil {
		return fmt.Errorf("icon directory: %w", err)
	}
	for _, e := range entries {
		b, err := symbolicIcons.ReadFile("icons/" + e.Name())
		if err != nil {
			return err
		}
		for _, d := range []string{dir, themed} {
			if err := os.WriteFile(filepath.Join(d, e.Name()), b, 0o600); err != nil {
				return fmt.Errorf("icon %s: %w", e.Name(), err)
			}
		}
	}
	return nil
}

// symbolicThemeDir is where the tray writes its symbolic icons: under
// XDG_RUNTIME_DIR (private to the user, gone at logout), else the user's
// cache.
func symbolicThemeDir() (string, error) {
	if rt := os.Getenv("XDG_RUNTIME_DIR"); rt != "" {
		return filepath.Join(rt, "wgtray", "icons"), nil
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(cache, "wgtray", "icons"), nil
}
