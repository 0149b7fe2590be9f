package views

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
)

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var b bytes.Buffer
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatalf("render: %v", err)
	}
	return b.String()
}

func assertContains(t *testing.T, html string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(html, want) {
			t.Errorf("missing %q in:\n%s", want, html)
		}
	}
}

func assertNotContains(t *testing.T, html string, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(html, u) {
			t.Errorf("unexpected %q in:\n%s", u, html)
		}
	}
}

var created = time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)

func TestPostCardEscapesUserTextAndHasStableIDs(t *testing.T) {
	id := primitive.NewObjectID()
	post := &forum.Post{ID: id, Title: `<script>alert("t")</script>`, Body: "<b>bold</b>\nnext", Author: "bob", CreatedAt: created, Comments: 1}
	got := render(t, PostCard(post))
	assertContains(t, got,
		`<article class="post card" id="post-`+id.Hex()+`" data-testid="post" data-id="`+id.Hex()+`"`,
		`href="/posts/`+id.Hex()+`"`,
		`&lt;script&gt;`,
		`&lt;b&gt;bold&lt;/b&gt; next`,
		`1 comment<`,
		`<time datetime="2024-05-06T07:08:09.123Z" title="2024-05-06 07:08:09 UTC">2024-05-06 07:08 UTC</time>`,
	)
	assertNotContains(t, got, "<script>", "<b>")
}

