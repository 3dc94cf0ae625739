package main

// chart.svg, written by hand (no plotting dependency): per response size,
// req/s and server CPU µs/request against connections, log x axis, one
// line per backend through the medians, with an error bar on every point
// from the smallest to the largest repetition.

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
)

const (
	panelW   = 460
	panelH   = 300
	chartTop = 60 // title and legend
	padLeft  = 70
	padRight = 20
	padTop   = 34
	padBot   = 46
)

// backendColor gives each backend a fixed color so charts compare.
func backendColor(b string, i int) string {
	switch b {
	case "std":
		return "#555555"
	case "epoll":
		return "#1f77b4"
	case "uring":
		return "#d62728"
	}
	palette := []string{"#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"}
	return palette[i%len(palette)]
}

// chartRow is one response size: the unpipelined points of that size.
type chartRow struct {
	title  string
	points []Point // sorted by conns
}

// chartRows groups the unpipelined load points by response.
func chartRows(run *Run) []chartRow {
	var rows []chartRow
	index := map[string]int{}
	for _, p := range pointsOf(run, ModeLoad) {
		if p.Pipeline != 1 {
			continue
		}
		key := p.Response()
		i, ok := index[key]
		if !ok {
			i = len(rows)
			index[key] = i
			rows = append(rows, chartRow{title: key + " responses, " + p.Proto})
		}
		rows[i].points = append(rows[i].points, p)
	}
	for i := range rows {
		sort.Slice(rows[i].points, func(a, b int) bool { return rows[i].points[a].Conns < rows[i].points[b].Conns })
	}
	return rows
}

// WriteChart writes chart.svg.
func WriteChart(w io.Writer, run *Run) error {
	rows := chartRows(run)
	metrics := []Metric{MetricByKey("req_per_sec"), MetricByKey("cpu_us_per_req")}
	width := len(metrics) * panelW
	height := chartTop + max(len(rows), 1)*panelH
	var b bytes.Buffer
	fmt.Fprintf(&b, `<?xml version="1.0" encoding="UTF-8"?>`+"\n")
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", width, height, width, height)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", width, height)
	pinned := "server pinned to one core"
	if !strings.HasPrefix(run.Meta.Pinning, "server pinned") {
		pinned = "unpinned"
	}
	text(&b, 10, 22, "start", 16, fmt.Sprintf("unetbench: medians of %d repetitions, bars min–max, %s, %s", run.Meta.Reps, pinned, run.Meta.Date.Format("2006-01-02 15:04")))
	// Legend.
	x := 10
	for i, be := range run.Meta.Backends {
		fmt.Fprintf(&b, `<rect x="%d" y="36" width="14" height="14" fill="%s"/>`+"\n", x, backendColor(be, i))
		text(&b, x+20, 48, "start", 13, be)
		x += 30 + 9*len(be)
	}
	if len(rows) == 0 {
		text(&b, 10, chartTop+30, "start", 13, "no unpipelined load points to chart")
	}
	for r, row := range rows {
		for c, m := range metrics {
			panel(&b, run, row, m, c*panelW, chartTop+r*panelH)
		}
	}
	b.WriteString("</svg>\n")
	_, err := w.Write(b.Bytes())
	return err
}

