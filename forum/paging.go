package forum

import (
	"context"
	"fmt"
	"slices"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// Posts and notifications are listed newest first, by (createdAt, _id)
// descending, and paged by keyset: a page starts just before (older) or
// just after (newer) an item, which is found by its id.

var (
	newestFirst = bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}
	oldestFirst = bson.D{{Key: "createdAt", Value: 1}, {Key: "_id", Value: 1}}
)

// olderThan matches what comes after the item (t, id), newest first.
func olderThan(t time.Time, id primitive.ObjectID) bson.A {
	return bson.A{
		bson.M{"createdAt": bson.M{"$lt": t}},
		bson.M{"createdAt": t, "_id": bson.M{"$lt": id}},
	}
}

// newerThan matches what comes before the item (t, id), newest first.
func newerThan(t time.Time, id primitive.ObjectID) bson.A {
	return bson.A{
		bson.M{"createdAt": bson.M{"$gt": t}},
		bson.M{"createdAt": t, "_id": bson.M{"$gt": id}},
	}
}

// Notifications returns up to limit of a user's notifications, newest
// first. When before is not the nil id, only those older than the user's
// notification before are returned.
func (s *Store) Notifications(ctx context.Context, userID primitive.ObjectID, limit int, before primitive.ObjectID) ([]*Notification, error) {
	return s.listNotifications(ctx, userID, limit, before, olderThan, newestFirst)
}

// NotificationsAfter returns the up to limit notifications of a user just
// newer than the user's notification after, newest first: the page before
// the one that starts with after.
func (s *Store) NotificationsAfter(ctx context.Context, userID primitive.ObjectID, limit int, after primitive.ObjectID) ([]*Notification, error) {
	ns, err := s.listNotifications(ctx, userID, limit, after, newerThan, oldestFirst)
	slices.Reverse(ns)
	return ns, err
}

// listNotifications lists a user's notifications in order, those that
// beyond matches beside the notification from when it is not the nil id.
func (s *Store) listNotifications(ctx context.Context, userID primitive.ObjectID, limit int, from primitive.ObjectID, beyond func(time.Time, primitive.ObjectID) bson.A, order bson.D) ([]*Notification, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	filter := bson.M{"userId": userID}
	if !from.IsZero() {
		var f Notification
		if err := s.findOne(ctx, s.notifications, from, "notification", &f); err != nil {
			return nil, err
		}
		// Another user's notification is as good as none.
		if f.UserID != userID {
			return nil, Errorf(ENOTFOUND, "No notification with id %s.", from.Hex())
		}
		filter["$or"] = beyond(f.CreatedAt, f.ID)
	}
	// The index's userId comes first in the sort, so that it is used.
	opts := options.Find().SetSort(append(bson.D{{Key: "userId", Value: 1}}, order...)).SetLimit(int64(limit))
	ns := []*Notification{}
	if err := s.findAll(ctx, s.notifications, filter, opts, &ns); err != nil {
		return nil, fmt.Errorf("list notifications of %s: %w", userID.Hex(), err)
	}
	return ns, nil
}
