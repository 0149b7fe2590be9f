package forum

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// UserPageSize is how many users the admins' list shows at once, and how
// many recent posts and comments a user's page shows.
const UserPageSize = 20

// UserNamed returns the user with this name, in any case.
func (s *Store) UserNamed(ctx context.Context, name string) (*User, error) {
	var u User
	err := s.users.FindOne(ctx, bson.M{"nameKey": strings.ToLower(name)}).Decode(&u)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, Errorf(ENOTFOUND, "No user is named %q.", truncate(name, MaxNameLen))
	} else if err != nil {
		return nil, fmt.Errorf("find user %s: %w", truncate(name, MaxNameLen), err)
	}
	return &u, nil
}

// Profile returns the user with this name and how many posts and comments
// they have that are not deleted.
func (s *Store) Profile(ctx context.Context, name string) (*Profile, error) {
	u, err := s.UserNamed(ctx, name)
	if err != nil {
		return nil, err
	}
	p := &Profile{ID: u.ID, Name: u.Name, Admin: u.Admin, Suspended: u.Suspended, CreatedAt: u.CreatedAt}
	mine := bson.M{"authorId": u.ID, "deletedAt": notDeleted}
	if p.Posts, err = s.posts.CountDocuments(ctx, mine); err != nil {
		return nil, fmt.Errorf("count posts of %s: %w", u.Name, err)
	}
	if p.Comments, err = s.comments.CountDocuments(ctx, mine); err != nil {
		return nil, fmt.Errorf("count comments of %s: %w", u.Name, err)
	}
	return p, nil
}

// UserPosts returns a user's latest posts that are not deleted, newest
// first.
func (s *Store) UserPosts(ctx context.Context, userID primitive.ObjectID, limit int) ([]*Post, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	opts := options.Find().SetSort(bson.D{{Key: "authorId", Value: 1}, {Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(limit)).SetProjection(postWithoutParticipants)
	posts := []*Post{}
	if err := s.findAll(ctx, s.posts, bson.M{"authorId": userID, "deletedAt": notDeleted}, opts, &posts); err != nil {
		return nil, fmt.Errorf("list posts of %s: %w", userID.Hex(), err)
	}
	return posts, nil
}

// UserComments returns a user's latest comments that are not deleted,
// newest first. Those of a deleted post are deleted with it.
func (s *Store) UserComments(ctx context.Context, userID primitive.ObjectID, limit int) ([]*Comment, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	opts := options.Find().SetSort(bson.D{{Key: "authorId", Value: 1}, {Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit))
	comments := []*Comment{}
	if err := s.findAll(ctx, s.comments, bson.M{"authorId": userID, "deletedAt": notDeleted}, opts, &comments); err != nil {
		return nil, fmt.Errorf("list comments of %s: %w", userID.Hex(), err)
	}
	return comments, nil
}

// Users returns up to limit users. With a search, those whose names begin
// with it, in any case, by name; without, the newest first, after the
// user before if it is not the nil id.
func (s *Store) Users(ctx context.Context, search string, limit int, before primitive.ObjectID) ([]*User, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	users := []*User{}
	if search = strings.ToLower(strings.TrimSpace(search)); search != "" {
		if !utf8Valid(search) {
			return nil, Errorf(EINVALID, "Search for valid UTF-8 text.")
		}
		// A range of the unique index on nameKey: names begin with the
		// search exactly when they sort from it to it followed by the
		// highest character.
		filter := bson.M{"nameKey": bson.M{"$gte": search, "$lt": search + "\U0010FFFF"}}
		opts := options.Find().SetSort(bson.D{{Key: "nameKey", Value: 1}}).SetLimit(int64(limit))
		if err := s.findAll(ctx, s.users, filter, opts, &users); err != nil {
			return nil, fmt.Errorf("search users: %w", err)
		}
		return users, nil
	}
	filter := bson.M{}
	if !before.IsZero() {
		b, err := s.User(ctx, before)
		if err != nil {
			return nil, err
		}
		filter["$or"] = bson.A{
			bson.M{"createdAt": bson.M{"$lt": b.CreatedAt}},
			bson.M{"createdAt": b.CreatedAt, "_id": bson.M{"$lt": b.ID}},
		}
	}
	opts := options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit))
	if err := s.findAll(ctx, s.users, filter, opts, &users); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return users, nil
}

// SuspendUser suspends or reinstates the user with this name, as actor,
// who must be an admin and may not suspend themselves: an admin who could
// would have no one to lift it but another admin or the operator.
func (s *Store) SuspendUser(ctx context.Context, actor *User, name string, suspended bool) (*User, error) {
	if err := checkWriter(actor); err != nil {
		return nil, err
	}
	if !actor.Admin {
		return nil, Errorf(EFORBIDDEN, "Only admins may suspend users.")
	}
	if strings.TrimSpace(name) == "" {
		return nil, Errorf(EINVALID, "Enter the name of a user.")
	}
	u, err := s.UserNamed(ctx, name)
	if err != nil {
		return nil, err
	}
	if u.ID == actor.ID {
		return nil, Errorf(ECONFLICT, "You cannot suspend yourself.")
	}
	wctx, cancel := detach(ctx)
	defer cancel()
	if _, err := s.users.UpdateOne(wctx, bson.M{"_id": u.ID}, bson.M{"$set": bson.M{"suspended": suspended}}); err != nil {
		return nil, fmt.Errorf("suspend %s: %w", u.Name, err)
	}
	u.Suspended = suspended
	return u, nil
}
