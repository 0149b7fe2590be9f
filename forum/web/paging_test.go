package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"forum/forum"
)

// seedThread stores a post with n comments, comment i saying body(i),
// through the store, which is much faster than through HTTP. It returns the
// post's id and the comments' ids, oldest first.
func seedThread(t *testing.T, store *forum.Store, n int, body func(i int) string) (string, []string) {
	t.Helper()
	ctx := context.Background()
	u, err := store.Register(ctx, "seeder", "password123")
	if err != nil {
		t.Fatal(err)
	}
	p, err := store.CreatePost(ctx, u, "A long thread", "Many replies.")
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	for i := range n {
		c, err := store.CreateComment(ctx, u, p.ID, body(i))
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = c.ID.Hex()
	}
	return p.ID.Hex(), ids
}

func numbered(i int) string { return fmt.Sprintf("reply number %d", i) }

func TestCommentsAPIPagesByLastComment(t *testing.T) {
	db, store := newStore(t)
	srv, _ := startServer(t, db, store)
	postID, want := seedThread(t, store, 7, numbered)
	c := newClient(t, srv)

	var got []string
	path := "/api/posts/" + postID + "/comments?limit=3"
	for pages := 0; path != ""; pages++ {
		if pages > 3 {
			t.Fatalf("more than 3 pages of 3 for 7 comments; next %q", path)
		}
		resp, body := c.get(path)
		wantStatus(t, resp, body, http.StatusOK)
		for _, cm := range decodeList(t, body) {
			got = append(got, cm["id"].(string))
		}
		path = ""
		if link := resp.Header.Get("Link"); link != "" {
			var next string
			if _, err := fmt.Sscanf(link, "<%s", &next); err != nil || !strings.HasSuffix(link, `>; rel="next"`) {
				t.Fatalf("Link: got %q", link)
			}
			path = strings.TrimSuffix(next, `>;`)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("comments through the pages: got %v, want %v", got, want)
	}

	resp, body := c.get("/api/posts/" + postID + "/comments?limit=3")
	wantLink := "</api/posts/" + postID + "/comments?after=" + want[2] + `&limit=3>; rel="next"`
	if link := resp.Header.Get("Link"); link != wantLink {
		t.Errorf("first page's Link: got %q, want %q", link, wantLink)
	}
	resp, body = c.get("/api/posts/" + postID + "/comments")
	wantStatus(t, resp, body, http.StatusOK)
	if n := len(decodeList(t, body)); n != 7 || resp.Header.Get("Link") != "" {
		t.Errorf("default page: got %d comments and Link %q, want all 7 and none", n, resp.Header.Get("Link"))
	}

	for _, tc := range []struct {
		query string
		want  int
	}{
		{"limit=0", http.StatusBadRequest},
		{"limit=101", http.StatusBadRequest},
		{"limit=ten", http.StatusBadRequest},
		{"after=nothex", http.StatusBadRequest},
		{"after=0123456789abcdef01234567", http.StatusNotFound},
	} {
		t.Run(tc.query, func(t *testing.T) {
			resp, body := c.get("/api/posts/" + postID + "/comments?" + tc.query)
			wantError(t, resp, body, tc.want)
		})
	}
}

func TestThreadPagesHoldFiftyCommentsEach(t *testing.T) {
	db, store := newStore(t)
	srv, _ := startServer(t, db, store)
	postID, ids := seedThread(t, store, 2*forum.CommentPageSize+1, numbered)
	postPath := "/posts/" + postID
	alice := newClient(t, srv)
	alice.register("alice")

	for _, tc := range []struct {
		query       string
		first, last int // indexes of the first and last comment shown
	}{
		{"", 0, 49},
		{"?page=1", 0, 49},
		{"?page=2", 50, 99},
		{"?page=3", 100, 100},
	} {
		t.Run("page"+tc.query, func(t *testing.T) {
			resp, body := alice.get(postPath + tc.query)
			wantPage(t, resp, body, http.StatusOK, `id="comment-`+ids[tc.first]+`"`, `id="comment-`+ids[tc.last]+`"`, `data-testid="pager"`)
			if n := strings.Count(body, `data-testid="comment"`); n != tc.last-tc.first+1 {
				t.Errorf("comments shown: got %d, want %d", n, tc.last-tc.first+1)
			}
			if tc.first > 0 && strings.Contains(body, ids[tc.first-1]) {
				t.Errorf("the page shows a comment of the page before")
			}
			if last := tc.last == 100; last == strings.Contains(body, `data-testid="new-comments-link"`) {
				t.Errorf("last page %v, but new-comments link present %v", last, !last)
			}
		})
	}
	resp, body := alice.get(postPath)
	wantPage(t, resp, body, http.StatusOK, `href="`+postPath+`?page=3" data-testid="pager-last"`, `href="`+postPath+`?page=2" rel="next"`)

	for _, tc := range []struct {
		query string
		want  int
		says  string
	}{
		{"?page=4", http.StatusNotFound, "no page 4"},
		{"?page=0", http.StatusBadRequest, "numbered from 1"},
		{"?page=-1", http.StatusBadRequest, "numbered from 1"},
		{"?page=two", http.StatusBadRequest, "numbered from 1"},
	} {
		t.Run("page"+tc.query, func(t *testing.T) {
			resp, body := alice.get(postPath + tc.query)
			wantPage(t, resp, body, tc.want, tc.says)
		})
	}

	t.Run("a new comment is shown on the last page", func(t *testing.T) {
		resp, body := alice.postForm(postPath+"/comments", url.Values{"body": {"the last word"}})
		wantStatus(t, resp, body, http.StatusSeeOther)
		loc := resp.Header.Get("Location")
		prefix := postPath + "?page=3#comment-"
		if !strings.HasPrefix(loc, prefix) {
			t.Fatalf("after commenting: redirect to %q, want %s<id>", loc, prefix)
		}
		page, anchor, _ := strings.Cut(loc, "#")
		resp, body = alice.get(page)
		wantPage(t, resp, body, http.StatusOK, `id="`+anchor+`"`, "the last word")
	})
	t.Run("a rejected comment is shown again on the last page", func(t *testing.T) {
		resp, body := alice.postForm(postPath+"/comments", url.Values{"body": {"  "}})
		wantPage(t, resp, body, http.StatusBadRequest, `data-testid="pager-current">3<`, "must not be empty")
	})
}
