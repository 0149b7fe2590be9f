package web

import (
	"cmp"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"unicode"

	"github.com/a-h/templ"
	"github.com/gorilla/mux"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
	"forum/views"
)

func (s *Server) registerPageRoutes(r *mux.Router) {
	r.HandleFunc("/", s.handleHome).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/posts/new", s.handleNewPost).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/posts/new", s.handleCreatePost).Methods(http.MethodPost)
	r.HandleFunc("/posts/{id}", s.handlePost).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/posts/{id}/comments", s.handleCreateComment).Methods(http.MethodPost)
	r.HandleFunc("/register", s.handleRegisterPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/register", s.handleRegister).Methods(http.MethodPost)
	r.HandleFunc("/login", s.handleLoginPage).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/login", s.handleLogin).Methods(http.MethodPost)
	r.HandleFunc("/logout", s.handleLogout).Methods(http.MethodPost)
	r.HandleFunc("/logout/everywhere", s.handleLogoutEverywhere).Methods(http.MethodPost)
	r.HandleFunc("/notifications", s.handleNotifications).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/notifications/read", s.handleMarkRead).Methods(http.MethodPost)
	r.HandleFunc("/notifications/{id}", s.handleNotificationOpen).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/comments/{id}", s.handleCommentLocation).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/comments/{id}/reply", s.handleCommentReply).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/favicon.ico", handleFavicon).Methods(http.MethodGet, http.MethodHead)
	r.HandleFunc("/admin/stats", s.handleAdminStats).Methods(http.MethodGet, http.MethodHead)
}

// parseForm reads a form body of at most MaxBodyBytes.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		if bErr := boundError(err, "What you sent"); bErr != nil {
			return bErr
		}
		return forum.Errorf(forum.EINVALID, "The form could not be read.")
	}
	return nil
}

// formText returns a text field of a submitted form with its line breaks as
// the page's script counts them: browsers send each as CR LF, which would
// count as two characters against the limit.
func formText(r *http.Request, name string) string {
	return strings.ReplaceAll(r.PostFormValue(name), "\r\n", "\n")
}

// formOf keeps the named fields of a submitted form, to show them again.
func formOf(r *http.Request, err error, fields ...string) views.Form {
	f := views.Form{Values: map[string]string{}, Error: forum.ErrorMessage(err)}
	for _, k := range fields {
		f.Values[k] = r.PostFormValue(k)
	}
	return f
}

// safeNext returns next if it is a path on this site, else "/". It returns
// the path rebuilt from its cleaned form and its query, as http.Redirect
// would clean it, so that what was checked is what the browser is sent: a
// raw "/./\evil.com" would otherwise pass and then be cleaned into
// "/\evil.com", which browsers read as "//evil.com".
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || strings.ContainsRune(next, '\\') || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.ContainsFunc(u.Path, unsafeInPath) {
		return "/"
	}
	rebuilt := (&url.URL{Path: path.Clean(u.Path), RawQuery: u.RawQuery}).String()
	if !strings.HasPrefix(rebuilt, "/") || strings.HasPrefix(rebuilt, "//") || strings.ContainsRune(rebuilt, '\\') {
		return "/"
	}
	return rebuilt
}

// unsafeInPath reports whether r, in a decoded path, could make a browser
// read the path as something else: a backslash or a control character.
func unsafeInPath(r rune) bool {
	return r == '\\' || unicode.IsControl(r)
}

// toLogin sends a signed-out visitor to the sign-in page and back to next
// afterwards.
func toLogin(w http.ResponseWriter, r *http.Request, next string) {
	http.Redirect(w, r, "/login?next="+url.QueryEscape(next), http.StatusSeeOther)
}

func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// The front page lists by latest activity; ?sort=new by creation.
	sort := cmp.Or(r.URL.Query().Get("sort"), forum.SortActivity)
	posts, pager, err := readPage(r.URL.Query(), forum.DefaultPageSize, func(p *forum.Post) primitive.ObjectID { return p.ID },
		func(limit int, before primitive.ObjectID) ([]*forum.Post, error) {
			return s.store.Posts(ctx, sort, limit, before)
		},
		func(limit int, after primitive.ObjectID) ([]*forum.Post, error) {
			return s.store.PostsAfter(ctx, sort, limit, after)
		})
	if err != nil {
		s.error(w, r, err)
		return
	}
	// Only the first page goes live: new posts would not belong on another.
	var topics []string
	if pager.First {
		topics = []string{topicPosts}
	}
	pager.Path = "/"
	if sort != forum.SortActivity {
		pager.Query = url.Values{"sort": {sort}}
	}
	s.render(w, r, http.StatusOK, views.Home(s.page(r, "", topics...), posts, sort, pager))
}

