package web_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"forum/forum"
)

func (c *client) sendJSON(method, path string, v any) (*http.Response, string) {
	c.t.Helper()
	b, _ := json.Marshal(v)
	return c.do(method, path, "application/json", bytes.NewReader(b))
}

// forumOf starts a server with the admin root, the author alice and the
// bystander bob, each signed in, and a post of alice's with a comment of
// hers and one of bob's.
func forumOf(t *testing.T) (root, alice, bob, anon *client, postID, aliceComment, bobComment string) {
	t.Helper()
	srv := newServer(t)
	root, alice, bob, anon = newClient(t, srv), newClient(t, srv), newClient(t, srv), newClient(t, srv)
	root.login("root")
	alice.register("alice")
	bob.register("bob")
	postID = alice.createPost("Alice's", "Body")["id"].(string)
	aliceComment = alice.createComment(postID, "Mine")["id"].(string)
	bobComment = bob.createComment(postID, "Bob's")["id"].(string)
	return
}

func TestWhoMayEditAndDelete(t *testing.T) {
	root, alice, bob, anon, postID, aliceComment, bobComment := forumOf(t)
	title := map[string]string{"title": "New title"}
	for _, tt := range []struct {
		name   string
		c      *client
		method string
		path   string
		body   any
		want   int
	}{
		{"signed out edits a post", anon, http.MethodPatch, "/api/posts/" + postID, title, http.StatusUnauthorized},
		{"another user edits a post", bob, http.MethodPatch, "/api/posts/" + postID, title, http.StatusForbidden},
		{"another user deletes a post", bob, http.MethodDelete, "/api/posts/" + postID, nil, http.StatusForbidden},
		{"another user edits a comment", bob, http.MethodPatch, "/api/comments/" + aliceComment, map[string]string{"body": "x"}, http.StatusForbidden},
		{"another user deletes a comment", alice, http.MethodDelete, "/api/comments/" + bobComment, nil, http.StatusForbidden},
		{"signed out deletes a comment", anon, http.MethodDelete, "/api/comments/" + bobComment, nil, http.StatusUnauthorized},
		{"edit to an empty title", alice, http.MethodPatch, "/api/posts/" + postID, map[string]string{"title": "  "}, http.StatusBadRequest},
		{"edit of nothing", alice, http.MethodPatch, "/api/posts/" + postID, map[string]string{}, http.StatusBadRequest},
		{"comment too long", bob, http.MethodPatch, "/api/comments/" + bobComment, map[string]string{"body": strings.Repeat("x", 10001)}, http.StatusBadRequest},
		{"edit of an unknown post", alice, http.MethodPatch, "/api/posts/0123456789abcdef01234567", title, http.StatusNotFound},
		{"edit of a malformed id", alice, http.MethodPatch, "/api/posts/nope", title, http.StatusBadRequest},
		{"deletion of an unknown comment", alice, http.MethodDelete, "/api/comments/0123456789abcdef01234567", nil, http.StatusNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			var body string
			if tt.body == nil {
				resp, body = tt.c.do(tt.method, tt.path, "", nil)
			} else {
				resp, body = tt.c.sendJSON(tt.method, tt.path, tt.body)
			}
			wantError(t, resp, body, tt.want)
		})
	}
	// Nothing changed.
	_, body := anon.get("/api/posts/" + postID)
	if p := decodeObject(t, body); p["title"] != "Alice's" || p["editedAt"] != nil || p["comments"] != 2.0 {
		t.Fatalf("post after refused changes: %v", p)
	}

	resp, body := alice.sendJSON(http.MethodPatch, "/api/posts/"+postID, map[string]string{"title": "  Edited  ", "body": "New body"})
	wantStatus(t, resp, body, http.StatusOK)
	if p := decodeObject(t, body); p["title"] != "Edited" || p["body"] != "New body" || p["editedAt"] == nil {
		t.Fatalf("edited post: %v", p)
	}
	resp, body = root.sendJSON(http.MethodPatch, "/api/comments/"+bobComment, map[string]string{"body": "Moderated"})
	wantStatus(t, resp, body, http.StatusOK)
	if c := decodeObject(t, body); c["body"] != "Moderated" || c["editedAt"] == nil || c["author"] != "bob" {
		t.Fatalf("comment edited by an admin: %v", c)
	}
	_, body = anon.get("/api/posts/" + postID + "/comments")
	if cs := decodeList(t, body); len(cs) != 2 || cs[1]["body"] != "Moderated" || cs[0]["editedAt"] != nil {
		t.Fatalf("comments after the edit: %v", cs)
	}
}