// panel draws one metric for one row of points at (ox, oy).
func panel(b *bytes.Buffer, run *Run, row chartRow, m Metric, ox, oy int) {
	x0, x1 := float64(ox+padLeft), float64(ox+panelW-padRight)
	y0, y1 := float64(oy+padTop), float64(oy+panelH-padBot) // y0 top, y1 bottom
	title := m.Title
	if m.Key == "req_per_sec" {
		title = "req/s"
	} else if m.Key == "cpu_us_per_req" {
		title = "server CPU µs/request"
	}
	text(b, ox+padLeft, oy+20, "start", 13, title+" — "+row.title)

	// Medians and min-max per backend, and the axes' ranges.
	type pt struct{ c, v, lo, hi float64 }
	series := map[string][]pt{}
	lo, hi, vmax := math.Inf(1), math.Inf(-1), 0.0
	for _, p := range row.points {
		lo = math.Min(lo, float64(p.Conns))
		hi = math.Max(hi, float64(p.Conns))
		for _, be := range run.Meta.Backends {
			vals := mapValues(values(run, p, be, m))
			if len(vals) == 0 {
				continue
			}
			lo, hi := Spread(vals)
			series[be] = append(series[be], pt{float64(p.Conns), Median(vals), lo, hi})
			vmax = math.Max(vmax, hi)
		}
	}
	lx0, lx1 := math.Log10(lo), math.Log10(hi)
	if lx1-lx0 < 1e-9 { // one conns value: centre it
		lx0, lx1 = lx0-0.5, lx1+0.5
	}
	// Keep the outermost markers off the frame.
	pad := (lx1 - lx0) * 0.05
	lx0, lx1 = lx0-pad, lx1+pad
	top, step := niceScale(vmax)
	sx := func(c float64) float64 { return x0 + (math.Log10(c)-lx0)/(lx1-lx0)*(x1-x0) }
	sy := func(v float64) float64 { return y1 - v/top*(y1-y0) }

	// Frame, grid and ticks.
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#999"/>`+"\n", x0, y0, x1-x0, y1-y0)
	for v := 0.0; v <= top*1.0000001; v += step {
		y := sy(v)
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", x0, y, x1, y)
		text(b, int(x0)-6, int(y)+4, "end", 11, axisLabel(v))
	}
	for _, p := range row.points {
		x := sx(float64(p.Conns))
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#e5e5e5"/>`+"\n", x, y0, x, y1)
		text(b, int(x), int(y1)+16, "middle", 11, strconv.Itoa(p.Conns))
	}
	text(b, int((x0+x1)/2), int(y1)+36, "middle", 12, "connections (log scale)")

	// One line per backend, with markers so single points show.
	for i, be := range run.Meta.Backends {
		pts := series[be]
		if len(pts) == 0 {
			continue
		}
		color := backendColor(be, i)
		var poly bytes.Buffer
		for _, q := range pts {
			fmt.Fprintf(&poly, "%.1f,%.1f ", sx(q.c), sy(q.v))
		}
		fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", bytes.TrimSpace(poly.Bytes()), color)
		for _, q := range pts {
			// The error bar: a vertical line with caps, min to max.
			x, ylo, yhi := sx(q.c), sy(q.lo), sy(q.hi)
			fmt.Fprintf(b, `<path class="errbar" d="M%.1f,%.1fV%.1fM%.1f,%.1fh8M%.1f,%.1fh8" stroke="%s" stroke-width="1.2" fill="none"/>`+"\n",
				x, ylo, yhi, x-4, ylo, x-4, yhi, color)
		}
		for _, q := range pts {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"><title>`, sx(q.c), sy(q.v), color)
			xml.EscapeText(b, []byte(fmt.Sprintf("%s, %d conns: %s (min %s, max %s)", be, int(q.c), m.Format(q.v), m.Format(q.lo), m.Format(q.hi))))
			b.WriteString("</title></circle>\n")
		}
	}
}

// niceScale picks an axis top and a tick step of 1, 2 or 5 × 10^k giving
// four to seven ticks.
func niceScale(vmax float64) (top, step float64) {
	if !(vmax > 0) || math.IsInf(vmax, 0) {
		return 1, 0.2
	}
	raw := vmax * 1.05 / 6
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f <= 1:
		step = mag
	case f <= 2:
		step = 2 * mag
	case f <= 5:
		step = 5 * mag
	default:
		step = 10 * mag
	}
	return math.Ceil(vmax*1.05/step) * step, step
}

// text writes an escaped <text> element.
func text(b *bytes.Buffer, x, y int, anchor string, size int, s string) {
	fmt.Fprintf(b, `<text x="%d" y="%d" text-anchor="%s" font-size="%d">`, x, y, anchor, size)
	xml.EscapeText(b, []byte(s))
	b.WriteString("</text>\n")
}

// axisLabel writes a tick value briefly: 5k, 12.5, 0.
func axisLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 4, 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'g', 4, 64) + "k"
	default:
		return strconv.FormatFloat(v, 'g', 4, 64)
	}
}
