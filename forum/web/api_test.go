package web_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"forum/forum/web"
)

func TestRegisterAnswersUserAndSetsSafeSessionCookie(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	resp, body := c.postJSON("/api/register", map[string]string{"name": "alice", "password": "password123"})
	wantStatus(t, resp, body, http.StatusCreated)
	u := decodeObject(t, body)
	if keys(u) != "admin,id,name,suspended" || u["name"] != "alice" || u["admin"] != false || len(u["id"].(string)) != 24 {
		t.Fatalf("user: got %s", body)
	}
	cookie := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Lax"} {
		if !strings.Contains(cookie, want) {
			t.Errorf("cookie %q: want %s", cookie, want)
		}
	}
	if strings.Contains(cookie, "Secure") {
		t.Errorf("cookie %q: Secure without TLS", cookie)
	}
	resp, body = c.postJSON("/api/posts", map[string]string{"title": "t", "body": "b"})
	wantStatus(t, resp, body, http.StatusCreated)
}

func TestAdminFlagIsTheAccounts(t *testing.T) {
	srv := newServer(t)
	resp, body := newClient(t, srv).postJSON("/api/register", map[string]string{"name": "admin", "password": "password123"})
	wantStatus(t, resp, body, http.StatusCreated)
	if decodeObject(t, body)["admin"] != false {
		t.Fatalf("registered admin: got %s, want no admin", body)
	}
	resp, body = newClient(t, srv).postJSON("/api/login", map[string]string{"name": "Root", "password": "password123"})
	wantStatus(t, resp, body, http.StatusOK)
	if decodeObject(t, body)["admin"] != true {
		t.Fatalf("root: got %s, want admin", body)
	}
}

func TestRegisterRejectsBadInput(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	c.register("alice")
	cases := []struct {
		name        string
		contentType string
		body        string
		want        int
	}{
		{"taken name in other case", "application/json", `{"name":"ALICE","password":"password123"}`, http.StatusConflict},
		{"short name", "application/json", `{"name":"al","password":"password123"}`, http.StatusBadRequest},
		{"short password", "application/json", `{"name":"bobby","password":"short"}`, http.StatusBadRequest},
		{"malformed JSON", "application/json", `{"name":`, http.StatusBadRequest},
		{"wrong field type", "application/json", `{"name":5,"password":"password123"}`, http.StatusBadRequest},
		{"empty body", "application/json", ``, http.StatusBadRequest},
		{"two objects", "application/json", `{} {}`, http.StatusBadRequest},
		{"not JSON", "text/plain", `{"name":"bobby","password":"password123"}`, http.StatusUnsupportedMediaType},
		{"no content type", "", `{"name":"bobby","password":"password123"}`, http.StatusUnsupportedMediaType},
		{"body over the cap", "application/json", `{"name":"bobby","password":"` + strings.Repeat("p", web.MaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resp, body := c.do(http.MethodPost, "/api/register", tc.contentType, strings.NewReader(tc.body))
			wantError(t, resp, body, tc.want)
		})
	}
	resp, body := newClient(t, srv).postJSON("/api/login", map[string]string{"name": "bobby", "password": "password123"})
	wantError(t, resp, body, http.StatusUnauthorized)
}

