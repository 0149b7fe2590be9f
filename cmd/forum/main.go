// Command forum runs the forum: a web forum whose pages update live from
// MongoDB change streams, on an embedded store or a MongoDB replica set.
package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"forum/forum"
	"forum/forum/web"
	"forum/streams"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		// The flag package has printed the usage.
	case err != nil:
		fmt.Fprintln(os.Stderr, "forum:", err)
		os.Exit(1)
	}
}

// run starts the forum with the given arguments and environment and serves
// until ctx ends; "seed" as the first argument fills the store with sample
// data instead, "admin" grants, revokes or lists the admin role, and
// "healthcheck" asks a running forum whether it is ready.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "seed" {
		return seed(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "admin" {
		return admin(ctx, args[1:], getenv, stdout, stderr)
	}
	if len(args) > 0 && args[0] == "healthcheck" {
		return healthcheck(ctx, args[1:], stdout)
	}
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	m := NewMain(cfg, newLogger(cfg.LogFormat, stderr))
	if err := m.Open(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "forum: listening on %s\n", m.URL())
	<-ctx.Done()
	return m.Close()
}

func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// shutdownTimeout bounds a graceful shutdown.
const shutdownTimeout = 4 * time.Second

// Main is the running program: its database, hub and HTTP servers. Tests
// start it on 127.0.0.1:0.
type Main struct {
	cfg      Config
	log      *slog.Logger
	db       *forum.DB
	hub      *streams.Hub
	server   *http.Server
	listener net.Listener
	// The metrics server, when FORUM_METRICS_ADDR gives it an address of
	// its own; else nil, and the main server serves /metrics.
	metricsServer   *http.Server
	metricsListener net.Listener
	cancel          context.CancelFunc
	wg              sync.WaitGroup
}

// NewMain returns a program for cfg that logs to log.
func NewMain(cfg Config, log *slog.Logger) *Main {
	return &Main{cfg: cfg, log: log}
}

// logContents logs which data the forum opened and how much it holds, so
// that a forum started on the wrong file is noticed at once.
func (m *Main) logContents(ctx context.Context) {
	attrs := []any{}
	if m.cfg.MongoURI != "" {
		attrs = append(attrs, "database", m.cfg.MongoDB)
	} else {
		path, err := filepath.Abs(m.cfg.Data)
		if err != nil {
			path = m.cfg.Data
		}
		attrs = append(attrs, "file", path)
	}
	for _, coll := range []string{forum.PostsCollection, forum.CommentsCollection, forum.UsersCollection} {
		n, err := m.db.Database.Collection(coll).EstimatedDocumentCount(ctx)
		if err != nil {
			m.log.Warn("count documents", "collection", coll, "err", err)
			continue
		}
		attrs = append(attrs, coll, n)
	}
	m.log.Info("opened data", attrs...)
}

