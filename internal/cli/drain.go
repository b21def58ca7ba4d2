package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/internal/config"
)

const drainUsage = `usage: meridian drain TARGET [--for DURATION] [--reason TEXT] [--force] [--api URL | --config FILE] [--token-file FILE]
       meridian drain --undo TARGET [--api URL | --config FILE] [--token-file FILE]
TARGET is an address or target name ("198.51.100.1") or a pool ("pool:eu") of
the zones served; --force drains one they do not name (yet). A reason is at
most 200 bytes.`

// drainArgs is the parsed command line of `meridian drain`; flags and the
// target may come in any order.
type drainArgs struct {
	apiTarget
	target, reason string
	dur            time.Duration
	undo, durGiven bool
	force          bool
}

// apiTarget is how a command finds a node's API: --api URL, else
// api.listen of --config FILE; and, for changes, the bearer token of
// --token-file, else of the config's api.token_file.
type apiTarget struct {
	api, config, tokenFile string
	configSet              bool // --config was given, so it must exist
}

func parseDrain(args []string) (drainArgs, error) {
	a := drainArgs{apiTarget: apiTarget{config: "meridian.yaml"}}
	flags, pos, err := splitArgs(args,
		map[string]bool{"for": true, "reason": true, "api": true, "config": true, "token-file": true},
		map[string]bool{"undo": true, "force": true})
	if err != nil {
		return a, err
	}
	for _, f := range flags {
		switch f.name {
		case "undo":
			a.undo = true
		case "force":
			a.force = true
		case "for":
			d, err := time.ParseDuration(f.val)
			if err != nil || d <= 0 {
				return a, fmt.Errorf("--for %q: want a positive duration such as 10m or 2h", f.val)
			}
			a.dur, a.durGiven = d, true
		case "reason":
			a.reason = f.val
		case "api":
			a.api = f.val
		case "config":
			a.config, a.configSet = f.val, true
		case "token-file":
			a.tokenFile = f.val
		}
	}
	if len(pos) != 1 {
		return a, fmt.Errorf("want exactly one TARGET, got %d", len(pos))
	}
	a.target = pos[0]
	if a.undo && (a.durGiven || a.reason != "" || a.force) {
		return a, fmt.Errorf("--undo takes no --for, --reason or --force")
	}
	if err := healthmesh.CheckDrainReason(a.reason); err != nil {
		return a, fmt.Errorf("--reason: %v", err)
	}
	return a, nil
}

func drain(args []string, stdout, stderr io.Writer) int {
	for _, a := range args {
		if a == "-h" || a == "--help" || a == "-help" {
			fmt.Fprintln(stdout, drainUsage)
			return 0
		}
	}
	a, err := parseDrain(args)
	if err != nil {
		fmt.Fprintf(stderr, "meridian drain: %v\n%s\n", err, drainUsage)
		return 2
	}
	base, token, err := a.resolve(true)
	if err != nil {
		fmt.Fprintf(stderr, "meridian drain: %v\n", err)
		return 1
	}
	c := apiClient{base: base, token: token, http: &http.Client{Timeout: 15 * time.Second}}
	if a.undo {
		err = c.undrain(a.target)
		if err == nil {
			fmt.Fprintf(stdout, "undrained %s\n", a.target)
		}
	} else {
		var d healthmesh.Drain
		d, err = c.drain(a.target, a.dur, a.reason, a.force)
		if err == nil {
			fmt.Fprintln(stdout, describeDrain(d))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "meridian drain: %v\n", err)
		return 1
	}
	return 0
}

// describeDrain is the one line printed for a drain the API returned.
func describeDrain(d healthmesh.Drain) string {
	s := "drained " + d.Target + " until undone"
	if !d.Until.IsZero() {
		s = "drained " + d.Target + " until " + d.Until.Format(time.RFC3339)
	}
	if d.Reason != "" {
		s += " (reason: " + d.Reason + ")"
	}
	return s
}

// resolve works out the API base URL and, withToken, the bearer token:
// flags first, then the config file. The config is only required when a
// flag leaves something to find in it.
func (a apiTarget) resolve(withToken bool) (base, token string, err error) {
	var c *config.Config
	if a.api == "" || (withToken && a.tokenFile == "") {
		c, err = config.Load(a.config)
		switch {
		case err == nil:
		case a.api != "" && !a.configSet && errors.Is(err, fs.ErrNotExist):
			c, err = nil, nil // --api alone, no config around: no token
		default:
			return "", "", err
		}
	}
	if withToken {
		tokenFile := a.tokenFile
		if tokenFile == "" && c != nil {
			tokenFile = c.API.TokenFile
		}
		if tokenFile != "" {
			data, err := os.ReadFile(tokenFile)
			if err != nil {
				return "", "", fmt.Errorf("token file: %w", err)
			}
			if token = strings.TrimSpace(string(data)); token == "" {
				return "", "", fmt.Errorf("token file %s is empty", tokenFile)
			}
		}
	}
	if a.api != "" {
		base, err = apiURL(a.api)
		return base, token, err
	}
	if c.API.Listen == "" {
		return "", "", fmt.Errorf("%s: api.listen is empty, so the API is off; set it or pass --api URL", c.Path)
	}
	return listenURL(c.API.Listen), token, nil
}

// apiURL normalises --api: "127.0.0.1:8053" means http://127.0.0.1:8053.
func apiURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("--api %q: want a URL such as http://127.0.0.1:8053", s)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// listenURL is the URL to reach a server listening on listen; a wildcard
// host is reached on loopback.
func listenURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// apiClient calls a node's HTTP API.
type apiClient struct {
	base  string // scheme://host:port
	token string // bearer token; empty sends none
	http  *http.Client
}

func (c apiClient) drain(target string, d time.Duration, reason string, force bool) (healthmesh.Drain, error) {
	req := map[string]any{"target": target}
	if d > 0 {
		req["for"] = d.String()
	}
	if reason != "" {
		req["reason"] = reason
	}
	if force {
		req["force"] = true
	}
	body, _ := json.Marshal(req)
	var out healthmesh.Drain
	err := c.do("POST", "/api/v1/drains", body, http.StatusCreated, &out)
	return out, err
}

func (c apiClient) undrain(target string) error {
	return c.do("DELETE", "/api/v1/drains/"+url.PathEscape(target), nil, http.StatusNoContent, nil)
}

// do makes one call and decodes a reply of status want into out; any other
// status becomes an error carrying the API's message.
func (c apiClient) do(method, path string, body []byte, want int, out any) error {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the API at %s (is meridian serve running with api.listen set?): %w", c.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("reading the API's reply: %w", err)
	}
	if resp.StatusCode != want {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		return fmt.Errorf("%s (HTTP %d)", e.Error, resp.StatusCode)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("bad reply from the API: %w", err)
		}
	}
	return nil
}
