package config

import (
	"bytes"
	"strings"
	"unicode/utf8"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"

	"github.com/wgtray/wgtray/ipc"
)

// Parse reads a wg-quick configuration: wg(8)'s setconf format plus
// wg-quick's own [Interface] keys. Section and key names are
// case-insensitive, '#' starts a comment, and CRLF line ends are accepted.
// It is stricter than wg-quick where wg-quick would fail later or silently
// do something surprising: unknown keys, repeated single-valued keys and
// duplicate peers are errors. Every error is a *ParseError.
func Parse(data []byte) (*Config, error) {
	switch {
	case len(data) > ipc.MaxConfigSize:
		return nil, &ParseError{Msg: "config is larger than 64 KiB"}
	case bytes.IndexByte(data, 0) >= 0:
		return nil, &ParseError{Msg: "config contains a NUL byte"}
	case !utf8.Valid(data):
		return nil, &ParseError{Msg: "config is not valid UTF-8"}
	}
	// Editors on Windows like to start UTF-8 files with a byte order mark;
	// it is invisible to the user, so it should not make line 1 invalid.
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	p := &parser{cfg: &Config{}, seen: map[string]bool{}, peerKeys: map[wgtypes.Key]keyLine{}}
	for i, raw := range strings.Split(string(data), "\n") {
		if err := p.line(i+1, strings.TrimSuffix(raw, "\r")); err != nil {
			return nil, err
		}
	}
	return p.finish()
}

// section is where the parser is in the file.
type section int

const (
	noSection section = iota
	interfaceSection
	peerSection
)

// entry is one "Key = Value" line.
type entry struct {
	line  int
	key   string // as written, trimmed
	shown string // the key to name in messages (see shownKey)
	value string // trimmed, comment removed: for hooks too, as wg-quick strips "#..." from every line
}

// keyLine is where a peer's PublicKey was read.
type keyLine struct {
	line int
	key  string // as written
}

type parser struct {
	cfg  *Config
	sect section
	seen map[string]bool // single-valued keys seen in the current section

	ifaceLine int // line of the [Interface] header; 0 before it
	hasPriv   bool
	mtuLine   int    // line of the MTU key, for the IPv6 minimum check
	mtuKey    string // the MTU key as written

	peer     *Peer                   // the [Peer] being read, or nil
	pubLine  int                     // line of the current peer's PublicKey; 0 before it
	peerKeys map[wgtypes.Key]keyLine // public keys of peers read so far
}

// spaces are the characters wg(8) and wg-quick (run with LC_ALL=C) treat
// as white space. Unicode spaces are deliberately not trimmed: they are
// not white space to wg, and a key with a stray U+00A0 must fail here
// rather than in wg.
const spaces = " \t\v\f\r"

func trim(s string) string { return strings.Trim(s, spaces) }

func (p *parser) line(n int, raw string) error {
	code, _, _ := strings.Cut(raw, "#")
	code = trim(code)
	if code == "" {
		return nil
	}
	if code[0] == '[' {
		return p.header(n, code)
	}
	key, value, ok := strings.Cut(code, "=")
	e := entry{line: n, key: trim(key), value: trim(value)}
	e.shown = shownKey(e.key, e.value)
	def, known := lookupKey(e.key)
	switch {
	case !ok && known:
		return errAt(n, e.key, "missing \"= value\"")
	case !ok || e.shown == "":
		return errAt(n, "", "unrecognised line (want Key = Value)")
	}
	if p.sect == noSection {
		return errAt(n, e.shown, "key outside a section (a config starts with [Interface])")
	}
	if !known {
		if p.sect == interfaceSection {
			return errAt(n, e.shown, "unknown key in [Interface]")
		}
		return errAt(n, e.shown, "unknown key in [Peer]")
	}
	if def.sect != p.sect {
		if def.sect == interfaceSection {
			return errAt(n, e.shown, "belongs in [Interface], not [Peer]")
		}
		return errAt(n, e.shown, "belongs in [Peer], not [Interface]")
	}
	if !def.repeat {
		lk := strings.ToLower(e.key)
		if p.seen[lk] {
			return errAt(n, e.shown, "duplicate key: it may appear once per section")
		}
		p.seen[lk] = true
	}
	if msg := def.set(p, e); msg != "" {
		return errAt(n, e.shown, msg)
	}
	return nil
}

func (p *parser) header(n int, code string) error {
	switch strings.ToLower(code) {
	case "[interface]":
		if p.ifaceLine != 0 {
			return errAt(n, "", "a second [Interface] section (there must be exactly one)")
		}
		p.sect, p.ifaceLine = interfaceSection, n
	case "[peer]":
		if p.ifaceLine == 0 {
			return errAt(n, "", "[Peer] before [Interface] (a config starts with [Interface])")
		}
		if err := p.closePeer(); err != nil {
			return err
		}
		p.sect = peerSection
		p.peer = &Peer{Line: n}
	default:
		return errAt(n, "", "unknown section (want [Interface] or [Peer])")
	}
	p.seen = map[string]bool{}
	return nil
}

// closePeer ends the [Peer] being read, if any, and adds it to the config.
func (p *parser) closePeer() error {
	if p.peer == nil {
		return nil
	}
	if p.pubLine == 0 {
		return errAt(p.peer.Line, "", "[Peer] has no PublicKey")
	}
	p.cfg.Peers = append(p.cfg.Peers, *p.peer)
	p.peer, p.pubLine = nil, 0
	return nil
}

// finish checks what only the whole file can show.
func (p *parser) finish() (*Config, error) {
	if p.ifaceLine == 0 {
		return nil, &ParseError{Msg: "config has no [Interface] section"}
	}
	if err := p.closePeer(); err != nil {
		return nil, err
	}
	if !p.hasPriv {
		return nil, errAt(p.ifaceLine, "", "[Interface] has no PrivateKey")
	}
	in := &p.cfg.Interface
	// Checked last, as deriving the public key is by far the costliest
	// step of parsing.
	if len(p.peerKeys) > 0 {
		if at, self := p.peerKeys[in.PrivateKey.PublicKey()]; self {
			// Usually the two keys of a pair pasted the wrong way round.
			return nil, errAt(at.line, at.key, "this is the interface's own public key; a peer needs the other side's")
		}
	}
	if in.MTU != 0 && in.MTU < minMTU6 {
		for _, a := range in.Addresses {
			if a.Addr().Is6() {
				// Linux removes IPv6 from a link whose MTU is below 1280, so
				// the IPv6 Address would silently not work.
				return nil, errAt(p.mtuLine, p.mtuKey, "below 1280, the minimum for IPv6, and an Address is IPv6")
			}
		}
	}
	return p.cfg, nil
}
