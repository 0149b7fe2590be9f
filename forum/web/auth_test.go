package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/forum"
	"forum/forum/forumtest"
)

// gate holds every lookup of a user by name until it opens, so that a test
// can see how many sign-in attempts got as far as being checked.
type gate struct {
	waiting atomic.Int64
	opened  chan struct{}
	once    sync.Once
}

func (g *gate) open() { g.once.Do(func() { close(g.opened) }) }

type gatedDB struct {
	lungo.IDatabase
	gate *gate
}

func (d gatedDB) Collection(name string, opts ...*options.CollectionOptions) lungo.ICollection {
	c := d.IDatabase.Collection(name, opts...)
	if name == forum.UsersCollection {
		return gatedUsers{c, d.gate}
	}
	return c
}

type gatedUsers struct {
	lungo.ICollection
	gate *gate
}

func (c gatedUsers) FindOne(ctx context.Context, filter any, opts ...*options.FindOneOptions) lungo.ISingleResult {
	c.gate.waiting.Add(1)
	<-c.gate.opened
	return c.ICollection.FindOne(ctx, filter, opts...)
}

func TestParallelSignInsAreLimitedLikeSequentialOnes(t *testing.T) {
	ctx := context.Background()
	db, plain := newStore(t)
	if _, err := plain.Register(ctx, "alice", testPassword); err != nil {
		t.Fatal(err)
	}
	g := &gate{opened: make(chan struct{})}
	store, err := forum.NewStore(ctx, gatedDB{db.Database, g}, forumtest.FastPasswords())
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := startServer(t, db, store)
	t.Cleanup(g.open)

	const attempts, limit = 50, 10
	type answer struct {
		status     int
		retryAfter string
	}
	answers := make(chan answer, attempts)
	for i := range attempts {
		password := "wrong-password"
		if i == attempts/2 {
			password = testPassword
		}
		go func() {
			b, _ := json.Marshal(map[string]string{"name": "alice", "password": password})
			resp, err := http.Post(srv.URL+"/api/login", "application/json", bytes.NewReader(b))
			if err != nil {
				answers <- answer{}
				return
			}
			resp.Body.Close()
			answers <- answer{resp.StatusCode, resp.Header.Get("Retry-After")}
		}()
	}
	// While no password is being compared, every attempt past the limit
	// must have been answered, and only the limit's worth may be waiting.
	refused := 0
	for refused < attempts-limit {
		select {
		case a := <-answers:
			if a.status != http.StatusTooManyRequests || a.retryAfter == "" {
				t.Fatalf("answer before any password was compared: got %d, Retry-After %q; want 429 with Retry-After", a.status, a.retryAfter)
			}
			refused++
		case <-time.After(time.Minute):
			t.Fatalf("got %d refusals and %d attempts being checked; want %d refused before any check", refused, g.waiting.Load(), attempts-limit)
		}
	}
	waitFor(t, "the allowed attempts reach the check", func() bool { return g.waiting.Load() == limit })
	g.open()
	signedIn := 0
	for range limit {
		switch a := <-answers; a.status {
		case http.StatusOK:
			signedIn++
		case http.StatusUnauthorized:
		default:
			t.Fatalf("checked attempt: got status %d", a.status)
		}
	}
	if n := g.waiting.Load(); n != limit || signedIn > 1 {
		t.Fatalf("got %d passwords checked and %d sign-ins; want %d checked, at most one sign-in", n, signedIn, limit)
	}
}

func TestOverlongNamesShareOneLimit(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	for i := range 11 {
		name := strings.Repeat(string(rune('a'+i)), 60000)
		resp, body := c.postJSON("/api/login", map[string]string{"name": name, "password": "wrong-password"})
		want := http.StatusUnauthorized
		if i == 10 {
			want = http.StatusTooManyRequests
		}
		wantError(t, resp, body, want)
	}
	resp, body := c.postJSON("/api/login", map[string]string{"name": "root", "password": testPassword})
	wantStatus(t, resp, body, http.StatusOK)
}

// copyOf returns a client on srv holding a copy of c's cookies, as someone
// who copied them would.
func (c *client) copyOf(srv string) *client {
	c.t.Helper()
	from, _ := url.Parse(c.base)
	to, _ := url.Parse(srv)
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(to, c.http.Jar.Cookies(from))
	if len(jar.Cookies(to)) == 0 {
		c.t.Fatal("no cookies to copy")
	}
	return &client{t: c.t, base: srv, http: &http.Client{Jar: jar, CheckRedirect: c.http.CheckRedirect}}
}

// wantSignedOut checks that c's session no longer works.
func (c *client) wantSignedOut() {
	c.t.Helper()
	resp, body := c.get("/api/notifications")
	wantError(c.t, resp, body, http.StatusUnauthorized)
	resp, body = c.postJSON("/api/posts", map[string]string{"title": "t", "body": "b"})
	wantError(c.t, resp, body, http.StatusUnauthorized)
}

func (c *client) wantSignedIn() {
	c.t.Helper()
	resp, body := c.get("/api/notifications")
	wantStatus(c.t, resp, body, http.StatusOK)
}

type signOutWay struct {
	name    string
	signOut func(c *client)
}

