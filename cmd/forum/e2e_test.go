package main

// Browser tests: the forum runs in this process and headless Chromium drives
// its pages, as people would. They need Chromium (see e2e_harness_test.go)
// and skip without it unless FORUM_REQUIRE_BROWSER=1. Run them alone with
//
//	go test -race -run E2E -v ./cmd/forum/
//
// FORUM_SCREENSHOT=1 also saves docs/screenshot.png for the README.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"forum/forum"
)

// Expressions that read a page.
const (
	// e2eCommentIDs is the ids of the thread's comments, in page order.
	e2eCommentIDs = `JSON.stringify(Array.from(document.querySelectorAll("#comments > li[data-testid=comment]"), (li) => li.dataset.id))`
	// e2eBadge is the header's unread count, or "hidden".
	e2eBadge = `(() => { const b = document.getElementById("unread-badge"); return !b ? "missing" : b.hidden ? "hidden" : b.textContent.trim(); })()`
	// e2eIsLive is whether the page's event stream is open.
	e2eIsLive = `String(document.getElementById("live-status")?.dataset.state === "live")`
	// e2eMark marks the page, and e2eMarked tells whether it is still the
	// marked page: a reload or a navigation loses the mark.
	e2eMark   = `window.__e2eMark = true`
	e2eMarked = `window.__e2eMark === true`
)

// e2ePostCard returns the outerHTML of the card of post id on the front
// page, without the highlight of a live arrival, or "".
func e2ePostCard(id string) string {
	return `(() => {
		const el = document.getElementById("post-" + ` + e2eJS(id) + `);
		if (!el) return "";
		const copy = el.cloneNode(true);
		copy.classList.remove("is-new");
		return copy.outerHTML;
	})()`
}

// Alice is on the front page; Bob publishes a post through the form; it
// appears on Alice's page without a reload, exactly as a reload renders it.
func TestE2ENewPostAppearsLiveAsRendered(t *testing.T) {
	f := e2eStartForum(t)
	b := e2eStartBrowser(t, f)
	alice := b.Person("alice")
	alice.SignUp("alice")
	bob := b.Person("bob")
	bob.SignUp("bob")

	alice.Open("/")
	alice.WaitLive()
	alice.Do("mark the page", chromedp.Evaluate[chromedp.Void](e2eMark))

	id := bob.Publish("Fresh from the form", "Bob wrote this in the new post form.\n\nIt has two paragraphs & an ampersand.")

	alice.WaitEqual("wait for Bob's post at the top of the list",
		`document.querySelector("#posts > article[data-testid=post]")?.dataset.id ?? ""`, id)
	alice.WaitEqual("see Bob's post once", `String(document.querySelectorAll("#posts > [data-id='`+id+`']").length)`, "1")
	alice.WaitFor("the page was not reloaded", e2eMarked)
	live := e2eEval[string](alice, e2ePostCard(id))

	alice.Reload()
	alice.WaitFor("wait for the reloaded page", `!window.__e2eMark && !!document.getElementById("post-" + `+e2eJS(id)+`)`)
	reloaded := e2eEval[string](alice, e2ePostCard(id))
	if live != reloaded {
		t.Errorf("the post that arrived live differs from the reloaded one:\nlive:     %s\nreloaded: %s", live, reloaded)
	}
	if !strings.Contains(reloaded, "Fresh from the form") || !strings.Contains(reloaded, "bob") {
		t.Errorf("the reloaded card lacks its title or author: %s", reloaded)
	}
}

