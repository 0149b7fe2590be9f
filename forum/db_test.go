package forum

import (
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
)

func TestCheckTopology(t *testing.T) {
	cases := []struct {
		name  string
		reply bson.M
		// want is the description, or with err set a part of the error.
		want string
		err  bool
	}{
		{"standalone", bson.M{"isWritablePrimary": true, "maxWireVersion": 21, "ok": 1.0},
			"MongoDB at db:27017 is a standalone server; the forum needs a replica set or a sharded cluster (change streams): see README 'Running on MongoDB'", true},
		{"replica set primary", bson.M{"isWritablePrimary": true, "secondary": false, "setName": "rs0", "primary": "a:27017", "me": "a:27017", "hosts": bson.A{"a:27017", "b:27017"}, "ok": 1.0},
			"replica set rs0, primary a:27017", false},
		{"secondary only", bson.M{"isWritablePrimary": false, "secondary": true, "setName": "rs0", "me": "b:27017", "ok": 1.0},
			"is a secondary of replica set rs0 (primary: none)", true},
		{"secondary with a primary elsewhere", bson.M{"isWritablePrimary": false, "secondary": true, "setName": "rs0", "primary": "a:27017", "me": "b:27017", "ok": 1.0},
			"(primary: a:27017)", true},
		{"mongos", bson.M{"isWritablePrimary": true, "msg": "isdbgrid", "ok": 1.0},
			"sharded cluster through mongos at db:27017", false},
		{"arbiter", bson.M{"isWritablePrimary": false, "secondary": false, "arbiterOnly": true, "setName": "rs0", "primary": "a:27017", "ok": 1.0},
			"is an arbiter of replica set rs0", true},
		{"member in recovery", bson.M{"isWritablePrimary": false, "secondary": false, "setName": "rs0", "ok": 1.0},
			"neither primary nor secondary", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw, err := bson.Marshal(c.reply)
			if err != nil {
				t.Fatal(err)
			}
			var h hello
			if err := bson.Unmarshal(raw, &h); err != nil {
				t.Fatal(err)
			}
			desc, err := checkTopology("db:27017", h)
			switch {
			case c.err && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("got %q, %v; want an error containing %q", desc, err, c.want)
			case !c.err && (err != nil || desc != c.want):
				t.Fatalf("got %q, %v; want %q", desc, err, c.want)
			}
		})
	}
}
