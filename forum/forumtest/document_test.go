package forumtest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/256dpi/lungo"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"forum/forum/forumtest"
)

func TestFullDocumentOnlyWithUpdateLookup(t *testing.T) {
	t.Parallel()
	c := newDB(t).Collection("c")
	plain := watch(t, c)
	lookup := watch(t, c, options.ChangeStream().SetFullDocument(options.UpdateLookup))
	ctx := context.Background()
	id := primitive.NewObjectID()
	insert(t, c, bson.M{"_id": id, "x": 0})
	for _, x := range []int{1, 2} {
		if _, err := c.UpdateByID(ctx, id, bson.M{"$set": bson.M{"x": x}}); err != nil {
			t.Fatal(err)
		}
	}
	// x of each event's fullDocument; -1: absent; -2: null.
	check(t, plain, "plain", 0, -1, -1)
	check(t, lookup, "lookup", 0, 2, 2)

	if _, err := c.ReplaceOne(ctx, bson.M{"_id": id}, bson.M{"x": 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateByID(ctx, id, bson.M{"$set": bson.M{"x": 4}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DeleteOne(ctx, bson.M{"_id": id}); err != nil {
		t.Fatal(err)
	}
	check(t, plain, "plain", 3, -1, -1)
	check(t, lookup, "lookup", 3, -2, -1)
}

// check reads the next events of cs and compares x of their full documents
// with want: -1 for none, -2 for null.
func check(t *testing.T, cs lungo.IChangeStream, name string, want ...int) {
	t.Helper()
	for i, w := range want {
		e := next(t, cs)
		got := -1
		switch v, err := e.Raw.LookupErr("fullDocument"); {
		case err != nil:
		case v.Type == bson.TypeNull:
			got = -2
		default:
			got = int(v.Document().Lookup("x").AsInt64())
		}
		if got != w {
			t.Errorf("%s, event %d (%s): fullDocument x %d, want %d", name, i+1, e.Op, got, w)
		}
		if _, err := e.Raw.LookupErr("updateDescription"); e.Op == "update" && err != nil {
			t.Errorf("%s, event %d: update without updateDescription", name, i+1)
		}
	}
}

func TestNonEmptyPipelineIsAnError(t *testing.T) {
	t.Parallel()
	c := newDB(t).Collection("c")
	_, err := c.Watch(context.Background(), mongo.Pipeline{{{Key: "$match", Value: bson.M{"operationType": "insert"}}}})
	if err == nil {
		t.Fatal("a pipeline the double does not run was accepted")
	}
}

func TestUseDoubleReadsEnvironment(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{{"", false}, {"mongo", true}, {"lungo", false}} {
		t.Run(tc.value, func(t *testing.T) {
			t.Setenv("FORUM_TEST_DOUBLE", tc.value)
			if got := forumtest.UseDouble(); got != tc.want {
				t.Fatalf("UseDouble: got %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("wrapped file store", func(t *testing.T) {
		t.Setenv("FORUM_TEST_DOUBLE", "mongo")
		db := forumtest.OpenFile(t, t.TempDir()+string(os.PathSeparator)+"forum.db", time.Minute)
		defer db.Close(context.Background())
		cs := watch(t, db.Database.Collection("c"))
		insert(t, db.Database.Collection("c"), bson.M{"n": 1})
		if e := next(t, cs); len(e.ID.Lookup("_data").StringValue()) == 0 {
			t.Fatalf("file store not wrapped: token %s", e.ID)
		}
	})
}
