package uringsched

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRunningIsTheStartedDefault(t *testing.T) {
	s, err := Default()
	require.NoError(t, err)
	r, ok := Running()
	require.True(t, ok)
	require.Same(t, s, r)
}
