package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// healthcheck asks the forum at the URL in args (default
// http://localhost:8080/readyz) whether it is ready, for container
// healthchecks in images that have no HTTP client of their own. It fails
// unless the answer is 200.
func healthcheck(ctx context.Context, args []string, stdout io.Writer) error {
	url := "http://localhost:8080/readyz"
	switch len(args) {
	case 0:
	case 1:
		url = args[0]
	default:
		return errors.New("healthcheck: usage: forum healthcheck [URL]")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintf(stdout, "forum: %s: ready\n", url)
	return nil
}
