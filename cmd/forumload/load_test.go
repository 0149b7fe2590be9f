package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"forum/forum"
	"forum/forum/forumtest"
	"forum/forum/web"
	"forum/streams"
)

// newServer starts the forum's HTTP server with a live hub on a fresh
// embedded store in a temp folder.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	db, err := forum.OpenFile(ctx, filepath.Join(t.TempDir(), "forum.db"), 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	store, err := forum.NewStore(ctx, db.Database, forumtest.FastPasswords())
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub := streams.New(log, db.Database, store, streams.Options{Heartbeat: time.Second})
	hubCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { hub.Run(hubCtx) })
	// Every subscriber comes from this machine's address.
	srv := httptest.NewServer(web.New(log, store, hub, []byte("0123456789abcdef0123456789abcdef"), web.WithStreamLimits(0, 100000)))
	t.Cleanup(func() {
		cancel()
		srv.Close()
		wg.Wait()
		db.Close(ctx)
	})
	return srv
}

func TestLoadDeliversEveryPostOnce(t *testing.T) {
	srv := newServer(t)
	var out bytes.Buffer
	err := run(t.Context(), []string{
		"-url", srv.URL, "-subscribers", "200", "-posts", "20", "-rate", "50",
	}, &out, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var rep Report
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last line is not the JSON report: %v", err)
	}
	if rep.Connected != 200 || rep.Failed != 0 {
		t.Errorf("connected %d, failed %d; want all 200 connected", rep.Connected, rep.Failed)
	}
	if rep.Expected != 200*20 || rep.Lost != 0 || rep.Delivered != rep.Expected {
		t.Errorf("delivered %d of %d, lost %d; want all of %d", rep.Delivered, rep.Expected, rep.Lost, 200*20)
	}
	if rep.Duplicates != 0 {
		t.Errorf("%d duplicate deliveries", rep.Duplicates)
	}
}

func TestLoadStartsAForumOnAPreloadedStore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the forum binary")
	}
	bin := filepath.Join(t.TempDir(), "forum")
	build := exec.Command("go", "build", "-o", bin, "forum/cmd/forum")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build the forum: %v: %s", err, out)
	}
	var out bytes.Buffer
	err := run(t.Context(), []string{
		"-forum", bin, "-preload", "200", "-subscribers", "50", "-posts", "10", "-rate", "50",
	}, &out, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "seeded 200 posts") {
		t.Errorf("no line says the store was seeded with 200 posts")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var rep Report
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &rep); err != nil {
		t.Fatalf("last line is not the JSON report: %v", err)
	}
	if rep.Connected != 50 || rep.Delivered != 50*10 || rep.Lost != 0 || rep.Duplicates != 0 {
		t.Errorf("connected %d, delivered %d, lost %d, duplicates %d; want 50, 500, 0, 0", rep.Connected, rep.Delivered, rep.Lost, rep.Duplicates)
	}
	if rep.ServerRSSBeforeKB == nil || *rep.ServerRSSBeforeKB == 0 {
		t.Errorf("the started forum's memory was not measured")
	}
}

func TestPreloadNeedsAForumToStart(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), []string{"-preload", "10"}, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "-forum") {
		t.Errorf("got %v, want an error that names -forum", err)
	}
}
