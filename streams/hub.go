// Package streams sends the forum's live events to browsers as server-sent
// events. A Hub watches each collection that feeds live topics with one
// change stream, turns every change into its event once and publishes it
// through the fan-out engine (package fanout), which keeps the recent
// events so that a client that reconnects with its last event id gets what
// it missed, exactly once and in order, even from another instance or
// after a restart. The hub also sends what a new listener gets first
// (unread counts, stats), writes the canary that tells a stalled change
// stream, and sends its clients away while it is not healthy.
package streams

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
	"forum/streams/fanout"
)

// Store is what the hub reads from the forum's storage.
type Store interface {
	UnreadCount(ctx context.Context, userID primitive.ObjectID) (int64, error)
	Stats(ctx context.Context) (forum.Stats, error)
}

// Options tune a Hub. Zero fields take their defaults.
type Options struct {
	// History is how long events are kept for clients that resume: 15m.
	History time.Duration
	// HistoryEvents is how many events are kept at most: 50000.
	HistoryEvents int
	// HistoryBytes is how much memory kept events may take, about: 64 MiB.
	HistoryBytes int
	// Heartbeat is how often a quiet stream is sent its resume point: 15s.
	Heartbeat time.Duration
	// StatsInterval is how often the stats are computed while watched: 5s.
	StatsInterval time.Duration
	// MaxStreams is how many streams may be open at once: 10000.
	MaxStreams int
	// QueueSize is how many frames a listener may fall behind before it is
	// cut off: 256.
	QueueSize int
	// WriteTimeout is how long one write to a client may take: 10s.
	WriteTimeout time.Duration
	// CanaryInterval is how often a canary document is written for the
	// notifications change stream to bring back: 10s. The stream counts as
	// stalled when a canary is not back within three intervals.
	CanaryInterval time.Duration
	// MaxAwait is how long one getMore of a change stream waits on the
	// server for an event: 1s, MongoDB's default.
	MaxAwait time.Duration
	// OplogStart, if set, is the cluster time of the oldest change the
	// store still holds: the history starts no earlier than just before it,
	// so that ids from before it get a reset rather than a silent gap.
	OplogStart primitive.Timestamp
	// DownGrace is how long a change stream may be down (between a
	// failure and its reopening) before the hub counts as not ready and
	// sends its clients away: 5s.
	DownGrace time.Duration
	// CatchUp is how long a stream whose last event id is ahead of this
	// instance, as one from another instance can be, waits for it to get
	// there; past it, the stream gets a reset: 5s.
	CatchUp time.Duration
	// PresenceExpiry is how long an instance's presence counts after it
	// last refreshed it, which it does a third of it before: 30s. An
	// instance that dies or is cut off stops counting within it.
	PresenceExpiry time.Duration
	// PresenceInterval is how often, at most, a thread's presence is
	// written and sent: 1s.
	PresenceInterval time.Duration
	// OnlineInterval is how often, at most, who is online is written and
	// sent: 5s.
	OnlineInterval time.Duration
	// TypingTimeout is how long a user counts as replying after their
	// last typing signal: 8s.
	TypingTimeout time.Duration
}

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.History, 15*time.Minute)
	def(&o.StatsInterval, 5*time.Second)
	def(&o.CanaryInterval, 10*time.Second)
	def(&o.MaxAwait, time.Second)
	def(&o.DownGrace, 5*time.Second)
	def(&o.PresenceExpiry, 30*time.Second)
	def(&o.PresenceInterval, time.Second)
	def(&o.OnlineInterval, 5*time.Second)
	def(&o.TypingTimeout, 8*time.Second)
	return o
}

// maxSkew is how far in the future an id may be: another instance may be a
// little ahead of this one, and a stream waits for this one to catch up
// with it. An id further ahead than any instance can be gets a reset at
// once.
const maxSkew = time.Minute

