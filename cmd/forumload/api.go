package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// sessionCookie names the forum's session cookie.
const sessionCookie = "forum_session"

// apiClient calls the forum's JSON API as one signed-in user.
type apiClient struct {
	base    *url.URL
	http    *http.Client
	session *http.Cookie
}

// signIn registers name, or signs in when the name is taken, and keeps the
// session.
func (c *apiClient) signIn(ctx context.Context, name, password string) error {
	creds := map[string]string{"name": name, "password": password}
	resp, err := c.post(ctx, "register", creds, nil)
	if err != nil {
		return fmt.Errorf("register %s: %w", name, err)
	}
	if resp.StatusCode == http.StatusConflict {
		if resp, err = c.post(ctx, "login", creds, nil); err != nil {
			return fmt.Errorf("sign in as %s: %w", name, err)
		}
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("sign in as %s: %s", name, resp.Status)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == sessionCookie && ck.Value != "" {
			c.session = ck
			return nil
		}
	}
	return fmt.Errorf("sign in as %s: the answer set no %s cookie", name, sessionCookie)
}

// createPost publishes a post and returns its id.
func (c *apiClient) createPost(ctx context.Context, title, body string) (string, error) {
	var post struct {
		ID string `json:"id"`
	}
	resp, err := c.post(ctx, "posts", map[string]string{"title": title, "body": body}, &post)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusCreated {
		return "", fmt.Errorf("create post: %s", resp.Status)
	}
	return post.ID, nil
}

// post sends v as JSON to /api/<path> and decodes a successful answer into
// out, when given.
func (c *apiClient) post(ctx context.Context, path string, v, out any) (*http.Response, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base.JoinPath("api", path).String(), bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.session != nil {
		req.AddCookie(c.session)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode/100 == 2 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return nil, fmt.Errorf("decode the answer: %w", err)
		}
	}
	io.CopyN(io.Discard, resp.Body, 64<<10)
	return resp, nil
}
