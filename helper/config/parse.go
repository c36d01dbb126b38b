package config

import (
	"bytes"
	"net/netip"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
)

// Parse reads a wg-quick configuration. Section and key names are
// case-insensitive, as in wg(8); '#' starts a comment; CRLF line ends are
// accepted. Anything unknown is an error naming its line.
func Parse(data []byte) (*Config, error) {
	switch {
	case len(data) > MaxSize:
		return nil, &ParseError{Msg: "config is larger than 64 KiB"}
	case bytes.IndexByte(data, 0) >= 0:
		return nil, &ParseError{Msg: "config contains a NUL byte"}
	case !utf8.Valid(data):
		return nil, &ParseError{Msg: "config is not valid UTF-8"}
	}
	p := &parser{cfg: &Config{}, seen: map[string]bool{}}
	for i, raw := range strings.Split(string(data), "\n") {
		if err := p.line(i+1, strings.TrimSuffix(raw, "\r")); err != nil {
			return nil, err
		}
	}
	return p.finish()
}

type section int

const (
	none section = iota
	iface
	peer
)

type parser struct {
	cfg       *Config
	sect      section
	ifaceLine int
	peer      *Peer
	seen      map[string]bool // scalar keys seen in the current section
	hasPriv   bool
}

func (p *parser) line(n int, raw string) error {
	stripped, _, _ := strings.Cut(raw, "#")
	line := strings.TrimSpace(stripped)
	if line == "" {
		return nil
	}
	if strings.HasPrefix(line, "[") {
		return p.header(n, line)
	}
	key, value, ok := strings.Cut(line, "=")
	key = strings.TrimSpace(key)
	value = strings.TrimSpace(value)
	shown := key
	if !safeKeyName.MatchString(key) {
		shown = ""
	}
	if !ok || shown == "" {
		return errAt(n, "", "unrecognised line (want Key = Value)")
	}
	if p.sect == none {
		return errAt(n, shown, "key outside a section (the config must start with [Interface])")
	}
	lk := strings.ToLower(key)
	if p.sect == iface {
		return p.ifaceKey(n, shown, lk, value, rawValue(raw))
	}
	return p.peerKey(n, shown, lk, value)
}

// rawValue is the value with comments kept, as wg-quick keeps it for hook
// commands (a '#' may be part of a shell command).
func rawValue(raw string) string {
	_, v, _ := strings.Cut(raw, "=")
	return strings.TrimSpace(v)
}

func (p *parser) header(n int, line string) error {
	switch strings.ToLower(line) {
	case "[interface]":
		if p.ifaceLine != 0 {
			return errAt(n, "", "a second [Interface] section")
		}
		p.closePeer()
		p.sect, p.ifaceLine = iface, n
	case "[peer]":
		if p.ifaceLine == 0 {
			return errAt(n, "", "[Peer] before [Interface]")
		}
		p.closePeer()
		p.sect = peer
		p.peer = &Peer{Line: n}
	default:
		return errAt(n, "", "unknown section (want [Interface] or [Peer])")
	}
	p.seen = map[string]bool{}
	return nil
}

func (p *parser) closePeer() {
	if p.peer != nil {
		p.cfg.Peers = append(p.cfg.Peers, *p.peer)
		p.peer = nil
	}
}

// once rejects a second occurrence of a single-valued key in a section.
func (p *parser) once(n int, shown, lk string) error {
	if p.seen[lk] {
		return errAt(n, shown, "duplicate key in this section")
	}
	p.seen[lk] = true
	return nil
}

func (p *parser) ifaceKey(n int, shown, lk, value, raw string) error {
	in := &p.cfg.Interface
	switch lk {
	case "address", "dns", "preup", "postup", "predown", "postdown":
	default:
		if err := p.once(n, shown, lk); err != nil {
			return err
		}
	}
	switch lk {
	case "privatekey":
		k, err := parseKey(n, shown, value)
		if err != nil {
			return err
		}
		in.PrivateKey, p.hasPriv = k, true
	case "address":
		for _, item := range splitList(value) {
			a, err := parseAddress(item)
			if err != nil {
				return errAt(n, shown, "%v", err)
			}
			in.Addresses = append(in.Addresses, a)
		}
	case "listenport":
		v, err := parseUint(value, 16)
		if err != nil {
			return errAt(n, shown, "want a port number from 0 to 65535")
		}
		port := int(v)
		in.ListenPort = &port
	case "fwmark":
		m, err := parseFwMark(value)
		if err != nil {
			return errAt(n, shown, "want off, a decimal number or a 0x hex number below 2^32")
		}
		in.FwMark = &m
	case "dns":
		for _, item := range splitList(value) {
			if a, err := netip.ParseAddr(item); err == nil {
				in.DNS = append(in.DNS, a)
			} else if validDomain(item) {
				in.DNSSearch = append(in.DNSSearch, item)
			} else {
				return errAt(n, shown, "entries must be IP addresses or DNS search domains")
			}
		}
	case "mtu":
		v, err := parseUint(value, 32)
		if err != nil || v < 68 || v > 65535 {
			return errAt(n, shown, "want a number from 68 to 65535")
		}
		in.MTU = int(v)
	case "table":
		t, err := parseTable(value)
		if err != nil {
			return errAt(n, shown, "want off, auto, main or a table number from 1 to 4294967295")
		}
		in.Table = t
	case "preup":
		in.PreUp = append(in.PreUp, raw)
	case "postup":
		in.PostUp = append(in.PostUp, raw)
	case "predown":
		in.PreDown = append(in.PreDown, raw)
	case "postdown":
		in.PostDown = append(in.PostDown, raw)
	case "saveconfig":
		switch value {
		case "true":
			in.SaveConfig = true
		case "false":
			in.SaveConfig = false
		default:
			return errAt(n, shown, "want true or false")
		}
	default:
		return errAt(n, shown, "unknown key in [Interface]")
	}
	return nil
}

