package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"math"
	"net/http"
	"strings"

	"forum/forum"
)

const sessionCookie = "forum_session"

// sessions writes and reads session cookies. A cookie holds the token of a
// session the store keeps, which is what signing out ends, and an
// HMAC-SHA256 of the token, so that a forged cookie is refused without a
// database lookup.
type sessions struct {
	key []byte
}

func newSessions(key []byte) *sessions {
	return &sessions{key: key}
}

func (s *sessions) sign(token string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(token))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// start sets the cookie of the session with this token.
func (s *sessions) start(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, s.cookie(r, token+"."+s.sign(token), int(forum.SessionMaxAge.Seconds())))
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

// read returns the session token of a cookie this server signed. Whether the
// session still lasts is the store's to say.
func (s *sessions) read(r *http.Request) (string, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return "", false
	}
	token, mac, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(mac), []byte(s.sign(token))) {
		return "", false
	}
	return token, true
}

// login checks credentials, limiting attempts per name and address. The
// attempt is counted before the password is compared, so that parallel
// attempts cannot all be checked before the first failure is counted; a
// success gives the attempts back.
func (s *Server) login(r *http.Request, name, password string) (*forum.User, error) {
	key := loginKey(r, name)
	if ok, wait := s.limiter.reserve(key); !ok {
		return nil, forum.Errorf(forum.ETOOMANY, "Too many failed sign-in attempts. Try again in %d minutes.", int(math.Ceil(wait.Minutes())))
	}
	u, err := s.store.Authenticate(r.Context(), name, password)
	if err != nil {
		return nil, err
	}
	s.limiter.reset(key)
	return u, nil
}

// startSession signs u in: a new session in the store, and its cookie.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u *forum.User) error {
	token, err := s.store.CreateSession(r.Context(), u.ID)
	if err != nil {
		return err
	}
	s.sessions.start(w, r, token)
	return nil
}

// endSession ends the session of the request's cookie, on every instance,
// and clears the cookie.
func (s *Server) endSession(w http.ResponseWriter, r *http.Request) error {
	if token, ok := s.sessions.read(r); ok {
		if err := s.store.EndSession(r.Context(), token); err != nil {
			return err
		}
	}
	s.sessions.end(w, r)
	return nil
}

// endSessions ends every session of u and clears this request's cookie.
func (s *Server) endSessions(w http.ResponseWriter, r *http.Request, u *forum.User) error {
	if err := s.store.EndSessions(r.Context(), u.ID); err != nil {
		return err
	}
	s.sessions.end(w, r)
	return nil
}
