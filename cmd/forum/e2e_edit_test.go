package main

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// e2eSetValue replaces the text of the field with the data-testid, as a
// person who selects it all and types would.
func (tab *e2eTab) e2eSetValue(testid, text string) {
	tab.t.Helper()
	tab.Do("set "+testid, chromedp.WaitReady(chromedp.CSS(e2eTestID(testid))),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(`+e2eJS(e2eTestID(testid))+`).value = `+e2eJS(text)))
}

// clickIn clicks the element with the data-testid inside the element sel
// selects.
func (tab *e2eTab) clickIn(sel, testid string) {
	tab.t.Helper()
	tab.click("click "+testid+" in "+sel, sel+" "+e2eTestID(testid))
}

// Alice edits and deletes her post and comment through the forms while Bob
// watches the thread in one tab and the front page in another: each change
// shows there in place, and the deletion leaves the thread saying so.
func TestE2EEditsAndDeletionsShowLive(t *testing.T) {
	f := e2eStartForum(t)
	b := e2eStartBrowser(t, f)
	alice := b.Person("alice")
	alice.SignUp("alice")
	postID := alice.Publish("First title", "First body")
	alice.Fill("comment-input", "A first comment")
	alice.Click("comment-submit")
	alice.WaitFor("Alice's comment is listed, on the page the form leads to", `location.hash.startsWith("#comment-") && document.querySelectorAll("#comments > li").length === 1`)
	commentID := f.Anonymous().CommentIDs(postID)[0]

	bob := b.Person("bob")
	bob.SignUp("bob")
	bob.Open("/posts/" + postID)
	bob.WaitLive()
	front := bob.Tab("bob-front")
	front.Open("/")
	front.WaitLive()
	card := `#post-` + postID
	front.WaitEqual("the front page counts the comment", `document.querySelector("`+card+` [data-testid=comment-count]")?.textContent ?? ""`, "1 comment")
	bob.WaitFor("Bob has no controls on Alice's items", `!document.querySelector("[data-testid=post-controls]") && document.querySelector("#comment-`+commentID+` [data-testid=comment-controls]").hidden`)

	alice.Click("post-edit-link")
	alice.e2eSetValue("edit-title-input", "Second title")
	alice.e2eSetValue("edit-body-input", "Second body")
	alice.Click("edit-submit")
	alice.WaitEqual("Alice sees her edit", `document.querySelector("[data-testid=post-title]")?.textContent ?? ""`, "Second title")
	bob.WaitEqual("Bob's thread shows the new title", `document.querySelector("[data-testid=post-title]")?.textContent ?? ""`, "Second title")
	bob.WaitFor("and the new body, marked edited", `document.querySelector("[data-testid=post-body]")?.textContent.includes("Second body") && !!document.querySelector("#post [data-testid=edited]")`)
	front.WaitEqual("Bob's front page shows the new title", `document.querySelector("`+card+` [data-testid=post-link]")?.textContent ?? ""`, "Second title")

	alice.clickIn("#comment-"+commentID, "comment-edit-link")
	alice.e2eSetValue("edit-body-input", "An edited comment")
	alice.Click("edit-submit")
	bob.WaitFor("Bob's thread shows the edited comment", `document.querySelector("#comment-`+commentID+` [data-testid=comment-body]")?.textContent.includes("An edited comment")`)

	alice.Open("/posts/" + postID)
	alice.clickIn("#comment-"+commentID, "comment-delete-submit")
	bob.WaitFor("the deleted comment leaves Bob's thread", `!document.getElementById("comment-`+commentID+`")`)
	front.WaitEqual("and the count on his front page", `document.querySelector("`+card+` [data-testid=comment-count]")?.textContent ?? ""`, "0 comments")

	alice.Open("/posts/" + postID)
	alice.Click("post-delete-submit")
	alice.WaitFor("Alice is back on the front page", `location.pathname === "/"`)
	bob.WaitFor("Bob's thread says the post was deleted", `document.querySelector("[data-testid=post-deleted]")?.textContent === "This post was deleted."`)
	front.WaitFor("the card leaves Bob's front page", `!document.querySelector("`+card+`")`)
	bob.Reload()
	bob.WaitFor("the thread page now answers not found", `document.title.startsWith("Not Found")`)
}

// An admin locks a thread while Bob reads it: his comment form goes away
// live. Then the admin suspends Bob, who may still read but not post.
func TestE2EAdminLocksAThreadAndSuspendsAUser(t *testing.T) {
	f := e2eStartForum(t)
	f.RegisterAPI("admin")
	f.GrantAdmin("admin")
	postID := f.RegisterAPI("alice").Post("Open for now", "Say something.")
	b := e2eStartBrowser(t, f)

	bob := b.Person("bob")
	bob.SignUp("bob")
	bob.Open("/posts/" + postID)
	bob.WaitLive()
	bob.WaitFor("Bob may comment", `!document.querySelector("[data-testid=comment-form]").hidden && document.querySelector("[data-testid=locked-notice]").hidden`)

	admin := b.Person("admin")
	admin.SignIn("admin")
	admin.Open("/posts/" + postID)
	admin.Click("post-lock-submit")
	admin.WaitFor("the admin sees the thread locked", `!!document.querySelector("[data-testid=post-unlock-submit]")`)
	bob.WaitFor("Bob's comment form goes away live", `document.querySelector("[data-testid=comment-form]").hidden && !document.querySelector("[data-testid=locked-notice]").hidden`)

	admin.Open("/admin/users")
	admin.clickIn(`[data-testid=user][data-user="bob"]`, "suspend-submit")
	admin.WaitFor("Bob is listed as suspended", `!!document.querySelector('[data-testid=user][data-user="bob"] [data-testid=user-suspended]')`)
	admin.WaitFor("the admin has no suspend button of their own", `!document.querySelector('[data-testid=user][data-user="admin"] form')`)

	bob.Open("/u/bob")
	bob.WaitFor("Bob's page says he is suspended", `!!document.querySelector("[data-testid=profile-suspended]")`)
	bob.Open("/posts/new")
	bob.Fill("post-title-input", "Can I?")
	bob.Fill("post-body-input", "No.")
	bob.Click("post-submit")
	bob.WaitFor("the forum refuses, saying why", `document.body.textContent.includes("Your account is suspended")`)
}
