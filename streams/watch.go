package streams

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/forum"
	"forum/streams/fanout"
)

// Bounds of the delay before a failed change stream is reopened.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// errInvalidated ends a change stream that sent an invalidate event: its
// collection was dropped or renamed, and MongoDB closes the stream.
var errInvalidated = errors.New("change stream invalidated")

// watcher owns the change stream of one collection, and reopens it when it
// fails.
type watcher struct {
	hub  *Hub
	src  int
	feed *feed
	// Where to go on: after token, or at startAt without one. A token
	// from an invalidate event can only be started after, not resumed
	// after (MongoDB answers resumeAfter on it with error 260).
	token      bson.Raw
	startAfter bool
	startAt    primitive.Timestamp
	last       fanout.Position // position of the newest change handled
	whole      bool            // the stream watches the whole database
	dirty      []primitive.ObjectID
}

// watch keeps the change stream open until ctx is done.
func (w *watcher) watch(ctx context.Context) {
	fails := 0
	for {
		began := time.Now()
		err := w.run(ctx)
		w.hub.setRunning(w.feed.coll, false)
		if ctx.Err() != nil {
			return
		}
		var d time.Duration
		switch {
		case errors.Is(err, errInvalidated):
			w.hub.log.Warn("change stream invalidated (collection dropped or renamed); going on after it", "collection", w.feed.coll)
		case historyLost(err):
			// Open at the second the history now starts at, so that the
			// stream has every change from it.
			start := w.hub.lost(w.src)
			w.token, w.startAfter, w.startAt = nil, false, primitive.Timestamp{T: uint32(start.Unix())}
			d = time.Until(start)
			w.hub.log.Warn("change stream lost its history; going on from the next second", "collection", w.feed.coll, "error", err)
		default:
			if time.Since(began) > maxBackoff {
				fails = 0
			}
			fails++
			d = backoff(fails)
			w.hub.log.Warn("change stream failed; reopening", "collection", w.feed.coll, "error", err, "in", d)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(d):
		}
	}
}

// backoff returns the delay before the nth retry: exponential, capped and
// jittered.
func backoff(n int) time.Duration {
	d := min(minBackoff<<min(n-1, 16), maxBackoff)
	return d/2 + rand.N(d/2)
}

// historyLost reports whether err means that a change stream cannot resume
// where it was: 286 ChangeStreamHistoryLost, 280 ChangeStreamFatalError and
// 260 InvalidResumeToken (MongoDB's error_codes.yml), and lungo's own.
func historyLost(err error) bool {
	if err == nil {
		return false
	}
	var se mongo.ServerError
	return errors.Is(err, lungo.ErrLostOplogPosition) ||
		errors.As(err, &se) && (se.HasErrorCode(286) || se.HasErrorCode(280) || se.HasErrorCode(260)) ||
		strings.Contains(err.Error(), "unable to resume change stream")
}

