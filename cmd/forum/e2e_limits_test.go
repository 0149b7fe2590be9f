package main

// Browser tests of threads longer than a page and of the character
// counters of the forms.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"forum/forum"
	"forum/forum/forumtest"
)

// e2eOffline opens the data file of the stopped forum and hands its store
// to fn.
func e2eOffline(t *testing.T, f *e2eForum, fn func(ctx context.Context, store *forum.Store)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	db, err := forum.OpenFile(ctx, f.cfg.Data, f.cfg.History)
	if err != nil {
		t.Fatalf("open the data file of the stopped forum: %v", err)
	}
	defer func() {
		if err := db.Close(ctx); err != nil {
			t.Errorf("close the data file: %v", err)
		}
	}()
	store, err := forum.NewStore(ctx, db.Database, forumtest.FastPasswords())
	if err != nil {
		t.Fatal(err)
	}
	fn(ctx, store)
}

// e2eSeedThread stores a post with n comments straight into the data file
// of the stopped forum, far faster than through the pages, and returns the
// post's id.
func e2eSeedThread(t *testing.T, f *e2eForum, n int) string {
	t.Helper()
	var id string
	e2eOffline(t, f, func(ctx context.Context, store *forum.Store) {
		u, err := store.Register(ctx, "seeder", e2ePassword)
		if err != nil {
			t.Fatal(err)
		}
		p, err := store.CreatePost(ctx, u, "A thread of many pages", "Reply away.")
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if _, err := store.CreateComment(ctx, u, p.ID, fmt.Sprintf("Reply %d.", i+1)); err != nil {
				t.Fatal(err)
			}
		}
		id = p.ID.Hex()
	})
	return id
}

// e2eCommentCount is how many comments the thread page shows.
const e2eCommentCount = `String(document.querySelectorAll("#comments > li[data-testid=comment]").length)`

// e2eNewComments is the text of the link to new comments on the last page,
// or "hidden".
const e2eNewComments = `(() => { const a = document.getElementById("new-comments"); return !a ? "missing" : a.parentElement.hidden ? "hidden" : a.textContent; })()`

// Alice reads the first page of a thread of two, Bob the last. A new
// comment appears in place on Bob's page; Alice's page keeps its comments
// and tells her of it with a link to the last page, which counts each one.
func TestE2ENewCommentsOnAPagedThread(t *testing.T) {
	f := e2eStartForum(t)
	f.Stop()
	postID := e2eSeedThread(t, f, forum.CommentPageSize+1)
	f.Start()
	b := e2eStartBrowser(t, f)
	alice := b.Person("alice")
	bob := b.Person("bob")

	alice.Open("/posts/" + postID)
	alice.WaitLive()
	alice.WaitEqual("Alice sees the first page", e2eCommentCount, strconv.Itoa(forum.CommentPageSize))
	alice.WaitEqual("no new comments yet", e2eNewComments, "hidden")
	bob.Open("/posts/" + postID + "?page=2")
	bob.WaitLive()
	bob.WaitEqual("Bob sees the last page", e2eCommentCount, "1")
	if got := e2eEval[string](bob, e2eNewComments); got != "missing" {
		t.Errorf("the last page has a link to new comments: %q", got)
	}

	carol := f.RegisterAPI("carol")
	first := carol.Comment(postID, "Fresh on the last page.")
	bob.WaitEqual("the comment appears in place on the last page", `document.querySelector("#comments > li:last-child")?.dataset.id ?? ""`, first)
	alice.WaitEqual("Alice is told of one new comment", e2eNewComments, "1 new comment")
	alice.WaitEqual("her page keeps its comments", e2eCommentCount, strconv.Itoa(forum.CommentPageSize))
	if href := e2eEval[string](alice, `document.getElementById("new-comments").getAttribute("href")`); href != "/posts/"+postID+"?page=2" {
		t.Errorf("the link goes to %q, want the last page", href)
	}

	carol.Comment(postID, "And another.")
	alice.WaitEqual("the link counts the second", e2eNewComments, "2 new comments")
	bob.WaitEqual("both are on the last page", e2eCommentCount, "3")

	alice.Click("new-comments-link")
	alice.WaitEqual("the link leads to the last page with both", e2eCommentCount, "3")
	alice.WaitFor("on page 2", `location.search === "?page=2"`)
}

// e2eSetText puts n copies of char in the field with the data-testid, as
// pasting would, and tells the page.
func e2eSetText(tab *e2eTab, testid, char string, n int) {
	tab.t.Helper()
	e2eEval[bool](tab, `(() => {
		const el = document.querySelector(`+e2eJS(e2eTestID(testid))+`);
		el.value = `+e2eJS(char)+`.repeat(`+strconv.Itoa(n)+`);
		el.dispatchEvent(new Event("input", { bubbles: true }));
		return true;
	})()`)
}

// e2eCounter reads the counter of a field: "hidden", or its text and
// whether it shows an error.
func e2eCounter(id string) string {
	return `(() => { const c = document.getElementById(` + e2eJS(id+"-counter") + `); return c.hidden ? "hidden" : c.textContent + (c.classList.contains("is-over") ? " (error)" : ""); })()`
}

// The post form counts the characters left near the limit as the server
// does, an emoji as one, and says when there are too many.
func TestE2ECharacterCounterNearTheLimit(t *testing.T) {
	f := e2eStartForum(t)
	b := e2eStartBrowser(t, f)
	alice := b.Person("alice")
	alice.SignUp("alice")
	alice.Open("/posts/new")

	body := e2eCounter("post-body")
	alice.WaitEqual("no counter far from the limit", body, "hidden")
	e2eSetText(alice, "post-body-input", "😀", forum.MaxPostBodyLen-1234)
	alice.WaitEqual("the counter near the limit", body, "1,234 characters left")
	alice.Fill("post-body-input", "x")
	alice.WaitEqual("typing counts down", body, "1,233 characters left")
	e2eSetText(alice, "post-body-input", "語", forum.MaxPostBodyLen+2)
	alice.WaitEqual("over the limit", body, "2 characters too many (error)")
	if valid := e2eEval[bool](alice, `document.querySelector('[data-testid="post-body-input"]').checkValidity()`); valid {
		t.Error("a body over the limit passes the form's validation")
	}
	e2eSetText(alice, "post-body-input", "ж", forum.MaxPostBodyLen)
	alice.WaitEqual("at the limit", body, "0 characters left")

	title := e2eCounter("post-title")
	e2eSetText(alice, "post-title-input", "😀", forum.MaxTitleLen-1)
	alice.WaitEqual("the title has its own counter", title, "1 character left")
	alice.WaitFor("the title input is valid at the limit", `document.querySelector('[data-testid="post-title-input"]').checkValidity()`)
	if strings.Contains(e2eEval[string](alice, `document.querySelector("form").outerHTML`), "maxlength") {
		t.Error("a field has a maxlength, which counts UTF-16 units")
	}
}
