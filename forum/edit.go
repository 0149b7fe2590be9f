package forum

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Deletion is soft: a deleted post or comment keeps its document, with
// deletedAt set and its text cleared, and every read leaves it out. A
// MongoDB delete event carries only the _id, so the live feeds could not
// tell which thread a physically deleted comment was on, nor send its
// readers the event; an update event, with the document looked up, can.

// notDeleted matches a deletedAt that is not set.
var notDeleted = bson.M{"$exists": false}

// deletedOnly is the option of the indexes that hold the deleted items only.
func deletedOnly() *options.IndexOptions {
	return options.Index().SetPartialFilterExpression(bson.M{"deletedAt": bson.M{"$exists": true}})
}

var (
	errLocked    = Errorf(EFORBIDDEN, "This thread is locked.")
	errSuspended = Errorf(EFORBIDDEN, "Your account is suspended: you can read but not post, comment or edit.")
)

// checkWriter refuses a user who may not write: a suspended one.
func checkWriter(u *User) error {
	if u.Suspended {
		return errSuspended
	}
	return nil
}

// checkChange refuses actor a change of an item by author in a thread that
// may be locked: only the author and admins may change an item, and in a
// locked thread only admins.
func checkChange(actor *User, author primitive.ObjectID, locked bool) error {
	if err := checkWriter(actor); err != nil {
		return err
	}
	switch {
	case actor.Admin:
		return nil
	case actor.ID != author:
		return Errorf(EFORBIDDEN, "Only its author or an admin may change this.")
	case locked:
		return Errorf(EFORBIDDEN, "This thread is locked: only admins may change it.")
	}
	return nil
}

// PostChange is an edit of a post: the fields to change, nil for those that
// stay.
type PostChange struct {
	Title, Body *string
}

// EditPost changes the title, the body or both of a post, as actor, and
// notifies the users its new body newly mentions.
func (s *Store) EditPost(ctx context.Context, actor *User, id primitive.ObjectID, ch PostChange) (*Post, error) {
	set := bson.M{}
	if ch.Title == nil && ch.Body == nil {
		return nil, Errorf(EINVALID, "Send a title, a body or both.")
	}
	if ch.Title != nil {
		title, err := CleanText("Title", *ch.Title, MaxTitleLen)
		if err != nil {
			return nil, err
		}
		set["title"] = title
	}
	if ch.Body != nil {
		body, err := CleanText("Body", *ch.Body, MaxPostBodyLen)
		if err != nil {
			return nil, err
		}
		set["body"] = body
	}
	at := now()
	set["editedAt"] = at
	var p *Post
	err := s.inTransaction(ctx, func(ctx context.Context) error {
		var err error
		if p, err = s.changeablePost(ctx, actor, id); err != nil {
			return err
		}
		if _, err := s.posts.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": set}); err != nil {
			return fmt.Errorf("edit post %s: %w", id.Hex(), err)
		}
		old := p.Body
		if t, ok := set["title"].(string); ok {
			p.Title = t
		}
		if b, ok := set["body"].(string); ok {
			p.Body = b
		}
		p.EditedAt = &at
		docs, err := s.newMentionNotifications(ctx, actor, p.ID, primitive.NilObjectID, p.Title, old, p.Body)
		if err != nil {
			return err
		}
		return s.insertNotifications(ctx, docs)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// DeletePost deletes a post and its comments, as actor.
func (s *Store) DeletePost(ctx context.Context, actor *User, id primitive.ObjectID) error {
	at := now()
	return s.inTransaction(ctx, func(ctx context.Context) error {
		if _, err := s.changeablePost(ctx, actor, id); err != nil {
			return err
		}
		if _, err := s.posts.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"deletedAt": at, "title": "", "body": ""}}); err != nil {
			return fmt.Errorf("delete post %s: %w", id.Hex(), err)
		}
		// Its comments go with it, so that no listing of comments (a
		// user's page) has to look at their posts.
		if _, err := s.comments.UpdateMany(ctx, bson.M{"postId": id, "deletedAt": notDeleted},
			bson.M{"$set": bson.M{"deletedAt": at, "body": "", "withPost": true}}); err != nil {
			return fmt.Errorf("delete comments of post %s: %w", id.Hex(), err)
		}
		return nil
	})
}

