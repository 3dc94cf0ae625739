package main

import (
	"os"
	"strings"
)

// childEnv is this process's environment without the variables the
// benchmark controls, plus GOMAXPROCS=1 for pinned Go children and extra
// (KEY=VALUE entries).
func childEnv(extra []string, pinned bool) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "GOMAXPROCS=") || strings.HasPrefix(kv, "UNET_BACKEND=") {
			continue
		}
		env = append(env, kv)
	}
	if pinned {
		env = append(env, "GOMAXPROCS=1")
	}
	return append(env, extra...)
}