func TestLayout(t *testing.T) {
	tests := []struct {
		name      string
		page      Page
		wants     []string
		unwanteds []string
	}{
		{
			name:      "signed out links to sign in and back",
			page:      Page{Path: "/posts/abc?x=1&y=2"},
			wants:     []string{`href="/login?next=/posts/abc%3Fx%3D1%26y%3D2" data-testid="login-link"`, `data-testid="register-link"`, `<body data-topics="" data-events="" data-user="" data-live-worker="/static/live-worker.js?v=`},
			unwanteds: []string{"unread-badge", "/logout", "/admin/stats"},
		},
		{
			name:      "signed in without unread hides the badge",
			page:      Page{User: &forum.User{Name: "alice"}, Topics: []string{"posts", "notifications"}},
			wants:     []string{`<span id="unread-badge" class="badge" data-testid="unread-badge" hidden>0</span>`, `action="/logout"`, `<body data-topics="posts,notifications" data-events="" data-user="000000000000000000000000"`},
			unwanteds: []string{"/admin/stats", `data-testid="login-link"`},
		},
		{
			name:  "admin with unread shows the count and the admin link",
			page:  Page{User: &forum.User{Name: "root", Admin: true}, Unread: 3},
			wants: []string{`<span id="unread-badge" class="badge" data-testid="unread-badge">3</span>`, `href="/admin/stats"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(t, ErrorPage(tt.page, 404, "No such post."))
			assertContains(t, got, append(tt.wants, `<!doctype html>`, `<main id="content">`, `id="live-status"`, `404 Not Found`)...)
			assertNotContains(t, got, tt.unwanteds...)
		})
	}
}

func TestPostViewCommentForm(t *testing.T) {
	post := &forum.Post{ID: primitive.NewObjectID(), Title: "T", Body: "B", CreatedAt: created}
	t.Run("signed in sees the form with their input and the error", func(t *testing.T) {
		f := Form{Values: map[string]string{"body": "<i>draft</i>"}, Error: "Body must not be empty."}
		got := render(t, PostView(Page{User: &forum.User{Name: "a"}}, post, nil, Pager{Page: 1, Pages: 1}, f))
		assertContains(t, got,
			`action="/posts/`+post.ID.Hex()+`/comments"`,
			`data-testid="comment-input">&lt;i&gt;draft&lt;/i&gt;</textarea>`,
			`<p class="error" role="alert" data-testid="form-error">Body must not be empty.</p>`,
		)
	})
	t.Run("signed out is asked to sign in", func(t *testing.T) {
		got := render(t, PostView(Page{}, post, nil, Pager{Page: 1, Pages: 1}, Form{}))
		assertContains(t, got, `href="/login?next=/posts/`+post.ID.Hex()+`" data-testid="comment-login-link"`)
		assertNotContains(t, got, "comment-input")
	})
}

func TestPostViewPager(t *testing.T) {
	post := &forum.Post{ID: primitive.NewObjectID(), Title: "T", Body: "B", CreatedAt: created, Comments: 9 * forum.CommentPageSize}
	url := "/posts/" + post.ID.Hex()
	tests := []struct {
		name      string
		pager     Pager
		wants     []string
		unwanteds []string
	}{
		{"one page has no pager", Pager{Page: 1, Pages: 1}, nil, []string{`data-testid="pager"`, "new-comments"}},
		{"first page links ahead", Pager{Page: 1, Pages: 9}, []string{
			`<span aria-current="page" data-testid="pager-current">1</span>`,
			`href="` + url + `?page=2" data-testid="pager-page">2<`,
			`href="` + url + `?page=3" data-testid="pager-page">3<`,
			`href="` + url + `?page=2" rel="next"`,
			`href="` + url + `?page=9" data-testid="pager-last">Last (9)<`,
			`id="new-comments" href="` + url + `?page=9" data-testid="new-comments-link" data-comments="450" data-per-page="50"`,
		}, []string{`?page=4"`, "pager-first", "pager-prev"}},
		{"middle page links both ways", Pager{Page: 5, Pages: 9}, []string{
			`href="` + url + `" data-testid="pager-first">First<`,
			`href="` + url + `?page=4" rel="prev"`,
			`href="` + url + `?page=3" data-testid="pager-page">3<`,
			`<span aria-current="page" data-testid="pager-current">5</span>`,
			`href="` + url + `?page=7" data-testid="pager-page">7<`,
			`href="` + url + `?page=6" rel="next"`,
		}, []string{`?page=2" data-testid="pager-page"`, `?page=8" data-testid="pager-page"`}},
		{"last page takes live comments in place", Pager{Page: 9, Pages: 9}, []string{
			`href="` + url + `?page=8" rel="prev"`,
			`<span aria-current="page" data-testid="pager-current">9</span>`,
		}, []string{"pager-next", "pager-last", "new-comments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(t, PostView(Page{}, post, nil, tt.pager, Form{}))
			assertContains(t, got, tt.wants...)
			assertNotContains(t, got, tt.unwanteds...)
		})
	}
}

func TestNotificationItem(t *testing.T) {
	n := &forum.Notification{ID: primitive.NewObjectID(), PostID: primitive.NewObjectID(), CommentID: primitive.NewObjectID(), Message: `bob commented on "x"`, CreatedAt: created}
	link := `href="/notifications/` + n.ID.Hex() + `"`
	t.Run("unread has its own mark-read form", func(t *testing.T) {
		got := render(t, NotificationItem(n))
		assertContains(t, got, `class="notification unread"`, link, `name="id" value="`+n.ID.Hex()+`"`)
	})
	t.Run("read has none", func(t *testing.T) {
		read := *n
		read.Read = true
		got := render(t, NotificationItem(&read))
		assertContains(t, got, `class="notification read"`, link)
		assertNotContains(t, got, "<form")
	})
}

func TestAuthURL(t *testing.T) {
	tests := []struct{ next, want string }{
		{"", "/login"},
		{"/posts/abc", "/login?next=/posts/abc"},
		{"/?before=abc", "/login?next=/%3Fbefore%3Dabc"},
		{"/a b#c", "/login?next=/a+b%23c"},
	}
	for _, tt := range tests {
		if got := loginURL(tt.next); got != tt.want {
			t.Errorf("loginURL(%q) = %q, want %q", tt.next, got, tt.want)
		}
	}
}

func TestExcerpt(t *testing.T) {
	long := strings.Repeat("word ", 100)
	tests := []struct {
		name, body, want string
	}{
		{"short keeps the text on one line", "a\n\nb  c", "a b c"},
		{"long is cut at a word", long, strings.TrimSpace(strings.Repeat("word ", 56)) + "…"},
		{"one long word is cut in it", strings.Repeat("é", 300), strings.Repeat("é", excerptLen) + "…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := excerpt(tt.body); got != tt.want {
				t.Errorf("excerpt = %q, want %q", got, tt.want)
			}
		})
	}
}
