package streams

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/forum"
	"forum/views"
)

// Bounds of the delay before a failed change stream is reopened.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// watcher owns the change stream of one collection, and reopens it when it
// fails.
type watcher struct {
	hub     *Hub
	coll    string
	token   bson.Raw            // where to resume
	startAt primitive.Timestamp // where to start without a token; zero: now
	last    uint64              // newest position handled, to skip replays
	dirty   map[primitive.ObjectID]struct{}
}

// watch keeps the change stream open until ctx is done.
func (w *watcher) watch(ctx context.Context) {
	w.dirty = map[primitive.ObjectID]struct{}{}
	fails := 0
	for {
		began := time.Now()
		err := w.run(ctx)
		w.hub.setRunning(w.coll, false)
		if ctx.Err() != nil {
			return
		}
		var d time.Duration
		if historyLost(err) {
			// Open from the second the history now starts at, so that
			// the stream has every change after it.
			w.token, w.startAt = nil, primitive.Timestamp{}
			d = time.Until(w.hub.lost(w.coll))
			w.hub.log.Warn("change stream lost its history; going on from now", "collection", w.coll, "error", err)
		} else {
			if time.Since(began) > maxBackoff {
				fails = 0
			}
			fails++
			d = backoff(fails)
			w.hub.log.Warn("change stream failed; reopening", "collection", w.coll, "error", err, "in", d)
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
// where it was.
func historyLost(err error) bool {
	if err == nil {
		return false
	}
	var se mongo.ServerError
	return errors.Is(err, lungo.ErrLostOplogPosition) ||
		errors.As(err, &se) && (se.HasErrorCode(286) || se.HasErrorCode(280)) ||
		strings.Contains(err.Error(), "unable to resume change stream")
}

// run opens the change stream and handles its changes until it fails.
func (w *watcher) run(ctx context.Context) error {
	opts := options.ChangeStream()
	if w.coll == forum.NotificationsCollection {
		// MongoDB includes the document of an update only when asked;
		// a notification's tells whose unread count changed.
		opts.SetFullDocument(options.UpdateLookup)
	}
	from := "now"
	switch {
	case w.token != nil:
		opts.SetResumeAfter(w.token)
		from = "resume token"
	case w.startAt.T != 0:
		opts.SetStartAtOperationTime(&w.startAt)
		from = time.Unix(int64(w.startAt.T), 0).UTC().Format(time.RFC3339)
	}
	cs, err := w.hub.db.Collection(w.coll).Watch(ctx, mongo.Pipeline{}, opts)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		cs.Close(cctx)
	}()
	w.hub.opened.Add(1)
	w.hub.metrics.opened[w.coll].Inc()
	w.hub.log.Info("change stream open", "collection", w.coll, "from", from)
	for caughtUp := false; ; caughtUp = true {
		for cs.TryNext(ctx) {
			w.handle(ctx, cs)
		}
		if err := cs.Err(); err != nil {
			return err
		}
		if t := cs.ResumeToken(); t != nil {
			w.token = t
		}
		w.sendUnread(ctx)
		if !caughtUp {
			w.hub.setRunning(w.coll, true)
		}
		if !cs.Next(ctx) {
			if err := cs.Err(); err != nil {
				return err
			}
			return errors.New("change stream closed")
		}
		w.handle(ctx, cs)
	}
}

// change is what the hub reads of a change event.
type change struct {
	ClusterTime   primitive.Timestamp `bson:"clusterTime"`
	OperationType string              `bson:"operationType"`
	FullDocument  bson.Raw            `bson:"fullDocument"`
}

// handle turns the current change into its event, once.
func (w *watcher) handle(ctx context.Context, cs lungo.IChangeStream) {
	w.token = cs.ResumeToken()
	var c change
	if err := cs.Decode(&c); err != nil {
		w.hub.log.Error("decode change", "collection", w.coll, "error", err)
		return
	}
	pos := position(c.ClusterTime)
	if pos <= w.last {
		return
	}
	w.last = pos
	topic, name, v, view, err := w.item(c)
	var f *frame
	if err == nil && topic != "" {
		var data []byte
		if data, err = eventData(ctx, v, view); err == nil {
			f = newFrame(pos, name, data)
			f.at = changeTime(c)
		}
	}
	if err != nil && ctx.Err() == nil {
		w.hub.log.Error("skip change", "collection", w.coll, "operation", c.OperationType, "error", err)
	}
	w.hub.publish(pos, topic, f)
}

// item returns the topic, event name, document and view of a change, or no
// topic if the change is no event. It notes whose unread count may have
// changed, and hands canaries back to the hub.
func (w *watcher) item(c change) (topic, name string, v any, view component, err error) {
	op := c.OperationType
	if len(c.FullDocument) == 0 || op != "insert" && (w.coll != forum.NotificationsCollection || op != "update" && op != "replace") {
		return "", "", nil, nil, nil
	}
	switch {
	case w.coll == forum.PostsCollection:
		p := new(forum.Post)
		err = bson.Unmarshal(c.FullDocument, p)
		return PostsTopic, "post", p, views.PostCard(p), err
	case w.coll == forum.CommentsCollection:
		cm := new(forum.Comment)
		err = bson.Unmarshal(c.FullDocument, cm)
		return CommentsTopic(cm.PostID), "comment", cm, views.CommentItem(cm), err
	case isCanary(c.FullDocument):
		w.hub.canarySeen(c.FullDocument)
		return "", "", nil, nil, nil
	}
	n := new(forum.Notification)
	if err = bson.Unmarshal(c.FullDocument, n); err != nil {
		return "", "", nil, nil, err
	}
	w.dirty[n.UserID] = struct{}{}
	if op != "insert" {
		return "", "", nil, nil, nil
	}
	return NotificationsTopic(n.UserID), "notification", n, views.NotificationItem(n), nil
}

// component is a templ component.
type component interface {
	Render(ctx context.Context, w io.Writer) error
}

// eventData is v as the JSON API has it, plus "html": v rendered by c.
// The JSON is not HTML-escaped (no \u003c for <): it never lands in an HTML
// document unparsed, and escaping would make every frame larger.
func eventData(ctx context.Context, v any, c component) ([]byte, error) {
	var html strings.Builder
	if err := c.Render(ctx, &html); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	// Encode ends with "}\n": reopen the object for "html".
	b.Truncate(b.Len() - 2)
	b.WriteString(`,"html":`)
	if err := enc.Encode(html.String()); err != nil {
		return nil, err
	}
	b.Truncate(b.Len() - 1)
	b.WriteByte('}')
	return b.Bytes(), nil
}

// sendUnread sends the unread count of each user whose notifications
// changed, once for all of their listeners and only if they have any.
func (w *watcher) sendUnread(ctx context.Context) {
	for id := range w.dirty {
		topic := NotificationsTopic(id)
		if !w.hub.listened(topic) {
			continue
		}
		n, err := w.hub.store.UnreadCount(ctx, id)
		if err != nil {
			w.hub.log.Warn("count unread notifications", "user", id.Hex(), "error", err)
			continue
		}
		w.hub.send(topic, unreadFrame(n))
	}
	clear(w.dirty)
}
