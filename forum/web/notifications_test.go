package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"forum/forum"
)

// notifications returns the newest 100 of the client's notifications, newest first.
func (c *client) notifications() []map[string]any {
	c.t.Helper()
	resp, body := c.get("/api/notifications?limit=100")
	wantStatus(c.t, resp, body, http.StatusOK)
	return decodeList(c.t, body)
}

func TestRepliesMustBeToACommentOfTheSamePost(t *testing.T) {
	srv := newServer(t)
	alice, bob := newClient(t, srv), newClient(t, srv)
	alice.register("alice")
	bob.register("bob")
	post := alice.createPost("Questions", "Ask away.")["id"].(string)
	other := alice.createPost("Elsewhere", "Another thread.")["id"].(string)
	question := alice.createComment(post, "Who is in?")
	elsewhere := alice.createComment(other, "Not here.")

	resp, body := bob.postJSON("/api/posts/"+post+"/comments", map[string]string{"body": "Me!", "replyTo": question["id"].(string)})
	wantStatus(t, resp, body, http.StatusCreated)
	reply := decodeObject(t, body)
	if reply["replyTo"] != question["id"] || reply["replyToAuthor"] != "alice" {
		t.Fatalf("reply: got %s, want replyTo %s by alice", body, question["id"])
	}
	if _, ok := question["replyTo"]; ok {
		t.Errorf("a comment that replies to none has a replyTo: %v", question)
	}

	for _, tt := range []struct {
		name, replyTo, want string
	}{
		{"comment of another post", elsewhere["id"].(string), "another post"},
		{"no such comment", "0123456789abcdef01234567", "no comment"},
		{"malformed id", "nope", "Malformed id"},
		{"a post's id", post, "no comment"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := bob.postJSON("/api/posts/"+post+"/comments", map[string]string{"body": "Lost reply", "replyTo": tt.replyTo})
			wantError(t, resp, body, http.StatusBadRequest)
			if !strings.Contains(body, tt.want) {
				t.Errorf("error: got %s, want it to say %q", body, tt.want)
			}
		})
	}
	resp, body = bob.get("/api/posts/" + post + "/comments")
	if cs := decodeList(t, body); len(cs) != 2 {
		t.Fatalf("comments after the rejected replies: got %d, want 2: %s", len(cs), body)
	}
	resp, body = bob.get("/api/posts/" + post)
	if decodeObject(t, body)["comments"] != 2.0 {
		t.Errorf("comment count after the rejected replies: got %s, want 2", body)
	}
}

