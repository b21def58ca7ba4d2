package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/meridiandns/meridian/healthmesh"
	"github.com/meridiandns/meridian/internal/config"
)

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
// api.listen of --config FILE, else of the first config of configPaths
// that exists, else the default api.listen; and, for changes, the bearer
// token of --token-file, else of that config's api.token_file.
type apiTarget struct {
	api, config, tokenFile string // config "": look in configPaths
}

func parseDrain(args []string) (drainArgs, error) {
	var a drainArgs
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
			a.config = f.val
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
	a, err := parseDrain(args)
	if err != nil {
		return badUsage(stderr, "drain", err)
	}
	c, err := a.client(true)
	if err != nil {
		fmt.Fprintf(stderr, "meridian drain: %v\n", err)
		return 1
	}
	if a.undo {
		err = c.undrain(a.target)
		if err == nil {
			t, _ := healthmesh.CanonicalTarget(a.target) // the API took it, so it is well formed
			fmt.Fprintf(stdout, "undrained %s\n", t)
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

// client works out the API to call and, withToken, the bearer token:
// flags first, then the config file. A config named by --config must
// load; one found in configPaths must load too, since it is the node's;
// with none found, the default API address is called, without a token.
func (a apiTarget) client(withToken bool) (apiClient, error) {
	out := apiClient{http: &http.Client{Timeout: 15 * time.Second}}
	var c *config.Config
	path := a.config
	if path == "" {
		path, _ = findConfig()
	}
	if path != "" && (a.api == "" || (withToken && a.tokenFile == "")) {
		var err error
		if c, err = config.Load(path); err != nil {
			return out, err
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
				return out, fmt.Errorf("token file: %w", err)
			}
			if out.token = strings.TrimSpace(string(data)); out.token == "" {
				return out, fmt.Errorf("token file %s is empty", tokenFile)
			}
		}
	}
	switch {
	case a.api != "":
		var err error
		out.base, err = apiURL(a.api)
		out.from = "--api"
		return out, err
	case c == nil:
		out.base = listenURL(config.Default().API.Listen)
		out.from = "the default address: no --api or --config, and none of " + strings.Join(configPaths, ", ") + " exists"
		return out, nil
	case c.API.Listen == "":
		return out, fmt.Errorf("%s: api.listen is empty, so the API is off; set it or pass --api URL", c.Path)
	}
	out.base = listenURL(c.API.Listen)
	out.from = "api.listen of " + c.Path
	return out, nil
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
	from  string // where base came from, for errors: "--api", "api.listen of FILE"
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
		msg := "cannot reach the API at " + c.base
		if c.from != "" {
			msg += " (" + c.from + ")"
		}
		return fmt.Errorf("%s: %w; is meridian serve running with api.listen set?", msg, err)
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
