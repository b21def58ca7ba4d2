package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/meridiandns/meridian/internal/api"
	"github.com/meridiandns/meridian/internal/testbin"
	"github.com/miekg/dns"
)

// TestTotalOutage takes every origin of a record away: the node answers
// with the record's own values (fail-open), and every view says so. The
// status JSON names the record under serving.failopen, marks the fail-open
// values as served and the pool values as not, and counts the degraded
// answers; `meridian status` names the record first and lists the
// fail-open values as served; the status page (in headless Chromium, at
// 1280 px) shows a fail-open banner, turns the header red, offers no
// changes without a token, shows times with their date and zone, and keeps
// node names on one line. It saves a screenshot.
func TestTotalOutage(t *testing.T) {
	// Nothing listens on the origins' port: every probe is refused.
	port := fmt.Sprint(testbin.FreePort(t, "127.0.0.12"))
	cfg := strings.Replace(baseConfig, "name: test-1", "name: fra-edge-node-01", 1) +
		"geoip: {databases: [" + demoGeoIP(t) + "]}\n"
	n := testbin.Start(t, testbin.Config(cfg), map[string]string{"zones/example.com.yaml": originZone(port)})

	var st api.StatusReply
	testbin.Eventually(t, 10*time.Second, func() bool {
		st = statusReply(t, n)
		return slices.Equal(st.Serving.FailOpen, []string{"app.example.com. A"}) && len(st.Endpoints) == 2 &&
			!st.Endpoints[0].Up && !st.Endpoints[1].Up
	}, "both origins down and app.example.com. A failing open: %v", func() string { return fmt.Sprint(st.Serving) })

	// Answers are the fail-open values, with the degraded TTL.
	const queries = 5
	for range queries {
		r := exchange(t, n.Addr, "udp", q("app.example.com.", dns.TypeA))
		if len(r.Answer) != 2 || r.Answer[0].Header().Ttl != 10 {
			t.Fatalf("answer during the outage: %v; want both fail-open values with TTL 10", r.Answer)
		}
	}

	st = statusReply(t, n)
	rec := st.Records[0]
	if rec.Outcome != "failopen" || rec.Rules[0].Outcome != "failopen" || rec.Rules[1].Outcome != "failopen" {
		t.Errorf("record outcome %q, rules %+v; want failopen everywhere", rec.Outcome, rec.Rules)
	}
	for _, p := range rec.Pools {
		if p.Served || p.Serviceable != 0 || p.Values[0].Served {
			t.Errorf("pool %s: served %v, serviceable %d, value served %v; want none", p.ID, p.Served, p.Serviceable, p.Values[0].Served)
		}
	}
	for _, v := range rec.Values {
		if !v.Served {
			t.Errorf("fail-open value %s: served false; want true", v.Value)
		}
	}
	if rec.Decisions["failopen"] < queries || st.Serving.Degraded < queries || st.Serving.Decisions["failopen"] < queries {
		t.Errorf("decisions %v, serving %+v; want at least %d fail-open answers counted", rec.Decisions, st.Serving, queries)
	}

	// meridian status: the banner first, the fail-open values served.
	out, err := exec.Command(testbin.Build(t), "status", "--api", n.API).CombinedOutput()
	if err != nil {
		t.Fatalf("meridian status: %v\n%s", err, out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`\nFAIL-OPEN: app\.example\.com\. A answers 127\.0\.0\.12 127\.0\.0\.13 \(rules 1, 2\): no pool has a serviceable value`),
		regexp.MustCompile(`\ndegraded answers since start: \d+ \(fallback 0, nearest 0, fail-open \d+\) of \d+\n`),
		regexp.MustCompile(`\napp\.example\.com\. +A +eu +us +127\.0\.0\.12 +1 +down +no\n`),
		regexp.MustCompile(`\n +\(fail-open\) +- +127\.0\.0\.12 +- +- +yes\n +- +127\.0\.0\.13 +- +- +yes\n`),
	} {
		if !want.Match(out) {
			t.Errorf("meridian status lacks %s:\n%s", want, out)
		}
	}
	if strings.Index(string(out), "FAIL-OPEN") > strings.Index(string(out), "REGION") {
		t.Errorf("meridian status: the fail-open banner comes after the tables:\n%s", out)
	}

	t.Run("page", func(t *testing.T) {
		ctx := browser(t)
		pageErrors := watchConsole(t, ctx)
		within(t, ctx, 10*time.Second, "open the page during the outage",
			chromedp.EmulateViewport(1280, 900),
			chromedp.Navigate("http://"+n.API+"/"),
			chromedp.WaitVisible(chromedp.CSS(`#serving[data-kind="failopen"] p[data-failopen="app.example.com. A"]`)),
			chromedp.WaitVisible(chromedp.CSS(`header[data-serving="failopen"] #serving-pill`)),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-own-value="127.0.0.12"][data-served="true"]`)),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-own-value="127.0.0.13"][data-served="true"]`)),
			chromedp.WaitVisible(chromedp.CSS(`tr[data-value="127.0.0.12"][data-served="false"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#read-only`)),
			chromedp.WaitVisible(chromedp.CSS(`li[data-member="fra-edge-node-01"]`)),
		)
		banner := pageText(t, ctx, "#serving")
		for _, want := range []string{"app.example.com. A answers its own values 127.0.0.12 127.0.0.13",
			"no pool of rules 1 and 2 has a serviceable value", "Degraded answers since the node started: "} {
			if !strings.Contains(banner, want) {
				t.Errorf("banner: got %q; want %q", banner, want)
			}
		}
		if got := pageText(t, ctx, "#read-only"); !strings.Contains(got, "api.token_file") {
			t.Errorf("read-only note: got %q; want it to name api.token_file", got)
		}
		var layout struct {
			Buttons        int    // drain and undo buttons
			NameLines      int    // lines the node name takes
			NameClipped    bool   // the name is cut short
			BadgeBesideTop bool   // the state badge sits on the name's line
			Time           string // a time as shown
			ReadOnlyAbove  bool   // the read-only note is above the records
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify((() => {
			const name = document.querySelector('li[data-member="fra-edge-node-01"] .name');
			const badge = document.querySelector('li[data-member="fra-edge-node-01"] .head > .badge');
			return {
				Buttons: document.querySelectorAll('button[data-fill], button[data-undrain]').length,
				NameLines: name.getClientRects().length,
				NameClipped: name.scrollWidth > name.clientWidth,
				BadgeBesideTop: Math.abs(badge.getBoundingClientRect().top - name.getBoundingClientRect().top) < 8,
				Time: document.querySelector('#endpoints time').textContent,
				ReadOnlyAbove: document.getElementById('read-only').getBoundingClientRect().bottom <
					document.getElementById('records-card').getBoundingClientRect().top,
			};
		})())`))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(got), &layout); err != nil {
			t.Fatal(err)
		}
		if layout.Buttons != 0 || !layout.ReadOnlyAbove {
			t.Errorf("without a token: %d drain buttons, read-only note above the records %v; want none, and the note on top",
				layout.Buttons, layout.ReadOnlyAbove)
		}
		if layout.NameLines != 1 || layout.NameClipped || !layout.BadgeBesideTop {
			t.Errorf("node name in its region card: %d lines, clipped %v, badge beside it %v; want one whole line with the badge",
				layout.NameLines, layout.NameClipped, layout.BadgeBesideTop)
		}
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$`).MatchString(layout.Time) {
			t.Errorf("a time on the page: got %q; want its date, time and zone", layout.Time)
		}
		shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 makes a PNG
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		png := filepath.Join(screenshotDir(t), "status-page-outage.png")
		if err := os.WriteFile(png, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot: %s (%d bytes)", png, len(shot))
		for _, m := range pageErrors() {
			t.Errorf("page console: %s", m)
		}
	})
}

// statusReply reads n's /api/v1/status.
func statusReply(t *testing.T, n *testbin.Node) api.StatusReply {
	t.Helper()
	code, data := apiCall(t, n, "GET", "/api/v1/status", "")
	var st api.StatusReply
	if err := json.Unmarshal(data, &st); code != 200 || err != nil {
		t.Fatalf("status: %d %v\n%s", code, err, data)
	}
	return st
}

// screenshotDir is where screenshots go: $MERIDIAN_SCREENSHOTS when set
// (to keep them), else the test's temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("MERIDIAN_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}
