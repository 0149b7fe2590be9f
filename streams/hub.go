// Package streams sends the forum's live events to browsers as server-sent
// events. A Hub watches the posts, comments and notifications collections
// with one change stream each, turns every change into its SSE frame once and
// hands that frame to the listeners of its topic. It keeps the recent events
// so that a client that reconnects with its last event id gets what it
// missed, exactly once and in order, even from another instance or after a
// restart.
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
)

// Topics a client can listen to.
const (
	// PostsTopic carries every new post as event "post".
	PostsTopic = "posts"
	// StatsTopic carries the forum's totals as event "stats".
	StatsTopic = "stats"
)

// Topic kinds, the keys of Streams.
const (
	postsKind         = "posts"
	commentsKind      = "comments"
	notificationsKind = "notifications"
	statsKind         = "stats"
)

// CommentsTopic returns the topic of a post's new comments, event "comment".
func CommentsTopic(postID primitive.ObjectID) string {
	return commentsKind + ":" + postID.Hex()
}

// NotificationsTopic returns the topic of a user's new notifications, event
// "notification", and of their unread count, event "unread".
func NotificationsTopic(userID primitive.ObjectID) string {
	return notificationsKind + ":" + userID.Hex()
}

// kindOf returns the kind of a topic, or "" if it is no topic.
func kindOf(topic string) string {
	if topic == PostsTopic || topic == StatsTopic {
		return topic
	}
	kind, hex, _ := strings.Cut(topic, ":")
	if kind != commentsKind && kind != notificationsKind {
		return ""
	}
	if id, err := primitive.ObjectIDFromHex(hex); err != nil || id.Hex() != hex {
		return ""
	}
	return kind
}

// Store is what the hub reads from the forum's storage.
type Store interface {
	UnreadCount(ctx context.Context, userID primitive.ObjectID) (int64, error)
	Stats(ctx context.Context) (forum.Stats, error)
}

// Options tune a Hub. Zero fields take their defaults.
type Options struct {
	// History is how long events are kept for clients that resume: 15m.
	History time.Duration
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
}

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.History, 15*time.Minute)
	def(&o.Heartbeat, 15*time.Second)
	def(&o.StatsInterval, 5*time.Second)
	def(&o.WriteTimeout, 10*time.Second)
	def(&o.CanaryInterval, 10*time.Second)
	if o.MaxStreams <= 0 {
		o.MaxStreams = 10000
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 256
	}
	return o
}

// Hub fans the changes of the forum out to the open streams.
type Hub struct {
	log   *slog.Logger
	db    lungo.IDatabase
	store Store
	opts  Options

	done  chan struct{} // closed by Run when it stops
	ready chan struct{} // closed once every watcher has caught up
	kick  chan struct{} // asks the stats loop for a snapshot now

	opened   atomic.Int64 // change streams opened
	computed atomic.Int64 // stats computations
	metrics  *metrics
	canaryID string // _id of this hub's canary document

	serving sync.WaitGroup // open streams

	mu       sync.Mutex
	started  bool
	closed   bool
	topics   map[string]map[*listener]struct{}
	counts   map[string]int // open streams by topic kind
	open     int
	hist     history
	start    uint64          // position the history starts at
	pos      uint64          // newest position seen
	running  map[string]bool // watchers with a live change stream
	caughtUp int             // watchers that have caught up once
	stats    *frame          // latest stats snapshot
	statsAt  time.Time
	statsDue bool      // a snapshot was asked for
	awaited  time.Time // when the oldest canary not yet back was written; zero if none
	stalled  bool      // the canary is overdue
}

// collections are the watched collections.
var collections = []string{forum.PostsCollection, forum.CommentsCollection, forum.NotificationsCollection}

// New returns a hub that watches db and reads counts from store. It does
// nothing until Run.
func New(log *slog.Logger, db lungo.IDatabase, store Store, opts Options) *Hub {
	return &Hub{
		log:      log,
		db:       db,
		store:    store,
		opts:     opts.withDefaults(),
		metrics:  newMetrics(),
		canaryID: "canary:" + rand.Text(),
		done:     make(chan struct{}),
		ready:    make(chan struct{}),
		kick:     make(chan struct{}, 1),
		topics:   map[string]map[*listener]struct{}{},
		counts:   map[string]int{},
		running:  map[string]bool{},
	}
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
	h.start = position(primitive.Timestamp{T: uint32(time.Now().Add(-h.opts.History).Unix())})
	h.pos = h.start
	h.mu.Unlock()

	var wg sync.WaitGroup
	for _, coll := range collections {
		w := &watcher{hub: h, coll: coll, startAt: timestamp(h.start)}
		wg.Go(func() { w.watch(ctx) })
	}
	wg.Go(func() { h.statsLoop(ctx) })
	wg.Go(func() { h.canaryLoop(ctx) })
	<-ctx.Done()

	h.mu.Lock()
	h.closed = true
	close(h.done)
	h.mu.Unlock()
	wg.Wait()
	h.serving.Wait()
	h.log.Info("live streams stopped")
	return nil
}

