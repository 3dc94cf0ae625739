package main

// Progress lines with an ETA. Windows differ in length (a timed window,
// a mechanism window, a profile, an idle point), so each step carries its
// planned duration and the ETA scales the plan that remains by how the
// finished part compared with its plan: start-up, a slow machine or
// retries then stretch the estimate.

import (
	"fmt"
	"io"
	"time"
)

// progress counts finished steps against a plan.
type progress struct {
	w       io.Writer
	now     func() time.Time
	start   time.Time
	steps   int           // planned steps
	planned time.Duration // planned time of all steps
	done    int
	doneDur time.Duration // planned time of the finished steps
	costs   map[string]time.Duration
}

// planStep is how many steps of one kind a run plans, and how long each.
type planStep struct {
	n    int
	cost time.Duration
}

// newProgress plans steps of the given kinds.
func newProgress(w io.Writer, now func() time.Time, plan map[string]planStep) *progress {
	p := &progress{w: w, now: now, start: now(), costs: map[string]time.Duration{}}
	for kind, k := range plan {
		p.steps += k.n
		p.planned += time.Duration(k.n) * k.cost
		p.costs[kind] = k.cost
	}
	return p
}

// Planned is the whole plan's duration, for the start-up message.
func (p *progress) Planned() time.Duration { return p.planned }

// step records a finished step of a kind and prints its line.
func (p *progress) step(kind, line string) {
	p.done++
	p.doneDur += p.costs[kind]
	fmt.Fprintf(p.w, "[%3d/%d, ETA %s] %s\n", p.done, p.steps, p.eta(), line)
}

// eta is the remaining plan scaled by actual/planned so far.
func (p *progress) eta() string {
	left := p.planned - p.doneDur
	if left <= 0 || p.doneDur <= 0 {
		return "0s"
	}
	scale := float64(p.now().Sub(p.start)) / float64(p.doneDur)
	return time.Duration(float64(left) * scale).Round(time.Second).String()
}
