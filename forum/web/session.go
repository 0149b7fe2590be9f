package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

const (
	sessionCookie = "forum_session"
	sessionMaxAge = 30 * 24 * time.Hour
)

// sessions signs and reads session cookies: a user id and an expiry, with an
// HMAC-SHA256 over both.
type sessions struct {
	key []byte
}

func newSessions(key []byte) *sessions {
	return &sessions{key: key}
}

func (s *sessions) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write(payload)
	return m.Sum(nil)
}

// start sets a session cookie for the user.
func (s *sessions) start(w http.ResponseWriter, r *http.Request, id primitive.ObjectID) {
	payload := make([]byte, 12+8)
	copy(payload, id[:])
	binary.BigEndian.PutUint64(payload[12:], uint64(time.Now().Add(sessionMaxAge).Unix()))
	value := base64.RawURLEncoding.EncodeToString(append(payload, s.sign(payload)...))
	http.SetCookie(w, s.cookie(r, value, int(sessionMaxAge/time.Second)))
}

// end clears the session cookie.
func (s *sessions) end(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, s.cookie(r, "", -1))
}

func (s *sessions) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: sessionCookie, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: isHTTPS(r),
	}
}

// read returns the user id of a valid, unexpired session cookie.
func (s *sessions) read(r *http.Request) (primitive.ObjectID, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return primitive.NilObjectID, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(raw) != 12+8+sha256.Size {
		return primitive.NilObjectID, false
	}
	payload, mac := raw[:20], raw[20:]
	if !hmac.Equal(mac, s.sign(payload)) {
		return primitive.NilObjectID, false
	}
	if time.Now().Unix() > int64(binary.BigEndian.Uint64(payload[12:])) {
		return primitive.NilObjectID, false
	}
	var id primitive.ObjectID
	copy(id[:], payload[:12])
	return id, true
}
