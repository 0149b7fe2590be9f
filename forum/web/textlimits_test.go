package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"forum/forum"
	"forum/forum/web"
)

// Text at the documented limits, in characters, goes through the forms
// whatever its script, though a browser sends up to 12 bytes for each
// character (%F0%9F%98%80).
func TestFormsTakeTextUpToTheLimitInAnyScript(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	c.register("alice")
	postID := c.createPost("A thread", "to comment on")["id"].(string)

	for _, script := range []struct{ name, char string }{
		{"Cyrillic", "ж"},
		{"CJK", "語"},
		{"emoji", "😀"},
	} {
		t.Run(script.name+" post at the limit", func(t *testing.T) {
			title, body := strings.Repeat(script.char, forum.MaxTitleLen), strings.Repeat(script.char, forum.MaxPostBodyLen)
			resp, page := c.postForm("/posts/new", url.Values{"title": {title}, "body": {body}})
			wantStatus(t, resp, page, http.StatusSeeOther)
			resp, page = c.get(resp.Header.Get("Location"))
			wantPage(t, resp, page, http.StatusOK, title, body)
		})
		t.Run(script.name+" comment at the limit", func(t *testing.T) {
			body := strings.Repeat(script.char, forum.MaxCommentLen)
			resp, page := c.postForm("/posts/"+postID+"/comments", url.Values{"body": {body}})
			wantStatus(t, resp, page, http.StatusSeeOther)
			resp, page = c.get(strings.Split(resp.Header.Get("Location"), "#")[0])
			wantPage(t, resp, page, http.StatusOK, body)
		})
		t.Run(script.name+" post one character over is shown again", func(t *testing.T) {
			body := strings.Repeat(script.char, forum.MaxPostBodyLen+1)
			resp, page := c.postForm("/posts/new", url.Values{"title": {"Kept"}, "body": {body}})
			wantPage(t, resp, page, http.StatusBadRequest, `value="Kept"`, ">"+body+"</textarea>",
				fmt.Sprintf("at most %d characters (it has %d)", forum.MaxPostBodyLen, forum.MaxPostBodyLen+1))
		})
		t.Run(script.name+" comment one character over is shown again", func(t *testing.T) {
			body := strings.Repeat(script.char, forum.MaxCommentLen+1)
			resp, page := c.postForm("/posts/"+postID+"/comments", url.Values{"body": {body}})
			wantPage(t, resp, page, http.StatusBadRequest, ">"+body+"</textarea>", "at most 10000 characters")
		})
	}

	t.Run("line breaks count once", func(t *testing.T) {
		body := strings.Repeat("ж\r\n", forum.MaxCommentLen/2)
		resp, page := c.postForm("/posts/"+postID+"/comments", url.Values{"body": {body}})
		wantStatus(t, resp, page, http.StatusSeeOther)
	})
}

// The JSON API takes text at the limits even when every character is
// escaped, an emoji as a surrogate pair of 12 bytes.
func TestAPITakesEscapedTextUpToTheLimit(t *testing.T) {
	srv := newServer(t)
	c := newClient(t, srv)
	c.register("alice")
	const emoji = `\ud83d\ude00`
	raw := `{"title":"` + strings.Repeat(emoji, forum.MaxTitleLen) + `","body":"` + strings.Repeat(emoji, forum.MaxPostBodyLen) + `"}`
	resp, body := c.do(http.MethodPost, "/api/posts", "application/json", strings.NewReader(raw))
	wantStatus(t, resp, body, http.StatusCreated)
	if p := decodeObject(t, body); p["body"] != strings.Repeat("😀", forum.MaxPostBodyLen) {
		t.Fatalf("stored body differs from the one sent")
	}
}

// nginx in front must let through every body the forum takes.
func TestNginxTakesTheLargestBody(t *testing.T) {
	conf, err := os.ReadFile("../../deploy/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`client_max_body_size (\d+)k;`).FindSubmatch(conf)
	if m == nil {
		t.Fatal("deploy/nginx.conf sets no client_max_body_size in KiB")
	}
	if kib, _ := strconv.Atoi(string(m[1])); kib<<10 < web.MaxBodyBytes {
		t.Fatalf("nginx's client_max_body_size is %d KiB, less than the forum's %d bytes", kib, web.MaxBodyBytes)
	}
}
