package streams

import (
	"context"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/forum"
)

// A change stream can hang without failing: the driver waits, the watcher
// waits, and nothing tells readiness. So the hub writes a canary document
// into the notifications collection every CanaryInterval and expects its
// own change stream to bring it back. The store finds notifications only
// by userId, which a canary lacks, so no one ever sees it; the watcher
// recognises it by its canary field and dispatches nothing for it.

// canaryGrace is how many intervals a canary may take to come back.
const canaryGrace = 3

// canaryLoop writes the canary once per interval, from when the hub has
// caught up until ctx is done, and marks the stream stalled when a canary
// is overdue. At the end it deletes the canary, so that instances that
// come and go leave none behind.
func (h *Hub) canaryLoop(ctx context.Context) {
	select {
	case <-h.ready:
	case <-ctx.Done():
		return
	}
	coll := h.db.Collection(forum.NotificationsCollection)
	t := time.NewTicker(h.opts.CanaryInterval)
	defer t.Stop()
	wrote := false
	for {
		select {
		case <-ctx.Done():
			if wrote {
				h.deleteCanary(ctx, coll)
			}
			return
		case now := <-t.C:
			h.checkCanary(now)
			if err := h.writeCanary(ctx, coll, now); err != nil {
				if ctx.Err() == nil {
					h.log.Warn("write canary", "error", err)
				}
				continue
			}
			wrote = true
		}
	}
}

// writeCanary writes the canary of now. The write is bounded so that a
// store that hangs delays the next check by no more than the grace.
func (h *Hub) writeCanary(ctx context.Context, coll lungo.ICollection, now time.Time) error {
	h.expectCanary(now)
	ctx, cancel := context.WithTimeout(ctx, canaryGrace*h.opts.CanaryInterval)
	defer cancel()
	doc := bson.M{"canary": true, "at": now}
	_, err := coll.ReplaceOne(ctx, bson.M{"_id": h.canaryID}, doc, options.Replace().SetUpsert(true))
	if err != nil {
		h.forgetCanary(now)
	}
	return err
}

// deleteCanary deletes the canary, for a little while after ctx is done.
func (h *Hub) deleteCanary(ctx context.Context, coll lungo.ICollection) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if _, err := coll.DeleteOne(ctx, bson.M{"_id": h.canaryID}); err != nil {
		h.log.Warn("delete canary", "error", err)
	}
}

// expectCanary notes that a canary is being written at now, unless an
// older one is still awaited: the deadline runs from the oldest, so that a
// stream slower than the interval is still found out.
func (h *Hub) expectCanary(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.awaited.IsZero() {
		h.awaited = now
	}
}

// forgetCanary stops awaiting the canary of now, which could not be
// written: a store that refuses writes is not a stalled stream.
func (h *Hub) forgetCanary(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.awaited.Equal(now) {
		h.awaited = time.Time{}
	}
}

// checkCanary marks the notifications stream stalled, once, if the awaited
// canary is overdue at now.
func (h *Hub) checkCanary(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stalled || h.awaited.IsZero() || now.Sub(h.awaited) <= canaryGrace*h.opts.CanaryInterval {
		return
	}
	h.stalled = true
	h.metrics.stalled.Set(1)
	h.log.Error("change stream stalled: canary not back", "collection", forum.NotificationsCollection, "waited", now.Sub(h.awaited).Round(time.Millisecond))
}

// canarySeen records that the notifications stream brought back a canary
// document; only this hub's own canary counts.
func (h *Hub) canarySeen(doc bson.Raw) {
	id, _ := doc.Lookup("_id").StringValueOK()
	at, ok := doc.Lookup("at").TimeOK()
	if id != h.canaryID || !ok {
		return
	}
	h.metrics.canaryRTT.Set(max(time.Since(at), 0).Seconds())
	h.mu.Lock()
	defer h.mu.Unlock()
	// The document keeps milliseconds: compare at that precision. A later
	// canary answers for an earlier one too.
	if h.awaited.IsZero() || at.UnixMilli() < h.awaited.UnixMilli() {
		return
	}
	h.awaited = time.Time{}
	if h.stalled {
		h.stalled = false
		h.metrics.stalled.Set(0)
		h.log.Info("change stream recovered: canary back", "collection", forum.NotificationsCollection)
	}
}

// isCanary reports whether a notifications document is a canary.
func isCanary(doc bson.Raw) bool {
	canary, ok := doc.Lookup("canary").BooleanOK()
	return ok && canary
}
