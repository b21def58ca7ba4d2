package main

import (
	"os"
	"testing"

	"github.com/meridiandns/meridian/internal/testbin"
)

// Tests in this package run the real binary: `go build` once, then real
// processes on loopback sockets.
func TestMain(m *testing.M) {
	code := m.Run()
	testbin.Cleanup()
	os.Exit(code)
}
