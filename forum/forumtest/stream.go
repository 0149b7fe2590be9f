package forumtest

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/256dpi/lungo"
	"github.com/256dpi/lungo/bsonkit"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Server defaults: a getMore on a change stream waits up to one second
// for an event when maxAwaitTimeMS is unset, and returns up to 101
// documents (MongoDB manual, "getMore": maxTimeMS on awaitData cursors;
// "Cursors": batch size).
const (
	defaultMaxAwait  = time.Second
	defaultBatchSize = 101
)

// streamIDs numbers streams, for ID.
var streamIDs atomic.Int64

// stream is a change stream the way the Go driver's ChangeStream and the
// server behave. Like the driver's, it is not safe for concurrent use.
//
// It reads lungo's oplog through a stream over the whole client (feed),
// because MongoDB's post-batch resume token advances over other
// collections' entries too, and filters the namespace itself. A second
// lungo stream (the notifier) only wakes a waiting getMore.
type stream struct {
	client    lungo.IClient
	db, coll  string // "" for all
	lookup    bool
	maxAwait  time.Duration
	batchSize int32

	feed lungo.IChangeStream
	wake chan struct{}
	stop context.CancelFunc
	done chan struct{} // closed when the notifier ends

	hw      primitive.Timestamp // newest oplog position read
	batch   []bson.Raw
	pbrt    bson.Raw // post-batch resume token of the last batch
	current bson.Raw
	token   bson.Raw
	id      int64
	dead    bool // the server closed the cursor after an invalidate
	closed  bool
	err     error
}

var _ lungo.IChangeStream = (*stream)(nil)

// open opens a change stream on the namespace db.coll, which may be empty
// for a database or the whole client.
func open(ctx context.Context, c lungo.IClient, db, coll string, pipeline any, opts ...*options.ChangeStreamOptions) (lungo.IChangeStream, error) {
	if inTransaction(ctx) {
		return nil, notInTransaction()
	}
	stages, err := bsonkit.TransformList(pipeline)
	if err != nil {
		return nil, err
	}
	if len(stages) > 0 {
		// lungo panics on a pipeline; MongoDB runs it. The double says
		// plainly that it does not.
		return nil, errors.New("forumtest: change stream pipelines are not emulated")
	}
	opt := options.MergeChangeStreamOptions(opts...)
	if opt.Collation != nil || opt.FullDocumentBeforeChange != nil || opt.ShowExpandedEvents != nil || opt.Custom != nil || opt.CustomPipeline != nil ||
		opt.FullDocument != nil && *opt.FullDocument != options.Default && *opt.FullDocument != options.UpdateLookup {
		return nil, errors.New("forumtest: change stream option not emulated")
	}
	s := &stream{
		client:    c,
		db:        db,
		coll:      coll,
		lookup:    opt.FullDocument != nil && *opt.FullDocument == options.UpdateLookup,
		maxAwait:  defaultMaxAwait,
		batchSize: defaultBatchSize,
		id:        streamIDs.Add(1),
	}
	if opt.MaxAwaitTime != nil {
		s.maxAwait = *opt.MaxAwaitTime
	}
	if opt.BatchSize != nil && *opt.BatchSize > 0 {
		s.batchSize = *opt.BatchSize
	}
	if err := s.position(opt); err != nil {
		return nil, err
	}
	s.notify()
	// The aggregate that opens a stream returns what is there at once,
	// without waiting, and its post-batch resume token (driver:
	// change_stream.go executeOperation, updatePbrtFromCommand).
	if err := s.scan(ctx); err != nil {
		s.release()
		return nil, err
	}
	if len(s.batch) == 0 {
		s.token = s.pbrt
	}
	return s, nil
}

// position opens the feed where the options say.
func (s *stream) position(opt *options.ChangeStreamOptions) error {
	switch {
	case opt.ResumeAfter != nil || opt.StartAfter != nil:
		v := opt.StartAfter
		if v == nil {
			v = opt.ResumeAfter
		}
		kind, ts, err := parseToken(v)
		if err != nil {
			return err
		}
		if kind == kindInvalidate && opt.StartAfter == nil {
			return invalidResume()
		}
		if err := s.checkHistory(ts); err != nil {
			return err
		}
		return s.openFeed(ts)
	case opt.StartAtOperationTime != nil:
		at, err := clusterTimes.startAt(s.client, *opt.StartAtOperationTime)
		if err != nil {
			return err
		}
		return s.openFeed(preceding(at))
	default:
		return s.openNow()
	}
}

