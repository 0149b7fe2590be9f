package streams

import (
	"errors"
	"fmt"
	"testing"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/mongo"
)

func TestBackoffIsCappedAndJittered(t *testing.T) {
	for n := 1; n < 40; n++ {
		d := min(minBackoff<<min(n-1, 16), maxBackoff)
		if got := backoff(n); got < d/2 || got >= d {
			t.Fatalf("backoff(%d) = %v, want in [%v, %v)", n, got, d/2, d)
		}
	}
}

func TestHistoryLostIsRecognised(t *testing.T) {
	for _, tt := range []struct {
		err  error
		lost bool
	}{
		{nil, false},
		{errors.New("connection reset"), false},
		{lungo.ErrLostOplogPosition, true},
		{fmt.Errorf("next: %w", lungo.ErrLostOplogPosition), true},
		{errors.New("unable to resume change stream"), true},
		{mongo.CommandError{Code: 286, Name: "ChangeStreamHistoryLost"}, true},
		{mongo.CommandError{Code: 280, Name: "ChangeStreamFatalError"}, true},
		{mongo.CommandError{Code: 260, Name: "InvalidResumeToken"}, true},
		{mongo.CommandError{Code: 11600, Name: "InterruptedAtShutdown"}, false},
	} {
		if got := historyLost(tt.err); got != tt.lost {
			t.Errorf("historyLost(%v) = %v, want %v", tt.err, got, tt.lost)
		}
	}
}
