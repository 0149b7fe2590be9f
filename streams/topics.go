package streams

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

// Topics a client can listen to. Their names and kinds are defined here
// only; pages tell the browser which topics they show.
const (
	// PostsTopic carries every new post as event "post".
	PostsTopic = "posts"
	// StatsTopic carries the forum's totals as event "stats".
	StatsTopic = "stats"
)

// Event names, as SSE event fields. Which of a client's topics each is
// sent on, forum/web tells the browser.
const (
	EventPost = "post"
	// EventPostUpdated carries a post that changed: an edit, a lock, a
	// comment added or deleted.
	EventPostUpdated = "post-updated"
	EventPostDeleted = "post-deleted"
	EventComment     = "comment"
	// EventCommentUpdated carries an edited comment.
	EventCommentUpdated = "comment-updated"
	EventCommentDeleted = "comment-deleted"
	EventNotification   = "notification"
	EventUnread         = "unread"
	EventStats          = "stats"
	// EventPresence, on a post's comments topic, says how many streams
	// read the thread and who is typing a comment there.
	EventPresence = "presence"
	// EventOnline, on PostsTopic, says how many users and guests are on
	// the forum.
	EventOnline = "online"
)

// Topic kinds: what a topic counts as in Streams and in log lines, without
// its user or post id.
const (
	postsKind         = "posts"
	commentsKind      = "comments"
	notificationsKind = "notifications"
	statsKind         = "stats"
)

// onlineKind is that of the topics the hub adds to every stream, one per
// signed-in user and one for all guests, whose listeners are the streams
// that count as online (see presence.go). No client can ask for them, and
// nothing is published on them.
const onlineKind = "online"

// guestTopic is the online topic of signed-out streams.
const guestTopic = onlineKind + ":guest"

// onlineTopic returns the online topic of a stream of user, or of a guest
// if user is zero.
func onlineTopic(user primitive.ObjectID) string {
	if user.IsZero() {
		return guestTopic
	}
	return onlineKind + ":" + user.Hex()
}

// kinds are all topic kinds.
var kinds = []string{postsKind, commentsKind, notificationsKind, statsKind}

// CommentsTopic returns the topic of a post's thread: its comments, new,
// edited and deleted, and the changes of the post itself.
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

// parseTopics checks topics and returns them without repeats, with their
// kinds.
func parseTopics(topics []string) ([]string, []string, error) {
	var ts, ks []string
	for _, t := range topics {
		kind := kindOf(t)
		if kind == "" {
			return nil, nil, fmt.Errorf("unknown topic %q", t)
		}
		if !slices.Contains(ts, t) {
			ts = append(ts, t)
		}
		if !slices.Contains(ks, kind) {
			ks = append(ks, kind)
		}
	}
	if len(ts) == 0 {
		return nil, nil, errors.New("no topic")
	}
	return ts, ks, nil
}