// signOutWays are the API's and the page's way to post to a sign-out path:
// /api+path answers 204, the page's path sends home.
func signOutWays(path string) []signOutWay {
	return []signOutWay{
		{"api", func(c *client) {
			resp, body := c.postJSON("/api"+path, nil)
			wantStatus(c.t, resp, body, http.StatusNoContent)
		}},
		{"page", func(c *client) {
			resp, body := c.postForm(path, nil)
			wantRedirect(c.t, resp, body, "/")
		}},
	}
}

func TestLogoutEndsTheSessionOnEveryInstance(t *testing.T) {
	db, store := newStore(t)
	other, err := forum.NewStore(context.Background(), db.Database, forumtest.FastPasswords())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := startServer(t, db, store)
	b, _ := startServer(t, db, other)
	for _, tc := range signOutWays("/logout") {
		t.Run(tc.name, func(t *testing.T) {
			alice := newClient(t, a)
			alice.register("alice-" + tc.name)
			copyOnA, copyOnB := alice.copyOf(a.URL), alice.copyOf(b.URL)
			copyOnB.wantSignedIn()
			tc.signOut(alice)
			alice.wantSignedOut()
			copyOnA.wantSignedOut()
			copyOnB.wantSignedOut()
		})
	}
}

func TestSignOutEverywhereEndsAllOfTheUsersSessions(t *testing.T) {
	srv := newServer(t)
	for _, tc := range signOutWays("/logout/everywhere") {
		t.Run(tc.name, func(t *testing.T) {
			name := "alice-" + tc.name
			laptop, phone, root := newClient(t, srv), newClient(t, srv), newClient(t, srv)
			laptop.register(name)
			phone.login(name)
			copied := phone.copyOf(srv.URL)
			root.login("root")
			tc.signOut(laptop)
			laptop.wantSignedOut()
			phone.wantSignedOut()
			copied.wantSignedOut()
			root.wantSignedIn()
		})
	}
	anon := newClient(t, srv)
	resp, body := anon.postJSON("/api/logout/everywhere", nil)
	wantError(t, resp, body, http.StatusUnauthorized)
	resp, body = anon.postForm("/logout/everywhere", nil)
	wantRedirect(t, resp, body, "/login?next=%2F")
}

func TestForgedSessionCookieIsRefused(t *testing.T) {
	srv := newServer(t)
	alice := newClient(t, srv)
	alice.register("alice")
	u, _ := url.Parse(srv.URL)
	cookie := alice.http.Jar.Cookies(u)[0]
	token, _, _ := strings.Cut(cookie.Value, ".")
	forged := newClient(t, srv)
	// The token with its first character changed (to one it does not have).
	changed := "x" + cookie.Value[1:]
	if cookie.Value[0] == 'x' {
		changed = "y" + cookie.Value[1:]
	}
	for _, value := range []string{token, token + ".AAAA", changed, ""} {
		forged.http.Jar.SetCookies(u, []*http.Cookie{{Name: cookie.Name, Value: value}})
		forged.wantSignedOut()
	}
	alice.wantSignedIn()
}

func TestAdminsGrantAndRevokeOnTheAdminPage(t *testing.T) {
	srv := newServer(t)
	root, alice, anon := newClient(t, srv), newClient(t, srv), newClient(t, srv)
	root.login("root")
	alice.register("alice")

	resp, body := anon.get("/admin/users")
	wantRedirect(t, resp, body, "/login?next=%2Fadmin%2Fusers")
	resp, body = anon.postForm("/admin/users/grant", url.Values{"name": {"alice"}})
	wantRedirect(t, resp, body, "/login?next=%2Fadmin%2Fusers")
	resp, body = alice.get("/admin/users")
	wantPage(t, resp, body, http.StatusForbidden)
	resp, body = alice.postForm("/admin/users/grant", url.Values{"name": {"alice"}})
	wantPage(t, resp, body, http.StatusForbidden)

	resp, body = root.get("/admin/stats")
	wantPage(t, resp, body, http.StatusOK, `href="/admin/users"`)
	resp, body = root.get("/admin/users")
	wantPage(t, resp, body, http.StatusOK, `data-name="root"`, `action="/admin/users/grant"`)

	for _, tc := range []struct {
		path, name string
		want       int
		text       string
	}{
		{"/admin/users/grant", "nobody", http.StatusNotFound, "No user is named &#34;nobody&#34;."},
		{"/admin/users/grant", "", http.StatusBadRequest, "Enter the name of a user."},
		{"/admin/users/revoke", "root", http.StatusConflict, "root is the last admin"},
	} {
		resp, body = root.postForm(tc.path, url.Values{"name": {tc.name}})
		wantPage(t, resp, body, tc.want, tc.text, `data-name="root"`)
	}

	resp, body = alice.get("/api/stats")
	wantError(t, resp, body, http.StatusForbidden)
	resp, body = root.postForm("/admin/users/grant", url.Values{"name": {"ALICE"}})
	wantRedirect(t, resp, body, "/admin/users")
	resp, body = alice.get("/api/stats")
	wantStatus(t, resp, body, http.StatusOK)

	resp, body = alice.postForm("/admin/users/revoke", url.Values{"name": {"root"}})
	wantRedirect(t, resp, body, "/admin/users")
	resp, body = root.get("/admin/users")
	wantPage(t, resp, body, http.StatusForbidden)
	resp, body = alice.get("/admin/users")
	wantPage(t, resp, body, http.StatusOK, `data-name="alice"`)
	if strings.Contains(body, `data-name="root"`) {
		t.Fatal("root still listed as an admin")
	}
}
