package forum

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// kindRank orders the kinds of notification by how much they concern their
// reader: of the kinds that one post or comment gives a user, the user gets
// only the highest.
var kindRank = map[string]int{NotificationComment: 1, NotificationMention: 2, NotificationReply: 3}

// recipientSet is who is to be notified of one post or comment, and of
// what kind, in the order they were added.
type recipientSet struct {
	order []primitive.ObjectID
	kinds map[primitive.ObjectID]string
}

// add notifies ids of kind, unless they already have a kind that ranks
// higher.
func (r *recipientSet) add(kind string, ids ...primitive.ObjectID) {
	if r.kinds == nil {
		r.kinds = map[primitive.ObjectID]string{}
	}
	for _, id := range ids {
		had, ok := r.kinds[id]
		if !ok {
			r.order = append(r.order, id)
		}
		if kindRank[kind] > kindRank[had] {
			r.kinds[id] = kind
		}
	}
}

// notifications returns the notifications of the post or comment, by
// author, on the post titled title, that body starts: one for each
// recipient but author.
func (r *recipientSet) notifications(author *User, postID, commentID primitive.ObjectID, title, body string, at time.Time) []any {
	var docs []any
	for _, id := range r.order {
		if id == author.ID {
			continue
		}
		kind := r.kinds[id]
		docs = append(docs, &Notification{
			ID: primitive.NewObjectID(), UserID: id, Kind: kind,
			PostID: postID, CommentID: commentID, Actor: author.Name,
			Message:   message(kind, author.Name, title),
			Excerpt:   Excerpt(body, ExcerptLen),
			CreatedAt: at,
		})
	}
	return docs
}

func message(kind, actor, title string) string {
	title = truncate(title, 60)
	switch kind {
	case NotificationReply:
		return fmt.Sprintf("%s replied to you in “%s”", actor, title)
	case NotificationMention:
		return fmt.Sprintf("%s mentioned you in “%s”", actor, title)
	default:
		return fmt.Sprintf("%s commented on “%s”", actor, title)
	}
}

func (s *Store) insertNotifications(ctx context.Context, docs []any) error {
	if len(docs) == 0 {
		return nil
	}
	if _, err := s.notifications.InsertMany(ctx, docs); err != nil {
		return fmt.Errorf("insert notifications: %w", err)
	}
	return nil
}

// commentRecipients checks what comment c replies to, fills in that
// comment's author, and returns who c notifies for replying and mentioning;
// the post's author and participants, which only the transaction reads, are
// added there.
func (s *Store) commentRecipients(ctx context.Context, author *User, c *Comment) (*recipientSet, error) {
	to := &recipientSet{}
	if !c.ReplyTo.IsZero() {
		var parent Comment
		err := s.comments.FindOne(ctx, bson.M{"_id": c.ReplyTo}).Decode(&parent)
		switch {
		case errors.Is(err, mongo.ErrNoDocuments):
			return nil, Errorf(EINVALID, "There is no comment %s to reply to.", c.ReplyTo.Hex())
		case err != nil:
			return nil, fmt.Errorf("find comment %s: %w", c.ReplyTo.Hex(), err)
		case parent.PostID != c.PostID:
			return nil, Errorf(EINVALID, "Comment %s is on another post: a reply must be on the post of the comment it answers.", c.ReplyTo.Hex())
		}
		c.ReplyToAuthor = parent.Author
		to.add(NotificationReply, parent.AuthorID)
	}
	mentioned, err := s.usersNamed(ctx, Mentions(c.Body))
	if err != nil {
		return nil, err
	}
	to.add(NotificationMention, mentioned...)
	return to, nil
}

// postNotifications returns the notifications of post p: one for each user
// it mentions.
func (s *Store) postNotifications(ctx context.Context, author *User, p *Post) ([]any, error) {
	mentioned, err := s.usersNamed(ctx, Mentions(p.Body))
	if err != nil {
		return nil, err
	}
	var to recipientSet
	to.add(NotificationMention, mentioned...)
	return to.notifications(author, p.ID, primitive.NilObjectID, p.Title, p.Body, p.CreatedAt), nil
}

// usersNamed returns the ids of the users with these names, in any case;
// names that no one has are left out.
func (s *Store) usersNamed(ctx context.Context, names []string) ([]primitive.ObjectID, error) {
	if len(names) == 0 {
		return nil, nil
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = strings.ToLower(n)
	}
	var rows []struct {
		ID primitive.ObjectID `bson:"_id"`
	}
	opts := options.Find().SetProjection(bson.M{"_id": 1})
	if err := s.findAll(ctx, s.users, bson.M{"nameKey": bson.M{"$in": keys}}, opts, &rows); err != nil {
		return nil, fmt.Errorf("find mentioned users: %w", err)
	}
	ids := make([]primitive.ObjectID, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
	}
	return ids, nil
}

// newMentionNotifications returns the notifications, of kind mention, of
// the users that an edit by actor newly mentions: those newText mentions
// and oldText did not, but actor. commentID is the edited comment of the
// post postID titled title, or the nil id when the post itself was edited.
// The edit writes them in its own transaction.
func (s *Store) newMentionNotifications(ctx context.Context, actor *User, postID, commentID primitive.ObjectID, title, oldText, newText string) ([]any, error) {
	mentioned, err := s.usersNamed(ctx, newMentions(oldText, newText))
	if err != nil || len(mentioned) == 0 {
		return nil, err
	}
	var to recipientSet
	to.add(NotificationMention, mentioned...)
	return to.notifications(actor, postID, commentID, title, newText, now()), nil
}

// ReadNotification marks the user's notification with this id read and
// returns it. Another user's notification is not found.
func (s *Store) ReadNotification(ctx context.Context, userID, id primitive.ObjectID) (*Notification, error) {
	ctx, cancel := detach(ctx)
	defer cancel()
	var n Notification
	err := s.notifications.FindOneAndUpdate(ctx, bson.M{"_id": id, "userId": userID}, bson.M{"$set": bson.M{"read": true}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&n)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, Errorf(ENOTFOUND, "No notification with id %s.", id.Hex())
	} else if err != nil {
		return nil, fmt.Errorf("read notification %s: %w", id.Hex(), err)
	}
	return &n, nil
}

// CommentPlace returns the comment with this id and its place in its
// thread: 0 for the first comment, counted in the order that threads show.
func (s *Store) CommentPlace(ctx context.Context, id primitive.ObjectID) (*Comment, int, error) {
	var c Comment
	if err := s.findOne(ctx, s.comments, id, "comment", &c); err != nil {
		return nil, 0, err
	}
	filter := bson.M{"postId": c.PostID, "$or": bson.A{
		bson.M{"createdAt": bson.M{"$lt": c.CreatedAt}},
		bson.M{"createdAt": c.CreatedAt, "_id": bson.M{"$lt": c.ID}},
	}}
	n, err := s.comments.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, fmt.Errorf("place comment %s: %w", id.Hex(), err)
	}
	return &c, int(n), nil
}
