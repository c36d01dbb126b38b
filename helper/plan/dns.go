package plan

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"

	"github.com/wgtray/wgtray/helper/config"
)

// The DNS managers, in the order the engine prefers them.
const (
	// DNSResolved is systemd-resolved, configured per link over D-Bus.
	DNSResolved = "systemd-resolved"
	// DNSNetworkManager is NetworkManager writing /etc/resolv.conf
	// itself, given the servers as its global DNS configuration over
	// D-Bus: a file written by anyone else would be overwritten at NM's
	// next re-activation.
	DNSNetworkManager = "NetworkManager"
	// DNSResolvconf is resolvconf(8), Debian's or openresolv, as wg-quick
	// uses it.
	DNSResolvconf = "resolvconf"
	// DNSFile is /etc/resolv.conf written by the helper itself, the
	// original kept in the journal and put back on the way down.
	DNSFile = "resolv.conf"
	// DNSOff leaves DNS alone: root chose so with wgtray-helper --dns=off.
	DNSOff = "off"
)

// DNSFacts is what the planner needs to know to set a tunnel's DNS.
type DNSFacts struct {
	// Manager is the first of DNSResolved, DNSNetworkManager,
	// DNSResolvconf and DNSFile that this machine has.
	Manager string `json:"manager"`
	// ResolvconfPrefix is wg-quick's interface-order prefix ("tun."), ""
	// when there is none.
	ResolvconfPrefix string `json:"resolvconfPrefix,omitempty"`
	// ResolvConf is /etc/resolv.conf as it is, read when Manager is DNSFile.
	ResolvConf FileState `json:"resolvConf"`
	// SharedFile says that another manager (NetworkManager) also writes
	// ResolvConf, and may rewrite it while tunnels use it.
	SharedFile bool `json:"sharedFile,omitempty"`
}

// FileState is a file as found: absent, a symbolic link, or a regular file
// with its bytes, mode and owner.
type FileState struct {
	Path    string `json:"path"`
	Exists  bool   `json:"exists"`
	Symlink string `json:"symlink,omitempty"` // the link's target, not followed
	Data    []byte `json:"data,omitempty"`
	Mode    uint32 `json:"mode,omitempty"` // permission bits
	UID     int    `json:"uid"`
	GID     int    `json:"gid"`
}

// Same reports whether f and g describe the same file content: the same
// link target, or the same bytes. Mode and owner are not compared: they
// are restored, not used to detect another writer.
func (f FileState) Same(g FileState) bool {
	return f.Exists == g.Exists && f.Symlink == g.Symlink && bytes.Equal(f.Data, g.Data)
}

func (f FileState) String() string {
	switch {
	case !f.Exists:
		return "absent"
	case f.Symlink != "":
		return "a link to " + f.Symlink
	}
	return fmt.Sprintf("a %d-byte file", len(f.Data))
}

// Domain is a DNS domain for systemd-resolved: a search domain, or with
// RouteOnly a routing domain whose queries go to the link's servers
// without being appended to single-label names ("~." routes every query).
type Domain struct {
	Name      string `json:"name"`
	RouteOnly bool   `json:"routeOnly,omitempty"`
}

// DNS is a tunnel's DNS configuration as one manager applies it.
type DNS struct {
	Manager string       `json:"manager"`
	Servers []netip.Addr `json:"servers"`
	Domains []Domain     `json:"domains,omitempty"`
	// Default makes the link systemd-resolved's default route for DNS, so
	// that queries with no better routing domain go to its servers.
	Default bool `json:"default,omitempty"`
	// Name is resolvconf's record name: the prefix and the link.
	Name string `json:"name,omitempty"`
	// File is the file written for DNSFile: Original before, Content after.
	File *FileChange `json:"file,omitempty"`
}

// FileChange replaces a file. Reverting puts Original back only while the
// file still holds Content: a newer write by someone else stays.
type FileChange struct {
	Original FileState `json:"original"`
	Content  []byte    `json:"content"`
	// Watch makes the helper watch the file while tunnels use it: another
	// manager writes it too (DNSFacts.SharedFile).
	Watch bool `json:"watch,omitempty"`
}

// Search returns the search domains, the ones resolv.conf can express.
func (d *DNS) Search() []string {
	var out []string
	for _, dom := range d.Domains {
		if !dom.RouteOnly {
			out = append(out, dom.Name)
		}
	}
	return out
}

// ResolvConfText is resolv.conf(5) text for the servers and search
// domains, also what resolvconf reads on its standard input.
func (d *DNS) ResolvConfText() []byte {
	var b bytes.Buffer
	for _, s := range d.Servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if search := d.Search(); len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	return b.Bytes()
}

func (d *DNS) String() string {
	var parts []string
	for _, s := range d.Servers {
		parts = append(parts, s.String())
	}
	for _, dom := range d.Domains {
		if dom.RouteOnly {
			parts = append(parts, "~"+strings.TrimPrefix(dom.Name, "~"))
		} else {
			parts = append(parts, dom.Name)
		}
	}
	s := d.Manager + " " + strings.Join(parts, " ")
	if d.Default {
		s += " default-route"
	}
	if d.Name != "" {
		s += " as " + d.Name
	}
	if d.File != nil {
		s += fmt.Sprintf(" (%s was %s)", d.File.Original.Path, d.File.Original)
		if d.File.Watch {
			s += " watched"
		}
	}
	return s
}

// planDNS returns the DNS of cfg as facts.DNS.Manager would apply it, nil
// when the config names no server: like wg-quick, search domains alone
// change nothing.
func planDNS(link string, cfg *config.Config, facts DNSFacts, full bool) (*DNS, error) {
	in := cfg.Interface
	if len(in.DNS) == 0 || facts.Manager == DNSOff {
		return nil, nil
	}
	d := &DNS{Manager: facts.Manager, Servers: in.DNS}
	if full && facts.Manager == DNSResolved {
		// Every query goes to the tunnel's servers: the routing domain "~."
		// wins over other links' domains, and the default route covers
		// the rest. This is what wg-quick's resolvconf -x means, and what
		// it fails to get from systemd-resolved.
		d.Domains = append(d.Domains, Domain{Name: ".", RouteOnly: true})
		d.Default = true
	}
	for _, s := range in.DNSSearch {
		if name, ok := strings.CutPrefix(s, "~"); ok {
			if name == "." && d.Default {
				continue
			}
			d.Domains = append(d.Domains, Domain{Name: name, RouteOnly: true})
		} else {
			d.Domains = append(d.Domains, Domain{Name: s})
		}
	}
	switch facts.Manager {
	case DNSResolved, DNSNetworkManager:
	case DNSResolvconf:
		d.Name = facts.ResolvconfPrefix + link
	case DNSFile:
		orig := facts.ResolvConf
		if orig.Path == "" {
			return nil, fmt.Errorf("plan DNS: no resolv.conf path")
		}
		content := fmt.Appendf(nil, "# Written by wgtray for tunnel %s; the previous file comes back when it disconnects.\n", link)
		content = append(content, d.ResolvConfText()...)
		d.File = &FileChange{Original: orig, Content: content, Watch: facts.SharedFile}
	default:
		return nil, fmt.Errorf("plan DNS: unknown manager %q", facts.Manager)
	}
	return d, nil
}
