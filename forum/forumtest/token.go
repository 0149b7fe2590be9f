package forumtest

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
)

// Kinds of resume token. An invalidate sorts after the drop it follows.
const (
	kindPosition   byte = 1 // an event or high-water mark: resume after it
	kindInvalidate byte = 2 // an invalidate: only startAfter may use it
)

// token returns the resume token of the event or high-water mark at lungo
// time ts, whose cluster time is ct. MongoDB's tokens are {_data: "<hex
// KeyString>"} documents that clients must treat as opaque (MongoDB manual,
// "Change Streams" > "Resume Tokens"); like MongoDB's, these start with the
// cluster time as a KeyString Timestamp (type byte 130, then its 8 bytes big
// endian: src/mongo/db/storage/key_string.cpp, CType::kTimestamp), so that
// they sort by it, and carry the lungo time and kind after it, so that any
// double can read any other's.
func token(kind byte, ct, ts primitive.Timestamp) bson.Raw {
	var b [18]byte
	b[0] = 130
	binary.BigEndian.PutUint32(b[1:], ct.T)
	binary.BigEndian.PutUint32(b[5:], ct.I)
	binary.BigEndian.PutUint32(b[9:], ts.T)
	binary.BigEndian.PutUint32(b[13:], ts.I)
	b[17] = kind
	raw, _ := bson.Marshal(bson.D{{Key: "_data", Value: strings.ToUpper(hex.EncodeToString(b[:]))}})
	return raw
}

// ClusterTime returns the cluster time that a resume token of the double
// starts with, as MongoDB's do.
func ClusterTime(token bson.Raw) (primitive.Timestamp, bool) {
	data, ok := token.Lookup("_data").StringValueOK()
	b, err := hex.DecodeString(data)
	if !ok || err != nil || len(b) != 18 || b[0] != 130 {
		return primitive.Timestamp{}, false
	}
	return primitive.Timestamp{T: binary.BigEndian.Uint32(b[1:]), I: binary.BigEndian.Uint32(b[5:])}, true
}

// errBadToken is returned for a resume token the double did not make.
var errBadToken = errors.New("forumtest: not a resume token of the double")

// parseToken returns the kind and lungo time of a resume token.
func parseToken(v any) (byte, primitive.Timestamp, error) {
	raw, err := bson.Marshal(v)
	if err != nil {
		return 0, primitive.Timestamp{}, err
	}
	data, ok := bson.Raw(raw).Lookup("_data").StringValueOK()
	if !ok {
		return 0, primitive.Timestamp{}, errBadToken
	}
	b, err := hex.DecodeString(data)
	if err != nil || len(b) != 18 || b[0] != 130 || b[17] != kindPosition && b[17] != kindInvalidate {
		return 0, primitive.Timestamp{}, errBadToken
	}
	ts := primitive.Timestamp{T: binary.BigEndian.Uint32(b[9:]), I: binary.BigEndian.Uint32(b[13:])}
	return b[17], ts, nil
}

// historyLost is MongoDB's error for a resume point no longer in the oplog
// (error code 286, ChangeStreamHistoryLost, in MongoDB's
// src/mongo/base/error_codes.yml).
func historyLost() error {
	return mongo.CommandError{
		Code:    286,
		Name:    "ChangeStreamHistoryLost",
		Message: "Resume of change stream was not possible, as the resume point may no longer be in the oplog.",
		Labels:  []string{"NonResumableChangeStreamError"},
	}
}

// invalidResume is MongoDB's error for resumeAfter an invalidate (code 260,
// InvalidResumeToken; MongoDB manual, "Change Streams" > "Resume a Change
// Stream": use startAfter to start after an invalidate event).
func invalidResume() error {
	return mongo.CommandError{
		Code:    260,
		Name:    "InvalidResumeToken",
		Message: "Attempting to resume a change stream using 'resumeAfter' is not allowed from an invalidate notification.",
	}
}

// notInTransaction is MongoDB's error for a change stream opened in a
// transaction (code 263, OperationNotSupportedInTransaction).
func notInTransaction() error {
	return mongo.CommandError{
		Code:    263,
		Name:    "OperationNotSupportedInTransaction",
		Message: "Operation not permitted in transaction :: caused by :: $changeStream",
	}
}