func TestLogin(t *testing.T) {
	srv := newServer(t)
	newClient(t, srv).register("alice")
	c := newClient(t, srv)
	resp, body := c.postJSON("/api/login", map[string]string{"name": "Alice", "password": "wrong-password"})
	wantError(t, resp, body, http.StatusUnauthorized)
	resp, body = c.postJSON("/api/login", map[string]string{"name": "Alice", "password": "password123"})
	wantStatus(t, resp, body, http.StatusOK)
	if u := decodeObject(t, body); u["name"] != "alice" {
		t.Fatalf("login: got %s", body)
	}
	resp, body = c.get("/api/notifications")
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = c.postJSON("/api/logout", nil)
	if resp.StatusCode >= 300 {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
	resp, body = c.get("/api/notifications")
	wantError(t, resp, body, http.StatusUnauthorized)
}

func TestLoginIsRateLimitedPerNameAndAddress(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	c.register("alice")
	var resp *http.Response
	var body string
	for range 10 {
		resp, body = c.postJSON("/api/login", map[string]string{"name": "alice", "password": "wrong-password"})
		wantError(t, resp, body, http.StatusUnauthorized)
	}
	resp, body = c.postJSON("/api/login", map[string]string{"name": "alice", "password": "password123"})
	wantError(t, resp, body, http.StatusTooManyRequests)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	newClient(t, srv).register("bobby")
	resp, body = c.postJSON("/api/login", map[string]string{"name": "bobby", "password": "password123"})
	wantStatus(t, resp, body, http.StatusOK)
}

func TestPostsAPI(t *testing.T) {
	srv := newServer(t)
	alice := newClient(t, srv)
	alice.register("alice")

	resp, body := newClient(t, srv).postJSON("/api/posts", map[string]string{"title": "t", "body": "b"})
	wantError(t, resp, body, http.StatusUnauthorized)

	var ids []string
	for i := range 3 {
		p := alice.createPost(fmt.Sprintf("  title %d  ", i), "body")
		if keys(p) != "author,body,comments,createdAt,id,lastActivityAt,locked,title" || p["title"] != fmt.Sprintf("title %d", i) || p["author"] != "alice" || p["comments"] != 0.0 {
			t.Fatalf("post: got %v", p)
		}
		ids = append(ids, p["id"].(string))
	}
	resp, body = alice.get("/api/posts/" + ids[0])
	wantStatus(t, resp, body, http.StatusOK)
	if p := decodeObject(t, body); p["id"] != ids[0] {
		t.Fatalf("get post: got %s", body)
	}

	resp, body = alice.get("/api/posts?limit=2")
	wantStatus(t, resp, body, http.StatusOK)
	page := decodeList(t, body)
	if len(page) != 2 || page[0]["id"] != ids[2] || page[1]["id"] != ids[1] {
		t.Fatalf("first page: got %s", body)
	}
	resp, body = alice.get("/api/posts?limit=2&before=" + ids[1])
	wantStatus(t, resp, body, http.StatusOK)
	if page := decodeList(t, body); len(page) != 1 || page[0]["id"] != ids[0] {
		t.Fatalf("second page: got %s", body)
	}

	for _, tc := range []struct {
		path string
		want int
	}{
		{"/api/posts?limit=0", http.StatusBadRequest},
		{"/api/posts?limit=abc", http.StatusBadRequest},
		{"/api/posts?limit=101", http.StatusBadRequest},
		{"/api/posts?before=xyz", http.StatusBadRequest},
		{"/api/posts?before=0123456789abcdef01234567", http.StatusNotFound},
		{"/api/posts/xyz", http.StatusBadRequest},
		{"/api/posts/0123456789abcdef01234567", http.StatusNotFound},
		{"/api/posts/0123456789abcdef01234567/comments", http.StatusNotFound},
		{"/api/nothing", http.StatusNotFound},
	} {
		resp, body := alice.get(tc.path)
		wantError(t, resp, body, tc.want)
	}
	for _, tc := range []struct {
		body string
		want int
	}{
		{`{"title":"","body":"b"}`, http.StatusBadRequest},
		{`{"title":"t","body":"` + strings.Repeat("x", 20001) + `"}`, http.StatusBadRequest},
		{`{"title":"t","body":"` + strings.Repeat("x", web.MaxBodyBytes) + `"}`, http.StatusRequestEntityTooLarge},
		{`{"title":"t","body":"b\ud800"}`, http.StatusCreated},
		{"{\"title\":\"t\",\"body\":\"b\xff\"}", http.StatusBadRequest},
	} {
		resp, body := alice.do(http.MethodPost, "/api/posts", "application/json", strings.NewReader(tc.body))
		wantStatus(t, resp, body, tc.want)
	}
	resp, body = alice.get("/api/posts?limit=100")
	if n := len(decodeList(t, body)); n != 4 {
		t.Fatalf("rejected posts stored: got %d posts, want 4", n)
	}
}

func TestCommentsAndNotificationsAPI(t *testing.T) {
	srv := newServer(t)
	alice, bob := newClient(t, srv), newClient(t, srv)
	alice.register("alice")
	bob.register("bob")
	post := alice.createPost("Hello", "World")
	postID := post["id"].(string)

	resp, body := newClient(t, srv).postJSON("/api/posts/"+postID+"/comments", map[string]string{"body": "hi"})
	wantError(t, resp, body, http.StatusUnauthorized)
	resp, body = bob.postJSON("/api/posts/nothex/comments", map[string]string{"body": "hi"})
	wantError(t, resp, body, http.StatusBadRequest)
	resp, body = bob.postJSON("/api/posts/0123456789abcdef01234567/comments", map[string]string{"body": "hi"})
	wantError(t, resp, body, http.StatusNotFound)
	resp, body = bob.postJSON("/api/posts/"+postID+"/comments", map[string]string{"body": ""})
	wantError(t, resp, body, http.StatusBadRequest)

	c1 := bob.createComment(postID, "first")
	if keys(c1) != "author,body,createdAt,id,postId" || c1["postId"] != postID || c1["author"] != "bob" {
		t.Fatalf("comment: got %v", c1)
	}
	bob.createComment(postID, "second")
	resp, body = newClient(t, srv).get("/api/posts/" + postID + "/comments")
	wantStatus(t, resp, body, http.StatusOK)
	cs := decodeList(t, body)
	if len(cs) != 2 || cs[0]["body"] != "first" || cs[1]["body"] != "second" {
		t.Fatalf("comments oldest first: got %s", body)
	}
	resp, body = alice.get("/api/posts/" + postID)
	if decodeObject(t, body)["comments"] != 2.0 {
		t.Fatalf("comment count: got %s", body)
	}

	resp, body = alice.get("/api/notifications")
	wantStatus(t, resp, body, http.StatusOK)
	ns := decodeList(t, body)
	if len(ns) != 2 || keys(ns[0]) != "actor,commentId,createdAt,excerpt,id,kind,message,postId,read" {
		t.Fatalf("notifications: got %s", body)
	}
	if ns[1]["commentId"] != c1["id"] || ns[1]["kind"] != "comment" || ns[1]["actor"] != "bob" || ns[1]["postId"] != postID || ns[1]["read"] != false {
		t.Fatalf("oldest notification: got %v", ns[1])
	}
	resp, body = bob.get("/api/notifications")
	if len(decodeList(t, body)) != 0 {
		t.Fatalf("bob notified of his own comments: %s", body)
	}

	resp, body = alice.postJSON("/api/notifications/read", map[string]any{"ids": []string{"bad"}})
	wantError(t, resp, body, http.StatusBadRequest)
	resp, body = bob.postJSON("/api/notifications/read", map[string]any{"ids": []string{ns[0]["id"].(string)}})
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = alice.postJSON("/api/notifications/read", map[string]any{"ids": []string{ns[0]["id"].(string)}})
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = alice.get("/api/notifications")
	ns = decodeList(t, body)
	if ns[0]["read"] != true || ns[1]["read"] != false {
		t.Fatalf("after marking one read: %s", body)
	}
	resp, body = alice.do(http.MethodPost, "/api/notifications/read", "", nil)
	wantStatus(t, resp, body, http.StatusOK)
	resp, body = alice.get("/api/notifications")
	if ns = decodeList(t, body); ns[1]["read"] != true {
		t.Fatalf("after marking all read: %s", body)
	}
}

func TestStatsAPIIsForAdmins(t *testing.T) {
	srv := newServer(t)
	resp, body := newClient(t, srv).get("/api/stats")
	wantError(t, resp, body, http.StatusUnauthorized)
	alice := newClient(t, srv)
	alice.register("alice")
	alice.createPost("t", "b")
	resp, body = alice.get("/api/stats")
	wantError(t, resp, body, http.StatusForbidden)
	root := newClient(t, srv)
	root.login("root")
	resp, body = root.get("/api/stats")
	wantStatus(t, resp, body, http.StatusOK)
	if st := decodeObject(t, body); keys(st) != "comments,posts,users" || st["users"] != 2.0 || st["posts"] != 1.0 {
		t.Fatalf("stats: got %s", body)
	}
}

func TestCrossOriginStateChangesAreRefused(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	c.register("alice")
	resp, body := c.do(http.MethodPost, "/api/posts", "application/json", strings.NewReader(`{"title":"t","body":"b"}`), "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	wantError(t, resp, body, http.StatusForbidden)
	resp, body = c.do(http.MethodPost, "/api/posts", "application/json", strings.NewReader(`{"title":"t","body":"b"}`), "Origin", srv.URL, "Sec-Fetch-Site", "same-origin")
	wantStatus(t, resp, body, http.StatusCreated)
	resp, body = c.get("/api/posts")
	if n := len(decodeList(t, body)); n != 1 {
		t.Fatalf("posts: got %d, want only the same-origin one", n)
	}
}

func TestWrongMethodAndUnknownPath(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	resp, body := c.postJSON("/api/stats", nil)
	wantError(t, resp, body, http.StatusMethodNotAllowed)
	resp, body = c.get("/api/nope")
	wantError(t, resp, body, http.StatusNotFound)
}

func TestHealthAndReadiness(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	resp, body := c.get("/healthz")
	wantStatus(t, resp, body, http.StatusOK)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		resp, body = c.get("/readyz")
		if resp.StatusCode == http.StatusOK || time.Now().After(deadline) {
			break
		}
	}
	wantStatus(t, resp, body, http.StatusOK)
}
