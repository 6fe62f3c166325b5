package center_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nvrha/nvrha/center/demo"
)

var screenshot = flag.String("screenshot", "", "where TestPageInBrowser saves its screenshot (default: a temporary directory)")

// browser starts headless Chromium, or skips the test when it is not
// installed (.ci/run installs it).
func browser(t *testing.T) context.Context {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("no chromium on PATH: install it (apt-get install chromium) to run the page's browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless,
		chromedp.Flag("disable-gpu", true), chromedp.WindowSize(1440, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser on ctx itself: one started by a step's shorter
	// context would close with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// pollTimeout bounds every wait for the page: detection and takeover take a
// second or two of real time, a loaded CI machine more.
const pollTimeout = 30 * time.Second

// waitFor polls a JavaScript expression in the page until it is true.
func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(pollTimeout))); err != nil {
		dump, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		t.Fatalf("waiting for %s: %v\npage text:\n%s", what, err, dump)
	}
}

func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// statusOf is the expression for a server's shown status label.
func statusOf(server string) string {
	return fmt.Sprintf(`(document.querySelector('tr[data-server=%q] .status') || {}).textContent`, server)
}

// TestPageInBrowser drives the Failover Management page as an operator
// would: log in, add a group, be told why a server cannot be a standby,
// add one that fits, watch a takeover arrive without reloading, and delete
// the group through the first-admin verification.
func TestPageInBrowser(t *testing.T) {
	ctx := browser(t)
	e := newEnv(t)
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	do(t, ctx, "log in",
		chromedp.Navigate(e.srv.URL),
		chromedp.WaitVisible(css("#login-user")),
		chromedp.SendKeys(css("#login-user"), "admin"),
		chromedp.SendKeys(css("#login-password"), adminPassword),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css(`#tabs .tab[data-group="1"]`)),
	)
	// A page that reloads loses this; the checks below show it is kept.
	do(t, ctx, "mark the page", chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	waitFor(t, ctx, "the default group's servers", statusOf("rec-01")+` === "Normal, protected"`)

	do(t, ctx, "add a group",
		chromedp.Click(css("#add-group")),
		chromedp.WaitVisible(css("#name-input")),
		chromedp.SendKeys(css("#name-input"), "Lobby"),
		chromedp.Click(css("#name-apply")),
	)
	waitFor(t, ctx, "the new group's tab", `(document.querySelector('#group-name') || {}).textContent === "Lobby"`)

	do(t, ctx, "add a recording server",
		chromedp.Click(css(`[data-action="add-recording"]`)),
		chromedp.WaitVisible(css(fmt.Sprintf(`[data-candidate=%q] input`, demo.NewRecorder))),
		chromedp.Click(css(fmt.Sprintf(`[data-candidate=%q] input`, demo.NewRecorder))),
		chromedp.Click(css("#add-apply")),
	)
	// Wait for its first probe to settle the status: each change redraws
	// the table, and a click sent while its button is replaced is lost.
	waitFor(t, ctx, "the recording server in the table, probed", statusOf(string(demo.NewRecorder))+` === "Normal, unprotected"`)

	do(t, ctx, "open the standby dialog",
		chromedp.Click(css(`[data-action="add-standby"]`)),
		chromedp.WaitVisible(css(fmt.Sprintf(`[data-candidate=%q] [data-reason="camera-list-not-empty"]`, demo.OldNVR))),
		chromedp.WaitVisible(css(fmt.Sprintf(`[data-candidate=%q] [data-reason="insufficient-license-channels"]`, demo.OldNVR))),
		chromedp.WaitVisible(css("#add-faq summary")),
	)
	waitFor(t, ctx, "old-nvr refused for both reasons, with nothing else wrong",
		fmt.Sprintf(`document.querySelectorAll('[data-candidate=%q] [data-reason]').length === 2 && document.querySelector('[data-candidate=%q] input').disabled`, demo.OldNVR, demo.OldNVR))
	do(t, ctx, "add the standby that fits",
		chromedp.Click(css(fmt.Sprintf(`[data-candidate=%q] input`, demo.SpareStandby))),
		chromedp.Click(css("#add-apply")),
	)
	waitFor(t, ctx, "the group protected", statusOf(string(demo.NewRecorder))+` === "Normal, protected" && `+
		statusOf(string(demo.SpareStandby))+` === "Normal, protection ready"`)

	do(t, ctx, "crash the recording server",
		chromedp.Click(css(fmt.Sprintf(`tr[data-server=%q] [data-action="crash"]`, demo.NewRecorder))))
	waitFor(t, ctx, "the takeover, live", statusOf(string(demo.NewRecorder))+` === "Abnormal, protected" && `+
		statusOf(string(demo.SpareStandby))+` === "Normal, protecting" && window.notReloaded === true`)
	waitFor(t, ctx, "the takeover in the timeline", `!!document.querySelector('#timeline [data-kind="takeover-succeeded"]')`)

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	path := *screenshot
	if path == "" {
		path = filepath.Join(t.TempDir(), "failover-management.png")
	}
	if err := os.WriteFile(path, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%s bytes)", path, strconv.Itoa(len(shot)))

	do(t, ctx, "open the delete dialog",
		chromedp.Click(css(`[data-action="group-menu"]`)),
		chromedp.WaitVisible(css(`[data-action="delete-group"]`)),
		chromedp.Click(css(`[data-action="delete-group"]`)),
		chromedp.WaitVisible(css("#verify-password")),
		chromedp.SendKeys(css("#verify-password"), "not the password"),
		chromedp.Click(css("#verify-confirm")),
	)
	waitFor(t, ctx, "a wrong password refused", `document.querySelector('#verify-error').textContent !== ""`)
	do(t, ctx, "verify as the first admin user",
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#verify-password').value = ""`),
		chromedp.SendKeys(css("#verify-password"), adminPassword),
		chromedp.Click(css("#verify-confirm")),
	)
	waitFor(t, ctx, "the group gone", `![...document.querySelectorAll('#tabs .tab-name')].some(n => n.textContent === "Lobby") && window.notReloaded === true`)
}
