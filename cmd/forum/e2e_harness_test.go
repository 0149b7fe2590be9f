package main

// The harness of the browser tests in e2e_test.go: the forum run in-process,
// a JSON API client for the people who need no browser, and Chromium driven
// with chromedp, one browser context per person. A failed test leaves a
// screenshot, the console log and the HTML of every tab, with the server's
// and the browser's logs, in a temporary folder that it names.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
)

// e2eWait is how long a test waits for something to show in a page. Live
// updates take milliseconds; the margin is for slow, busy CI machines.
const e2eWait = 15 * time.Second

// e2ePassword is every test user's password.
const e2ePassword = "correct horse battery"

// e2eBrowserPath returns the Chromium or Chrome to drive, or "".
func e2eBrowserPath() string {
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// e2eRequireBrowser returns the browser to drive. Without one the test is
// skipped, or fails when FORUM_REQUIRE_BROWSER=1 (as in CI).
func e2eRequireBrowser(t *testing.T) string {
	t.Helper()
	required := os.Getenv("FORUM_REQUIRE_BROWSER") == "1"
	if testing.Short() && !required {
		t.Skip("e2e: browser tests do not run with -short")
	}
	p := e2eBrowserPath()
	if p == "" {
		msg := "e2e: no Chromium found (looked for /usr/bin/chromium, chromium, chromium-browser, google-chrome, headless-shell in PATH); install it with `apt-get install -y chromium`"
		if required {
			t.Fatal(msg + " (FORUM_REQUIRE_BROWSER=1 makes this a failure)")
		}
		t.Skip(msg + "; set FORUM_REQUIRE_BROWSER=1 to make this a failure")
	}
	return p
}

// e2eBuffer is a log that goroutines may write to after a test has ended.
type e2eBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *e2eBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *e2eBuffer) Printf(format string, args ...any) {
	fmt.Fprintf(b, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
}

func (b *e2eBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.b.Bytes())
}

var (
	e2eArtifactsOnce sync.Once
	e2eArtifactsRoot string
	e2eArtifactsErr  error
)

