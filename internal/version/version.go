// Package version holds the build's version, set by the linker:
//
//	go build -ldflags "-X github.com/meridiandns/meridian/internal/version.Version=v1.2.3"
package version

// Version is the release or git description; "dev" for plain go builds.
var Version = "dev"
