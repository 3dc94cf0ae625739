package runtime

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestUnsafeAndLinknameConfined: in every package of the module, at most
// one file outside the tests imports unsafe and at most one links to
// the Go runtime's internals, so that each package's escape hatches can
// be reviewed in one place (runtime/park_linkname.go and
// runtime/uringsched/unsafe_linux.go).
func TestUnsafeAndLinknameConfined(t *testing.T) {
	root := filepath.Join("..")
	unsafeIn := map[string][]string{}
	linknameIn := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.ImportsOnly)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		for _, imp := range f.Imports {
			if imp.Path.Value == `"unsafe"` {
				unsafeIn[dir] = append(unsafeIn[dir], path)
				break // a file may import it twice, once for go:linkname
			}
		}
		if strings.Contains(string(src), "\n//go:linkname ") {
			linknameIn[dir] = append(linknameIn[dir], path)
		}
		return nil
	})
	require.NoError(t, err)
	require.NotEmpty(t, unsafeIn, "the walk found no use of unsafe at all: is root right?")
	for dir, files := range unsafeIn {
		require.Len(t, files, 1, "package %s imports unsafe in more than one file", dir)
	}
	for dir, files := range linknameIn {
		require.Len(t, files, 1, "package %s uses go:linkname in more than one file", dir)
	}
}