// e2eArtifacts returns the folder of a failed test's artifacts. It is not
// t.TempDir, which is deleted when the test ends.
func e2eArtifacts(t *testing.T) (string, error) {
	e2eArtifactsOnce.Do(func() {
		e2eArtifactsRoot, e2eArtifactsErr = os.MkdirTemp("", "forum-e2e-")
	})
	if e2eArtifactsErr != nil {
		return "", e2eArtifactsErr
	}
	dir := filepath.Join(e2eArtifactsRoot, regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_"))
	return dir, os.MkdirAll(dir, 0o755)
}

// e2eSave writes a failed test's artifact and names it in the test's output.
func e2eSave(t *testing.T, name string, data []byte) {
	dir, err := e2eArtifacts(t)
	if err == nil {
		path := filepath.Join(dir, name)
		if err = os.WriteFile(path, data, 0o644); err == nil {
			t.Logf("e2e: saved %s", path)
			return
		}
	}
	t.Logf("e2e: could not save %s: %v", name, err)
}

// e2eForum is the forum running in this process.
type e2eForum struct {
	t    *testing.T
	cfg  Config
	main *Main
	logs *e2eBuffer
	URL  string // http://127.0.0.1:port, the same across restarts
}

// e2eStartForum runs the forum on a free port of 127.0.0.1 with a new data
// file, and stops it when the test ends.
func e2eStartForum(t *testing.T) *e2eForum {
	t.Helper()
	return e2eStartForumWith(t, func(*Config) {})
}

// e2eStartForumWith is e2eStartForum with the configuration changed by
// change.
func e2eStartForumWith(t *testing.T, change func(*Config)) *e2eForum {
	t.Helper()
	e2eRequireBrowser(t) // skip before starting anything
	f := &e2eForum{
		t: t,
		cfg: Config{
			Addr:          "127.0.0.1:0",
			Data:          filepath.Join(t.TempDir(), "forum.db"),
			SessionKey:    "e2e-session-key-not-secret",
			History:       15 * time.Minute,
			Heartbeat:     time.Second,
			StatsInterval: 500 * time.Millisecond,
			MaxStreams:    1000,
			LogFormat:     "text",
			PasswordCost:  testPasswordCost,
		},
		logs: &e2eBuffer{},
	}
	change(&f.cfg)
	t.Cleanup(func() {
		f.Stop()
		if t.Failed() {
			e2eSave(t, "server.log", f.logs.Bytes())
		}
	})
	f.Start()
	return f
}

// Start opens the forum: on a free port the first time, then on the same
// port and data file again.
func (f *e2eForum) Start() {
	f.t.Helper()
	log := slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	deadline := time.Now().Add(e2eWait)
	for {
		m := NewMain(f.cfg, log)
		err := m.Open(context.Background())
		if err == nil {
			f.main = m
			f.cfg.Addr = m.Addr().String()
			f.URL = "http://" + f.cfg.Addr
			f.logs.Printf("e2e: forum started on %s", f.URL)
			return
		}
		// The port of a forum that was just closed can take a moment to
		// be free again.
		if !strings.Contains(err.Error(), "address already in use") || time.Now().After(deadline) {
			f.t.Fatalf("e2e: start the forum on %s: %v", f.cfg.Addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop closes the forum gracefully, as on SIGTERM.
func (f *e2eForum) Stop() {
	if f.main == nil {
		return
	}
	err := f.main.Close()
	f.main = nil
	f.logs.Printf("e2e: forum stopped: %v", err)
	if err != nil {
		f.t.Errorf("e2e: close the forum: %v", err)
	}
}

// GrantAdmin makes name, who has registered, an admin the way an operator
// does on the embedded store: the forum stopped, "forum admin grant NAME",
// the forum started again.
func (f *e2eForum) GrantAdmin(name string) {
	f.t.Helper()
	f.Stop()
	var out bytes.Buffer
	if err := run(context.Background(), []string{"admin", "grant", name}, env("FORUM_DATA", f.cfg.Data), &out, &out); err != nil {
		f.t.Fatalf("e2e: forum admin grant %s: %v: %s", name, err, out.String())
	}
	f.Start()
}

// e2eClient is someone who uses the JSON API, with their own cookies.
type e2eClient struct {
	f    *e2eForum
	name string
	http *http.Client
}

// e2eJSONPost is a post or a comment as the API returns it.
type e2eJSONPost struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Body  string `json:"body"`
}

// Anonymous returns a client of the JSON API that is not signed in.
func (f *e2eForum) Anonymous() *e2eClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		f.t.Fatal(err)
	}
	return &e2eClient{f: f, name: "anonymous", http: &http.Client{Jar: jar, Timeout: 10 * time.Second}}
}

// RegisterAPI signs name up through the JSON API.
func (f *e2eForum) RegisterAPI(name string) *e2eClient {
	f.t.Helper()
	c := f.Anonymous()
	c.name = name
	if err := c.Do("POST", "/api/register", map[string]string{"name": name, "password": e2ePassword}, nil); err != nil {
		f.t.Fatalf("e2e: register %s: %v", name, err)
	}
	return c
}

// Do sends a JSON request and decodes the answer into out.
func (c *e2eClient) Do(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.f.URL+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, res.Status, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode %q: %w", method, path, b, err)
		}
	}
	return nil
}

// Post publishes a post and returns its id.
func (c *e2eClient) Post(title, body string) string {
	c.f.t.Helper()
	var p e2eJSONPost
	if err := c.Do("POST", "/api/posts", map[string]string{"title": title, "body": body}, &p); err != nil {
		c.f.t.Fatalf("e2e: %s posts: %v", c.name, err)
	}
	return p.ID
}

// Comment comments on a post and returns the comment's id.
func (c *e2eClient) Comment(postID, body string) string {
	c.f.t.Helper()
	var cm e2eJSONPost
	if err := c.Do("POST", "/api/posts/"+postID+"/comments", map[string]string{"body": body}, &cm); err != nil {
		c.f.t.Fatalf("e2e: %s comments: %v", c.name, err)
	}
	return cm.ID
}

// CommentIDs returns the ids of a post's comments, oldest first, as stored.
func (c *e2eClient) CommentIDs(postID string) []string {
	c.f.t.Helper()
	var cs []e2eJSONPost
	if err := c.Do("GET", "/api/posts/"+postID+"/comments", nil, &cs); err != nil {
		c.f.t.Fatalf("e2e: list comments: %v", err)
	}
	ids := make([]string, len(cs))
	for i, cm := range cs {
		ids[i] = cm.ID
	}
	return ids
}

// e2eBrowser is one Chromium process with a fresh profile.
type e2eBrowser struct {
	t   *testing.T
	f   *e2eForum
	ctx context.Context
	log *e2eBuffer

	mu      sync.Mutex
	workers map[target.ID]bool // shared workers watched
}