// Alice and Bob read the same thread; Bob comments through the form; the
// comment lands in order on Alice's page, her badge counts it, her
// notifications page in another tab lists it, and marking it read there
// clears the badge in her first tab.
func TestE2ECommentNotifiesLive(t *testing.T) {
	f := e2eStartForum(t)
	b := e2eStartBrowser(t, f)
	alice := b.Person("alice")
	alice.SignUp("alice")
	postID := alice.Publish("Which editor do you use?", "Tell me why, too.")
	// Her own comment notifies nobody, and gives Bob's one a place to be
	// in order after.
	alice.Fill("comment-input", "I start: a plain text editor.")
	alice.Click("comment-submit")
	alice.WaitFor("wait for Alice's own comment, on the page the form leads to", `location.hash.startsWith("#comment-") && document.querySelectorAll("#comments > li").length === 1`)

	bob := b.Person("bob")
	bob.SignUp("bob")
	bob.Open("/posts/" + postID)
	bob.WaitLive()

	alice.Open("/posts/" + postID)
	alice.WaitLive()
	alice.Do("mark the page", chromedp.Evaluate[chromedp.Void](e2eMark))
	alice.WaitEqual("no unread notifications yet", e2eBadge, "hidden")

	bob.Fill("comment-input", "Mine has modes; I cannot leave it.")
	bob.Click("comment-submit")
	bob.WaitFor("Bob sees his comment after sending it", `location.hash.startsWith("#comment-") && document.querySelectorAll("#comments > li").length === 2`)

	ids := f.Anonymous().CommentIDs(postID)
	if len(ids) != 2 {
		t.Fatalf("the thread has %d comments, want 2: %v", len(ids), ids)
	}
	alice.WaitEqual("Bob's comment arrives after Alice's", e2eCommentIDs, e2eJSON(ids))
	got := e2eEval[string](alice, `document.querySelector("#comment-`+ids[1]+` [data-testid=comment-body]").textContent`)
	if got != "Mine has modes; I cannot leave it." {
		t.Errorf("Bob's comment reads %q on Alice's page", got)
	}
	alice.WaitEqual("Alice has the thread open: its notification is read as it arrives", e2eNewest, "comment true")
	alice.WaitEqual("so her badge stays clear", e2eBadge, "hidden")

	// Away from the thread, the next comment counts as unread.
	alice.Open("/")
	alice.WaitLive()
	alice.Do("mark the page", chromedp.Evaluate[chromedp.Void](e2eMark))
	f.RegisterAPI("carol").Comment(postID, "Whichever is at hand.")
	alice.WaitEqual("Alice's badge counts one unread", e2eBadge, "1")

	notes := alice.Tab("alice-notifications")
	notes.Open("/notifications")
	notes.WaitLive()
	notes.WaitEqual("both notifications are listed", `String(document.querySelectorAll("#notifications > [data-testid=notification]").length)`, "2")
	text := e2eEval[string](notes, `document.querySelector("[data-testid=notification-link]").textContent`)
	if !strings.Contains(text, "carol commented on") || !strings.Contains(text, "Which editor do you use?") {
		t.Errorf("the notification reads %q", text)
	}
	href := e2eEval[string](notes, `document.querySelector("[data-testid=notification-link]").getAttribute("href")`)
	if want := "/notifications/" + e2eEval[string](notes, `document.querySelector("[data-testid=notification]").dataset.id`); href != want {
		t.Errorf("the notification links to %q, want %q", href, want)
	}
	notes.WaitEqual("the badge of the notifications tab counts one", e2eBadge, "1")

	notes.Click("mark-read")
	notes.WaitFor("the notification shows as read", `location.pathname === "/notifications" && !document.querySelector("[data-testid=mark-read]") && document.querySelector("[data-testid=notification]")?.classList.contains("read")`)
	notes.WaitEqual("the notifications tab's badge is cleared", e2eBadge, "hidden")
	alice.WaitEqual("Alice's first tab's badge is cleared live", e2eBadge, "hidden")
	alice.WaitFor("Alice's first tab was not reloaded", e2eMarked)
}

// An admin watches the statistics; Bob posts; the post count goes up by
// one within a few stats intervals.
func TestE2EAdminStatsCountNewPost(t *testing.T) {
	f := e2eStartForum(t)
	b := e2eStartBrowser(t, f)
	bob := f.RegisterAPI("bob")
	bob.Post("First", "One.")
	bob.Post("Second", "Two.")

	f.RegisterAPI("admin")
	f.GrantAdmin("admin")
	admin := b.Person("admin")
	admin.SignIn("admin")
	admin.Open("/admin/stats")
	admin.WaitLive()
	stat := func(name string) string {
		return `document.querySelector("[data-testid=stat-` + name + `]")?.textContent.trim() ?? "missing"`
	}
	admin.WaitEqual("the page counts two posts", stat("posts"), "2")
	admin.WaitEqual("the page counts two users", stat("users"), "2")
	admin.WaitFor("live statistics arrive", `!document.querySelector("[data-testid=stats-updated]").hidden && document.querySelector("[data-testid=stat-streams]").children.length > 0`)
	admin.Do("mark the page", chromedp.Evaluate[chromedp.Void](e2eMark))

	bob.Post("Third", "Three.")
	admin.WaitEqual("the post count goes up by one", stat("posts"), "3")
	admin.WaitEqual("the user count stays", stat("users"), "2")
	admin.WaitFor("the page was not reloaded", e2eMarked)
}

