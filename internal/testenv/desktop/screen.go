package desktop

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Shot is the whole screen as the X server has it.
func (s *Session) Shot(tb testing.TB) image.Image {
	tb.Helper()
	cmd := exec.Command("import", "-window", "root", "png:-")
	cmd.Env = s.Env()
	out, err := cmd.Output()
	if err != nil {
		tb.Fatalf("screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(out))
	if err != nil {
		tb.Fatalf("screenshot: %v", err)
	}
	return img
}

// Save writes img as dir/name.png and returns the path.
func Save(tb testing.TB, img image.Image, dir, name string) string {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		tb.Fatal(err)
	}
	return path
}

// Red reports whether a pixel is the red of the tray's problem icon, in
// colour (#e01b24) or as a symbolic icon's error dot as GNOME and KDE
// colour it.
func Red(r, g, b uint32) bool {
	r, g, b = r>>8, g>>8, b>>8
	return r >= 170 && g <= 100 && b <= 100
}

// PanelBox returns the bounding box of the pixels that match is in the
// top and bottom band rows of img (where panels are) but not in before
// at the same place, and how many there are.
func PanelBox(img, before image.Image, band int, match func(r, g, b uint32) bool) (image.Rectangle, int) {
	bounds := img.Bounds()
	var box image.Rectangle
	n := 0
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		if y >= bounds.Min.Y+band && y < bounds.Max.Y-band {
			continue
		}
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			if !match(rgb(img, x, y)) {
				continue
			}
			if before != nil && match(rgb(before, x, y)) {
				continue
			}
			px := image.Rect(x, y, x+1, y+1)
			if n == 0 {
				box = px
			} else {
				box = box.Union(px)
			}
			n++
		}
	}
	return box, n
}

// Changed counts the pixels that differ between a and b.
func Changed(a, b image.Image) int {
	n := 0
	bounds := a.Bounds().Intersect(b.Bounds())
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			if a.At(x, y) != b.At(x, y) {
				n++
			}
		}
	}
	return n
}

// Xdotool runs xdotool in the session, as a person's mouse and keyboard.
func (s *Session) Xdotool(tb testing.TB, args ...string) {
	tb.Helper()
	cmd := exec.Command("xdotool", args...)
	cmd.Env = s.Env()
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("xdotool %v: %v: %s", args, err, out)
	}
}

// ClickAt moves the pointer to p and presses button (1 left, 2 middle, 3
// right).
func (s *Session) ClickAt(tb testing.TB, p image.Point, button int) {
	tb.Helper()
	s.Xdotool(tb, "mousemove", fmt.Sprint(p.X), fmt.Sprint(p.Y), "click", fmt.Sprint(button))
}

func rgb(img image.Image, x, y int) (r, g, b uint32) {
	r, g, b, _ = img.At(x, y).RGBA()
	return r, g, b
}
