package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"forum/forum/web"
)

const hostile = `<script>alert(1)</script><img src=x onerror=alert(2)>"'&`

func wantPage(t *testing.T, resp *http.Response, body string, status int, contains ...string) {
	t.Helper()
	wantStatus(t, resp, body, status)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Fatalf("content type: got %q", ct)
	}
	for _, s := range contains {
		if !strings.Contains(body, s) {
			t.Errorf("page %s: missing %q", resp.Request.URL.Path, s)
		}
	}
}

func wantRedirect(t *testing.T, resp *http.Response, body, to string) {
	t.Helper()
	wantStatus(t, resp, body, http.StatusSeeOther)
	if got := resp.Header.Get("Location"); got != to {
		t.Fatalf("redirect: got %q, want %q", got, to)
	}
}

func TestPagesWorkWithoutJavaScript(t *testing.T) {
	srv := newServer(t)
	alice := newClient(t, srv)

	resp, body := alice.get("/register")
	wantPage(t, resp, body, http.StatusOK, `action="/register"`)
	resp, body = alice.postForm("/register", url.Values{"name": {"alice"}, "password": {"password123"}, "next": {"/posts/new"}})
	wantRedirect(t, resp, body, "/posts/new")

	resp, body = alice.get("/posts/new")
	wantPage(t, resp, body, http.StatusOK, `name="title"`, `name="body"`)
	resp, body = alice.postForm("/posts/new", url.Values{"title": {"First post"}, "body": {"Line one\nLine two"}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	postPath := resp.Header.Get("Location")
	if !strings.HasPrefix(postPath, "/posts/") {
		t.Fatalf("after posting: redirect to %q", postPath)
	}

	bob := newClient(t, srv)
	resp, body = bob.get("/")
	wantPage(t, resp, body, http.StatusOK, "First post", postPath)
	resp, body = bob.postForm(postPath+"/comments", url.Values{"body": {"nice"}})
	wantRedirect(t, resp, body, "/login?next="+url.QueryEscape(postPath))
	resp, body = bob.postForm("/register", url.Values{"name": {"bob"}, "password": {"password123"}})
	wantRedirect(t, resp, body, "/")
	resp, body = bob.postForm(postPath+"/comments", url.Values{"body": {"Nice post!"}})
	wantStatus(t, resp, body, http.StatusSeeOther)
	if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, postPath+"#comment-") {
		t.Fatalf("after commenting: redirect to %q", loc)
	}
	resp, body = alice.get(postPath)
	wantPage(t, resp, body, http.StatusOK, "First post", "Nice post!", "Line one<br>\nLine two")

	resp, body = alice.get("/notifications")
	wantPage(t, resp, body, http.StatusOK, "bob", `id="unread-badge"`)
	resp, body = alice.postForm("/notifications/read", nil)
	wantRedirect(t, resp, body, "/notifications")
	resp, body = alice.get("/api/notifications")
	if ns := decodeList(t, body); len(ns) != 1 || ns[0]["read"] != true {
		t.Fatalf("after mark all read: %s", body)
	}

	resp, body = alice.postForm("/logout", nil)
	wantRedirect(t, resp, body, "/")
	resp, body = alice.get("/notifications")
	wantRedirect(t, resp, body, "/login?next=%2Fnotifications")
	resp, body = alice.get("/login?next=/notifications")
	wantPage(t, resp, body, http.StatusOK, `action="/login"`)
	resp, body = alice.postForm("/login", url.Values{"name": {"alice"}, "password": {"password123"}, "next": {"/notifications"}})
	wantRedirect(t, resp, body, "/notifications")
}

func TestRejectedFormsKeepInputAndSayWhy(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	resp, body := c.postForm("/register", url.Values{"name": {"ab"}, "password": {"password123"}})
	wantPage(t, resp, body, http.StatusBadRequest, `value="ab"`, "Name must be")
	c.register("alice")
	resp, body = c.postForm("/posts/new", url.Values{"title": {"Kept title"}, "body": {""}})
	wantPage(t, resp, body, http.StatusBadRequest, `value="Kept title"`, "Body must not be empty")
	resp, body = newClient(t, srv).postForm("/login", url.Values{"name": {"alice"}, "password": {"nope-nope"}})
	wantPage(t, resp, body, http.StatusUnauthorized, `value="alice"`, "Wrong name or password")
	resp, body = c.postForm("/posts/new", url.Values{"title": {"t"}, "body": {strings.Repeat("x", web.MaxBodyBytes)}})
	wantPage(t, resp, body, http.StatusRequestEntityTooLarge, "could not be kept")
	resp, body = c.get("/api/posts")
	if n := len(decodeList(t, body)); n != 0 {
		t.Fatalf("rejected posts stored: %d", n)
	}
}

// nextField is the hidden field that carries next in a form.
var nextField = regexp.MustCompile(`name="next" value="([^"]*)"`)

func TestLoginAndRegisterRedirectOnlyWithinTheSite(t *testing.T) {
	srv := newServer(t)
	newClient(t, srv).register("alice")
	hostileNext := []string{"https://evil.example/", "//evil.example/", `/\evil.example`, `/./\evil.example`, "/%5Cevil.example", `\\evil.example`, "/.//evil.example"}
	for i, next := range hostileNext {
		for _, form := range []struct {
			path string
			name string
		}{{"/login", "alice"}, {"/register", fmt.Sprintf("user%d", i)}} {
			t.Run(form.path+" "+next, func(t *testing.T) {
				// The page's form carries next on to the submission.
				_, page := newClient(t, srv).get(form.path + "?next=" + url.QueryEscape(next))
				if m := nextField.FindStringSubmatch(page); m == nil || m[1] != "/" && m[1] != "/evil.example" {
					t.Fatalf("%s page carries next %q as %q", form.path, next, m)
				}
				resp, body := newClient(t, srv).postForm(form.path, url.Values{"name": {form.name}, "password": {"password123"}, "next": {next}})
				wantStatus(t, resp, body, http.StatusSeeOther)
				loc, err := url.Parse(resp.Header.Get("Location"))
				if err != nil || loc.Scheme != "" || loc.Host != "" || !strings.HasPrefix(loc.Path, "/") ||
					strings.HasPrefix(resp.Header.Get("Location"), "//") || strings.ContainsAny(resp.Header.Get("Location"), `\`) {
					t.Fatalf("next %q: redirected to %q, want a path on this site", next, resp.Header.Get("Location"))
				}
			})
		}
	}
	resp, body := newClient(t, srv).postForm("/login", url.Values{"name": {"alice"}, "password": {"password123"}, "next": {"/notifications?x=1"}})
	wantRedirect(t, resp, body, "/notifications?x=1")
}

func TestHostileInputIsEscapedOnEveryPage(t *testing.T) {
	srv := newServer(t)
	alice, bob := newClient(t, srv), newClient(t, srv)
	alice.register("alice")
	bob.register("bob")
	post := alice.createPost(hostile, hostile)
	postID := post["id"].(string)
	bob.createComment(postID, hostile)
	for _, page := range []struct {
		c    *client
		path string
	}{{alice, "/"}, {alice, "/posts/" + postID}, {alice, "/notifications"}, {bob, "/"}} {
		resp, body := page.c.get(page.path)
		wantPage(t, resp, body, http.StatusOK, "&lt;script&gt;alert(1)&lt;/script&gt;")
		if strings.Contains(body, "<script>alert(1)") || strings.Contains(body, "<img src=x") {
			t.Errorf("%s: hostile markup not escaped", page.path)
		}
	}
}

func TestPageErrors(t *testing.T) {
	srv := newServer(t)
	alice := newClient(t, srv)
	alice.register("alice")
	for _, tc := range []struct {
		c    *client
		path string
		want int
	}{
		{alice, "/posts/0123456789abcdef01234567", http.StatusNotFound},
		{alice, "/posts/nothex", http.StatusBadRequest},
		{alice, "/no/such/page", http.StatusNotFound},
		{alice, "/admin/stats", http.StatusForbidden},
	} {
		resp, body := tc.c.get(tc.path)
		wantPage(t, resp, body, tc.want)
	}
	resp, body := newClient(t, srv).get("/admin/stats")
	wantRedirect(t, resp, body, "/login?next=%2Fadmin%2Fstats")
	resp, body = newClient(t, srv).get("/posts/new")
	wantRedirect(t, resp, body, "/login?next=%2Fposts%2Fnew")
	root := newClient(t, srv)
	root.login("root")
	resp, body = root.get("/admin/stats")
	wantPage(t, resp, body, http.StatusOK, `data-stat="users"`)
}

func TestStaticFilesAreServed(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	_, body := c.get("/")
	for _, name := range []string{"app.css", "app.js"} {
		i := strings.Index(body, "/static/"+name)
		if i < 0 {
			t.Fatalf("page does not link %s", name)
		}
		ref := body[i:]
		ref = ref[:strings.IndexAny(ref, `"'`)]
		resp, content := c.get(strings.ReplaceAll(ref, "&amp;", "&"))
		wantStatus(t, resp, content, http.StatusOK)
		if content == "" {
			t.Fatalf("%s is empty", ref)
		}
	}
}
