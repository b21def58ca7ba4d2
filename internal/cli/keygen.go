package cli

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
)

// keygen prints a new 32-byte memberlist encryption key (AES-256), in the
// base64 form the mesh config takes.
func keygen(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		return badUsage(stderr, "keygen", fmt.Errorf("unexpected argument %q", args[0]))
	}
	key := make([]byte, 32)
	rand.Read(key) // never fails: crypto/rand panics rather than return weak bytes
	fmt.Fprintln(stdout, base64.StdEncoding.EncodeToString(key))
	return 0
}