func TestNotificationKinds(t *testing.T) {
	srv := newServer(t)
	alice, bob, carol, dave := newClient(t, srv), newClient(t, srv), newClient(t, srv), newClient(t, srv)
	alice.register("alice")
	bob.register("bob")
	carol.register("Carol")
	dave.register("dave")

	post := alice.createPost("Plans", "What do you think, @carol? Not `@dave`, and not dave@example.com.")["id"].(string)
	t.Run("a post notifies whom it mentions", func(t *testing.T) {
		ns := carol.notifications()
		if len(ns) != 1 || ns[0]["kind"] != forum.NotificationMention || ns[0]["postId"] != post || ns[0]["commentId"] != "000000000000000000000000" ||
			ns[0]["message"] != "alice mentioned you in “Plans”" || !strings.HasPrefix(ns[0]["excerpt"].(string), "What do you think, @carol?") {
			t.Fatalf("carol's notifications: got %v", ns)
		}
		if ns := dave.notifications(); len(ns) != 0 {
			t.Errorf("a mention in code or an address notified dave: %v", ns)
		}
	})

	first := bob.createComment(post, "Sounds good.")
	// carol replies to bob, mentions him too, mentions alice (the post's
	// author), dave, someone who does not exist and herself.
	resp, body := carol.postJSON("/api/posts/"+post+"/comments", map[string]string{
		"body":    "@bob @ALICE @dave @nobody @Carol agreed, see **this**",
		"replyTo": first["id"].(string),
	})
	wantStatus(t, resp, body, http.StatusCreated)
	reply := decodeObject(t, body)["id"].(string)

	for _, tt := range []struct {
		who            *client
		name, kind     string
		message        string
		wantForComment bool
	}{
		{bob, "bob, replied to, mentioned and a participant, gets the reply", forum.NotificationReply, "Carol replied to you in “Plans”", true},
		{alice, "alice, the post's author and mentioned, gets the mention", forum.NotificationMention, "Carol mentioned you in “Plans”", true},
		{dave, "dave, only mentioned, gets the mention", forum.NotificationMention, "Carol mentioned you in “Plans”", true},
		{carol, "carol, the author, gets nothing for her own comment", "", "", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var got []map[string]any
			for _, n := range tt.who.notifications() {
				if n["commentId"] == reply {
					got = append(got, n)
				}
			}
			if !tt.wantForComment {
				if len(got) != 0 {
					t.Fatalf("got %v, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("notifications of the reply: got %v, want exactly one", got)
			}
			n := got[0]
			if n["kind"] != tt.kind || n["message"] != tt.message || n["actor"] != "Carol" || n["excerpt"] != "@bob @ALICE @dave @nobody @Carol agreed, see **this**" {
				t.Errorf("got %v, want kind %s, message %q and the comment as excerpt", n, tt.kind, tt.message)
			}
		})
	}
	t.Run("a plain comment notifies the author as before", func(t *testing.T) {
		ns := alice.notifications()
		last := ns[len(ns)-1]
		if last["commentId"] != first["id"] || last["kind"] != forum.NotificationComment || last["message"] != "bob commented on “Plans”" || last["excerpt"] != "Sounds good." {
			t.Fatalf("alice's notification of bob's comment: got %v", last)
		}
	})
	t.Run("a long comment's excerpt is its start", func(t *testing.T) {
		long := strings.Repeat("word ", 100)
		bob.createComment(post, long)
		ex := alice.notifications()[0]["excerpt"].(string)
		if n := utf8.RuneCountInString(ex); n > forum.ExcerptLen+1 || n < forum.ExcerptLen/2 || !strings.HasSuffix(ex, "…") || !strings.HasPrefix(long, strings.TrimSuffix(ex, "…")) {
			t.Fatalf("excerpt: got %q (%d characters)", ex, n)
		}
	})
}

func TestNotificationsAPIPages(t *testing.T) {
	srv := newServer(t)
	alice, bob := newClient(t, srv), newClient(t, srv)
	alice.register("alice")
	bob.register("bob")
	post := alice.createPost("Busy", "Comments below.")["id"].(string)
	const total = 25
	for i := range total {
		bob.createComment(post, fmt.Sprintf("comment %d", i))
	}

	resp, body := alice.get("/api/notifications")
	wantStatus(t, resp, body, http.StatusOK)
	first := decodeList(t, body)
	if len(first) != forum.DefaultPageSize || first[0]["excerpt"] != "comment 24" {
		t.Fatalf("default page: got %d, newest %v; want %d, newest comment 24", len(first), first[0], forum.DefaultPageSize)
	}
	var got []string
	for before := ""; ; {
		resp, body := alice.get("/api/notifications?limit=7&before=" + before)
		wantStatus(t, resp, body, http.StatusOK)
		page := decodeList(t, body)
		if len(page) == 0 {
			break
		}
		for _, n := range page {
			got = append(got, n["excerpt"].(string))
		}
		before = page[len(page)-1]["id"].(string)
	}
	if len(got) != total || got[0] != "comment 24" || got[total-1] != "comment 0" {
		t.Fatalf("through pages of 7: got %v", got)
	}

	bobsOwn := decodeList(t, func() string { _, b := bob.get("/api/notifications"); return b }())
	if len(bobsOwn) != 0 {
		t.Fatalf("bob's notifications: got %v", bobsOwn)
	}
	for _, tt := range []struct {
		query string
		want  int
	}{
		{"limit=0", http.StatusBadRequest},
		{"limit=101", http.StatusBadRequest},
		{"limit=ten", http.StatusBadRequest},
		{"before=nope", http.StatusBadRequest},
		{"before=0123456789abcdef01234567", http.StatusNotFound},
	} {
		t.Run(tt.query, func(t *testing.T) {
			resp, body := alice.get("/api/notifications?" + tt.query)
			wantError(t, resp, body, tt.want)
		})
	}
	t.Run("another user's notification is no cursor", func(t *testing.T) {
		resp, body := bob.get("/api/notifications?before=" + first[0]["id"].(string))
		wantError(t, resp, body, http.StatusNotFound)
	})
}

func TestOpeningANotificationMarksItReadAndGoesToItsComment(t *testing.T) {
	db, store := newStore(t)
	srv, _ := startServer(t, db, store)
	post, _ := seedThread(t, store, forum.CommentPageSize+3, numbered)
	seeder, bob := newClient(t, srv), newClient(t, srv)
	seeder.login("seeder")
	bob.register("bob")
	c := bob.createComment(post, "Late to the thread, @seeder")
	n := seeder.notifications()[0]
	id := n["id"].(string)

	resp, body := bob.get("/notifications/" + id)
	wantStatus(t, resp, body, http.StatusNotFound)
	if seeder.notifications()[0]["read"] != false {
		t.Fatal("another user's opening marked the notification read")
	}
	resp, body = newClient(t, srv).get("/notifications/" + id)
	wantRedirect(t, resp, body, "/login?next="+url.QueryEscape("/notifications/"+id))

	resp, body = seeder.get("/notifications/" + id)
	wantRedirect(t, resp, body, "/posts/"+post+"?page=2#comment-"+c["id"].(string))
	if got := seeder.notifications()[0]; got["read"] != true || got["kind"] != forum.NotificationMention {
		t.Fatalf("after opening: got %v, want it read", got)
	}
	resp, body = seeder.get("/notifications/nope")
	wantStatus(t, resp, body, http.StatusBadRequest)

	t.Run("a post's notification goes to the post", func(t *testing.T) {
		p := bob.createPost("Hello", "Hi @seeder")["id"].(string)
		resp, body := seeder.get("/notifications/" + seeder.notifications()[0]["id"].(string))
		wantRedirect(t, resp, body, "/posts/"+p)
	})
	t.Run("the page links notifications through the route", func(t *testing.T) {
		resp, body := seeder.get("/notifications")
		wantPage(t, resp, body, http.StatusOK, `href="/notifications/`+id+`"`, "Late to the thread, @seeder")
	})
}

func TestReplyLinksWorkWithoutJavaScript(t *testing.T) {
	db, store := newStore(t)
	srv, _ := startServer(t, db, store)
	post, ids := seedThread(t, store, forum.CommentPageSize+1, numbered)
	bob := newClient(t, srv)
	bob.register("bob")
	last := ids[len(ids)-1]

	resp, body := bob.get("/comments/" + last + "/reply")
	want := "/posts/" + post + "?page=2&replyTo=" + last + "#comment-form"
	wantRedirect(t, resp, body, want)
	resp, body = bob.get(strings.TrimSuffix(want, "#comment-form"))
	wantPage(t, resp, body, http.StatusOK, `name="replyTo" value="`+last+`"`, `Replying to <a id="replying-to-link" href="/comments/`+last+`">seeder</a>`)

	resp, body = bob.postForm("/posts/"+post+"/comments", url.Values{"body": {"Answer with @seeder"}, "replyTo": {last}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	resp, body = bob.get(resp.Header.Get("Location"))
	wantPage(t, resp, body, http.StatusOK, "↪ in reply to seeder", `href="/comments/`+last+`"`, `<a href="/u/seeder">@seeder</a>`)

	resp, body = bob.get("/comments/" + ids[0])
	wantRedirect(t, resp, body, "/posts/"+post+"#comment-"+ids[0])

	other := bob.createPost("Other", "x")["id"].(string)
	resp, body = bob.get("/posts/" + other + "?replyTo=" + last)
	wantStatus(t, resp, body, http.StatusBadRequest)
	resp, body = bob.postForm("/posts/"+other+"/comments", url.Values{"body": {"Misplaced"}, "replyTo": {last}})
	wantPage(t, resp, body, http.StatusBadRequest, "another post", "Misplaced")
}

var pagerLink = regexp.MustCompile(`href="([^"]*)"[^>]*data-testid="pager-(newest|newer|older)"`)

// pagerLinks returns a listing page's pager links by name.
func pagerLinks(body string) map[string]string {
	links := map[string]string{}
	for _, m := range pagerLink.FindAllStringSubmatch(body, -1) {
		links[m[2]] = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	return links
}

var postLink = regexp.MustCompile(`data-testid="post" data-id="([0-9a-f]{24})"`)

func TestFrontPagePagesBothWays(t *testing.T) {
	db, store := newStore(t)
	srv, _ := startServer(t, db, store)
	u, err := store.Register(context.Background(), "writer", testPassword)
	if err != nil {
		t.Fatal(err)
	}
	const total = 2*forum.DefaultPageSize + 5
	for i := range total {
		if _, err := store.CreatePost(context.Background(), u, fmt.Sprintf("Post %d", i), "text"); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, srv)
	ids := func(body string) (out []string) {
		for _, m := range postLink.FindAllStringSubmatch(body, -1) {
			out = append(out, m[1])
		}
		return out
	}

	resp, body := c.get("/")
	wantPage(t, resp, body, http.StatusOK, "<title>Forum</title>")
	pages := [][]string{ids(body)}
	links := pagerLinks(body)
	if links["newer"] != "" || links["newest"] != "" || links["older"] == "" {
		t.Fatalf("first page's links: got %v, want Older only", links)
	}
	for links["older"] != "" {
		resp, body = c.get(links["older"])
		wantStatus(t, resp, body, http.StatusOK)
		pages = append(pages, ids(body))
		links = pagerLinks(body)
		if links["newest"] != "/" || links["newer"] == "" {
			t.Fatalf("page %d's links: got %v, want Newest and Newer", len(pages), links)
		}
	}
	if len(pages) != 3 || len(pages[2]) != 5 {
		t.Fatalf("pages: got %d, the last of %d posts; want 3, the last of 5", len(pages), len(pages[len(pages)-1]))
	}
	for i := len(pages) - 2; i >= 0; i-- {
		resp, body = c.get(links["newer"])
		wantStatus(t, resp, body, http.StatusOK)
		if got := ids(body); fmt.Sprint(got) != fmt.Sprint(pages[i]) {
			t.Fatalf("page %d through Newer: got %v, want %v", i+1, got, pages[i])
		}
		links = pagerLinks(body)
	}
	if links["newer"] != "" || links["newest"] != "" {
		t.Errorf("back on the first page through Newer: links %v, want Older only", links)
	}
	resp, body = c.get("/?after=nope")
	wantStatus(t, resp, body, http.StatusBadRequest)
}

func TestNotificationsPagePages(t *testing.T) {
	srv := newServer(t)
	alice, bob := newClient(t, srv), newClient(t, srv)
	alice.register("alice")
	bob.register("bob")
	post := alice.createPost("Busy", "Comments below.")["id"].(string)
	for i := range forum.DefaultPageSize + 2 {
		bob.createComment(post, fmt.Sprintf("comment %d", i))
	}
	resp, body := alice.get("/notifications")
	wantPage(t, resp, body, http.StatusOK, "<title>(22) Notifications · Forum</title>", `id="mark-all-read" class="inline"`, "comment 21")
	links := pagerLinks(body)
	resp, body = alice.get(links["older"])
	wantPage(t, resp, body, http.StatusOK, "comment 1", "comment 0", "data-older")
	if strings.Contains(body, "comment 2<") {
		t.Errorf("older page repeats the first")
	}
	if l := pagerLinks(body); l["newest"] != "/notifications" || l["newer"] == "" || l["older"] != "" {
		t.Errorf("last page's links: got %v", l)
	}
	alice.postForm("/notifications/read", nil)
	resp, body = alice.get("/notifications")
	wantPage(t, resp, body, http.StatusOK, "<title>Notifications · Forum</title>", `id="mark-all-read" class="inline" method="post" action="/notifications/read" hidden`)
}

func TestFavicon(t *testing.T) {
	c := newClient(t, newServer(t))
	resp, body := c.get("/favicon.ico")
	wantStatus(t, resp, body, http.StatusFound)
	loc := resp.Header.Get("Location")
	resp, body = c.get(loc)
	wantStatus(t, resp, body, http.StatusOK)
	if ct := resp.Header.Get("Content-Type"); ct != "image/svg+xml" || !strings.HasPrefix(body, "<svg") {
		t.Fatalf("favicon %s: got %s %.40q", loc, ct, body)
	}
	_, page := c.get("/")
	if !strings.Contains(page, `<link rel="icon" type="image/svg+xml" href="`+loc+`">`) {
		t.Errorf("the page does not link the icon %s", loc)
	}
}

func TestRepliesAndMentionsArriveLive(t *testing.T) {
	srv := newServer(t)
	alice, bob, carol := newClient(t, srv), newClient(t, srv), newClient(t, srv)
	alice.register("alice")
	bob.register("bob")
	carol.register("carol")
	post := carol.createPost("Live", "Talk here.")["id"].(string)
	mine := alice.createComment(post, "My point.")
	notes := alice.stream("/stream/notifications")

	bob.postJSON("/api/posts/"+post+"/comments", map[string]string{"body": "I _disagree_ with you.", "replyTo": mine["id"].(string)})
	bob.createComment(post, "What does @Alice say?")
	for _, want := range []struct{ kind, excerpt, message string }{
		{forum.NotificationReply, "I _disagree_ with you.", "bob replied to you in “Live”"},
		{forum.NotificationMention, "What does @Alice say?", "bob mentioned you in “Live”"},
	} {
		e := notes.nextOf(t, "notification")
		got := decodeObject(t, e.Data)
		if got["kind"] != want.kind || got["excerpt"] != want.excerpt || got["message"] != want.message || !strings.Contains(got["html"].(string), want.excerpt) {
			t.Fatalf("notification event: got %s, want kind %s, excerpt %q", e.Data, want.kind, want.excerpt)
		}
	}
}
