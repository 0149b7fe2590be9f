package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// get returns the status and body of a GET of url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestMetricsOnTheMainAddressByDefault(t *testing.T) {
	m := startMain(t, t.TempDir())
	defer m.Close()
	if a := m.MetricsAddr(); a != nil {
		t.Fatalf("metrics address %s without FORUM_METRICS_ADDR", a)
	}
	if st, body := get(t, "http://"+m.Addr().String()+"/metrics"); st != http.StatusOK || !strings.Contains(body, "forum_streams_open") {
		t.Fatalf("/metrics: %d %.200s", st, body)
	}
}

func TestMetricsAddrServesMetricsApart(t *testing.T) {
	cfg, err := parseConfig(nil, env("FORUM_ADDR", "127.0.0.1:0", "FORUM_DATA", filepath.Join(t.TempDir(), "forum.db"), "FORUM_METRICS_ADDR", "127.0.0.1:0"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMain(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := m.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	closeMain := func() (err error) {
		once.Do(func() { err = m.Close() })
		return err
	}
	t.Cleanup(func() { closeMain() })
	metrics, site := "http://"+m.MetricsAddr().String(), "http://"+m.Addr().String()
	st, body := get(t, metrics+"/metrics")
	if st != http.StatusOK {
		t.Fatalf("/metrics on the metrics address: %d", st)
	}
	for _, name := range []string{"forum_streams_open", "forum_events_delivered_total", "forum_canary_stalled", "go_goroutines"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	if st, _ := get(t, site+"/metrics"); st != http.StatusNotFound {
		t.Fatalf("/metrics on the main address: %d, want 404", st)
	}
	if st, _ := get(t, metrics+"/"); st != http.StatusNotFound {
		t.Fatalf("/ on the metrics address: %d, want 404", st)
	}
	if err := closeMain(); err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(metrics + "/metrics"); err == nil {
		t.Fatal("metrics address still answers after Close")
	}
}

func TestMetricsAddrMustDifferFromAddr(t *testing.T) {
	_, err := parseConfig([]string{"-metrics-addr", ":9000"}, env("FORUM_ADDR", ":9000"), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "FORUM_METRICS_ADDR") {
		t.Fatalf("got %v, want an error naming FORUM_METRICS_ADDR", err)
	}
}