// e2eStartBrowser starts a headless Chromium that stays off the internet,
// and stops it when the test ends.
func e2eStartBrowser(t *testing.T, f *e2eForum) *e2eBrowser {
	t.Helper()
	path := e2eRequireBrowser(t)
	b := &e2eBrowser{t: t, f: f, log: &e2eBuffer{}, workers: map[target.ID]bool{}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 800),
		chromedp.CombinedOutput(b.log),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx,
		chromedp.WithErrorf(func(format string, args ...any) { b.log.Printf("chromedp error: "+format, args...) }),
		chromedp.WithLogf(func(format string, args ...any) { b.log.Printf("chromedp: "+format, args...) }),
	)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() {
			e2eSave(t, "browser.log", b.log.Bytes())
		}
	})
	// The first run starts the browser and binds it to ctx, so it gets no
	// timeout of its own.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("e2e: start %s: %v", path, err)
	}
	b.ctx = ctx
	return b
}

// e2eTab is one browser tab of one person.
type e2eTab struct {
	t    *testing.T
	f    *e2eForum
	b    *e2eBrowser
	name string
	ctx  context.Context
	// noScript is set when JavaScript is off in the tab.
	noScript bool

	mu         sync.Mutex
	console    []string
	exceptions []string // uncaught in the page
}

// e2eTabOption changes a new tab before its first page.
type e2eTabOption func(t *e2eTab) error

// e2eNoScript turns JavaScript off in the tab.
func e2eNoScript(tab *e2eTab) error {
	tab.noScript = true
	_, err := chromedp.Call(tab.ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
	return err
}

// e2eViewport sets the size of the tab's viewport.
func e2eViewport(width, height int64) e2eTabOption {
	return func(tab *e2eTab) error {
		return chromedp.Do(tab.ctx, chromedp.EmulateViewport(width, height))
	}
}

// Person opens a tab in a new browser context: a person with their own
// cookies.
func (b *e2eBrowser) Person(name string, opts ...e2eTabOption) *e2eTab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	return b.open(name, ctx, cancel, opts)
}

// Tab opens another tab of the same person, sharing their cookies.
func (tab *e2eTab) Tab(name string, opts ...e2eTabOption) *e2eTab {
	tab.t.Helper()
	ctx, cancel := chromedp.NewContext(tab.ctx)
	return tab.b.open(name, ctx, cancel, opts)
}

func (b *e2eBrowser) open(name string, ctx context.Context, cancel context.CancelFunc, opts []e2eTabOption) *e2eTab {
	b.t.Helper()
	tab := &e2eTab{t: b.t, f: b.f, b: b, name: name, ctx: ctx}
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatalf("e2e: open a tab for %s: %v", name, err)
	}
	messages := chromedp.Console(ctx)
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: e2eTraceStreams}); err != nil {
		b.t.Fatalf("e2e: trace the event streams of %s: %v", name, err)
	}
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			line := m.Time.Format("15:04:05.000") + " " + m.String()
			if m.URL != "" {
				line += fmt.Sprintf(" (%s:%d)", m.URL, m.Line+1)
			}
			tab.mu.Lock()
			tab.console = append(tab.console, line)
			if m.IsException() {
				tab.exceptions = append(tab.exceptions, line)
			}
			tab.mu.Unlock()
		}
	}()
	// Registered after cancel, so it runs before it, while the tab is open.
	b.t.Cleanup(tab.afterTest)
	for _, o := range opts {
		if err := o(tab); err != nil {
			b.t.Fatalf("e2e: set up the tab of %s: %v", name, err)
		}
	}
	return tab
}

// e2eTraceStreams logs to the console, which a failed test saves, what
// reaches the page live: the events of an EventSource it opens itself, and
// the messages of a worker that holds the connection for it.
const e2eTraceStreams = `(() => {
	const log = (what, data) => console.debug("e2e: " + what + " " + JSON.stringify(data).slice(0, 200));
	if (window.EventSource) {
		window.EventSource = class extends window.EventSource {
			constructor(url, init) {
				super(url, init);
				log("EventSource", url);
				this.addEventListener("open", () => log("EventSource open", url));
				this.addEventListener("error", () => log("EventSource error, readyState", this.readyState));
				for (const type of ["post", "comment", "notification", "unread", "stats", "reset"]) {
					this.addEventListener(type, (e) => log("event " + type + " id=" + e.lastEventId, e.data));
				}
			}
		};
	}
	if (window.SharedWorker) {
		window.SharedWorker = class extends window.SharedWorker {
			constructor(url, init) {
				super(url, init);
				log("SharedWorker", url);
				this.port.addEventListener("message", (e) => log("from the worker", e.data));
			}
		};
	}
	if (window.Worker) {
		window.Worker = class extends window.Worker {
			constructor(url, init) {
				super(url, init);
				log("Worker", url);
				this.addEventListener("message", (e) => log("from the worker", e.data));
			}
		};
	}
})();`

