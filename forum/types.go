package forum

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

// Limits on what users write.
const (
	MinNameLen     = 3
	MaxNameLen     = 32
	MinPasswordLen = 8
	// MaxPasswordBytes bounds the work of hashing a password.
	MaxPasswordBytes = 1024
	MaxTitleLen      = 200
	MaxPostBodyLen   = 20000
	MaxCommentLen    = 10000
)

// Kinds of notification. A user gets one notification per post or comment,
// of the kind that concerns them most: a reply to them beats a mention of
// them, which beats a comment on a thread they wrote or commented on.
const (
	// NotificationComment tells of a comment on a thread the user wrote
	// or commented on.
	NotificationComment = "comment"
	// NotificationReply tells of a reply to the user's comment.
	NotificationReply = "reply"
	// NotificationMention tells of an @name of the user in a post or
	// comment.
	NotificationMention = "mention"
)

// ExcerptLen is how many characters of a post or comment its notifications
// quote.
const ExcerptLen = 140

// User is a member of the forum.
type User struct {
	ID           primitive.ObjectID `bson:"_id" json:"id"`
	Name         string             `bson:"name" json:"name"`
	NameKey      string             `bson:"nameKey" json:"-"`
	PasswordHash []byte             `bson:"passwordHash" json:"-"`
	CreatedAt    time.Time          `bson:"createdAt" json:"-"`
	// Admin is kept with the account: only an admin or the operator's
	// "forum admin grant" gives it, never the choice of a name.
	Admin bool `bson:"admin,omitempty" json:"admin"`
	// Suspended users may sign in and read, but not write: see
	// checkWriter.
	Suspended bool `bson:"suspended,omitempty" json:"suspended"`
}

// Post is a thread opener.
type Post struct {
	ID        primitive.ObjectID `bson:"_id" json:"id"`
	Title     string             `bson:"title" json:"title"`
	Body      string             `bson:"body" json:"body"`
	Author    string             `bson:"author" json:"author"`
	AuthorID  primitive.ObjectID `bson:"authorId" json:"-"`
	CreatedAt time.Time          `bson:"createdAt" json:"createdAt"`
	Comments  int                `bson:"comments" json:"comments"`
	// LastActivityAt is when the post or its latest comment was written;
	// the front page sorts by it.
	LastActivityAt time.Time  `bson:"lastActivityAt" json:"lastActivityAt"`
	EditedAt       *time.Time `bson:"editedAt,omitempty" json:"editedAt,omitempty"`
	Locked         bool       `bson:"locked,omitempty" json:"locked"`
	// DeletedAt marks a deleted post, which is kept (see DeletePost) but
	// answers as unknown everywhere.
	DeletedAt *time.Time `bson:"deletedAt,omitempty" json:"-"`
}

// Comment is a reply to a post.
type Comment struct {
	ID        primitive.ObjectID `bson:"_id" json:"id"`
	PostID    primitive.ObjectID `bson:"postId" json:"postId"`
	Body      string             `bson:"body" json:"body"`
	Author    string             `bson:"author" json:"author"`
	AuthorID  primitive.ObjectID `bson:"authorId" json:"-"`
	CreatedAt time.Time          `bson:"createdAt" json:"createdAt"`
	EditedAt  *time.Time         `bson:"editedAt,omitempty" json:"editedAt,omitempty"`
	// DeletedAt marks a deleted comment, kept like a deleted post.
	DeletedAt *time.Time `bson:"deletedAt,omitempty" json:"-"`
	// WithPost marks a comment deleted with its post: its thread's
	// listeners are told of the post, not of each comment.
	WithPost bool `bson:"withPost,omitempty" json:"-"`
	// ReplyTo is the comment of the same post that this one answers, and
	// ReplyToAuthor its author's name, kept here so that a comment shows
	// what it answers without another read.
	ReplyTo       primitive.ObjectID `bson:"replyTo,omitempty" json:"replyTo,omitzero"`
	ReplyToAuthor string             `bson:"replyToAuthor,omitempty" json:"replyToAuthor,omitempty"`
}

// Notification tells a user about someone else's action.
type Notification struct {
	ID     primitive.ObjectID `bson:"_id" json:"id"`
	UserID primitive.ObjectID `bson:"userId" json:"-"`
	Kind   string             `bson:"kind" json:"kind"`
	PostID primitive.ObjectID `bson:"postId" json:"postId"`
	// CommentID is the nil id when the notification is about the post.
	CommentID primitive.ObjectID `bson:"commentId" json:"commentId"`
	Actor     string             `bson:"actor" json:"actor"`
	Message   string             `bson:"message" json:"message"`
	// Excerpt is the start of the post or comment, as written, on one
	// line (see Excerpt).
	Excerpt   string    `bson:"excerpt,omitempty" json:"excerpt"`
	CreatedAt time.Time `bson:"createdAt" json:"createdAt"`
	Read      bool      `bson:"read" json:"read"`
}

// Profile is a user as their page shows them, with how many posts and
// comments they have that are not deleted.
type Profile struct {
	ID        primitive.ObjectID `json:"id"`
	Name      string             `json:"name"`
	Admin     bool               `json:"admin"`
	Suspended bool               `json:"suspended"`
	CreatedAt time.Time          `json:"createdAt"`
	Posts     int64              `json:"posts"`
	Comments  int64              `json:"comments"`
}

// Stats are the forum's totals.
type Stats struct {
	Users    int64 `json:"users"`
	Posts    int64 `json:"posts"`
	Comments int64 `json:"comments"`
}

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// ValidateName checks a user name.
func ValidateName(name string) error {
	n := utf8.RuneCountInString(name)
	if !utf8.ValidString(name) || n < MinNameLen || n > MaxNameLen || !namePattern.MatchString(name) {
		return Errorf(EINVALID, "Name must be %d to %d characters of letters, digits, _ or -.", MinNameLen, MaxNameLen)
	}
	return nil
}

// ValidatePassword checks a new password.
func ValidatePassword(password string) error {
	switch {
	case !utf8.ValidString(password):
		return Errorf(EINVALID, "Password must be valid UTF-8 text.")
	case utf8.RuneCountInString(password) < MinPasswordLen:
		return Errorf(EINVALID, "Password must be at least %d characters.", MinPasswordLen)
	case len(password) > MaxPasswordBytes:
		return Errorf(EINVALID, "Password must be at most %d bytes.", MaxPasswordBytes)
	}
	return nil
}

// CleanText trims what a user wrote and checks that it is valid UTF-8 of 1 to
// max characters. field names it in the error message.
func CleanText(field, s string, max int) (string, error) {
	if !utf8.ValidString(s) {
		return "", Errorf(EINVALID, "%s must be valid UTF-8 text.", field)
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", Errorf(EINVALID, "%s must not be empty.", field)
	}
	if n := utf8.RuneCountInString(s); n > max {
		return "", Errorf(EINVALID, "%s must be at most %d characters (it has %d).", field, max, n)
	}
	return s, nil
}

// Excerpt is the start of s on one line, at most n characters and an
// ellipsis, cut at a word boundary where there is one in its second half.
// Markdown is left as written: an excerpt is shown as plain text.
func Excerpt(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	cut := string([]rune(s)[:n])
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return cut + "…"
}

// now is the store's clock: UTC with the millisecond precision that BSON keeps,
// so a value reads back exactly as it was written.
func now() time.Time {
	return time.Now().UTC().Truncate(time.Millisecond)
}