// openFeed opens the feed after lungo time after.
func (s *stream) openFeed(after primitive.Timestamp) error {
	from := following(after)
	feed, err := s.client.Watch(context.Background(), mongo.Pipeline{}, options.ChangeStream().SetStartAtOperationTime(&from))
	if err != nil {
		return err
	}
	s.feed, s.hw = feed, after
	return nil
}

// openNow opens the feed at the newest oplog position. It holds lungo's
// write token meanwhile, so that no write that has taken its time is still
// to commit: the position is then exact, and so is the post-batch resume
// token made of it.
func (s *stream) openNow() error {
	sess, err := s.client.StartSession()
	if err != nil {
		return err
	}
	defer sess.EndSession(context.Background())
	if err := sess.StartTransaction(); err != nil {
		return err
	}
	defer sess.AbortTransaction(context.Background())
	feed, err := s.client.Watch(context.Background(), mongo.Pipeline{})
	if err != nil {
		return err
	}
	s.feed, s.hw = feed, bsonkit.Now()
	return nil
}

// checkHistory fails with ChangeStreamHistoryLost when the oplog no longer
// reaches back to ts: lungo trims it from the front.
func (s *stream) checkHistory(ts primitive.Timestamp) error {
	first := primitive.Timestamp{}
	oldest, err := s.client.Watch(context.Background(), mongo.Pipeline{}, options.ChangeStream().SetStartAtOperationTime(&first))
	if err != nil {
		return err
	}
	defer oldest.Close(context.Background())
	if !oldest.TryNext(context.Background()) {
		return oldest.Err()
	}
	t, err := eventTime(oldest)
	if err != nil {
		return err
	}
	if ts.Before(t) {
		return historyLost()
	}
	return nil
}

// notify starts the notifier, which wakes a waiting getMore when anything
// is written.
func (s *stream) notify() {
	ctx, stop := context.WithCancel(context.Background())
	s.wake, s.stop, s.done = make(chan struct{}, 1), stop, make(chan struct{})
	n, err := s.client.Watch(ctx, mongo.Pipeline{})
	if err != nil {
		close(s.done)
		return
	}
	go func() {
		defer close(s.done)
		defer n.Close(context.Background())
		for n.Next(ctx) {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}()
}

// release closes the feed and stops the notifier.
func (s *stream) release() {
	s.feed.Close(context.Background())
	s.stop()
	<-s.done
}

// scan reads what the oplog has now into the batch, up to the batch size,
// as one aggregate or getMore does, and sets the post-batch resume token to
// the newest position read (driver: change_stream.go
// updatePbrtFromCommand; the server's postBatchResumeToken is the
// high-water mark of the oplog scanned, whatever namespace it is of).
func (s *stream) scan(ctx context.Context) error {
	for len(s.batch) < int(s.batchSize) {
		if !s.feed.TryNext(context.Background()) {
			if errors.Is(s.feed.Err(), lungo.ErrLostOplogPosition) {
				return historyLost()
			}
			if err := s.feed.Err(); err != nil {
				return err
			}
			break
		}
		var raw bson.Raw
		if err := s.feed.Decode(&raw); err != nil {
			return err
		}
		if err := s.add(ctx, raw); err != nil {
			return err
		}
		if s.dead {
			return nil
		}
	}
	ct, err := clusterTimes.clusterTime(ctx, s.hw)
	if err != nil {
		return err
	}
	s.pbrt = token(kindPosition, ct, s.hw)
	return nil
}

// add turns the lungo event raw into MongoDB's, if it is of the stream's
// namespace, and adds it to the batch.
func (s *stream) add(ctx context.Context, raw bson.Raw) error {
	var e struct {
		ID struct {
			TS primitive.Timestamp `bson:"ts"`
		} `bson:"_id"`
		Op string `bson:"operationType"`
		NS struct {
			DB   string `bson:"db"`
			Coll string `bson:"coll"`
		} `bson:"ns"`
		Key struct {
			ID any `bson:"_id"`
		} `bson:"documentKey"`
	}
	if err := bson.Unmarshal(raw, &e); err != nil {
		return err
	}
	s.hw = e.ID.TS
	if s.db != "" && e.NS.DB != s.db || s.coll != "" && e.NS.Coll != s.coll {
		return nil
	}
	ct, err := clusterTimes.clusterTime(ctx, e.ID.TS)
	if err != nil {
		return err
	}
	var doc bson.D
	if err := bson.Unmarshal(raw, &doc); err != nil {
		return err
	}
	out := make(bson.D, 0, len(doc)+1)
	for _, el := range doc {
		switch el.Key {
		case "_id":
			el.Value = token(kindPosition, ct, e.ID.TS)
		case "clusterTime":
			el.Value = ct
		case "fullDocument":
			// lungo gives updates the document as the update left it;
			// MongoDB gives none, or with updateLookup the document as it
			// is when the event is read (MongoDB manual, "Change Streams"
			// > "Lookup Full Document for Update Operations").
			if e.Op == "update" {
				continue
			}
		}
		out = append(out, el)
	}
	if e.Op == "update" && s.lookup {
		full, err := s.lookupDoc(ctx, e.NS.DB, e.NS.Coll, e.Key.ID)
		if err != nil {
			return err
		}
		var v any // null when the document is gone
		if full != nil {
			v = full
		}
		out = append(out, bson.E{Key: "fullDocument", Value: v})
	}
	ev, err := bson.Marshal(out)
	if err != nil {
		return err
	}
	s.batch = append(s.batch, ev)
	// A collection's stream ends at its drop, a database's at its drop;
	// either with an invalidate event, after which the server closes the
	// cursor (MongoDB manual, "Change Events" > "invalidate Event"). lungo
	// writes a drop for each collection of a dropped database before the
	// dropDatabase entry, as MongoDB does. lungo has no rename.
	if s.coll != "" && e.Op == "drop" || s.coll == "" && s.db != "" && e.Op == "dropDatabase" {
		inv, _ := bson.Marshal(bson.D{
			{Key: "_id", Value: token(kindInvalidate, ct, e.ID.TS)},
			{Key: "operationType", Value: "invalidate"},
			{Key: "clusterTime", Value: ct},
		})
		s.batch = append(s.batch, inv)
		s.pbrt = token(kindInvalidate, ct, e.ID.TS)
		s.dead = true
		s.release()
	}
	return nil
}

// lookupDoc returns the document with id as it is now, or nil if there is
// none.
func (s *stream) lookupDoc(ctx context.Context, db, coll string, id any) (bson.Raw, error) {
	raw, err := s.client.Database(db).Collection(coll).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, nil
	}
	return raw, err
}

