package forum

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
)

// SessionsCollection keeps the signed-in sessions. Sessions live in the
// database, not in the cookie alone, so that every instance agrees when one
// ends.
const SessionsCollection = "sessions"

// SessionMaxAge is how long a session lasts after sign-in.
const SessionMaxAge = 30 * 24 * time.Hour

// sessionDoc is a session as stored. Its id is the SHA-256 of the token the
// client holds, so that a copy of the database does not sign anyone in.
type sessionDoc struct {
	ID        string             `bson:"_id"`
	UserID    primitive.ObjectID `bson:"userId"`
	CreatedAt time.Time          `bson:"createdAt"`
	ExpiresAt time.Time          `bson:"expiresAt"`
}

func tokenID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

func signedOut() error {
	return Errorf(EUNAUTHORIZED, "Your session has ended. Sign in again.")
}

// CreateSession starts a session for the user and returns its token, 32
// random bytes in URL-safe base64.
func (s *Store) CreateSession(ctx context.Context, userID primitive.ObjectID) (string, error) {
	raw := make([]byte, 32)
	rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	at := now()
	doc := sessionDoc{ID: tokenID(token), UserID: userID, CreatedAt: at, ExpiresAt: at.Add(SessionMaxAge)}
	ctx, cancel := detach(ctx)
	defer cancel()
	if _, err := s.sessions.InsertOne(ctx, doc); err != nil {
		return "", fmt.Errorf("insert session of %s: %w", userID.Hex(), err)
	}
	return token, nil
}

// SessionUser returns the user whose session token is this, with the role
// the account has now. An unknown, ended or expired session is an
// unauthorized error; an expired one is removed, in case the TTL index has
// not got to it yet.
func (s *Store) SessionUser(ctx context.Context, token string) (*User, error) {
	var doc sessionDoc
	err := s.sessions.FindOne(ctx, bson.M{"_id": tokenID(token)}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return nil, signedOut()
	} else if err != nil {
		return nil, fmt.Errorf("find session: %w", err)
	}
	if !now().Before(doc.ExpiresAt) {
		if err := s.EndSession(ctx, token); err != nil {
			return nil, err
		}
		return nil, signedOut()
	}
	u, err := s.User(ctx, doc.UserID)
	if ErrorCode(err) == ENOTFOUND {
		return nil, signedOut()
	}
	return u, err
}

// EndSession ends the session whose token this is; ending one that has
// already ended is no error.
func (s *Store) EndSession(ctx context.Context, token string) error {
	ctx, cancel := detach(ctx)
	defer cancel()
	if _, err := s.sessions.DeleteOne(ctx, bson.M{"_id": tokenID(token)}); err != nil {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// EndSessions ends every session of the user, on every instance.
func (s *Store) EndSessions(ctx context.Context, userID primitive.ObjectID) error {
	ctx, cancel := detach(ctx)
	defer cancel()
	if _, err := s.sessions.DeleteMany(ctx, bson.M{"userId": userID}); err != nil {
		return fmt.Errorf("end sessions of %s: %w", userID.Hex(), err)
	}
	return nil
}
