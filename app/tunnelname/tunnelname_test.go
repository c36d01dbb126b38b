package tunnelname

import "testing"

func TestFromFile(t *testing.T) {
	for in, want := range map[string]string{"/x/wg0.conf": "wg0", "/x/a b.conf": "a_b", "/x/verylongname1234.conf": "verylongname123", "/x/...conf": "tunnel", "/x/é.conf": "_"} {
		if got := FromFile(in); got != want {
			t.Errorf("FromFile(%q) = %q, want %q", in, got, want)
		}
	}
}