// LockPost locks or unlocks a thread, as actor, who must be an admin.
func (s *Store) LockPost(ctx context.Context, actor *User, id primitive.ObjectID, locked bool) (*Post, error) {
	if err := checkWriter(actor); err != nil {
		return nil, err
	}
	if !actor.Admin {
		return nil, Errorf(EFORBIDDEN, "Only admins may lock or unlock a thread.")
	}
	var p *Post
	err := s.inTransaction(ctx, func(ctx context.Context) error {
		var err error
		if p, err = s.Post(ctx, id); err != nil {
			return err
		}
		if _, err := s.posts.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"locked": locked}}); err != nil {
			return fmt.Errorf("lock post %s: %w", id.Hex(), err)
		}
		p.Locked = locked
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// changeablePost returns the post with this id if actor may change it.
func (s *Store) changeablePost(ctx context.Context, actor *User, id primitive.ObjectID) (*Post, error) {
	p, err := s.Post(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := checkChange(actor, p.AuthorID, p.Locked); err != nil {
		return nil, err
	}
	return p, nil
}

// Comment returns the comment with this id; a deleted comment is not found.
func (s *Store) Comment(ctx context.Context, id primitive.ObjectID) (*Comment, error) {
	var c Comment
	err := s.comments.FindOne(ctx, bson.M{"_id": id, "deletedAt": notDeleted}).Decode(&c)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, Errorf(ENOTFOUND, "No comment with id %s.", id.Hex())
	} else if err != nil {
		return nil, fmt.Errorf("find comment %s: %w", id.Hex(), err)
	}
	return &c, nil
}

// EditComment changes the body of a comment, as actor, and notifies the
// users it newly mentions.
func (s *Store) EditComment(ctx context.Context, actor *User, id primitive.ObjectID, body string) (*Comment, error) {
	body, err := CleanText("Comment", body, MaxCommentLen)
	if err != nil {
		return nil, err
	}
	at := now()
	var c *Comment
	err = s.inTransaction(ctx, func(ctx context.Context) error {
		var err error
		if c, err = s.changeableComment(ctx, actor, id); err != nil {
			return err
		}
		if _, err := s.comments.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"body": body, "editedAt": at}}); err != nil {
			return fmt.Errorf("edit comment %s: %w", id.Hex(), err)
		}
		var p Post
		if err := s.findOne(ctx, s.posts, c.PostID, "post", &p, options.FindOne().SetProjection(bson.M{"title": 1})); err != nil {
			return err
		}
		docs, err := s.newMentionNotifications(ctx, actor, c.PostID, c.ID, p.Title, c.Body, body)
		if err != nil {
			return err
		}
		c.Body, c.EditedAt = body, &at
		return s.insertNotifications(ctx, docs)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// DeleteComment deletes a comment, as actor: its post counts one comment
// less, and its last activity is that of the latest comment left.
func (s *Store) DeleteComment(ctx context.Context, actor *User, id primitive.ObjectID) error {
	at := now()
	return s.inTransaction(ctx, func(ctx context.Context) error {
		c, err := s.changeableComment(ctx, actor, id)
		if err != nil {
			return err
		}
		if _, err := s.comments.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"deletedAt": at, "body": ""}}); err != nil {
			return fmt.Errorf("delete comment %s: %w", id.Hex(), err)
		}
		var p Post
		if err := s.findOne(ctx, s.posts, c.PostID, "post", &p, options.FindOne().SetProjection(bson.M{"createdAt": 1})); err != nil {
			return err
		}
		// The transaction reads its own write: the comment is left out.
		last, err := s.lastActivity(ctx, c.PostID, p.CreatedAt)
		if err != nil {
			return err
		}
		if _, err := s.posts.UpdateOne(ctx, bson.M{"_id": c.PostID},
			bson.M{"$inc": bson.M{"comments": -1}, "$set": bson.M{"lastActivityAt": last}}); err != nil {
			return fmt.Errorf("uncount comment on post %s: %w", c.PostID.Hex(), err)
		}
		return nil
	})
}

// changeableComment returns the comment with this id if actor may change it.
func (s *Store) changeableComment(ctx context.Context, actor *User, id primitive.ObjectID) (*Comment, error) {
	c, err := s.Comment(ctx, id)
	if err != nil {
		return nil, err
	}
	p, err := s.Post(ctx, c.PostID)
	if err != nil {
		return nil, err
	}
	if err := checkChange(actor, c.AuthorID, p.Locked); err != nil {
		return nil, err
	}
	return c, nil
}
