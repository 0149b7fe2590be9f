package main

import (
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// e2eRecordViolations collects in window.__cspViolations what the content
// security policy refuses in each page of the tab.
func e2eRecordViolations(tab *e2eTab) error {
	_, err := chromedp.Call(tab.ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.__cspViolations = [];
		window.addEventListener("securitypolicyviolation", (e) => {
			window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " at " + e.sourceFile + ":" + e.lineNumber);
		});`})
	return err
}

// e2eNoViolations fails the test if the tab's page broke its content
// security policy.
func (tab *e2eTab) e2eNoViolations(path string) {
	tab.t.Helper()
	tab.WaitFor("wait for "+path+" to load", `document.readyState === "complete"`)
	if v := e2eEval[string](tab, `JSON.stringify(window.__cspViolations)`); v != "[]" {
		tab.t.Errorf("%s broke the content security policy: %s", path, v)
	}
}

// Every page keeps to its content security policy, forms and live updates
// work under it, and it is in force: an inline script is refused.
func TestE2EPagesKeepToTheContentSecurityPolicy(t *testing.T) {
	f := e2eStartForum(t)
	b := e2eStartBrowser(t, f)
	alice := b.Person("alice", e2eRecordViolations)
	alice.SignUp("alice")
	alice.e2eNoViolations("the page after signing up")
	postID := alice.Publish("Under the policy", "Nothing inline here.")
	alice.e2eNoViolations("the new post")
	bob := f.RegisterAPI("bob")
	for _, path := range []string{"/login", "/register", "/", "/posts/new", "/notifications", "/no/such/page", "/posts/" + postID} {
		alice.Open(path)
		alice.e2eNoViolations(path)
	}

	alice.WaitLive()
	commentID := bob.Comment(postID, "Arrives live under the policy")
	alice.WaitFor("wait for Bob's comment to arrive live", `JSON.parse(`+e2eCommentIDs+`).includes(`+e2eJS(commentID)+`)`)
	alice.WaitEqual("wait for its notification to be marked read on the open thread", e2eNewest, "comment true")
	alice.e2eNoViolations("the thread after a live comment")

	e2eEval[bool](alice, `(() => {
		const s = document.createElement("script");
		s.textContent = "window.__inlineRan = true";
		document.head.append(s);
		return true;
	})()`)
	alice.WaitFor("wait for the inline script to be refused", `window.__cspViolations.some((v) => v.startsWith("script-src"))`)
	if ran := e2eEval[bool](alice, `window.__inlineRan === true`); ran {
		t.Fatal("an inline script ran despite the content security policy")
	}
}