func TestDeletedCommentIsGoneAndUncounted(t *testing.T) {
	_, alice, bob, anon, postID, aliceComment, bobComment := forumOf(t)
	resp, body := bob.do(http.MethodDelete, "/api/comments/"+bobComment, "", nil)
	wantStatus(t, resp, body, http.StatusNoContent)
	resp, body = bob.do(http.MethodDelete, "/api/comments/"+bobComment, "", nil)
	wantError(t, resp, body, http.StatusNotFound)
	resp, body = bob.sendJSON(http.MethodPatch, "/api/comments/"+bobComment, map[string]string{"body": "back"})
	wantError(t, resp, body, http.StatusNotFound)
	_, body = anon.get("/api/posts/" + postID)
	if p := decodeObject(t, body); p["comments"] != 1.0 {
		t.Fatalf("post after a deletion: %v, want 1 comment", p)
	}
	_, body = anon.get("/api/posts/" + postID + "/comments")
	if cs := decodeList(t, body); len(cs) != 1 || cs[0]["id"] != aliceComment {
		t.Fatalf("comments after a deletion: %v", cs)
	}
	_, page := anon.get("/posts/" + postID)
	if strings.Contains(page, bobComment) {
		t.Fatal("the thread page still shows the deleted comment")
	}
	_, body = anon.get("/api/users/bob")
	if u := decodeObject(t, body); u["comments"] != 0.0 {
		t.Fatalf("bob after his comment's deletion: %v", u)
	}
	_ = alice
}

func TestDeletedPostAnswersNotFoundEverywhere(t *testing.T) {
	root, alice, bob, anon, postID, aliceComment, _ := forumOf(t)
	other := bob.createPost("Bob's", "Body")["id"].(string)
	resp, body := root.do(http.MethodDelete, "/api/posts/"+other, "", nil)
	wantStatus(t, resp, body, http.StatusNoContent)
	resp, body = alice.do(http.MethodDelete, "/api/posts/"+postID, "", nil)
	wantStatus(t, resp, body, http.StatusNoContent)

	for _, tt := range []struct {
		name, method, path string
		body               any
	}{
		{"the post", http.MethodGet, "/api/posts/" + postID, nil},
		{"its comments", http.MethodGet, "/api/posts/" + postID + "/comments", nil},
		{"a comment on it", http.MethodPost, "/api/posts/" + postID + "/comments", map[string]string{"body": "late"}},
		{"an edit", http.MethodPatch, "/api/posts/" + postID, map[string]string{"title": "t"}},
		{"a deletion again", http.MethodDelete, "/api/posts/" + postID, nil},
		{"an edit of its comment", http.MethodPatch, "/api/comments/" + aliceComment, map[string]string{"body": "b"}},
		{"a lock", http.MethodPost, "/api/posts/" + postID + "/lock", map[string]bool{"locked": true}},
		{"its stream", http.MethodGet, "/stream/posts/" + postID + "/comments", nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := alice
			if tt.name == "a lock" {
				c = root
			}
			var resp *http.Response
			var body string
			if tt.body == nil {
				resp, body = c.do(tt.method, tt.path, "", nil)
			} else {
				resp, body = c.sendJSON(tt.method, tt.path, tt.body)
			}
			wantError(t, resp, body, http.StatusNotFound)
		})
	}
	resp, _ = anon.get("/posts/" + postID)
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("thread page of a deleted post: %d", resp.StatusCode)
	}
	for _, sort := range []string{"new", "activity"} {
		_, body = anon.get("/api/posts?sort=" + sort)
		if ps := decodeList(t, body); len(ps) != 0 {
			t.Fatalf("sort=%s lists deleted posts: %v", sort, ps)
		}
	}
	_, body = anon.get("/api/users/alice")
	if u := decodeObject(t, body); u["posts"] != 0.0 || u["comments"] != 0.0 {
		t.Fatalf("alice after her post's deletion: %v", u)
	}
	_, page := anon.get("/u/bob")
	if strings.Contains(page, postID) || strings.Contains(page, other) {
		t.Fatal("bob's page lists a deleted post or a comment of one")
	}
}

