package config

import "strings"

// keyDef describes one key of the format.
type keyDef struct {
	sect   section
	repeat bool // may appear more than once in a section (lists and hooks)
	hook   bool // takes the raw value, comments included
	// set stores the entry's value, or says what is wrong with it.
	set func(p *parser, e entry) problem
}

// keyDefs maps lower-cased key names to their definitions. The [Interface]
// keys are wg(8)'s three plus wg-quick's own; the [Peer] keys are wg(8)'s.
var keyDefs = map[string]keyDef{
	"privatekey": {sect: interfaceSection, set: setPrivateKey},
	"listenport": {sect: interfaceSection, set: setListenPort},
	"fwmark":     {sect: interfaceSection, set: setFwMark},
	"address":    {sect: interfaceSection, repeat: true, set: setAddress},
	"dns":        {sect: interfaceSection, repeat: true, set: setDNS},
	"mtu":        {sect: interfaceSection, set: setMTU},
	"table":      {sect: interfaceSection, set: setTable},
	"preup":      {sect: interfaceSection, repeat: true, hook: true, set: hookSetter(func(in *Interface) *[]string { return &in.PreUp })},
	"postup":     {sect: interfaceSection, repeat: true, hook: true, set: hookSetter(func(in *Interface) *[]string { return &in.PostUp })},
	"predown":    {sect: interfaceSection, repeat: true, hook: true, set: hookSetter(func(in *Interface) *[]string { return &in.PreDown })},
	"postdown":   {sect: interfaceSection, repeat: true, hook: true, set: hookSetter(func(in *Interface) *[]string { return &in.PostDown })},
	"saveconfig": {sect: interfaceSection, set: setSaveConfig},

	"publickey":           {sect: peerSection, set: setPublicKey},
	"presharedkey":        {sect: peerSection, set: setPresharedKey},
	"allowedips":          {sect: peerSection, repeat: true, set: setAllowedIPs},
	"endpoint":            {sect: peerSection, set: setEndpoint},
	"persistentkeepalive": {sect: peerSection, set: setPersistentKeepalive},
}

// lookupKey finds a key by name, ignoring case as wg(8) and wg-quick do.
func lookupKey(name string) (keyDef, bool) {
	d, ok := keyDefs[strings.ToLower(name)]
	return d, ok
}
