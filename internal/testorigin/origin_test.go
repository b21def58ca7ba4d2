package testorigin

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

func TestHTTPModes(t *testing.T) {
	o := NewHTTP(t, "127.0.0.2:0", "hello")
	c := &http.Client{Timeout: 300 * time.Millisecond, Transport: &http.Transport{DisableKeepAlives: true}}
	tests := []struct {
		mode       Mode
		wantStatus int
		wantBody   string
		wantErr    bool
	}{
		{OK, 200, "hello", false},
		{Status500, 500, "internal server error\n", false},
		{WrongBody, 200, WrongBodyText, false},
		{Hang, 0, "", true},
		{Close, 0, "", true},
		{Refuse, 0, "", true},
		{OK, 200, "hello", false}, // listening again after Refuse
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			o.SetMode(tt.mode)
			resp, err := c.Get(o.URL + "/x")
			if tt.wantErr {
				if err == nil {
					resp.Body.Close()
					t.Fatalf("got status %d; want an error", resp.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v; want a response", err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus || string(b) != tt.wantBody {
				t.Errorf("got %d %q; want %d %q", resp.StatusCode, b, tt.wantStatus, tt.wantBody)
			}
		})
	}
	if got, want := o.Hits(), int64(6); got != want {
		t.Errorf("got %d hits; want %d", got, want)
	}
	if host, path, _ := o.LastRequest(); host != o.Addr || path != "/x" {
		t.Errorf("got host %q path %q; want %q %q", host, path, o.Addr, "/x")
	}
}

func TestHTTPStopStart(t *testing.T) {
	o := NewHTTP(t, "", "ok")
	o.Stop()
	_, err := net.Dial("tcp", o.Addr)
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("after Stop: got %v; want connection refused", err)
	}
	o.Start()
	resp, err := http.Get(o.URL)
	if err != nil {
		t.Fatalf("after Start: got %v; want a response", err)
	}
	resp.Body.Close()
}

func TestHTTPS(t *testing.T) {
	o := NewHTTPS(t, "127.0.0.3:0", "secure")
	roots := x509.NewCertPool()
	roots.AddCert(o.Cert)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost"}}}
	resp, err := c.Get(o.URL + "/")
	if err != nil {
		t.Fatalf("got %v; want a response", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "secure" || o.LastSNI() != "localhost" {
		t.Errorf("got body %q SNI %q; want %q %q", b, o.LastSNI(), "secure", "localhost")
	}
	c.CloseIdleConnections()
}

func TestTCP(t *testing.T) {
	o := NewTCP(t, "127.0.0.4:0")
	conn, err := net.Dial("tcp", o.Addr)
	if err != nil {
		t.Fatalf("got %v; want a connection", err)
	}
	conn.Close()
	o.Stop()
	if _, err := net.Dial("tcp", o.Addr); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("after Stop: got %v; want connection refused", err)
	}
	o.Start()
	conn, err = net.Dial("tcp", o.Addr)
	if err != nil {
		t.Fatalf("after Start: got %v; want a connection", err)
	}
	conn.Close()
}