func (p *parser) peerKey(n int, shown, lk, value string) error {
	pe := p.peer
	if lk != "allowedips" {
		if err := p.once(n, shown, lk); err != nil {
			return err
		}
	}
	switch lk {
	case "publickey":
		k, err := parseKey(n, shown, value)
		if err != nil {
			return err
		}
		pe.PublicKey = k
	case "presharedkey":
		k, err := parseKey(n, shown, value)
		if err != nil {
			return err
		}
		pe.PresharedKey = &k
	case "allowedips":
		for _, item := range splitList(value) {
			a, err := parseAddress(item)
			if err != nil {
				return errAt(n, shown, "%v", err)
			}
			pe.AllowedIPs = append(pe.AllowedIPs, a.Masked())
		}
	case "endpoint":
		ep, err := parseEndpoint(value)
		if err != nil {
			return errAt(n, shown, "%v", err)
		}
		pe.Endpoint = ep
	case "persistentkeepalive":
		if value == "off" {
			pe.PersistentKeepalive = 0
			break
		}
		v, err := parseUint(value, 16)
		if err != nil {
			return errAt(n, shown, "want off or a number of seconds from 0 to 65535")
		}
		pe.PersistentKeepalive = int(v)
	default:
		return errAt(n, shown, "unknown key in [Peer]")
	}
	return nil
}

func (p *parser) finish() (*Config, error) {
	if p.ifaceLine == 0 {
		return nil, &ParseError{Msg: "config has no [Interface] section"}
	}
	p.closePeer()
	cfg := p.cfg
	if !p.hasPriv {
		return nil, errAt(p.ifaceLine, "", "[Interface] without a PrivateKey")
	}
	pub := cfg.Interface.PrivateKey.PublicKey()
	keys := map[wgtypes.Key]bool{}
	for _, pe := range cfg.Peers {
		if pe.PublicKey == (wgtypes.Key{}) {
			return nil, errAt(pe.Line, "", "[Peer] without a PublicKey")
		}
		if pe.PublicKey == pub {
			return nil, errAt(pe.Line, "", "the peer's PublicKey is this interface's own")
		}
		if keys[pe.PublicKey] {
			return nil, errAt(pe.Line, "", "a second [Peer] with the same PublicKey")
		}
		keys[pe.PublicKey] = true
	}
	if cfg.Interface.MTU != 0 && cfg.Interface.MTU < 1280 {
		for _, a := range cfg.Interface.Addresses {
			if a.Addr().Is6() {
				return nil, errAt(p.ifaceLine, "", "MTU below 1280 with an IPv6 Address: IPv6 needs at least 1280")
			}
		}
	}
	return cfg, nil
}

func splitList(v string) []string {
	var out []string
	for _, f := range strings.Split(v, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseKey(n int, shown, v string) (wgtypes.Key, error) {
	// wg(8) wants exactly 44 characters of standard base64 ending in '='.
	if len(v) != 44 || v[43] != '=' {
		return wgtypes.Key{}, errAt(n, shown, "not a key: want 44 characters of base64")
	}
	k, err := wgtypes.ParseKey(v)
	if err != nil {
		return wgtypes.Key{}, errAt(n, shown, "not a key: want 32 bytes in base64")
	}
	return k, nil
}

func parseUint(v string, bits int) (uint64, error) {
	if v == "" || strings.TrimLeft(v, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseUint(v, 10, bits)
}

func parseFwMark(v string) (uint32, error) {
	if v == "off" {
		return 0, nil
	}
	if h, ok := strings.CutPrefix(strings.ToLower(v), "0x"); ok {
		if h == "" || strings.TrimLeft(h, "0123456789abcdef") != "" {
			return 0, strconv.ErrSyntax
		}
		m, err := strconv.ParseUint(h, 16, 32)
		return uint32(m), err
	}
	m, err := parseUint(v, 32)
	return uint32(m), err
}

func parseTable(v string) (Table, error) {
	switch v {
	case "off":
		return Table{Mode: TableOff}, nil
	case "auto":
		return Table{Mode: TableAuto}, nil
	case "main":
		return Table{Mode: TableNumber, Number: 254}, nil
	}
	t, err := parseUint(v, 32)
	if err != nil || t == 0 {
		return Table{}, strconv.ErrSyntax
	}
	return Table{Mode: TableNumber, Number: uint32(t)}, nil
}