func TestLockedThreadRefusesComments(t *testing.T) {
	root, alice, bob, _, postID, aliceComment, _ := forumOf(t)
	resp, body := alice.postJSON("/api/posts/"+postID+"/lock", map[string]bool{"locked": true})
	wantError(t, resp, body, http.StatusForbidden)
	resp, body = root.postJSON("/api/posts/"+postID+"/lock", map[string]string{})
	wantError(t, resp, body, http.StatusBadRequest)
	resp, body = root.postJSON("/api/posts/"+postID+"/lock", map[string]bool{"locked": true})
	wantStatus(t, resp, body, http.StatusOK)
	if p := decodeObject(t, body); p["locked"] != true {
		t.Fatalf("locked post: %v", p)
	}

	resp, body = bob.postJSON("/api/posts/"+postID+"/comments", map[string]string{"body": "late"})
	wantError(t, resp, body, http.StatusForbidden)
	if !strings.Contains(body, "This thread is locked.") {
		t.Fatalf("comment on a locked thread: %s", body)
	}
	resp, body = alice.sendJSON(http.MethodPatch, "/api/comments/"+aliceComment, map[string]string{"body": "changed"})
	wantError(t, resp, body, http.StatusForbidden)
	resp, body = alice.sendJSON(http.MethodPatch, "/api/posts/"+postID, map[string]string{"body": "changed"})
	wantError(t, resp, body, http.StatusForbidden)
	resp, body = root.sendJSON(http.MethodPatch, "/api/comments/"+aliceComment, map[string]string{"body": "by an admin"})
	wantStatus(t, resp, body, http.StatusOK)
	_, page := bob.get("/posts/" + postID)
	if !strings.Contains(page, `data-testid="comment-form"`) || !strings.Contains(page, "This thread is locked.") {
		t.Fatal("thread page of a locked thread: want a hidden form and the notice")
	}
	_, body = bob.get("/api/posts/" + postID)
	if p := decodeObject(t, body); p["comments"] != 2.0 {
		t.Fatalf("locked post: %v, want its 2 comments", p)
	}

	resp, body = root.postForm("/posts/"+postID+"/lock", url.Values{"locked": {"false"}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	bob.createComment(postID, "open again")
}

func TestSuspendedUserReadsButDoesNotWrite(t *testing.T) {
	root, alice, bob, _, postID, _, bobComment := forumOf(t)
	resp, body := alice.postJSON("/api/users/bob/suspend", map[string]bool{"suspended": true})
	wantError(t, resp, body, http.StatusForbidden)
	resp, body = root.postJSON("/api/users/root/suspend", map[string]bool{"suspended": true})
	wantError(t, resp, body, http.StatusConflict)
	resp, body = root.postJSON("/api/users/nobody/suspend", map[string]bool{"suspended": true})
	wantError(t, resp, body, http.StatusNotFound)
	resp, body = root.postJSON("/api/users/bob/suspend", map[string]bool{"suspended": true})
	wantStatus(t, resp, body, http.StatusOK)
	if u := decodeObject(t, body); u["suspended"] != true || u["name"] != "bob" {
		t.Fatalf("suspended user: %v", u)
	}

	for _, tt := range []struct {
		name, method, path string
		body               any
	}{
		{"post", http.MethodPost, "/api/posts", map[string]string{"title": "t", "body": "b"}},
		{"comment", http.MethodPost, "/api/posts/" + postID + "/comments", map[string]string{"body": "b"}},
		{"edit", http.MethodPatch, "/api/comments/" + bobComment, map[string]string{"body": "b"}},
		{"delete", http.MethodDelete, "/api/comments/" + bobComment, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var resp *http.Response
			var body string
			if tt.body == nil {
				resp, body = bob.do(tt.method, tt.path, "", nil)
			} else {
				resp, body = bob.sendJSON(tt.method, tt.path, tt.body)
			}
			wantError(t, resp, body, http.StatusForbidden)
			if !strings.Contains(body, "suspended") {
				t.Fatalf("refusal does not say why: %s", body)
			}
		})
	}
	bob.login("bob")
	resp, body = bob.get("/api/posts/" + postID + "/comments")
	wantStatus(t, resp, body, http.StatusOK)
	_, body = bob.get("/api/users/bob")
	if u := decodeObject(t, body); u["suspended"] != true || u["comments"] != 1.0 {
		t.Fatalf("bob while suspended: %v", u)
	}

	_, page := root.get("/admin/users")
	if !strings.Contains(page, `data-user="bob" data-suspended`) || !strings.Contains(page, `data-testid="unsuspend-submit"`) {
		t.Fatal("admin page does not list bob as suspended")
	}
	resp, body = root.postForm("/admin/users/suspend", url.Values{"name": {"bob"}, "suspended": {"false"}, "back": {"/admin/users"}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	bob.createComment(postID, "back")
}

func TestProfileCountsAndPage(t *testing.T) {
	_, alice, _, anon, postID, aliceComment, _ := forumOf(t)
	resp, body := anon.get("/api/users/ALICE")
	wantStatus(t, resp, body, http.StatusOK)
	u := decodeObject(t, body)
	if keys(u) != "admin,comments,createdAt,id,name,posts,suspended" || u["name"] != "alice" || u["posts"] != 1.0 || u["comments"] != 1.0 || u["admin"] != false {
		t.Fatalf("profile: %v", u)
	}
	resp, body = anon.get("/api/users/nobody")
	wantError(t, resp, body, http.StatusNotFound)
	resp, page := anon.get("/u/alice")
	wantStatus(t, resp, page, http.StatusOK)
	for _, want := range []string{`href="/posts/` + postID + `"`, `href="/posts/` + postID + `#comment-` + aliceComment + `"`, "1 post", "1 comment"} {
		if !strings.Contains(page, want) {
			t.Fatalf("alice's page lacks %s", want)
		}
	}
	_, page = anon.get("/posts/" + postID)
	if !strings.Contains(page, `href="/u/alice"`) || !strings.Contains(page, `href="/u/bob"`) {
		t.Fatal("thread page does not link its authors")
	}
	_ = alice
}

func TestPostsSortByActivityAndPage(t *testing.T) {
	srv := newServer(t)
	alice, anon := newClient(t, srv), newClient(t, srv)
	alice.register("alice")
	// Times are stored to the millisecond, and the order under test is by
	// them: each write waits for the clock to leave the millisecond of the
	// one before, or two could tie, which their ids then order.
	tick := func() {
		last := time.Now().Truncate(time.Millisecond)
		for !time.Now().Truncate(time.Millisecond).After(last) {
			time.Sleep(100 * time.Microsecond)
		}
	}
	var ids []string
	for _, title := range []string{"A", "B", "C", "D"} {
		ids = append(ids, alice.createPost(title, "b")["id"].(string))
		tick()
	}
	alice.createComment(ids[1], "bump B")
	tick()
	alice.createComment(ids[0], "bump A")
	titlesOf := func(path string) string {
		t.Helper()
		resp, body := anon.get(path)
		wantStatus(t, resp, body, http.StatusOK)
		var ts []string
		for _, p := range decodeList(t, body) {
			ts = append(ts, p["title"].(string))
		}
		return strings.Join(ts, "")
	}
	for _, tt := range []struct{ path, want string }{
		{"/api/posts", "DCBA"},
		{"/api/posts?sort=new", "DCBA"},
		{"/api/posts?sort=new&limit=2&before=" + ids[2], "BA"},
		{"/api/posts?sort=activity", "ABDC"},
		{"/api/posts?sort=activity&limit=2", "AB"},
		{"/api/posts?sort=activity&limit=2&before=" + ids[1], "DC"},
		{"/api/posts?sort=activity&before=" + ids[2], ""},
	} {
		if got := titlesOf(tt.path); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.path, got, tt.want)
		}
	}
	resp, body := anon.get("/api/posts?sort=top")
	wantError(t, resp, body, http.StatusBadRequest)

	// Deleting A's only comment puts it back where its creation was.
	_, body = anon.get("/api/posts/" + ids[0] + "/comments")
	resp, body = alice.do(http.MethodDelete, "/api/comments/"+decodeList(t, body)[0]["id"].(string), "", nil)
	wantStatus(t, resp, body, http.StatusNoContent)
	if got := titlesOf("/api/posts?sort=activity"); got != "BDCA" {
		t.Errorf("after deleting A's comment: got %s, want BDCA", got)
	}
	_, page := anon.get("/")
	if strings.Index(page, "post-"+ids[1]) > strings.Index(page, "post-"+ids[3]) {
		t.Error("front page does not list by activity")
	}
	_, page = anon.get("/?sort=new")
	if strings.Index(page, "post-"+ids[1]) < strings.Index(page, "post-"+ids[3]) {
		t.Error("front page ?sort=new does not list newest first")
	}
}

func TestEditedCommentLeadsToTheThreadPageThatShowsIt(t *testing.T) {
	db, store := newStore(t)
	makeAdmin(t, store, "root")
	srv, _ := startServer(t, db, store)
	post, ids := seedThread(t, store, forum.CommentPageSize+1, numbered)
	admin := newClient(t, srv)
	admin.login("root")
	last := ids[len(ids)-1]
	resp, body := admin.postForm("/comments/"+last+"/edit", url.Values{"body": {"Edited on the second page"}})
	wantRedirect(t, resp, body, "/comments/"+last)
	resp, body = admin.get("/comments/" + last)
	wantRedirect(t, resp, body, "/posts/"+post+"?page=2#comment-"+last)
}
