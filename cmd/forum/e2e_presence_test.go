package main

import "testing"

// e2ePresence is the thread's presence line.
const e2ePresence = `document.querySelector("[data-testid=presence]")?.textContent ?? ""`

// Ann and Ben read one thread in two browsers. Ben sees Ann arrive, start
// typing and, once her comment is out, stop replying; the header counts
// who is online. Both lines are polite live regions that keep their room.
func TestE2EPresenceShowsReadersAndWhoIsReplying(t *testing.T) {
	f := e2eStartForum(t)
	b := e2eStartBrowser(t, f)
	ann := b.Person("ann")
	ann.SignUp("ann")
	postID := ann.Publish("Tabs or spaces?", "Settle it.")
	ann.Open("/")

	ben := b.Person("ben")
	ben.Open("/posts/" + postID)
	ben.WaitLive()
	ben.WaitEqual("Ben reads alone", e2ePresence, "1 reading")
	for _, id := range []string{"presence", "online"} {
		if got := e2eEval[string](ben, `document.querySelector("[data-testid=`+id+`]").getAttribute("aria-live")`); got != "polite" {
			t.Errorf("%s line: aria-live %q, want polite", id, got)
		}
	}
	if h := e2eEval[float64](ben, `document.querySelector("[data-testid=presence]").getBoundingClientRect().height`); h <= 0 {
		t.Errorf("the presence line takes no room (height %v): filling it would move the page", h)
	}

	ann.Open("/posts/" + postID)
	ann.WaitLive()
	ben.WaitEqual("Ben sees Ann arrive", e2ePresence, "2 reading")
	ben.WaitEqual("the header counts Ann and Ben", `document.querySelector("[data-testid=online]").textContent`, "2 online")

	ann.Fill("comment-input", "Tabs, for they are one character.")
	ben.WaitEqual("Ben sees Ann typing", e2ePresence, "2 reading · ann is replying…")
	ann.Click("comment-submit")
	ben.WaitFor("Ben gets Ann's comment", `document.querySelectorAll("#comments > li").length === 1`)
	ben.WaitEqual("Ann no longer replies once her comment is out", e2ePresence, "2 reading")
}
