package streams

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
	"forum/views"
)

// A feed is a watched collection: which topics its changes go to, and how
// a change becomes an event. The index of a feed in feeds is its source in
// the fan-out engine, and so its part of every event id: append new feeds
// at the end.
type feed struct {
	coll  string
	kinds []string // the topic kinds it feeds
	// lookup asks the change stream for the current document of an
	// update: MongoDB sends it only when asked (fullDocument:
	// updateLookup).
	lookup bool
	// event returns what a change means: its event, if it has one, and
	// whose unread count it may have changed.
	event func(h *Hub, c *change) (ev event, err error)
}

// feeds are the watched collections, in source order.
var feeds = []feed{
	// Posts and comments are edited and deleted (soft: see forum/edit.go)
	// by updates, whose events carry the document only when looked up.
	{coll: forum.PostsCollection, kinds: []string{postsKind, commentsKind}, lookup: true, event: postEvent},
	{coll: forum.CommentsCollection, kinds: []string{commentsKind}, lookup: true, event: commentEvent},
	{coll: forum.NotificationsCollection, kinds: []string{notificationsKind}, lookup: true, event: notificationEvent},
}

// feeds reports whether f feeds topics of kind.
func (f *feed) feeds(kind string) bool {
	return slices.Contains(f.kinds, kind)
}

// change is what the hub reads of a change event.
type change struct {
	NS struct {
		Coll string `bson:"coll"`
	} `bson:"ns"`
	ClusterTime   primitive.Timestamp `bson:"clusterTime"`
	OperationType string              `bson:"operationType"`
	FullDocument  bson.Raw            `bson:"fullDocument"`
}

// event is a change's live event; no topics means none.
type event struct {
	topics []string
	name   string
	v      any       // the item as the JSON API has it
	view   component // the item as pages show it, if they need it
	unread primitive.ObjectID
}

// written reports whether a change wrote a document that it carries: an
// insert, or an update or replace whose document was looked up. A
// document deleted before the lookup comes as none.
func written(c *change) bool {
	switch c.OperationType {
	case "insert", "update", "replace":
		return len(c.FullDocument) > 0
	}
	return false
}

// postEvent makes an event of a new post, and of a changed or deleted one
// for the front page and the post's own thread. A looked-up document is
// the post as it is when looked up, perhaps after later changes: the
// event then carries news that the next one carries again.
func postEvent(_ *Hub, c *change) (event, error) {
	if !written(c) {
		return event{}, nil
	}
	p := new(forum.Post)
	if err := bson.Unmarshal(c.FullDocument, p); err != nil {
		return event{}, err
	}
	switch {
	case c.OperationType == "insert":
		return event{topics: []string{PostsTopic}, name: EventPost, v: p, view: views.PostCard(p)}, nil
	case p.DeletedAt != nil:
		return event{topics: []string{PostsTopic, CommentsTopic(p.ID)}, name: EventPostDeleted, v: deleted{ID: p.ID}}, nil
	}
	return event{topics: []string{PostsTopic, CommentsTopic(p.ID)}, name: EventPostUpdated, v: p, view: views.PostCard(p)}, nil
}

// deleted is the data of a deletion event.
type deleted struct {
	ID     primitive.ObjectID `json:"id"`
	PostID primitive.ObjectID `json:"postId,omitzero"`
}

// commentEvent makes an event of a new, an edited or a deleted comment. A
// comment deleted with its post has none: its thread is told of the post.
func commentEvent(_ *Hub, c *change) (event, error) {
	if !written(c) {
		return event{}, nil
	}
	cm := new(forum.Comment)
	if err := bson.Unmarshal(c.FullDocument, cm); err != nil {
		return event{}, err
	}
	topics := []string{CommentsTopic(cm.PostID)}
	switch {
	case c.OperationType == "insert":
		return event{topics: topics, name: EventComment, v: cm, view: views.CommentItem(cm)}, nil
	case cm.WithPost:
		return event{}, nil
	case cm.DeletedAt != nil:
		return event{topics: topics, name: EventCommentDeleted, v: deleted{ID: cm.ID, PostID: cm.PostID}}, nil
	}
	return event{topics: topics, name: EventCommentUpdated, v: cm, view: views.CommentItem(cm)}, nil
}

// notificationEvent makes an event of a new notification, and notes whose
// unread count an insert or an update (a notification read) changed. It
// hands canaries back to the hub.
func notificationEvent(h *Hub, c *change) (event, error) {
	op := c.OperationType
	if len(c.FullDocument) == 0 || op != "insert" && op != "update" && op != "replace" {
		return event{}, nil
	}
	if isCanary(c.FullDocument) {
		h.canarySeen(c.FullDocument)
		return event{}, nil
	}
	n := new(forum.Notification)
	if err := bson.Unmarshal(c.FullDocument, n); err != nil {
		return event{}, err
	}
	if op != "insert" {
		return event{unread: n.UserID}, nil
	}
	return event{topics: []string{NotificationsTopic(n.UserID)}, name: EventNotification, v: n, view: views.NotificationItem(n), unread: n.UserID}, nil
}

// component is a templ component.
type component interface {
	Render(ctx context.Context, w io.Writer) error
}

// eventData is v as the JSON API has it, plus "html": v rendered by c if
// there is c. The JSON is not HTML-escaped (no \u003c for <): it never
// lands in an HTML document unparsed, and escaping would make every frame
// larger.
func eventData(ctx context.Context, v any, c component) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	if c == nil {
		return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
	}
	var html strings.Builder
	if err := c.Render(ctx, &html); err != nil {
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
