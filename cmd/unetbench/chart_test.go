package main

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// wellFormed decodes every token: encoding/xml fails on unbalanced tags,
// bad attributes and unescaped text.
func wellFormed(t *testing.T, doc []byte) (elements map[string]int) {
	t.Helper()
	elements = map[string]int{}
	d := xml.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return elements
		}
		require.NoError(t, err)
		if se, ok := tok.(xml.StartElement); ok {
			elements[se.Name.Local]++
		}
	}
}

func TestChartWellFormed(t *testing.T) {
	r := fakeRun()
	r.Meta.Backends = append(r.Meta.Backends, `x<1> & "y"`) // legend text must be escaped
	var b bytes.Buffer
	require.NoError(t, WriteChart(&b, r))
	el := wellFormed(t, b.Bytes())
	require.Equal(t, 1, el["svg"])
	// One row (13 B) x two panels (req/s, CPU), one line per backend
	// with samples (the added one has none).
	require.Equal(t, 2*4, el["polyline"])
	// An error bar on every point: 2 panels x 2 conns x 4 backends.
	require.Equal(t, 2*2*4, strings.Count(b.String(), `class="errbar"`))
	require.Contains(t, b.String(), "uring, 256 conns: 111.0k (min 110.0k, max 112.0k)")
	require.Contains(t, b.String(), "connections (log scale)")
	require.Contains(t, b.String(), "x&lt;1&gt; &amp; &#34;y&#34;")
}

func TestChartEmptyAndSinglePoint(t *testing.T) {
	var b bytes.Buffer
	require.NoError(t, WriteChart(&b, &Run{Meta: Meta{Backends: []string{"std"}}}))
	wellFormed(t, b.Bytes())
	require.Contains(t, b.String(), "no unpipelined load points")

	r := fakeRun()
	r.Points = r.Points[1:] // only 256 conns: a degenerate log axis
	b.Reset()
	require.NoError(t, WriteChart(&b, r))
	wellFormed(t, b.Bytes())
	require.False(t, strings.Contains(b.String(), "NaN") || strings.Contains(b.String(), "Inf"))
}

func TestNiceScale(t *testing.T) {
	top, step := niceScale(111000)
	require.Equal(t, 20000.0, step)
	require.Equal(t, 120000.0, top)
	top, step = niceScale(0)
	require.Equal(t, 1.0, top)
	require.Equal(t, 0.2, step)
}