// e2eWorkerState reads the state of the forum's shared worker, whatever of
// it there is.
const e2eWorkerState = `(() => {
	const out = {};
	for (const name of ["user", "topics", "state", "lastId", "retry"]) {
		try { out[name] = eval(name); } catch {}
	}
	try { out.tabs = tabs.size; } catch {}
	try { out.readyState = source && source.readyState; } catch {}
	return JSON.stringify(out, null, 1);
})()`

// WatchWorkers attaches to the shared workers the pages started, such as
// the one that holds the live connection of all tabs, to save their console
// and state when the test fails. It is called only once a test has failed:
// while DevTools is attached to a shared worker, Chromium (148) does not end
// it when its last page goes, and the next page joins that worker, which
// never answers (a tab that went live, then opened another page, stayed
// without live updates in every run).
func (b *e2eBrowser) WatchWorkers() {
	b.t.Helper()
	infos, err := chromedp.Targets(b.ctx)
	if err != nil {
		b.t.Logf("e2e: list the browser's targets: %v", err)
		return
	}
	for _, info := range infos {
		if info.Type != "shared_worker" {
			continue
		}
		b.mu.Lock()
		seen := b.workers[info.TargetID]
		b.workers[info.TargetID] = true
		n := len(b.workers)
		b.mu.Unlock()
		if seen {
			continue
		}
		name := fmt.Sprintf("shared-worker-%d", n)
		ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(info.TargetID), chromedp.WithDetachOnCancel())
		// The first run binds the attachment to its context, so it gets
		// no timeout of its own.
		timer := time.AfterFunc(5*time.Second, cancel)
		err := chromedp.Do(ctx)
		timer.Stop()
		if err != nil {
			cancel()
			b.t.Logf("e2e: attach to %s (%s): %v", name, info.URL, err)
			continue
		}
		var mu sync.Mutex
		var console []string
		messages := chromedp.Console(ctx)
		go func() {
			for m, err := range messages {
				if err != nil {
					return
				}
				mu.Lock()
				console = append(console, m.Time.Format("15:04:05.000")+" "+m.String())
				mu.Unlock()
			}
		}()
		b.t.Cleanup(func() {
			defer cancel()
			if !b.t.Failed() {
				return
			}
			sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
			defer scancel()
			// chromedp's Evaluate waits for a frame, which a worker has not.
			res, err := chromedp.Call(sctx, runtime.Evaluate, runtime.EvaluateParams{Expression: e2eWorkerState, ReturnByValue: new(true)})
			state := ""
			switch {
			case err != nil:
				state = "could not read the state: " + err.Error()
			case res.ExceptionDetails != nil:
				state = "could not read the state: " + res.ExceptionDetails.Text
			case res.Result != nil:
				if err := json.Unmarshal(res.Result.Value, &state); err != nil {
					state = string(res.Result.Value)
				}
			}
			mu.Lock()
			text := info.URL + "\n\nstate: " + state + "\n\nconsole:\n" + strings.Join(console, "\n") + "\n"
			mu.Unlock()
			e2eSave(b.t, name+".log", []byte(text))
		})
	}
}

// afterTest fails the test on an uncaught exception in the page, and saves
// the tab's screenshot, console and HTML when the test failed.
func (tab *e2eTab) afterTest() {
	tab.mu.Lock()
	console := strings.Join(tab.console, "\n")
	exceptions := tab.exceptions
	tab.mu.Unlock()
	for _, line := range exceptions {
		tab.t.Errorf("e2e: %s's page threw: %s", tab.name, line)
	}
	if !tab.t.Failed() {
		return
	}
	tab.b.WatchWorkers()
	ctx, cancel := context.WithTimeout(tab.ctx, 10*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		e2eSave(tab.t, tab.name+".png", png)
	} else {
		tab.t.Logf("e2e: no screenshot of %s's tab: %v", tab.name, err)
	}
	e2eSave(tab.t, tab.name+".console.log", []byte(console+"\n"))
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n\n" + document.documentElement.outerHTML`))
	if err != nil {
		page = "could not read the page: " + err.Error()
	}
	e2eSave(tab.t, tab.name+".html", []byte(page))
}

