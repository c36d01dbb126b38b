package main

import (
	"crypto/rand"
	"fmt"
	"runtime"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// tputNames label the systems in the report.
var tputNames = [systemsCount]string{
	sysVeth:    "no tunnel",
	sysHelper:  "wgtray's embedded wireguard-go",
	sysWgGo:    "current wireguard-go (wg-quick)",
	sysWgGoDeb: "Debian's wireguard-go (wg-quick)",
}

// sealRateGBs measures how fast one core seals 1420-byte packets with
// ChaCha20-Poly1305, WireGuard's cipher, in GB/s: the crypto ceiling of
// a WireGuard implementation on this machine.
func sealRateGBs() float64 {
	aead, err := chacha20poly1305.New(make([]byte, chacha20poly1305.KeySize))
	if err != nil {
		return 0
	}
	msg := make([]byte, 1420)
	rand.Read(msg)
	dst := make([]byte, 0, len(msg)+aead.Overhead())
	nonce := make([]byte, chacha20poly1305.NonceSize)
	n := 0
	start := time.Now()
	for time.Since(start) < time.Second {
		for range 1000 {
			nonce[0]++
			dst = aead.Seal(dst[:0], nonce, msg, nil)
			n += len(msg)
		}
	}
	return float64(n) / time.Since(start).Seconds() / 1e9
}

// tputRows adds the throughput rows.
func (b *bench) tputRows(add func(Row) *Row) {
	const tput = "Throughput"
	s := &b.s
	t := func(sys system) *tputSamples { return &s.tput[sys] }
	veth := stats(t(sysVeth).up)
	add(Row{ID: "tput_veth", Group: tput, Metric: "TCP, client → internet host, no tunnel (veth ceiling)", Unit: "Mbit/s",
		Subject: "no tunnel", Value: veth})

	// Each byte is sealed once and opened once on this machine; with
	// every core doing nothing but crypto, that is the ceiling.
	seal := sealRateGBs()
	ceiling := float64(runtime.NumCPU()) * seal * 8e3 / 2 // Mbit/s
	add(Row{ID: "tput_crypto_ceiling", Group: tput, Metric: "crypto ceiling: ChaCha20-Poly1305 seal rate of one core × cores ÷ 2 (each byte sealed and opened here)",
		Unit: "Mbit/s", Subject: "estimate", Value: one(ceiling),
		Note: fmt.Sprintf("one core seals %.2f GB/s of 1420-byte packets; the TCP endpoints and copies share the same cores, so the real limit is lower", seal)})

	dirs := []struct {
		id, what string
		get      func(*tputSamples) []float64
	}{
		{"up", "upload, client → internet host", func(x *tputSamples) []float64 { return x.up }},
		{"down", "download, internet host → client (iperf3 -R)", func(x *tputSamples) []float64 { return x.down }},
	}
	for _, d := range dirs {
		helper := stats(d.get(t(sysHelper)))
		for _, ref := range []system{sysWgGo, sysWgGoDeb} {
			refv := stats(d.get(t(ref)))
			r := add(Row{ID: fmt.Sprintf("tput_%s_vs_%s", d.id, map[system]string{sysWgGo: "wggo", sysWgGoDeb: "wggo_debian"}[ref]),
				Group: tput, Metric: "TCP " + d.what + ", through the tunnel", Unit: "Mbit/s",
				Subject: tputNames[sysHelper], Value: helper, Reference: tputNames[ref], Ref: refv})
			if helper == nil || refv == nil || refv.Median <= 0 {
				continue
			}
			r.Ratio, r.RatioMeans = helper.Median/refv.Median, "wgtray median / reference median"
			if ref == sysWgGo {
				r.Target, r.Met = "≥ 1×", met(r.Ratio >= 1)
			}
			if veth != nil && veth.Median > 0 {
				r.Note = fmt.Sprintf("of the veth ceiling: wgtray %.0f%%, reference %.0f%%; of the crypto ceiling: wgtray %.0f%%",
					100*helper.Median/veth.Median, 100*refv.Median/veth.Median, 100*helper.Median/ceiling)
			}
		}
	}

	perSys := func(id, metric, unit string, get func(*tputSamples) []float64, lower bool) {
		helper := stats(get(t(sysHelper)))
		for _, ref := range []system{sysWgGo, sysWgGoDeb} {
			refv := stats(get(t(ref)))
			r := add(Row{ID: id + map[system]string{sysWgGo: "", sysWgGoDeb: "_debian"}[ref], Group: tput, Metric: metric, Unit: unit,
				Subject: tputNames[sysHelper], Value: helper, Reference: tputNames[ref], Ref: refv})
			if lower {
				r.faster("reference median / wgtray median (higher is better for wgtray)", 0)
			}
		}
	}
	perSys("tput_cpu_per_gb", "CPU time of the device's process per GB carried, up and down", "CPU s/GB",
		func(x *tputSamples) []float64 { return x.cpuPerGB }, true)
	perSys("tput_retrans_up", "TCP retransmits per upload run", "segments",
		func(x *tputSamples) []float64 { return x.retransUp }, false)
	perSys("tput_retrans_down", "TCP retransmits per download run", "segments",
		func(x *tputSamples) []float64 { return x.retransDown }, false)
	udp := func(sys system) *Stats {
		if v := t(sys).udpZeroLossMbs; v > 0 {
			return one(v)
		}
		return nil
	}
	add(Row{ID: "tput_udp_zero_loss", Group: tput, Metric: fmt.Sprintf("UDP, highest rate of 100, 200, 400 … Mbit/s losing ≤ %g%% of the datagrams (2 s each)", udpLossLimit), Unit: "Mbit/s",
		Subject: tputNames[sysHelper], Value: udp(sysHelper), Reference: tputNames[sysWgGo], Ref: udp(sysWgGo),
		Note: fmt.Sprintf("Debian's wireguard-go: %.0f Mbit/s; no tunnel: %.0f Mbit/s", t(sysWgGoDeb).udpZeroLossMbs, t(sysVeth).udpZeroLossMbs)})

	const mem = "Memory (RSS)"
	r := add(Row{ID: "rss_under_load", Group: mem, Metric: "peak RSS of the device's process during a throughput run (VmHWM, reset before each)", Unit: "MiB",
		Subject: "wgtray-helper", Value: stats(t(sysHelper).rssPeak), Reference: tputNames[sysWgGo], Ref: stats(t(sysWgGo).rssPeak),
		Target: "≤ 128 MiB"})
	if r.Value != nil {
		r.Met = met(r.Value.Max <= 128)
		if g := stats(t(sysHelper).gcPerSecond); g != nil {
			r.Note = fmt.Sprintf("the helper collected %.0f times a second under load (median)", g.Median)
		}
	}
	r = add(Row{ID: "rss_after_load", Group: mem, Metric: "helper, 5 s after the last disconnect that followed the throughput runs", Unit: "MiB",
		Subject: "wgtray-helper", Value: stats(s.helperRSSAfterLoad), Target: "≤ 20 MiB"})
	if r.Value != nil {
		r.Met = met(r.Value.Max <= 20)
	}
}
