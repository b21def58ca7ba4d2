package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/meridiandns/meridian/internal/testbin"
)

// browser starts headless Chromium for the test and returns a tab's
// context. Without Chromium the test is skipped, or fails when
// MERIDIAN_REQUIRE_TOOLS is set.
func browser(t *testing.T) context.Context {
	t.Helper()
	var path string
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("MERIDIAN_REQUIRE_TOOLS") != "" {
			t.Fatal("chromium not installed but MERIDIAN_REQUIRE_TOOLS is set")
		}
		t.Skip("chromium not installed (apt-get install chromium); skipping")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root in CI, where the sandbox cannot start
		chromedp.WindowSize(1440, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	// Start the browser now, so that its start-up is not charged to the
	// first wait.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// within runs actions against the tab, failing the test after limit.
func within(t *testing.T, ctx context.Context, limit time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	if err := chromedp.Do(wctx, actions...); err != nil {
		// What the page showed, to see why.
		dctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		text, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("%s: %v\npage:\n%s", what, err, text)
	}
}

// pageText returns the text of the element sel.
func pageText(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(wctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// TestStatusPage opens the status page in headless Chromium against the
// built binary: both origins show up, a stopped origin shows down within
// seconds without a reload, a drain is set and undone from the page with
// the token (and a wrong token's error is shown), a broken zone shows in
// the last-reload panel, and a node without a token file says changes
// need one. It saves a screenshot in the test's temp dir.
func TestStatusPage(t *testing.T) {
	ctx := browser(t)
	_, us, port := startOrigins(t)
	n := startAPINode(t, port, true)
	pageErrors := watchConsole(t, ctx)

	within(t, ctx, 10*time.Second, "open the page and see both values up",
		chromedp.Navigate("http://"+n.API+"/"),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-value="127.0.0.12"][data-verdict="up"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-value="127.0.0.13"][data-verdict="up"]`)),
		chromedp.WaitVisible(chromedp.CSS(`li[data-member="test-1"][data-state="alive"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#reload-state[data-ok="true"]`)),
		// A marker that a reload of the page would lose.
		chromedp.Evaluate[chromedp.Void](`window.meridianTestMarker = 42`),
	)

	// An origin stops: the page shows it down on its own.
	us.Stop()
	stopped := time.Now()
	within(t, ctx, 5*time.Second, "see 127.0.0.13 down without a reload",
		chromedp.WaitVisible(chromedp.CSS(`tr[data-value="127.0.0.13"][data-verdict="down"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-name*="127.0.0.13"][data-up="false"]`)),
	)
	t.Logf("the page showed the stopped origin down %v after it stopped", time.Since(stopped).Round(10*time.Millisecond))
	marker, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.meridianTestMarker || 0`))
	if err != nil || marker != 42 {
		t.Errorf("got marker %d (%v); want 42: the page must update without reloading", marker, err)
	}
	if got := pageText(t, ctx, `tr[data-value="127.0.0.13"] td.votes`); !strings.Contains(got, "test-1 down since") {
		t.Errorf("votes of 127.0.0.13: got %q; want test-1's down vote with its time", got)
	}

	// A wrong token: the API's refusal is shown.
	within(t, ctx, 5*time.Second, "drain with a wrong token",
		chromedp.Click(chromedp.CSS(`tr[data-value="127.0.0.12"] button[data-fill="127.0.0.12"]`)),
		chromedp.SendKeys(chromedp.CSS(`#token`), "wrong"),
		chromedp.SendKeys(chromedp.CSS(`#drain-reason`), "kernel upgrade"),
		chromedp.Click(chromedp.CSS(`#drain-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#message[data-kind="error"]`)),
	)
	if got := pageText(t, ctx, "#message"); !strings.Contains(got, "invalid bearer token (HTTP 401)") {
		t.Errorf("message after a wrong token: got %q; want the API's error", got)
	}
	if d := drainsOf(t, n); len(d) != 0 {
		t.Errorf("drains after a wrong token: got %v; want none", d)
	}

	// The right token: the drain is set, and the API lists it.
	within(t, ctx, 5*time.Second, "drain with the token",
		chromedp.Evaluate[chromedp.Void](`document.getElementById("token").value = ""`),
		chromedp.SendKeys(chromedp.CSS(`#token`), apiToken),
		chromedp.Click(chromedp.CSS(`#drain-submit`)),
		chromedp.WaitVisible(chromedp.CSS(`#message[data-kind="ok"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-drain="127.0.0.12"]`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-value="127.0.0.12"][data-drained="true"]`)),
	)
	if d := drainsOf(t, n); len(d) != 1 || d[0].Target != "127.0.0.12" || d[0].Reason != "kernel upgrade" || !strings.HasPrefix(d[0].By, "api@") {
		t.Errorf("drains after the page set one: got %+v; want 127.0.0.12 for kernel upgrade by the API", d)
	}
	if stored, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem("meridian.token")`)); stored != apiToken {
		t.Errorf("token in session storage: got %q; want it kept for the tab", stored)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 makes a PNG
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	png := filepath.Join(t.TempDir(), "status-page.png")
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", png, len(shot))

	// Undo it from the drains table.
	within(t, ctx, 5*time.Second, "undo the drain",
		chromedp.Click(chromedp.CSS(`#drains button[data-undrain="127.0.0.12"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#no-drains`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-value="127.0.0.12"][data-drained="false"]`)),
	)
	if d := drainsOf(t, n); len(d) != 0 {
		t.Errorf("drains after undo: got %+v; want none", d)
	}

	// A broken zone file: the reload panel shows the problem.
	testbin.WriteFile(t, filepath.Join(n.Dir, "zones", "example.com.yaml"), originZone(port)+"bad: {type: A, value: 300.1.1.1}\n")
	within(t, ctx, 5*time.Second, "see the reload problem",
		chromedp.WaitVisible(chromedp.CSS(`#reload-state[data-ok="false"]`)))
	if got := pageText(t, ctx, "#reload-state .problems"); !strings.Contains(got, "example.com.yaml") || !strings.Contains(got, "300.1.1.1") {
		t.Errorf("reload panel: got %q; want the problem with its file and value", got)
	}

	// A node without a token file: the page says changes need one and
	// offers none, since the API refuses them from browsers.
	noToken := startAPINode(t, port, false)
	within(t, ctx, 5*time.Second, "open the page of a node without a token",
		chromedp.Navigate("http://"+noToken.API+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#auth-loopback`)),
		chromedp.WaitNotVisible(chromedp.CSS(`#drain-form`)),
	)
	if got := pageText(t, ctx, "#auth-loopback"); !strings.Contains(got, "api.token_file") {
		t.Errorf("page without a token: got %q; want it to say api.token_file is needed", got)
	}

	// Nothing went wrong in the page itself: no exception, no refused
	// resource (the CSP reports those to the console).
	for _, m := range pageErrors() {
		// The one expected error is the browser's log line for the 401.
		if !strings.Contains(m, "401") {
			t.Errorf("page console: %s", m)
		}
	}
}

// watchConsole collects the errors and exceptions the page reports until
// the returned func is called; it returns them.
func watchConsole(t *testing.T, ctx context.Context) func() []string {
	cctx, stop := context.WithCancel(ctx)
	msgs := chromedp.Console(cctx)
	var (
		mu   sync.Mutex
		errs []string
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range msgs {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError {
				mu.Lock()
				errs = append(errs, m.String())
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(stop)
	return func() []string {
		stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return errs
	}
}

// pageDrain is a drain as GET /api/v1/drains lists it.
type pageDrain struct {
	Target, Reason, By string
}

func drainsOf(t *testing.T, n *testbin.Node) []pageDrain {
	t.Helper()
	code, data := apiCall(t, n, "GET", "/api/v1/drains", "")
	var r struct{ Drains []pageDrain }
	if err := json.Unmarshal(data, &r); code != 200 || err != nil {
		t.Fatalf("GET /api/v1/drains: %d %s", code, data)
	}
	return r.Drains
}
