// Package forum is the domain of the forum: users, posts, comments and
// notifications, their validation and errors, and their storage over lungo's
// driver interfaces, which the embedded store and a real MongoDB both implement.
//
// The embedded store (OpenFile) keeps a data file at its path as a snapshot,
// and the commits since as a journal at path+".journal", one checksummed
// record per commit holding the commit's oplog entries; path+".lock" keeps a
// second process out. journal.go describes the format and what opening does
// with a torn or damaged journal.
package forum

import (
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

// Error codes. The web layer maps each to a status code.
const (
	EINVALID      = "invalid"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	ETOOMANY      = "too_many_requests"
	EINTERNAL     = "internal"
)

// Collection names, shared by the store and the change-stream watchers.
const (
	UsersCollection         = "users"
	PostsCollection         = "posts"
	CommentsCollection      = "comments"
	NotificationsCollection = "notifications"
	// PresenceCollection holds who is reading and typing where, per
	// instance: live state, not history (see package streams).
	PresenceCollection = "presence"
)

// Error is a domain error whose Message is safe to show to a user.
type Error struct {
	Code    string
	Message string
}

// Error implements the error interface.
func (e *Error) Error() string {
	return fmt.Sprintf("forum error: code=%s message=%s", e.Code, e.Message)
}

// Errorf returns an *Error with the given code and formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of a domain error, or EINTERNAL for any other
// non-nil error.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-safe message of a domain error, or a generic
// message for any other error, whose details must not reach a user.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Something went wrong on our side. Please try again."
}

// ParseID parses a 24-character hex id.
func ParseID(s string) (primitive.ObjectID, error) {
	id, err := primitive.ObjectIDFromHex(s)
	if err != nil {
		return primitive.NilObjectID, Errorf(EINVALID, "Malformed id %q: ids are 24 hexadecimal characters.", truncate(s, 40))
	}
	return id, nil
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
