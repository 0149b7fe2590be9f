package forumtest

import (
	"context"
	"sort"
	"sync"

	"github.com/256dpi/lungo"
	"github.com/256dpi/lungo/bsonkit"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// maxMembers bounds the registry; the oldest groups go first, and their
// events then show lungo's own times.
const maxMembers = 1 << 16

// clusterTimes is the one registry of the process, so that every stream and
// every double on a store sees the same grouping.
var clusterTimes = &registry{
	times:   map[primitive.Timestamp]primitive.Timestamp{},
	pending: map[*write]struct{}{},
	settled: make(chan struct{}),
}

// registry maps lungo's event timestamps (unique in the process: bsonkit.Now
// is process-global) to the cluster time MongoDB would give the events: the
// time of the first event of their write.
type registry struct {
	mu      sync.Mutex
	times   map[primitive.Timestamp]primitive.Timestamp
	groups  [][]primitive.Timestamp // members of each group, by first
	members int
	pending map[*write]struct{}
	settled chan struct{} // closed and replaced when a write settles
}

// write is one grouped write: its events are the oplog entries after start
// and before end, all written under lungo's write token.
type write struct {
	feed       lungo.IChangeStream
	start, end primitive.Timestamp
	settled    bool
}

// begin starts a grouped write. It must run while the write holds lungo's
// write token, so that the oplog has nothing after start but the write's
// own events until it commits.
func begin(c lungo.IClient) (*write, error) {
	feed, err := c.Watch(context.Background(), mongo.Pipeline{})
	if err != nil {
		return nil, err
	}
	w := &write{feed: feed, start: bsonkit.Now()}
	clusterTimes.mu.Lock()
	clusterTimes.pending[w] = struct{}{}
	clusterTimes.mu.Unlock()
	return w, nil
}

// close marks the end of the write, before it commits.
func (w *write) close() {
	w.end = bsonkit.Now()
}

// finish registers the events of the committed write as one group.
func (w *write) finish() error {
	if w == nil || w.settled {
		return nil
	}
	var group []primitive.Timestamp
	for w.feed.TryNext(context.Background()) {
		ts, err := eventTime(w.feed)
		if err != nil {
			w.cancel()
			return err
		}
		if !ts.Before(w.end) {
			break
		}
		group = append(group, ts)
	}
	err := w.feed.Err()
	clusterTimes.settle(w, group)
	return err
}

// cancel ends a write that did not commit, or whose events are registered.
func (w *write) cancel() {
	if w == nil || w.settled {
		return
	}
	clusterTimes.settle(w, nil)
}

// settle registers group, if it has more than one event, and ends w.
func (r *registry) settle(w *write, group []primitive.Timestamp) {
	w.settled = true
	w.feed.Close(context.Background())
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, w)
	close(r.settled)
	r.settled = make(chan struct{})
	if len(group) < 2 {
		return
	}
	for _, ts := range group {
		r.times[ts] = group[0]
	}
	i := sort.Search(len(r.groups), func(i int) bool { return group[0].Before(r.groups[i][0]) })
	r.groups = append(r.groups[:i], append([][]primitive.Timestamp{group}, r.groups[i:]...)...)
	r.members += len(group)
	for r.members > maxMembers {
		for _, ts := range r.groups[0] {
			delete(r.times, ts)
		}
		r.members -= len(r.groups[0])
		r.groups = r.groups[1:]
	}
}

// clusterTime returns the cluster time of the event lungo timed ts. It
// waits while a write that may have written the event has not registered
// it yet, so that no stream sees a group half-formed.
func (r *registry) clusterTime(ctx context.Context, ts primitive.Timestamp) (primitive.Timestamp, error) {
	for {
		r.mu.Lock()
		waiting := false
		for w := range r.pending {
			waiting = waiting || w.start.Before(ts)
		}
		if !waiting {
			ct, ok := r.times[ts]
			r.mu.Unlock()
			if ok {
				return ct, nil
			}
			return ts, nil
		}
		settled := r.settled
		r.mu.Unlock()
		select {
		case <-settled:
		case <-ctx.Done():
			return ts, ctx.Err()
		}
	}
}

// startAt returns the lungo time to start a stream on c at for cluster
// time t: past the end of a group of c's store that t falls inside of,
// because on MongoDB the whole group is at its first time, before t.
// Groups of other stores in the process may span t too, since they share
// lungo's clock; the oplog tells which group is c's.
func (r *registry) startAt(c lungo.IClient, t primitive.Timestamp) (primitive.Timestamp, error) {
	r.mu.Lock()
	var spans [][]primitive.Timestamp
	for _, g := range r.groups {
		if g[0].Before(t) && !g[len(g)-1].Before(t) {
			spans = append(spans, g)
		}
	}
	r.mu.Unlock()
	for _, g := range spans {
		ok, err := inOplog(c, g[0])
		if err != nil {
			return t, err
		}
		if ok {
			return following(g[len(g)-1]), nil
		}
	}
	return t, nil
}

// inOplog reports whether the oplog of c's store has an entry at ts.
func inOplog(c lungo.IClient, ts primitive.Timestamp) (bool, error) {
	cs, err := c.Watch(context.Background(), mongo.Pipeline{}, options.ChangeStream().SetStartAtOperationTime(&ts))
	if err != nil {
		return false, err
	}
	defer cs.Close(context.Background())
	if !cs.TryNext(context.Background()) {
		return false, cs.Err()
	}
	got, err := eventTime(cs)
	return got == ts, err
}

// following returns the timestamp right after t.
func following(t primitive.Timestamp) primitive.Timestamp {
	if t.I == ^uint32(0) {
		return primitive.Timestamp{T: t.T + 1}
	}
	return primitive.Timestamp{T: t.T, I: t.I + 1}
}

// preceding returns the timestamp right before t.
func preceding(t primitive.Timestamp) primitive.Timestamp {
	if t.I == 0 {
		return primitive.Timestamp{T: t.T - 1, I: ^uint32(0)}
	}
	return primitive.Timestamp{T: t.T, I: t.I - 1}
}

// eventTime returns lungo's timestamp of the current event of a lungo
// stream, from its token {ts: ...}.
func eventTime(cs lungo.IChangeStream) (primitive.Timestamp, error) {
	var e struct {
		ID struct {
			TS primitive.Timestamp `bson:"ts"`
		} `bson:"_id"`
	}
	err := cs.Decode(&e)
	return e.ID.TS, err
}
