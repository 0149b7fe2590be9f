package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// readyTimeout bounds the wait for a started forum to be ready: opening a
// store of 100,000 posts and catching its change streams up takes seconds.
const readyTimeout = 2 * time.Minute

// startedForum is a forum this command started for its run.
type startedForum struct {
	cmd  *exec.Cmd
	dir  string
	url  *url.URL
	done chan error // the process's exit
}

// startForum runs the forum binary at path on a new embedded store in a temp
// folder: first `forum seed -posts preload` when preload is above 0, then the
// forum itself on a free port of 127.0.0.1, allowing streams open streams,
// all of them from this machine's one address. It returns once the forum is
// ready.
func startForum(ctx context.Context, path string, preload, streams int, out io.Writer) (*startedForum, error) {
	dir, err := os.MkdirTemp("", "forumload-")
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "forum.db")
	if preload > 0 {
		start := time.Now()
		seed := exec.CommandContext(ctx, path, "seed", "-posts", strconv.Itoa(preload))
		seed.Env = append(os.Environ(), "FORUM_DATA="+data)
		if b, err := seed.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("seed %d posts: %v: %s", preload, err, lastLine(string(b)))
		}
		fmt.Fprintf(out, "forumload: seeded %d posts (with their comments) in %.1fs\n", preload, time.Since(start).Seconds())
	}
	f := &startedForum{dir: dir, done: make(chan error, 1)}
	f.cmd = exec.Command(path, "-addr", "127.0.0.1:0", "-data", data, "-max-streams", strconv.Itoa(streams), "-max-address-streams", strconv.Itoa(streams))
	f.cmd.Stderr = io.Discard
	stdout, err := f.cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	start := time.Now()
	if err := f.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", path, err)
	}
	lines := bufio.NewScanner(stdout)
	listening := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if u, ok := strings.CutPrefix(lines.Text(), "forum: listening on "); ok {
				listening <- u
			}
		}
		f.done <- f.cmd.Wait()
	}()
	select {
	case raw := <-listening:
		if f.url, err = url.Parse(raw); err != nil {
			f.stop()
			return nil, fmt.Errorf("the forum listens on %q: %w", raw, err)
		}
	case err := <-f.done:
		f.done <- err
		f.stop()
		return nil, fmt.Errorf("the forum exited before it listened: %v", err)
	case <-ctx.Done():
		f.stop()
		return nil, ctx.Err()
	}
	if err := waitReady(ctx, f.url); err != nil {
		f.stop()
		return nil, err
	}
	fmt.Fprintf(out, "forumload: started the forum (pid %d) on %s, ready in %.1fs\n", f.cmd.Process.Pid, f.url, time.Since(start).Seconds())
	return f, nil
}

// waitReady waits until the forum at base answers /readyz with 200.
func waitReady(ctx context.Context, base *url.URL) error {
	deadline := time.Now().Add(readyTimeout)
	client := &http.Client{Timeout: 5 * time.Second}
	for {
		res, err := client.Get(base.JoinPath("readyz").String())
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
			err = errors.New(res.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the forum was not ready within %v: %v", readyTimeout, err)
		}
		if !sleepUntil(ctx, time.Now().Add(50*time.Millisecond)) {
			return ctx.Err()
		}
	}
}

// pid returns the started forum's process id.
func (f *startedForum) pid() int { return f.cmd.Process.Pid }

// stop ends the forum as SIGTERM does, waits for it and removes its store.
func (f *startedForum) stop() {
	if f.cmd.Process != nil {
		f.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-f.done:
		case <-time.After(10 * time.Second):
			f.cmd.Process.Kill()
			<-f.done
		}
	}
	os.RemoveAll(f.dir)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