// e2eCommentOffline saves a comment by name straight into the data file of
// the stopped forum.
func e2eCommentOffline(t *testing.T, f *e2eForum, name, postID, body string) {
	t.Helper()
	e2eOffline(t, f, func(ctx context.Context, store *forum.Store) {
		u, err := store.Authenticate(ctx, name, e2ePassword)
		if err != nil {
			t.Fatal(err)
		}
		id, err := forum.ParseID(postID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.CreateComment(ctx, u, id, body); err != nil {
			t.Fatal(err)
		}
	})
}

// Alice reads a thread while the forum stops and starts again on the same
// port and data file; comments saved while it is down, right after it is
// back and after Alice reconnected all show on her page exactly once, in
// order, and she never reloads.
func TestE2EThreadCatchesUpAfterRestart(t *testing.T) {
	// The page resumes from the id of the last event it got.
	t.Run("after a live event", func(t *testing.T) {
		e2eRestart(t, time.Second, true)
	})
	// The page has had no event with an id yet: no comment, and no
	// heartbeat, which the long interval keeps away.
	t.Run("before any live event", func(t *testing.T) {
		e2eRestart(t, time.Minute, false)
	})
}

func e2eRestart(t *testing.T, heartbeat time.Duration, liveEvent bool) {
	f := e2eStartForumWith(t, func(c *Config) { c.Heartbeat = heartbeat })
	b := e2eStartBrowser(t, f)
	bob := f.RegisterAPI("bob")
	postID := bob.Post("Restarts", "Comments keep coming while the server restarts.")
	bob.Comment(postID, "Before Alice came.")

	alice := b.Person("alice")
	alice.SignUp("alice")
	alice.Open("/posts/" + postID)
	alice.WaitLive()
	alice.Do("mark the page", chromedp.Evaluate[chromedp.Void](e2eMark))
	if liveEvent {
		bob.Comment(postID, "While Alice reads.")
	}
	alice.WaitEqual("Alice sees the comments so far", e2eCommentIDs, e2eJSON(bob.CommentIDs(postID)))

	f.Stop()
	alice.WaitFor("Alice's page notices that the forum went away", `document.getElementById("live-status")?.dataset.state !== "live"`)
	e2eCommentOffline(t, f, "bob", postID, "While the forum is down.")
	f.Start()
	bob.Comment(postID, "Right after the restart, one.")
	bob.Comment(postID, "Right after the restart, two.")

	const reconnect = 30 * time.Second // the page's retry delay grows while the forum is down
	alice.WaitForWithin(reconnect, "Alice's page goes live again", `document.getElementById("live-status")?.dataset.state === "live"`)
	bob.Comment(postID, "After Alice is back, one.")
	bob.Comment(postID, "After Alice is back, two.")

	ids := bob.CommentIDs(postID)
	alice.WaitEqualWithin(reconnect, "Alice's page shows every comment once, in order", e2eCommentIDs, e2eJSON(ids))
	alice.WaitFor("Alice's page was not reloaded", e2eMarked)
}

// A hostile post and comment show as text wherever they appear, run no
// script, and a long word does not widen a phone-sized page.
func TestE2EHostileContentStaysText(t *testing.T) {
	f := e2eStartForum(t)
	b := e2eStartBrowser(t, f)
	const hostile = `<img src=x onerror="window.__pwned=1"> </script><script>window.__pwned=2</script>`
	long := strings.Repeat("Llanfairpwllgwyngyll", 25) // one word of 500 letters
	title := hostile + " " + long[:forum.MaxTitleLen-len(hostile)-1]
	body := hostile + " " + long + " the end"
	comment := "<b>bold?</b> " + hostile + " " + long

	bob := f.RegisterAPI("bob")
	alice := b.Person("alice", e2eViewport(375, 800))
	alice.SignUp("alice")

	// safe checks what the hostile text must not do to the current page.
	safe := func(where string) {
		t.Helper()
		report := e2eEval[string](alice, `JSON.stringify({
			pwned: typeof window.__pwned,
			img: document.querySelectorAll("body img").length,
			script: document.querySelectorAll("body script").length,
			b: document.querySelectorAll("#content b").length,
			scrollWidth: document.documentElement.scrollWidth,
			innerWidth: window.innerWidth,
		})`)
		var r struct {
			Pwned                   string
			Img, Script, B          int
			ScrollWidth, InnerWidth int
		}
		if err := json.Unmarshal([]byte(report), &r); err != nil {
			t.Fatal(err)
		}
		if r.Pwned != "undefined" || r.Img != 0 || r.Script != 0 || r.B != 0 {
			t.Errorf("%s: the hostile text became markup: %s", where, report)
		}
		if r.ScrollWidth > r.InnerWidth {
			t.Errorf("%s: the page is %dpx wide in a %dpx viewport", where, r.ScrollWidth, r.InnerWidth)
		}
	}
	text := func(where, sel, want string) {
		t.Helper()
		got := e2eEval[string](alice, `document.querySelector(`+e2eJS(sel)+`)?.textContent ?? "missing"`)
		if got != want {
			t.Errorf("%s: %s reads\n%q, want\n%q", where, sel, got, want)
		}
	}
	contains := func(where, sel string, wants ...string) {
		t.Helper()
		got := e2eEval[string](alice, `document.querySelector(`+e2eJS(sel)+`)?.textContent ?? "missing"`)
		for _, want := range wants {
			if !strings.Contains(got, want) {
				t.Errorf("%s: %s reads\n%q, which lacks\n%q", where, sel, got, want)
			}
		}
	}

	alice.Open("/")
	alice.WaitLive()
	postID := bob.Post(title, body)
	card := "#post-" + postID
	alice.WaitFor("the hostile post arrives live", `!!document.getElementById("post-`+postID+`")`)
	text("live on /", card+" [data-testid=post-link]", title)
	contains("live on /", card+" [data-testid=post-excerpt]", `<img src=x onerror="window.__pwned=1">`, `</script><script>window.__pwned=2</script>`, long[:100])
	safe("live on /")

	alice.Open("/posts/" + postID)
	text("thread", "[data-testid=post-title]", title)
	text("thread", "[data-testid=post-body]", body)
	safe("thread")

	alice.Fill("comment-input", "Careful, this post is up to something.")
	alice.Click("comment-submit")
	alice.WaitFor("wait for Alice's comment", `location.hash.startsWith("#comment-")`)
	alice.WaitLive()
	commentID := bob.Comment(postID, comment)
	alice.WaitFor("the hostile comment arrives live", `!!document.getElementById("comment-`+commentID+`")`)
	text("live comment", "#comment-"+commentID+" [data-testid=comment-body]", comment)
	safe("live comment")
	alice.WaitEqual("Alice is notified, and as she has the thread open it is read", e2eNewest, "comment true")

	alice.Open("/notifications")
	contains("notifications", "[data-testid=notification-link]", `<img src=x onerror=`, `</script><script>`)
	safe("notifications")

	alice.Open("/")
	text("rendered on /", card+" [data-testid=post-link]", title)
	safe("rendered on /")
	alice.Open("/posts/" + postID)
	text("rendered comment", "#comment-"+commentID+" [data-testid=comment-body]", comment)
	safe("rendered thread")
}

// With JavaScript off, registering, signing in, posting and commenting all
// work through the plain forms.
func TestE2EFormsWorkWithoutJavaScript(t *testing.T) {
	f := e2eStartForum(t)
	b := e2eStartBrowser(t, f)
	carol := b.Person("carol", e2eNoScript)

	carol.SignUp("carol")
	if !e2eEval[bool](carol, `document.getElementById("live-status").hidden`) {
		t.Fatal("the live status shows, so scripts ran although JavaScript is off")
	}
	carol.Click("logout-submit")
	carol.WaitFor("wait to be signed out", `!!document.querySelector("[data-testid=login-link]")`)

	// A signed-out writer is sent to sign in, and back to the form.
	carol.Open("/posts/new")
	carol.WaitFor("wait for the sign-in form", `location.pathname === "/login"`)
	carol.SubmitSignIn("carol")
	carol.WaitFor("wait to be back at the new post form", `location.pathname === "/posts/new"`)

	id := carol.Publish("Posted without JavaScript", "Plain HTML forms are enough.")
	when := e2eEval[string](carol, `document.querySelector("#post time").textContent`)
	if !strings.HasSuffix(when, "UTC") {
		t.Errorf("the post's time reads %q: scripts ran although JavaScript is off", when)
	}

	carol.Fill("comment-input", "A comment, also without JavaScript.")
	carol.Click("comment-submit")
	carol.WaitFor("wait for the page of the new comment", `location.hash.startsWith("#comment-")`)
	ids := f.Anonymous().CommentIDs(id)
	if len(ids) != 1 {
		t.Fatalf("the thread has %d comments, want 1", len(ids))
	}
	carol.WaitEqual("the thread shows the comment", e2eCommentIDs, e2eJSON(ids))
	if got := e2eEval[string](carol, `location.hash`); got != "#comment-"+ids[0] {
		t.Errorf("the comment form led to %q, want #comment-%s", got, ids[0])
	}
	carol.Open("/")
	carol.WaitEqual("the front page lists the post", `document.querySelector("#posts > article")?.dataset.id ?? ""`, id)
	carol.WaitEqual("the card counts the comment", `document.querySelector("#post-`+id+` [data-testid=comment-count]").textContent.trim()`, "1 comment")
}

// Seven tabs of the forum in one browser all stay live: a new post shows
// in every one.
func TestE2ESevenTabsStayLive(t *testing.T) {
	f := e2eStartForum(t)
	b := e2eStartBrowser(t, f)
	bob := f.RegisterAPI("bob")
	first := b.Person("dave-tab1")
	tabs := []*e2eTab{first}
	for i := 2; i <= 7; i++ {
		tabs = append(tabs, first.Tab(fmt.Sprintf("dave-tab%d", i)))
	}
	var broken []string
	for i, tab := range tabs {
		if err := tab.TryOpen("/"); err != nil {
			broken = append(broken, fmt.Sprintf("tab %d did not load /: %v", i+1, err))
			continue
		}
		if err := tab.waitEqual(e2eWait, e2eIsLive, "true"); err != nil {
			broken = append(broken, fmt.Sprintf("tab %d did not go live: %v", i+1, err))
		}
	}
	if len(broken) > 0 {
		t.Fatalf("of 7 tabs open at once, %d failed (Chrome opens at most 6 HTTP/1.1 connections per host, and an open EventSource holds one):\n%s",
			len(broken), strings.Join(broken, "\n"))
	}

	id := bob.Post("Seen everywhere", "Every open tab shows this.")
	for i, tab := range tabs {
		if err := tab.waitEqual(e2eWait, `String(!!document.getElementById("post-`+id+`"))`, "true"); err != nil {
			t.Errorf("tab %d did not show the new post: %v", i+1, err)
		}
	}
}

// TestE2EScreenshot saves docs/screenshot.png, the front page with some
// posts at 1280x800, when FORUM_SCREENSHOT=1.
func TestE2EScreenshot(t *testing.T) {
	if os.Getenv("FORUM_SCREENSHOT") != "1" {
		t.Skip("set FORUM_SCREENSHOT=1 to save docs/screenshot.png")
	}
	f := e2eStartForum(t)
	b := e2eStartBrowser(t, f)
	grace := f.RegisterAPI("grace")
	linus := f.RegisterAPI("linus")
	ada := f.RegisterAPI("ada")
	p1 := ada.Post("Show us your weekend projects", "I finally built the bird feeder camera. It posts a picture of every visitor. Mostly pigeons, so far, but one blue tit made my week.")
	grace.Comment(p1, "Lovely! What does it run on?")
	linus.Comment(p1, "A camera that posts pigeons is the internet in a nutshell.")
	p2 := linus.Post("How do the live updates work?", "Posts and comments show up without a reload. Is it polling? WebSockets? Something else?")
	grace.Comment(p2, "Server-Sent Events, fed by MongoDB change streams. One stream per collection, fanned out in memory.")
	grace.Post("Welcome to the forum", "Be kind, stay on topic, and say hello below. Pages update live, so there is no need to reload.")
	linus.Post("Tabs or spaces?", "Asking for a friend. Please keep it civil.")

	viewer := b.Person("ada", e2eViewport(1280, 800))
	viewer.SignIn("ada")
	viewer.Open("/")
	viewer.WaitLive()
	viewer.WaitEqual("the badge counts Ada's unread notifications", e2eBadge, "2")
	ctx, cancel := context.WithTimeout(viewer.ctx, e2eWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	path, err := filepath.Abs(filepath.Join("..", "..", "docs", "screenshot.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved %s", path)
}