func (s *Server) handleNewPost(w http.ResponseWriter, r *http.Request) {
	if userFrom(r) == nil {
		toLogin(w, r, r.URL.RequestURI())
		return
	}
	s.render(w, r, http.StatusOK, views.NewPost(s.page(r, "New post"), views.Form{}))
}

func (s *Server) handleCreatePost(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r)
	if u == nil {
		toLogin(w, r, "/posts/new")
		return
	}
	if err := parseForm(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	p, err := s.store.CreatePost(r.Context(), u, formText(r, "title"), formText(r, "body"))
	if err != nil {
		s.formError(w, r, err, views.NewPost(s.page(r, "New post"), formOf(r, err, "title", "body")))
		return
	}
	http.Redirect(w, r, "/posts/"+p.ID.Hex(), http.StatusSeeOther)
}

// formError shows a rejected form again, or the error page when the error is
// not about the form's input.
func (s *Server) formError(w http.ResponseWriter, r *http.Request, err error, page templ.Component) {
	switch forum.ErrorCode(err) {
	case forum.EINVALID, forum.ECONFLICT, forum.EUNAUTHORIZED, forum.ETOOMANY:
		if forum.ErrorCode(err) == forum.ETOOMANY {
			w.Header().Set("Retry-After", "60")
		}
		s.render(w, r, statusOf(err), page)
	default:
		s.error(w, r, err)
	}
}

