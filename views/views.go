// Package views renders the forum's HTML pages with templ. A page takes a Page
// and the data it shows; the small components (PostCard, CommentItem,
// NotificationItem) are also rendered on their own into live events, so an
// item that arrives live looks exactly like one rendered with its page.
// Views render only: they never touch storage.
package views

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/bson/primitive"

	"forum/forum"
)

// Page is what every page's layout needs.
type Page struct {
	Title  string
	User   *forum.User // nil when signed out
	Unread int64       // unread notifications of User
	// Topics are the live topics of this page, for example
	// []string{"posts"}; an empty list means the page does not go live.
	Topics []string
	// Events maps each live event to the topics it is sent on, as JSON
	// (see forum/web), for the script that routes events to tabs.
	Events string
	Path   string // current request path and query, for the login link's ?next=
	// LastEventID is the id of the newest live event when the page's data
	// was read: the page's stream resumes from it, so that nothing falls
	// between the page and its first live event.
	LastEventID string
}

// Form is a submitted form shown again: the user's input and a message.
type Form struct {
	Values map[string]string
	Error  string
	// ReplyTo is the comment that a comment form answers, if any.
	ReplyTo *forum.Comment
}

const siteName = "Forum"

// excerptLen is how many characters of a post's body its card shows.
const excerptLen = 280

// pageTitle is the title of the page's tab, led by the count of unread
// notifications when there are any (the script keeps it current).
func pageTitle(p Page) string {
	t := siteName
	if p.Title != "" {
		t = p.Title + " · " + siteName
	}
	if p.Unread > 0 {
		t = "(" + strconv.FormatInt(p.Unread, 10) + ") " + t
	}
	return t
}

// userID tells the live-connection worker whose pages share it.
func userID(p Page) string {
	if p.User == nil {
		return ""
	}
	return p.User.ID.Hex()
}

// loginURL links to the sign-in page, asking it to come back to next. Slashes
// are legal in a query, so they stay readable; everything else is escaped.
func loginURL(next string) string {
	return authURL("/login", next)
}

func registerURL(next string) string {
	return authURL("/register", next)
}

func authURL(page, next string) string {
	if next == "" {
		return page
	}
	return page + "?next=" + strings.ReplaceAll(url.QueryEscape(next), "%2F", "/")
}

func postURL(id primitive.ObjectID) string {
	return "/posts/" + id.Hex()
}

func commentsURL(id primitive.ObjectID) string {
	return postURL(id) + "/comments"
}

// typingURL is where the comment form says that its writer is typing.
func typingURL(id primitive.ObjectID) string {
	return "/api" + postURL(id) + "/typing"
}

// notificationURL goes through the route that marks the notification read
// on its way to what it is about.
func notificationURL(n *forum.Notification) string {
	return "/notifications/" + n.ID.Hex()
}

// commentURL finds a comment on whichever page of its thread shows it.
func commentURL(id primitive.ObjectID) string {
	return "/comments/" + id.Hex()
}

// replyURL is the comment form of a comment's page, set to reply to it.
func replyURL(id primitive.ObjectID) string {
	return commentURL(id) + "/reply"
}

// machineTime is the datetime attribute of a <time>: RFC 3339 with the
// milliseconds the store keeps, so the script can order items that arrive
// live by it.
func machineTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// readableTime is shown until the script replaces it with a relative time.
func readableTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// exactTime is the title of a <time>, which keeps the exact time at hand
// when the text is relative.
func exactTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// excerpt is the start of a post's body on one line, cut at a word boundary.
func excerpt(body string) string {
	return forum.Excerpt(body, excerptLen)
}

func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.FormatInt(n, 10) + " " + many
}

func value(f Form, name string) string {
	return f.Values[name]
}

func notificationClass(n *forum.Notification) string {
	if n.Read {
		return "notification read"
	}
	return "notification unread"
}

func statusLine(status int) string {
	return strings.TrimSpace(strconv.Itoa(status) + " " + http.StatusText(status))
}

// Pager places a page of a thread among the others: Page of Pages, from 1.
type Pager struct {
	Page, Pages int
}

// pagerReach is how many pages on either side of the current one the pager
// links by number.
const pagerReach = 2

// near returns the numbers of the pages the pager links by number.
func (p Pager) near() []int {
	var ns []int
	for n := max(1, p.Page-pagerReach); n <= min(p.Pages, p.Page+pagerReach); n++ {
		ns = append(ns, n)
	}
	return ns
}

// PostPageURL is the address of page n of a thread; the first is the
// thread's own address.
func PostPageURL(id primitive.ObjectID, n int) string {
	if n <= 1 {
		return postURL(id)
	}
	return postURL(id) + "?page=" + strconv.Itoa(n)
}

// ListPager places a page of a newest-first listing (posts, notifications)
// among the others, which are found from the ids at its ends.
type ListPager struct {
	Path string // of the listing
	// Query holds the listing's other parameters, such as its order, which
	// every link keeps.
	Query url.Values
	First bool   // the page is the newest
	Newer string // the id that the newer page ends before, or ""
	Older string // the id that the older page starts after, or ""
}

// link returns the address of the page from the cursor param=id, or of the
// first page when param is "".
func (p ListPager) link(param, id string) string {
	q := url.Values{}
	for k, v := range p.Query {
		q[k] = v
	}
	if param != "" {
		q.Set(param, id)
	}
	if len(q) == 0 {
		return p.Path
	}
	return p.Path + "?" + q.Encode()
}

func replyToID(c *forum.Comment) string {
	if c == nil {
		return ""
	}
	return c.ID.Hex()
}

func replyToAuthor(c *forum.Comment) string {
	if c == nil {
		return ""
	}
	return c.Author
}

func replyToURL(c *forum.Comment) string {
	if c == nil {
		return ""
	}
	return commentURL(c.ID)
}
