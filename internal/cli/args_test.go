package cli

import (
	"fmt"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	valued := map[string]bool{"client": true, "down": true}
	switches := map[string]bool{"undo": true}
	tests := []struct {
		args      []string
		flags     string
		pos       string
		errString string
	}{
		{[]string{"app.example.com", "--client", "1.2.3.4", "A"}, "[{client 1.2.3.4}]", "[app.example.com A]", ""},
		{[]string{"--down=x", "-down", "y", "name", "--undo"}, "[{down x} {down y} {undo }]", "[name]", ""},
		{[]string{"--bogus", "name"}, "", "", "unknown flag --bogus"},
		{[]string{"name", "--client"}, "", "", "flag --client needs a value"},
		{[]string{"--undo=yes"}, "", "", "flag --undo takes no value"},
		{[]string{"-", "x"}, "[]", "[- x]", ""},
	}
	for _, tt := range tests {
		flags, pos, err := splitArgs(tt.args, valued, switches)
		if tt.errString != "" {
			if err == nil || err.Error() != tt.errString {
				t.Errorf("%q: got error %v; want %q", tt.args, err, tt.errString)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: got error %v", tt.args, err)
			continue
		}
		if got := fmt.Sprint(flags); got != tt.flags && !(len(flags) == 0 && tt.flags == "[]") {
			t.Errorf("%q: flags got %s; want %s", tt.args, got, tt.flags)
		}
		if got := fmt.Sprint(pos); got != tt.pos {
			t.Errorf("%q: positional got %s; want %s", tt.args, got, tt.pos)
		}
	}
}
