package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// newc builds a "newc" cpio archive of the members (name, data), ending
// with the trailer, padded as cpio pads.
func newc(members ...[2]string) []byte {
	var b bytes.Buffer
	pad := func(n int) { b.Write(make([]byte, (4-n%4)%4)) }
	for _, m := range append(members, [2]string{"TRAILER!!!", ""}) {
		fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			1, 0o100644, 0, 0, 1, 0, len(m[1]), 0, 0, 0, 0, len(m[0])+1, 0)
		b.WriteString(m[0] + "\x00")
		pad(110 + len(m[0]) + 1)
		b.WriteString(m[1])
		pad(len(m[1]))
	}
	return b.Bytes()
}

// members lists an archive's names and contents.
func members(t *testing.T, a []byte) [][2]string {
	t.Helper()
	var out [][2]string
	for off := 0; ; {
		h := a[off : off+110]
		var f [13]int
		for i := range f {
			fmt.Sscanf(string(h[6+8*i:14+8*i]), "%08X", &f[i])
		}
		size, nameSize := f[6], f[11]
		name := string(a[off+110 : off+110+nameSize-1])
		data := off + 110 + nameSize + (4-(110+nameSize)%4)%4
		if name == "TRAILER!!!" {
			return out
		}
		out = append(out, [2]string{name, string(a[data : data+size])})
		off = data + size + (4-size%4)%4
	}
}

func TestRelativeCpio(t *testing.T) {
	in := newc([2]string{"/usr/bin/x", "abcde"}, [2]string{"/etc/y", ""}, [2]string{"./already", "z"})
	out, err := relativeCpio(in)
	if err != nil {
		t.Fatal(err)
	}
	got := members(t, out)
	want := [][2]string{{"./usr/bin/x", "abcde"}, {"./etc/y", ""}, {"./already", "z"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("members %q, want %q", got, want)
	}
	if len(out)%4 != 0 {
		t.Errorf("archive of %d bytes, not padded to 4", len(out))
	}
}

func TestRelativeCpioRefusesBadArchives(t *testing.T) {
	good := newc([2]string{"/usr/bin/x", "abcde"})
	for name, a := range map[string][]byte{
		"truncated header": good[:50],
		"truncated data":   good[:115],
		"not newc":         append([]byte("070707"), good[6:]...),
		"no trailer":       good[:len(good)-124],
	} {
		if _, err := relativeCpio(a); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestRelativizeRefusesWhatIsNotAnRPM(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":            nil,
		"text":             []byte(strings.Repeat("not an rpm ", 20)),
		"lead, no headers": append([]byte{0xed, 0xab, 0xee, 0xdb}, make([]byte, 200)...),
	} {
		if _, err := Relativize(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