// Open loads a page of the forum and waits for it to load.
func (tab *e2eTab) Open(path string) {
	tab.t.Helper()
	if err := tab.TryOpen(path); err != nil {
		tab.t.Fatalf("e2e: %s opens %s: %v", tab.name, path, err)
	}
}

// TryOpen loads a page of the forum and waits for it to load.
func (tab *e2eTab) TryOpen(path string) error {
	ctx, cancel := context.WithTimeout(tab.ctx, e2eWait)
	defer cancel()
	return chromedp.Do(ctx, chromedp.Navigate(tab.f.URL+path))
}

// Reload reloads the page and waits for it to load.
func (tab *e2eTab) Reload() {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, e2eWait)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		tab.t.Fatalf("e2e: %s reloads: %v", tab.name, err)
	}
}

// Do runs chromedp actions in the tab.
func (tab *e2eTab) Do(what string, actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, e2eWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tab.t.Fatalf("e2e: %s: %s: %v", tab.name, what, err)
	}
}

// Fill types into the field with the data-testid.
func (tab *e2eTab) Fill(testid, text string) {
	tab.t.Helper()
	sel := chromedp.CSS(e2eTestID(testid))
	tab.Do("fill in "+testid, chromedp.WaitReady(sel), chromedp.SendKeys(sel, text))
}

// Click clicks the element with the data-testid.
func (tab *e2eTab) Click(testid string) {
	tab.t.Helper()
	tab.click("click "+testid, e2eTestID(testid))
}

// click clicks the element sel selects, as a person would: again if the
// click did not reach it. A live page may replace an element between the
// pointer's press and its release (a live edit re-renders a comment, a
// catch-up replaces a list), and then the browser sends the click to an
// ancestor of both, so that a link or a button does nothing; or the element
// may move as the page settles, and the click lands beside it. A capturing
// listener notes in sessionStorage, which outlives the navigation the
// click starts, whether the click reached the element. With JavaScript off
// no listener can run, and no script changes the page: one click.
func (tab *e2eTab) click(what, sel string) {
	tab.t.Helper()
	tab.waitLoaded()
	css := chromedp.CSS(sel)
	if tab.noScript {
		tab.Do(what, chromedp.WaitReady(css), chromedp.Click(css))
		return
	}
	watch := `(() => {
		const sel = ` + e2eJS(sel) + `;
		sessionStorage.setItem("e2e-click", "missed");
		addEventListener("click", (e) => {
			if (e.target instanceof Element && e.target.closest(sel)) {
				sessionStorage.setItem("e2e-click", "hit");
			}
		}, { capture: true, once: true });
	})()`
	for try := 1; ; try++ {
		tab.Do(what, chromedp.WaitReady(css), chromedp.Evaluate[chromedp.Void](watch), chromedp.Click(css))
		if tab.clickResult(what) == "hit" {
			return
		}
		if try == 3 {
			tab.t.Fatalf("e2e: %s: %s: %d clicks did not reach it", tab.name, what, try)
		}
		tab.t.Logf("e2e: %s: %s: the click did not reach it (the page changed under the pointer); clicking again", tab.name, what)
	}
}