// getMore fills the batch as one getMore does: with what is there now, or
// else with the first events to come within max-await, or with nothing.
func (s *stream) getMore(ctx context.Context) error {
	timer := time.NewTimer(s.maxAwait)
	defer timer.Stop()
	for {
		if err := s.scan(ctx); err != nil {
			return err
		}
		if len(s.batch) > 0 || s.dead {
			return nil
		}
		select {
		case <-s.wake:
		case <-timer.C:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-s.done:
			return lungo.ErrEngineClosed
		}
	}
}

// next is the driver's change_stream.go next and loopNext: serve from the
// batch; when it is empty, one getMore for TryNext, getMores until an
// event for Next; keep the post-batch resume token after an empty getMore
// and at the end of a batch (storeResumeToken).
func (s *stream) next(ctx context.Context, block bool) bool {
	if s.err != nil || s.closed {
		return false
	}
	if ctx == nil {
		ctx = context.Background()
	}
	for len(s.batch) == 0 {
		if s.dead {
			return false
		}
		if err := s.getMore(ctx); err != nil {
			s.err = err
			return false
		}
		if len(s.batch) == 0 {
			s.token = s.pbrt
			if !block {
				return false
			}
		}
	}
	s.current, s.batch = s.batch[0], s.batch[1:]
	if len(s.batch) == 0 {
		s.token = s.pbrt
	} else {
		s.token = s.current.Lookup("_id").Document()
	}
	return true
}

func (s *stream) Next(ctx context.Context) bool    { return s.next(ctx, true) }
func (s *stream) TryNext(ctx context.Context) bool { return s.next(ctx, false) }

func (s *stream) Decode(out any) error {
	if s.closed {
		return mongo.ErrNilCursor
	}
	if s.current == nil {
		return io.EOF
	}
	return bson.Unmarshal(s.current, out)
}

func (s *stream) Err() error { return s.err }

// ID is 0 once the cursor is closed, by Close or by an invalidate.
func (s *stream) ID() int64 {
	if s.closed || s.dead {
		return 0
	}
	return s.id
}

func (s *stream) RemainingBatchLength() int { return len(s.batch) }

func (s *stream) ResumeToken() bson.Raw { return s.token }

func (s *stream) SetBatchSize(n int32) {
	if n > 0 {
		s.batchSize = n
	}
}

func (s *stream) Close(context.Context) error {
	if s.closed {
		return nil
	}
	s.closed = true
	if !s.dead {
		s.release()
	}
	s.batch, s.current = nil, nil
	return nil
}
