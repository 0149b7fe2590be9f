package forum

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
)

// rolesMarker is the meta document every role change writes, so that two
// changes conflict and MongoDB retries the later one. Without it, two admins
// revoking each other at once would each see the other still an admin, and
// both would succeed, leaving none.
const rolesMarker = "roles"

// SetAdmin grants or revokes the admin role of the user with this name. It
// refuses to revoke the last admin, who would otherwise have to be granted
// again from the command line.
func (s *Store) SetAdmin(ctx context.Context, name string, admin bool) (*User, error) {
	if strings.TrimSpace(name) == "" {
		return nil, Errorf(EINVALID, "Enter the name of a user.")
	}
	var u User
	err := s.inTransaction(ctx, func(ctx context.Context) error {
		err := s.users.FindOne(ctx, bson.M{"nameKey": strings.ToLower(name)}).Decode(&u)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return Errorf(ENOTFOUND, "No user is named %q.", truncate(name, MaxNameLen))
		} else if err != nil {
			return fmt.Errorf("find user %s: %w", name, err)
		}
		if u.Admin && !admin {
			n, err := s.users.CountDocuments(ctx, bson.M{"admin": true})
			if err != nil {
				return fmt.Errorf("count admins: %w", err)
			}
			if n <= 1 {
				return Errorf(ECONFLICT, "%s is the last admin: grant someone else admin first.", u.Name)
			}
		}
		if _, err := s.db.Collection(metaCollection).UpdateOne(ctx, bson.M{"_id": rolesMarker},
			bson.M{"$inc": bson.M{"changes": 1}}, options.Update().SetUpsert(true)); err != nil {
			return fmt.Errorf("mark role change: %w", err)
		}
		if _, err := s.users.UpdateOne(ctx, bson.M{"_id": u.ID}, bson.M{"$set": bson.M{"admin": admin}}); err != nil {
			return fmt.Errorf("set admin of %s: %w", name, err)
		}
		u.Admin = admin
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// Admins returns the admins, by name. There are few, and the listing is
// rare, so it reads the users without an index of its own.
func (s *Store) Admins(ctx context.Context) ([]*User, error) {
	admins := []*User{}
	opts := options.Find().SetSort(bson.D{{Key: "nameKey", Value: 1}})
	if err := s.findAll(ctx, s.users, bson.M{"admin": true}, opts, &admins); err != nil {
		return nil, fmt.Errorf("list admins: %w", err)
	}
	return admins, nil
}
