package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wgtray/wgtray/helper/spans"
)

// breakdown is where the time of one kind of call (Connect or
// Disconnect) went, over the latency cycles: the helper's own steps
// (WGTRAY_TIMING=1, package spans), and what lies between the bench's
// call and the helper's method on either side.
type breakdown struct {
	order []string             // step names, in the order first seen
	steps map[string][]float64 // ms per cycle (0 in a cycle without it)
	n     int                  // cycles
}

// Names of the figures that are not the helper's own steps.
const (
	stepRequest = "request: bench's call → helper's method (client, bus, dispatch)"
	stepReply   = "reply: helper's method returned → bench has the reply"
	stepMethod  = "helper's method, in all"
	stepOther   = "helper's method, in no step"
	stepWall    = "bench's call → reply, in all"
)

// add records one call: t0 and t1 are the bench's CLOCK_MONOTONIC before
// the call and after the reply, l the helper's timing line.
func (bd *breakdown) add(t0, t1 int64, l spans.Line) {
	if bd.steps == nil {
		bd.steps = map[string][]float64{}
	}
	msOf := func(ns int64) float64 { return float64(ns) / 1e6 }
	got := map[string]float64{
		stepWall:    msOf(t1 - t0),
		stepRequest: msOf(l.StartMono - t0),
		stepReply:   msOf(t1 - l.EndMono),
		stepMethod:  msOf(l.EndMono - l.StartMono),
	}
	// Only the top-level steps add up to the method: the engine's own
	// (facts, plan, apply …) are inside "engine".
	var top int64
	for _, s := range l.Steps {
		got[s.Name] += msOf(s.NS)
		if !strings.Contains(s.Name, "/") {
			top += s.NS
		}
	}
	got[stepOther] = msOf(l.EndMono - l.StartMono - top)
	for _, name := range append([]string{stepWall, stepRequest}, stepNames(l)...) {
		bd.note(name)
	}
	for _, name := range []string{stepOther, stepMethod, stepReply} {
		bd.note(name)
	}
	for _, name := range bd.order {
		// A step a cycle did not take counts as 0 ms in it.
		for len(bd.steps[name]) < bd.n {
			bd.steps[name] = append(bd.steps[name], 0)
		}
		bd.steps[name] = append(bd.steps[name], got[name])
	}
	bd.n++
}

// gap returns step a minus the steps less, cycle by cycle; a name in less
// that starts with "-" is added back instead.
func (bd *breakdown) gap(a string, less ...string) []float64 {
	out := slices.Clone(bd.steps[a])
	for _, name := range less {
		sign := -1.0
		if n, ok := strings.CutPrefix(name, "-"); ok {
			name, sign = n, 1
		}
		v := bd.steps[name]
		for i := range out {
			if i < len(v) {
				out[i] += sign * v[i]
			}
		}
	}
	return out
}

func stepNames(l spans.Line) []string {
	var out []string
	for _, s := range l.Steps {
		out = append(out, s.Name)
	}
	return out
}

func (bd *breakdown) note(name string) {
	if !slices.Contains(bd.order, name) {
		bd.order = append(bd.order, name)
	}
}

// rows returns the breakdown's figures, one per step, in the order they
// were first seen.
func (bd *breakdown) rows() []BreakdownStep {
	var out []BreakdownStep
	for _, name := range bd.order {
		v := bd.steps[name]
		for len(v) < bd.n {
			v = append(v, 0)
		}
		out = append(out, BreakdownStep{Step: name, MS: summarize(v), Samples: v})
	}
	return out
}

// timingLine waits for the helper's timing line of a call of method that
// it logged after the first from bytes of its stderr, and decodes it.
func (b *bench) timingLine(from int, method string) spans.Line {
	want := spans.Prefix + `{"method":"` + method + `"`
	line := b.helper.WaitStderrFrom(b.tb, from, want, 10*time.Second)
	_, js, _ := strings.Cut(line, spans.Prefix)
	var l spans.Line
	if err := json.Unmarshal([]byte(js), &l); err != nil {
		b.tb.Fatalf("the helper's timing line %q: %v", line, err)
	}
	return l
}

// BreakdownStep is one step of a call in the report: its median, min and
// max over the latency cycles, in ms.
type BreakdownStep struct {
	Step string `json:"step"`
	MS   Stats  `json:"ms"`
	// Samples are the cycles' figures in order: a step's bimodal times
	// (a collection during some cycles, say) show only here.
	Samples []float64 `json:"samples_ms"`
}

// breakdownMarkdown renders the breakdowns of Connect and Disconnect side
// by side.
func breakdownMarkdown(connect, disconnect []BreakdownStep, engineGap *Stats) string {
	if len(connect) == 0 && len(disconnect) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("### Where Connect and Disconnect spend their time\n\n")
	b.WriteString("The helper ran with `WGTRAY_TIMING=1`: each Connect and Disconnect logs how long each of its steps took " +
		"(package `helper/spans`), and CLOCK_MONOTONIC when its method began and returned, which the bench compares with its own " +
		"readings around the call. Steps of the engine are named `engine/…` and are part of `engine`; a step that ran several " +
		"times (journal appends) is the sum. Median [min–max] over the latency cycles, in ms.\n\n")
	if engineGap != nil {
		fmt.Fprintf(&b, "Connect over D-Bus minus the engine's own work inside it (its up less the StateChanged and HealthChanged signals it has the daemon send before the reply; same call, same run): median **%s ms** [%s–%s].\n\n",
			num(engineGap.Median), num(engineGap.Min), num(engineGap.Max))
	}
	b.WriteString("| step | Connect | Disconnect |\n|---|---|---|\n")
	var order []string
	for _, s := range connect {
		order = append(order, s.Step)
	}
	for _, s := range disconnect {
		if !slices.Contains(order, s.Step) {
			order = append(order, s.Step)
		}
	}
	cell := func(steps []BreakdownStep, name string) string {
		for _, s := range steps {
			if s.Step == name {
				return fmt.Sprintf("%s [%s–%s]", num(s.MS.Median), num(s.MS.Min), num(s.MS.Max))
			}
		}
		return "—"
	}
	for _, name := range order {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", name, cell(connect, name), cell(disconnect, name))
	}
	b.WriteString("\n")
	return b.String()
}