// Hub fans the changes of the forum out to the open streams.
type Hub struct {
	log    *slog.Logger
	db     lungo.IDatabase
	store  Store
	opts   Options
	engine *fanout.Hub
	start  primitive.Timestamp // where the watchers start and the history begins

	done   chan struct{} // closed by Run when it stops
	ready  chan struct{} // closed once every watcher has caught up
	kick   chan struct{} // asks the stats loop for a snapshot now
	unread unreadQueue

	presence *presence

	opened   atomic.Int64 // change streams opened
	computed atomic.Int64 // stats computations
	metrics  *metrics
	canaryID string // _id of this hub's canary document

	mu       sync.Mutex
	started  bool
	down     map[string]time.Time // since when each collection's change stream is not running
	caught   map[string]bool      // collections whose watcher has caught up once
	stats    *fanout.Frame        // latest stats snapshot
	statsAt  time.Time
	statsDue bool      // a snapshot was asked for
	awaited  time.Time // when the oldest canary not yet back was written; zero if none
	stalled  bool      // the canary is overdue
}

// New returns a hub that watches db and reads counts from store. It does
// nothing until Run.
func New(log *slog.Logger, db lungo.IDatabase, store Store, opts Options) *Hub {
	opts = opts.withDefaults()
	h := &Hub{
		log:      log,
		db:       db,
		store:    store,
		opts:     opts,
		metrics:  newMetrics(),
		canaryID: "canary:" + rand.Text(),
		done:     make(chan struct{}),
		ready:    make(chan struct{}),
		kick:     make(chan struct{}, 1),
		unread:   newUnreadQueue(),
		down:     map[string]time.Time{},
		caught:   map[string]bool{},
	}
	// The history begins where the watchers start reading the oplog, so
	// that it has every change after it.
	h.start = primitive.Timestamp{T: uint32(time.Now().Add(-opts.History).Unix())}
	begin := fanout.Position{Time: clusterTime(h.start)}
	if opts.OplogStart.T != 0 && begin.Less(before(opts.OplogStart)) {
		begin = before(opts.OplogStart)
	}
	starts := make([]fanout.Position, len(feeds))
	for i := range starts {
		starts[i] = begin
	}
	now := time.Now()
	for _, f := range feeds {
		h.down[f.coll] = now
	}
	h.presence = newPresence(log, db.Collection(forum.PresenceCollection), opts, func() {
		h.opened.Add(1)
		h.metrics.openedVec.WithLabelValues(forum.PresenceCollection).Inc()
	})
	h.engine = fanout.New(log, fanout.Options{
		Start:         starts,
		History:       opts.History,
		HistoryEvents: opts.HistoryEvents,
		HistoryBytes:  opts.HistoryBytes,
		Heartbeat:     opts.Heartbeat,
		MaxStreams:    opts.MaxStreams,
		QueueSize:     opts.QueueSize,
		WriteTimeout:  opts.WriteTimeout,
		CatchUp:       opts.CatchUp,
		Resets:        []string{resetHistoryLost},
		Future: func(_ int, p fanout.Position) bool {
			return int64(p.Time>>32) > time.Now().Add(maxSkew).Unix()
		},
		Listeners: h.presence.listeners,
	})
	h.presence.engine = h.engine
	return h
}

// clusterTime packs a cluster time into a position's time, whose order is
// time order.
func clusterTime(ts primitive.Timestamp) uint64 {
	return uint64(ts.T)<<32 | uint64(ts.I)
}

// Run watches the collections and computes the stats until ctx is done.
// Then it sends every open stream a retry delay, closes it and returns once
// all of its goroutines and streams have ended. A hub runs once.
func (h *Hub) Run(ctx context.Context) error {
	h.mu.Lock()
	if h.started {
		h.mu.Unlock()
		return errors.New("streams: hub already run")
	}
	h.started = true
	h.mu.Unlock()

	var wg sync.WaitGroup
	for src := range feeds {
		w := &watcher{hub: h, src: src, feed: &feeds[src], startAt: h.start}
		wg.Go(func() { w.watch(ctx) })
	}
	wg.Go(func() { h.statsLoop(ctx) })
	wg.Go(func() { h.canaryLoop(ctx) })
	wg.Go(func() { h.unreadLoop(ctx) })
	wg.Go(func() { h.healthLoop(ctx) })
	wg.Go(func() { h.presence.watch(ctx) })
	wg.Go(func() { h.presence.sendLoop(ctx) })
	wg.Go(func() { h.presence.writeLoop(ctx) })
	<-ctx.Done()

	close(h.done)
	h.engine.Close()
	wg.Wait()
	h.engine.Wait()
	h.log.Info("live streams stopped")
	return nil
}