// clickResult reads what click's listener noted, retrying while a
// navigation the click started leaves no page to ask.
func (tab *e2eTab) clickResult(what string) string {
	tab.t.Helper()
	deadline := time.Now().Add(e2eWait)
	for {
		ctx, cancel := context.WithTimeout(tab.ctx, 5*time.Second)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`sessionStorage.getItem("e2e-click") ?? ""`))
		cancel()
		if err == nil && got != "" {
			return got
		}
		if time.Now().After(deadline) || tab.ctx.Err() != nil {
			tab.t.Fatalf("e2e: %s: %s: could not tell whether the click reached it: %q, %v", tab.name, what, got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitLoaded waits until the tab's page has loaded and run its scripts, so
// that what a test clicks does not move under the pointer as the page
// settles (a click on a form's button that lands beside it submits
// nothing).
func (tab *e2eTab) waitLoaded() {
	tab.t.Helper()
	tab.WaitFor("the page to load", `document.readyState === "complete"`)
}

// e2eEval evaluates a JavaScript expression in the tab.
func e2eEval[T any](tab *e2eTab, expr string) T {
	tab.t.Helper()
	ctx, cancel := context.WithTimeout(tab.ctx, e2eWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		tab.t.Fatalf("e2e: %s: evaluate %s: %v", tab.name, expr, err)
	}
	return v
}

// WaitFor waits until the JavaScript expression is true in the tab.
func (tab *e2eTab) WaitFor(what, expr string) {
	tab.t.Helper()
	tab.WaitForWithin(e2eWait, what, expr)
}

// WaitForWithin waits up to d until the JavaScript expression is true.
func (tab *e2eTab) WaitForWithin(d time.Duration, what, expr string) {
	tab.t.Helper()
	tab.WaitEqualWithin(d, what, `String(!!(`+expr+`))`, "true")
}

// WaitEqual waits until the JavaScript expression, a string, is want.
func (tab *e2eTab) WaitEqual(what, expr, want string) {
	tab.t.Helper()
	tab.WaitEqualWithin(e2eWait, what, expr, want)
}

// WaitEqualWithin waits up to d until the JavaScript expression, a string,
// is want. An expression that throws, as on a page still loading, is retried.
func (tab *e2eTab) WaitEqualWithin(d time.Duration, what, expr, want string) {
	tab.t.Helper()
	if err := tab.waitEqual(d, expr, want); err != nil {
		tab.t.Fatalf("e2e: %s: %s: %v", tab.name, what, err)
	}
}

func (tab *e2eTab) waitEqual(d time.Duration, expr, want string) error {
	deadline := time.Now().Add(d)
	var last string
	for {
		ctx, cancel := context.WithTimeout(tab.ctx, 5*time.Second)
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		cancel()
		if err == nil && got == want {
			return nil
		}
		if err != nil {
			last = "error " + err.Error()
		} else {
			last = fmt.Sprintf("%q", got)
		}
		if time.Now().After(deadline) || tab.ctx.Err() != nil {
			return fmt.Errorf("not so after %v: %s is %s, want %q", d, expr, last, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// WaitLive waits until the page's event stream is open, so that what
// happens from now on reaches the page.
func (tab *e2eTab) WaitLive() {
	tab.t.Helper()
	tab.WaitFor("wait for the page to go live", `document.getElementById("live-status")?.dataset.state === "live"`)
}

// SignUp registers name through the register form.
func (tab *e2eTab) SignUp(name string) {
	tab.t.Helper()
	tab.Open("/register")
	tab.Fill("name-input", name)
	tab.Fill("password-input", e2ePassword)
	tab.Click("register-submit")
	tab.WaitEqual("wait to be signed in after registering", `document.querySelector('[data-testid="user-name"]')?.textContent ?? ""`, name)
}

// SignIn signs name in through the sign-in form.
func (tab *e2eTab) SignIn(name string) {
	tab.t.Helper()
	tab.Open("/login")
	tab.SubmitSignIn(name)
}

// SubmitSignIn fills in and sends the sign-in form of the current page.
func (tab *e2eTab) SubmitSignIn(name string) {
	tab.t.Helper()
	tab.Fill("name-input", name)
	tab.Fill("password-input", e2ePassword)
	tab.Click("login-submit")
	tab.WaitEqual("wait to be signed in", `document.querySelector('[data-testid="user-name"]')?.textContent ?? ""`, name)
}

// Publish publishes a post through the new post form and returns its id.
func (tab *e2eTab) Publish(title, body string) string {
	tab.t.Helper()
	tab.Open("/posts/new")
	tab.Fill("post-title-input", title)
	tab.Fill("post-body-input", body)
	tab.Click("post-submit")
	tab.WaitEqual("wait for the new post's page", `(/^\/posts\/[0-9a-f]{24}$/.test(location.pathname) && document.querySelector('[data-testid="post-title"]')?.textContent) || ""`, title)
	return e2eEval[string](tab, `document.getElementById("post").dataset.id`)
}

// e2eTestID is the CSS selector of a data-testid.
func e2eTestID(id string) string {
	return `[data-testid="` + id + `"]`
}

// e2eJS quotes a string as a JavaScript literal.
func e2eJS(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// e2eJSON encodes v as JSON, as JSON.stringify would.
func e2eJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}