// run opens the change stream and handles its changes until it fails.
//
// On MongoDB, TryNext is one getMore, which the server holds for up to the
// max await time when there is nothing new (driver: mongo/change_stream.go,
// TryNext and loopNext), so a stream under steady writes never returns
// false from TryNext. Work due after a batch (the resume token, unread
// counts, readiness) is therefore done when a batch is used up
// (RemainingBatchLength is 0), and the stream counts as caught up when it
// has handled a change from after it opened, or got an empty batch.
func (w *watcher) run(ctx context.Context) error {
	opts := options.ChangeStream().SetMaxAwaitTime(w.hub.opts.MaxAwait)
	if w.feed.lookup {
		opts.SetFullDocument(options.UpdateLookup)
	}
	from := "now"
	switch {
	case w.token != nil && w.startAfter:
		opts.SetStartAfter(w.token)
		from = "after invalidate"
	case w.token != nil:
		opts.SetResumeAfter(w.token)
		from = "resume token"
	case w.startAt.T != 0:
		opts.SetStartAtOperationTime(&w.startAt)
		from = time.Unix(int64(w.startAt.T), 0).UTC().Format(time.RFC3339)
		// The stream goes over changes already handled again, and gives
		// them the same positions: the engine drops those it has.
		w.last = fanout.Position{}
	}
	opened := time.Now()
	// On the embedded store the stream watches the whole database and the
	// watcher keeps its collection's changes: the others tell it how far
	// the stream has read, which MongoDB's post-batch resume token tells of
	// a collection's stream and lungo's does not.
	_, w.whole = w.hub.db.(*lungo.Database)
	var cs lungo.IChangeStream
	var err error
	if w.whole {
		cs, err = w.hub.db.Watch(ctx, mongo.Pipeline{}, opts)
	} else {
		cs, err = w.hub.db.Collection(w.feed.coll).Watch(ctx, mongo.Pipeline{}, opts)
	}
	if err != nil {
		return err
	}
	defer func() {
		// The token on exit is the newest the stream had: after a quiet
		// spell, the post-batch resume token of its last getMore.
		if t := cs.ResumeToken(); t != nil {
			w.token = t
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		cs.Close(cctx)
	}()
	w.hub.opened.Add(1)
	w.hub.metrics.opened[w.feed.coll].Inc()
	w.hub.log.Info("change stream open", "collection", w.feed.coll, "from", from)
	caughtUp := false
	for {
		asked := time.Now()
		got := cs.TryNext(ctx)
		if !got {
			if err := cs.Err(); err != nil {
				return err
			}
			// An empty batch: there is nothing newer.
			w.batchDone(cs)
			if !caughtUp {
				caughtUp = true
				w.hub.setRunning(w.feed.coll, true)
			}
			// MongoDB's TryNext has waited on the server and is asked
			// again, so that the post-batch resume token keeps the
			// collection's position fresh. A store whose TryNext does not
			// wait (lungo) is waited on with Next.
			if time.Since(asked) >= w.hub.opts.MaxAwait/2 {
				continue
			}
			if got = cs.Next(ctx); !got {
				if err := cs.Err(); err != nil {
					return err
				}
				return errors.New("change stream closed")
			}
		}
		c, err := w.handle(ctx, cs)
		if err != nil {
			return err
		}
		if cs.RemainingBatchLength() == 0 {
			w.batchDone(cs)
			if !caughtUp && !time.Unix(int64(c.ClusterTime.T)+1, 0).Before(opened) {
				caughtUp = true
				w.hub.setRunning(w.feed.coll, true)
			}
		}
	}
}

// batchDone keeps the stream's resume token and hands the users whose
// unread counts changed to the unread loop, which counts them off the
// change stream's goroutine.
func (w *watcher) batchDone(cs lungo.IChangeStream) {
	if t := cs.ResumeToken(); t != nil {
		w.token, w.startAfter = t, false
		if ts, ok := tokenTime(t); ok && ts.T > 0 {
			// Every change before the token's time has been read: the
			// post-batch resume token moves on while the collection is
			// quiet.
			w.hub.engine.Advance(w.src, before(ts))
		}
	}
	if len(w.dirty) > 0 {
		w.hub.unread.mark(w.dirty)
		w.dirty = w.dirty[:0]
	}
}

// handle turns the current change into its event, once. It returns the
// change, or errInvalidated after an invalidate event.
func (w *watcher) handle(ctx context.Context, cs lungo.IChangeStream) (*change, error) {
	c := new(change)
	if err := cs.Decode(c); err != nil {
		w.hub.log.Error("decode change", "collection", w.feed.coll, "error", err)
		return c, nil
	}
	if c.NS.Coll != "" && c.NS.Coll != w.feed.coll {
		// A change of another collection, from a stream of the whole
		// database: every change of this one before it has been read.
		w.hub.engine.Advance(w.src, before(c.ClusterTime))
		return c, nil
	}
	pos, ok := w.position(c.ClusterTime)
	if !ok {
		return c, nil
	}
	if c.OperationType == "drop" || c.OperationType == "rename" {
		// A stream of the whole database goes on after it; one of the
		// collection alone gets an invalidate next, and ends.
		if w.whole {
			w.hub.reset(w.src, pos)
		}
		w.hub.engine.Advance(w.src, pos)
		return c, nil
	}
	if c.OperationType == "invalidate" {
		w.startAfter = true
		w.hub.reset(w.src, pos)
		return c, errInvalidated
	}
	ev, err := w.feed.event(w.hub, c)
	if w.feed.coll == forum.CommentsCollection && c.OperationType == "insert" {
		w.hub.presence.commentPublished(c.FullDocument)
	}
	if !ev.unread.IsZero() {
		w.dirty = append(w.dirty, ev.unread)
	}
	var data []byte
	if err == nil && len(ev.topics) > 0 {
		data, err = eventData(ctx, ev.v, ev.view)
	}
	switch {
	case err != nil:
		if ctx.Err() == nil {
			w.hub.log.Error("skip change", "collection", w.feed.coll, "operation", c.OperationType, "error", err)
		}
		w.hub.engine.Advance(w.src, pos)
	case len(ev.topics) == 0:
		w.hub.engine.Advance(w.src, pos)
	default:
		w.hub.engine.Publish(w.src, pos, ev.topics, ev.name, data, changeTime(c))
	}
	return c, nil
}

// position returns the position of a change at cluster time ts: the time
// and the change's ordinal among the changes of that time, in stream
// order. Several changes can share a cluster time on MongoDB (the
// documents of one insertMany, which MongoDB 8 writes as one applyOps
// oplog entry; the writes of a transaction; changes on different shards),
// and the stream's order is the same on every instance, so positions are
// too. A change before the newest handled is one seen again: not ok.
func (w *watcher) position(ts primitive.Timestamp) (fanout.Position, bool) {
	t := clusterTime(ts)
	switch {
	case t < w.last.Time:
		return fanout.Position{}, false
	case t == w.last.Time:
		w.last.Seq++
	default:
		w.last = fanout.Position{Time: t}
	}
	return w.last, true
}

// changeTime returns when a change happened: its document's createdAt for
// an insert, whose clock has sub-second precision, else its cluster time,
// which has whole seconds.
func changeTime(c *change) time.Time {
	if c.OperationType == "insert" {
		if t, ok := c.FullDocument.Lookup("createdAt").TimeOK(); ok {
			return t
		}
	}
	return time.Unix(int64(c.ClusterTime.T), 0)
}

// before returns the position just before cluster time ts: after every
// change of an earlier time, and before every change of ts itself, which
// may share it.
func before(ts primitive.Timestamp) fanout.Position {
	return fanout.Position{Time: clusterTime(ts) - 1, Seq: ^uint32(0)}
}

// tokenTime returns the cluster time a MongoDB resume token holds. Its
// tokens are {_data: "<hex>"}, a KeyString whose first value is the
// cluster time: type byte 130 (0x82, Timestamp) and its 8 bytes, big
// endian (mongo/src/mongo/db/pipeline/resume_token.cpp, key_string.cpp
// CType::kTimestamp). lungo's tokens ({ts}) are those of its last change,
// which tells nothing new: on lungo the whole-database stream moves a
// collection's position on instead.
func tokenTime(token bson.Raw) (primitive.Timestamp, bool) {
	data, ok := token.Lookup("_data").StringValueOK()
	if !ok || len(data) < 18 || !strings.EqualFold(data[:2], "82") {
		return primitive.Timestamp{}, false
	}
	b, err := hex.DecodeString(data[2:18])
	if err != nil {
		return primitive.Timestamp{}, false
	}
	return primitive.Timestamp{T: binary.BigEndian.Uint32(b[:4]), I: binary.BigEndian.Uint32(b[4:])}, true
}