// Ready returns nil when the change streams of all three collections are
// running and the notifications stream brings back the canary in time.
func (h *Hub) Ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var down []string
	for _, c := range collections {
		if !h.running[c] {
			down = append(down, c)
		}
	}
	if len(down) > 0 {
		return fmt.Errorf("streams: change streams not running: %s", strings.Join(down, ", "))
	}
	if h.stalled {
		return fmt.Errorf("streams: change stream stalled: %s (canary written %s ago not seen)",
			forum.NotificationsCollection, time.Since(h.awaited).Round(time.Second))
	}
	return nil
}

// Streams returns how many streams are open by topic kind: posts, comments,
// notifications and stats. A stream counts once in each kind it listens to.
func (h *Hub) Streams() map[string]int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.streams()
}

func (h *Hub) streams() map[string]int {
	return map[string]int{
		postsKind:         h.counts[postsKind],
		commentsKind:      h.counts[commentsKind],
		notificationsKind: h.counts[notificationsKind],
		statsKind:         h.counts[statsKind],
	}
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

// setRunning records whether a collection's change stream is running, and
// marks the hub ready once all have caught up with their history.
func (h *Hub) setRunning(coll string, running bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if running && !h.running[coll] && h.caughtUp < len(collections) {
		if h.caughtUp++; h.caughtUp == len(collections) {
			close(h.ready)
		}
	}
	h.running[coll] = running
}

// publish records that the change at pos happened and, if f is not nil,
// keeps f in the history and hands it to the listeners of topic.
func (h *Hub) publish(pos uint64, topic string, f *frame) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.pos = max(h.pos, pos)
	if f == nil {
		return
	}
	h.hist.add(entry{topic: topic, f: f})
	for l := range h.topics[topic] {
		l.push(f)
	}
}

// send hands f to the listeners of topic without keeping it.
func (h *Hub) send(topic string, f *frame) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for l := range h.topics[topic] {
		l.push(f)
	}
}

// listened reports whether topic has listeners.
func (h *Hub) listened(topic string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.topics[topic]) > 0
}

// lost records that a collection's changes until now are gone: the history
// starts at the next second, and the listeners of the collection's topics
// are told to reload. It returns when the history starts, which is when the
// collection's change stream may open again.
func (h *Hub) lost(coll string) time.Time {
	kind := map[string]string{
		forum.PostsCollection:         postsKind,
		forum.CommentsCollection:      commentsKind,
		forum.NotificationsCollection: notificationsKind,
	}[coll]
	start := time.Now().Truncate(time.Second).Add(time.Second)
	f := resetFrame(resetHistoryLost)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.start = max(h.start, position(primitive.Timestamp{T: uint32(start.Unix())}))
	h.pos = max(h.pos, h.start)
	for topic, ls := range h.topics {
		if kindOf(topic) == kind {
			for l := range ls {
				l.push(f)
			}
			h.metrics.resets[resetHistoryLost].Add(float64(len(ls)))
		}
	}
	return start
}

// trim drops the events older than the history keeps; the history then
// starts at the cut.
func (h *Hub) trim(now time.Time) {
	cut := position(primitive.Timestamp{T: uint32(now.Add(-h.opts.History).Unix())})
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hist.trim(cut)
	h.start = max(h.start, cut)
	h.pos = max(h.pos, h.start)
}

// LastEventID returns the id of the newest change the hub has seen. A page
// that takes it before it reads what it shows, and opens its event stream
// with it as the lastEventId query parameter, misses no event in between,
// though it may get again an item it shows; items carry their ids for that.
func (h *Hub) LastEventID() string {
	return string(appendID(nil, h.position()))
}

// position returns the hub's resume point: the newest position it has seen.
func (h *Hub) position() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pos
}

// resetFrame tells a client that it may have missed events and should reload
// what it shows.
func resetFrame(reason string) *frame {
	return newPlainFrame("reset", []byte(`{"reason":"`+reason+`"}`))
}