// Open opens the store, starts the change streams and starts serving.
func (m *Main) Open(ctx context.Context) (err error) {
	if m.cfg.MongoURI != "" {
		if m.db, err = forum.Connect(ctx, m.cfg.MongoURI, m.cfg.MongoDB); err == nil {
			m.log.Info("connected to MongoDB", "topology", m.db.Topology, "database", m.cfg.MongoDB)
		}
	} else {
		m.db, err = forum.OpenFileWith(ctx, m.cfg.Data, forum.FileOptions{History: m.cfg.History, Logger: m.log})
	}
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			m.db.Close(context.Background())
		}
	}()
	m.logContents(ctx)
	store, err := forum.NewStore(ctx, m.db.Database, forum.WithPasswordCost(m.cfg.PasswordCost))
	if err != nil {
		return err
	}
	key, err := m.sessionKey()
	if err != nil {
		return err
	}
	m.listener, err = net.Listen("tcp", m.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.cfg.Addr, err)
	}
	webOpts := []web.Option{web.WithTrustedProxies(m.cfg.TrustedProxies), web.WithStreamLimits(m.cfg.MaxUserStreams, m.cfg.MaxAddressStreams)}
	if m.cfg.MetricsAddr != "" {
		if m.metricsListener, err = net.Listen("tcp", m.cfg.MetricsAddr); err != nil {
			m.listener.Close()
			return fmt.Errorf("listen on %s: %w", m.cfg.MetricsAddr, err)
		}
		webOpts = append(webOpts, web.WithoutMetrics())
	}
	oplogStart, _ := m.db.OplogStart()
	m.hub = streams.New(m.log, m.db.Database, store, streams.Options{
		History:       m.cfg.History,
		Heartbeat:     m.cfg.Heartbeat,
		StatsInterval: m.cfg.StatsInterval,
		MaxStreams:    m.cfg.MaxStreams,
		HistoryEvents: m.cfg.HistoryEvents,
		HistoryBytes:  m.cfg.HistoryBytes,
		OplogStart:    oplogStart,
	})
	hubCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	m.wg.Add(2)
	go func() {
		defer m.wg.Done()
		if err := m.hub.Run(hubCtx); err != nil {
			m.log.Error("hub stopped", "err", err)
		}
	}()
	m.server = &http.Server{
		Handler:           web.New(m.log, store, m.hub, key, webOpts...),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		defer m.wg.Done()
		if err := m.serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("server stopped", "err", err)
		}
	}()
	if m.metricsListener != nil {
		m.serveMetrics()
	}
	return nil
}

// serveMetrics serves /metrics, and nothing else, on the metrics listener:
// plain HTTP, as scrapers reach it inside the deployment.
func (m *Main) serveMetrics() {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", web.MetricsHandler(m.hub))
	m.metricsServer = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	m.log.Info("serving metrics", "addr", m.metricsListener.Addr().String())
	m.wg.Go(func() {
		if err := m.metricsServer.Serve(m.metricsListener); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("metrics server stopped", "err", err)
		}
	})
}

// serve serves HTTPS with HTTP/2 when a certificate is configured, else
// plain HTTP.
func (m *Main) serve() error {
	if m.cfg.TLSCert != "" {
		return m.server.ServeTLS(m.listener, m.cfg.TLSCert, m.cfg.TLSKey)
	}
	return m.server.Serve(m.listener)
}

// URL returns the forum's base URL.
func (m *Main) URL() string {
	scheme := "http"
	if m.cfg.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + m.listener.Addr().String()
}

// Addr returns the address the forum listens on.
func (m *Main) Addr() net.Addr { return m.listener.Addr() }

// MetricsAddr returns the address /metrics is served on when it has one of
// its own, else nil.
func (m *Main) MetricsAddr() net.Addr {
	if m.metricsListener == nil {
		return nil
	}
	return m.metricsListener.Addr()
}

// Close ends every stream with a retry hint and stops the change streams
// (the hub does both when its context ends), stops both servers accepting,
// and closes the store.
func (m *Main) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	m.cancel()
	err := m.server.Shutdown(ctx)
	if m.metricsServer != nil {
		if merr := m.metricsServer.Shutdown(ctx); err == nil {
			err = merr
		}
	}
	m.wg.Wait()
	if cerr := m.db.Close(ctx); err == nil {
		err = cerr
	}
	return err
}

// sessionKey returns the key that signs session cookies: from the
// configuration, or generated once into the data folder.
func (m *Main) sessionKey() ([]byte, error) {
	if m.cfg.SessionKey != "" {
		sum := sha256.Sum256([]byte(m.cfg.SessionKey))
		return sum[:], nil
	}
	dir := filepath.Dir(m.cfg.Data)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	path := filepath.Join(dir, "session.key")
	b, err := os.ReadFile(path)
	if err == nil {
		key, err := hex.DecodeString(strings.TrimSpace(string(b)))
		if err != nil || len(key) < 16 {
			return nil, fmt.Errorf("session key file %s is damaged; delete it to make a new one", path)
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read session key: %w", err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("write session key: %w", err)
	}
	return key, nil
}
