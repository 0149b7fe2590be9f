package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// e2eNewest is the kind and read state of the newest notification of the
// signed-in reader, as "kind read", from the API. A fetch started by one
// evaluation is read by the next, so a wait on it polls the server.
const e2eNewest = `(fetch("/api/notifications?limit=1").then((r) => r.json()).then((l) => { window.__e2eNewest = l.length ? l[0].kind + " " + l[0].read : "none"; }), window.__e2eNewest || "")`

// Bob replies to Alice's comment with the Reply link and Carol mentions
// her in a post. Both arrive on Alice's notifications page live, with the
// count in the tab's title; opening the reply goes to it and marks it read,
// and a comment on the thread she has open is marked read as it arrives.
func TestE2EMentionsAndRepliesNotify(t *testing.T) {
	f := e2eStartForum(t)
	b := e2eStartBrowser(t, f)
	alice := b.Person("alice")
	alice.SignUp("alice")
	postID := alice.Publish("Weekend trip", "Who **comes** along?")
	alice.Fill("comment-input", "I bring the map.")
	alice.Click("comment-submit")
	// The comment shows live, then the form's answer loads the thread
	// again at it: wait for that page, not the one it replaces.
	alice.WaitFor("Alice's comment is on the thread", `location.hash.startsWith("#comment-") && document.readyState === "complete" && document.querySelectorAll("#comments > li").length === 1`)
	alice.WaitEqual("the post's Markdown renders", `document.querySelector("[data-testid=post-body]")?.innerHTML.trim() ?? ""`, "<p>Who <strong>comes</strong> along?</p>")
	// Away from the thread, whose notifications the page would mark read.
	alice.Open("/")

	notes := alice.Tab("alice-notifications")
	notes.Open("/notifications")
	notes.WaitLive()
	notes.WaitEqual("nothing unread: a plain title", `document.title`, "Notifications · Forum")
	notes.WaitFor("Mark all read is hidden", `document.getElementById("mark-all-read").hidden`)

	bob := b.Person("bob")
	bob.SignUp("bob")
	bob.Open("/posts/" + postID)
	bob.WaitLive()
	bob.Do("mark the page", chromedp.Evaluate[chromedp.Void](e2eMark))
	bob.Click("reply-link")
	bob.WaitFor("the form replies to Alice in place", `!document.getElementById("replying-to").hidden && document.getElementById("replying-to-link").textContent === "alice" && window.__e2eMark === true`)
	bob.Fill("comment-input", "Count me in, I have a *tent*.")
	bob.Click("comment-submit")
	bob.WaitFor("Bob sees his reply", `location.hash.startsWith("#comment-") && document.querySelectorAll("#comments > li").length === 2`)
	replyID := strings.TrimPrefix(e2eEval[string](bob, `location.hash`), "#comment-")
	if got := e2eEval[string](bob, `document.querySelector("#comment-`+replyID+` [data-testid=reply-ref]").textContent.trim()`); got != "↪ in reply to alice" {
		t.Errorf("the reply says %q", got)
	}

	notes.WaitEqual("the reply arrives with its excerpt", `document.querySelector("[data-kind=reply] [data-testid=notification-excerpt]")?.textContent ?? ""`, "Count me in, I have a *tent*.")
	notes.WaitEqual("the title counts it", `document.title`, "(1) Notifications · Forum")
	notes.WaitFor("Mark all read shows", `!document.getElementById("mark-all-read").hidden`)

	carol := f.RegisterAPI("carol")
	carol.Post("Gear list", "@Alice, can you bring a torch?")
	notes.WaitEqual("the mention arrives", `document.querySelector("[data-kind=mention] [data-testid=notification-link]")?.textContent ?? ""`, "carol mentioned you in “Gear list”")
	notes.WaitEqual("the title counts both", `document.title`, "(2) Notifications · Forum")

	notes.click("open the reply's notification", `[data-kind=reply] [data-testid=notification-link]`)
	notes.WaitFor("it goes to the reply", `location.pathname === "/posts/`+postID+`" && location.hash === "#comment-`+replyID+`"`)
	notes.WaitEqual("one is left unread", e2eBadge, "1")
	notes.WaitEqual("the title says so", `document.title`, "(1) Weekend trip · Forum")

	notes.WaitLive()
	carol.Comment(postID, "A torch it is.")
	notes.WaitEqual("the comment on the open thread arrives", `String(document.querySelectorAll("#comments > li").length)`, "3")
	notes.WaitEqual("its notification is marked read as it arrives", e2eNewest, "comment true")
	notes.WaitEqual("the count stays at the mention", e2eBadge, "1")
}

// Bob's comment cannot reach the stopped server: the form says so and
// keeps his text, and sends it once the server is back.
func TestE2EFormKeepsTextWhenServerIsDown(t *testing.T) {
	f := e2eStartForum(t)
	b := e2eStartBrowser(t, f)
	postID := f.RegisterAPI("alice").Post("Offline", "Try it.")
	bob := b.Person("bob")
	bob.SignUp("bob")
	bob.Open("/posts/" + postID)
	bob.Fill("comment-input", "Written while the server was away.")

	f.Stop()
	bob.Click("comment-submit")
	bob.WaitFor("the form says the server could not be reached", `document.querySelector("[data-testid=form-error]")?.textContent.includes("could not be reached")`)
	bob.WaitEqual("the text is kept", `document.querySelector("[data-testid=comment-input]").value`, "Written while the server was away.")

	f.Start()
	bob.Click("comment-submit")
	bob.WaitFor("sent once the server is back", `location.hash.startsWith("#comment-") && document.querySelector("#comments [data-testid=comment-body]")?.textContent.trim() === "Written while the server was away."`)
}