func (s *Server) handlePost(w http.ResponseWriter, r *http.Request) {
	p, err := s.postFrom(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	n, err := pageParam(r, p)
	if err != nil {
		s.error(w, r, err)
		return
	}
	f, err := s.replyForm(r, p, r.URL.Query().Get("replyTo"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.showPost(w, r, http.StatusOK, p, n, f)
}

// replyForm returns the comment form of post p set to reply to the comment
// with id replyTo, or an empty one when replyTo is "".
func (s *Server) replyForm(r *http.Request, p *forum.Post, replyTo string) (views.Form, error) {
	id, err := optionalID(replyTo)
	if err != nil || id.IsZero() {
		return views.Form{}, err
	}
	c, _, err := s.store.CommentPlace(r.Context(), id)
	if err != nil {
		return views.Form{}, err
	}
	if c.PostID != p.ID {
		return views.Form{}, forum.Errorf(forum.EINVALID, "Comment %s is on another post: reply to it there.", id.Hex())
	}
	return views.Form{ReplyTo: c}, nil
}

// threadPages is how many pages a post's comments fill: one when it has
// none, so that the first page always exists.
func threadPages(p *forum.Post) int {
	return max(1, (p.Comments+forum.CommentPageSize-1)/forum.CommentPageSize)
}

// pageParam returns the number of the thread page asked for, 1 when the
// query names none.
func pageParam(r *http.Request, p *forum.Post) (int, error) {
	v := r.URL.Query().Get("page")
	if v == "" {
		return 1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, forum.Errorf(forum.EINVALID, "Page %q is not a page number: the pages of a thread are numbered from 1.", v)
	}
	if last := threadPages(p); n > last {
		return 0, forum.Errorf(forum.ENOTFOUND, "This thread has no page %d: its comments fill %d.", n, last)
	}
	return n, nil
}

// showPost shows page n of a thread with the comment form f. The page is
// read with a skip (see forum.Store.Comments), and the number of pages comes
// from the post's count of comments.
func (s *Server) showPost(w http.ResponseWriter, r *http.Request, status int, p *forum.Post, n int, f views.Form) {
	// The posts topic too, for the header's count of who is online.
	page := s.page(r, p.Title, topicComments+p.ID.Hex(), topicPosts)
	cs, err := s.store.Comments(r.Context(), p.ID, (n-1)*forum.CommentPageSize, forum.CommentPageSize)
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, status, views.PostView(page, p, cs, views.Pager{Page: n, Pages: threadPages(p)}, f))
}

func (s *Server) handleCreateComment(w http.ResponseWriter, r *http.Request) {
	p, err := s.postFrom(r)
	if err != nil {
		s.error(w, r, err)
		return
	}
	u := userFrom(r)
	if u == nil {
		toLogin(w, r, "/posts/"+p.ID.Hex())
		return
	}
	if err := parseForm(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	replyTo, err := optionalID(r.PostFormValue("replyTo"))
	if err != nil {
		s.error(w, r, err)
		return
	}
	c, err := s.store.CreateComment(r.Context(), u, p.ID, formText(r, "body"), forum.ReplyTo(replyTo))
	if err != nil {
		if forum.ErrorCode(err) == forum.EINVALID {
			// On the last page, where the comment would have gone, still
			// replying if the reply was not what was wrong.
			f := formOf(r, err, "body")
			if rf, rErr := s.replyForm(r, p, r.PostFormValue("replyTo")); rErr == nil {
				f.ReplyTo = rf.ReplyTo
			}
			s.showPost(w, r, http.StatusBadRequest, p, threadPages(p), f)
			return
		}
		s.error(w, r, err)
		return
	}
	// The new comment is on the last page as the post counts them now.
	// Comments that others add meanwhile can start a page after it; the
	// anchor then misses, and the reader sees the comments after theirs.
	if fresh, err := s.store.Post(r.Context(), p.ID); err == nil {
		p = fresh
	}
	http.Redirect(w, r, views.PostPageURL(p.ID, threadPages(p))+"#comment-"+c.ID.Hex(), http.StatusSeeOther)
}

func (s *Server) handleRegisterPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, views.Register(s.page(r, "Register"), views.Form{}, safeNext(r.URL.Query().Get("next"))))
}

func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	u, err := s.store.Register(r.Context(), r.PostFormValue("name"), r.PostFormValue("password"))
	if err != nil {
		s.formError(w, r, err, views.Register(s.page(r, "Register"), formOf(r, err, "name"), next))
		return
	}
	if err := s.startSession(w, r, u); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, views.Login(s.page(r, "Sign in"), views.Form{}, safeNext(r.URL.Query().Get("next"))))
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if err := parseForm(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	u, err := s.login(r, r.PostFormValue("name"), r.PostFormValue("password"))
	if err != nil {
		s.formError(w, r, err, views.Login(s.page(r, "Sign in"), formOf(r, err, "name"), next))
		return
	}
	if err := s.startSession(w, r, u); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.endSession(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) handleLogoutEverywhere(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r)
	if u == nil {
		toLogin(w, r, "/")
		return
	}
	if err := s.endSessions(w, r, u); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) handleNotifications(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r)
	if u == nil {
		toLogin(w, r, r.URL.RequestURI())
		return
	}
	ctx := r.Context()
	ns, pager, err := readPage(r.URL.Query(), forum.DefaultPageSize, func(n *forum.Notification) primitive.ObjectID { return n.ID },
		func(limit int, before primitive.ObjectID) ([]*forum.Notification, error) {
			return s.store.Notifications(ctx, u.ID, limit, before)
		},
		func(limit int, after primitive.ObjectID) ([]*forum.Notification, error) {
			return s.store.NotificationsAfter(ctx, u.ID, limit, after)
		})
	if err != nil {
		s.error(w, r, err)
		return
	}
	pager.Path = "/notifications"
	s.render(w, r, http.StatusOK, views.Notifications(s.page(r, "Notifications"), ns, pager))
}

func (s *Server) handleMarkRead(w http.ResponseWriter, r *http.Request) {
	u := userFrom(r)
	if u == nil {
		toLogin(w, r, "/notifications")
		return
	}
	if err := parseForm(w, r); err != nil {
		s.error(w, r, err)
		return
	}
	var ids []primitive.ObjectID
	if v := r.PostFormValue("id"); v != "" {
		id, err := forum.ParseID(v)
		if err != nil {
			s.error(w, r, err)
			return
		}
		ids = append(ids, id)
	}
	if _, err := s.store.MarkRead(r.Context(), u.ID, ids); err != nil {
		s.error(w, r, err)
		return
	}
	http.Redirect(w, r, "/notifications", http.StatusSeeOther)
}

func (s *Server) handleAdminStats(w http.ResponseWriter, r *http.Request) {
	if !s.adminPage(w, r, r.URL.RequestURI()) {
		return
	}
	p := s.page(r, "Statistics", topicStats)
	st, err := s.store.Stats(r.Context())
	if err != nil {
		s.error(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, views.AdminStats(p, st))
}