// Ready returns nil when the change streams of all watched collections have
// caught up and run, none has been down for longer than the grace, and the
// notifications stream brings back the canary in time.
func (h *Hub) Ready() error {
	select {
	case <-h.done:
		return errors.New("streams: stopped")
	default:
	}
	select {
	case <-h.ready:
	default:
		return errors.New("streams: change streams not caught up yet")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.health(time.Now())
}

// health is Ready once the hub has caught up.
func (h *Hub) health(now time.Time) error {
	var down []string
	for _, f := range feeds {
		if since, ok := h.down[f.coll]; ok && now.Sub(since) > h.opts.DownGrace {
			down = append(down, f.coll)
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("streams: change streams not running: %s", strings.Join(down, ", "))
	}
	if h.stalled {
		return fmt.Errorf("streams: canary overdue on the %s change stream (written %s ago, not seen): stalled",
			forum.NotificationsCollection, now.Sub(h.awaited).Round(time.Second))
	}
	return nil
}

// healthLoop checks the hub's health every second once it has caught up,
// and when it turns bad sends every open stream away with a jittered
// retry, so that clients move to a healthy instance; Serve refuses new
// streams the same way while it stays bad.
func (h *Hub) healthLoop(ctx context.Context) {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return
	}
	t := time.NewTicker(min(time.Second, h.opts.DownGrace/2, h.opts.CanaryInterval/2))
	defer t.Stop()
	healthy := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := h.Ready()
		switch {
		case err != nil && healthy:
			h.log.Error("not healthy: sending streams away", "error", err)
			h.engine.Kick()
		case err == nil && !healthy:
			h.log.Info("healthy again: taking streams")
		}
		healthy = err == nil
	}
}

// Streams returns how many streams are open by topic kind: posts, comments,
// notifications and stats. A stream counts once in each kind it listens to.
func (h *Hub) Streams() map[string]int {
	counts := h.engine.Counts()
	m := make(map[string]int, len(kinds))
	for _, k := range kinds {
		m[k] = counts[k]
	}
	return m
}

// ChangeStreamsOpened returns how many change streams the hub has opened,
// reopened ones included.
func (h *Hub) ChangeStreamsOpened() int64 {
	return h.opened.Load()
}

// StatsComputed returns how many times the hub has computed the stats.
func (h *Hub) StatsComputed() int64 {
	return h.computed.Load()
}

// Typing records that user, called name, is typing a comment on post. It
// costs no more than a map update: the hub writes who types where at most
// once per interval per thread, whatever the signals.
func (h *Hub) Typing(post, user primitive.ObjectID, name string) {
	h.presence.typed(CommentsTopic(post), user.Hex(), name, time.Now())
}

// LastEventID returns the id of the newest change the hub has seen in each
// collection. A page that takes it before it reads what it shows, and
// opens its event stream with it as the lastEventId query parameter,
// misses no event in between, though it may get again an item it shows;
// items carry their ids for that.
func (h *Hub) LastEventID() string {
	return h.engine.LastEventID()
}

// setRunning records whether a collection's change stream is running, and
// marks the hub ready once all have caught up with their history.
func (h *Hub) setRunning(coll string, running bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, wasDown := h.down[coll]
	switch {
	case running && wasDown:
		delete(h.down, coll)
		if !h.caught[coll] {
			if h.caught[coll] = true; len(h.caught) == len(feeds) {
				close(h.ready)
			}
		}
	case !running && !wasDown:
		h.down[coll] = time.Now()
	}
}

// lost records that source src's changes until now are gone: its history
// starts at the next second, and the listeners of its topics are told to
// reload. It returns when the history starts, which is when the change
// stream may open again.
func (h *Hub) lost(src int) time.Time {
	start := time.Now().Truncate(time.Second).Add(time.Second)
	h.reset(src, fanout.Position{Time: clusterTime(primitive.Timestamp{T: uint32(start.Unix())})})
	return start
}

// reset tells the listeners of source src's topics to reload, and starts its
// history at pos.
func (h *Hub) reset(src int, pos fanout.Position) {
	f := &feeds[src]
	h.engine.Reset(src, pos, func(topic string) bool { return f.feeds(kindOf(topic)) }, resetHistoryLost)
}
