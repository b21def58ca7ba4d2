package server

import (
	"bytes"
	"testing"
)

func TestAppendName(t *testing.T) {
	for _, tt := range []struct {
		name string
		want []byte // nil: left to miekg/dns
	}{
		{".", []byte{0}},
		{"a.example.", []byte{1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0}},
		{"a.example", nil},     // not fully qualified
		{`a\.b.example.`, nil}, // escaped dot
		{"a..example.", nil},   // empty label
		{"", nil},
	} {
		got, ok := appendName(nil, tt.name)
		if ok != (tt.want != nil) || ok && !bytes.Equal(got, tt.want) {
			t.Errorf("appendName(%q): got %v, %v; want %v", tt.name, got, ok, tt.want)
		}
	}
}
