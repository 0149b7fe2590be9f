package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"forum/forum"
)

// errAdmins says what replaced the admins setting. The role lives with the
// account now: a name in the configuration could be registered by whoever
// came first.
var errAdmins = errors.New(`FORUM_ADMINS and -admins are no longer supported: grant admin with "forum admin grant NAME" (see README)`)

// refuseAdmins fails when the removed admins setting is given, in the
// environment or as -admins, so that an operator who relies on it learns at
// once that nobody is made an admin by it any more.
func refuseAdmins(args []string, getenv func(string) string) error {
	if getenv("FORUM_ADMINS") != "" {
		return errAdmins
	}
	for _, a := range args {
		if a == "--" {
			break
		}
		name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if strings.HasPrefix(a, "-") && name == "admins" {
			return errAdmins
		}
	}
	return nil
}

const adminUsage = "usage: forum admin grant NAME | revoke NAME | list, then the forum's flags"

// admin grants, revokes or lists the admin role from the command line, on
// the database the forum is configured with. On the embedded store it runs
// while the forum is stopped, as seed does; the store's lock refuses it
// otherwise.
func admin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(adminUsage)
	}
	verb, rest := args[0], args[1:]
	var name string
	switch verb {
	case "grant", "revoke":
		if len(rest) == 0 || strings.HasPrefix(rest[0], "-") {
			return fmt.Errorf("admin %s: name the user (%s)", verb, adminUsage)
		}
		name, rest = rest[0], rest[1:]
	case "list":
	default:
		return fmt.Errorf("admin: unknown command %q (%s)", verb, adminUsage)
	}
	cfg, err := parseConfig(rest, getenv, stderr)
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close(context.Background())
	store, err := forum.NewStore(ctx, db.Database, forum.WithPasswordCost(cfg.PasswordCost))
	if err != nil {
		return err
	}
	if verb == "list" {
		admins, err := store.Admins(ctx)
		if err != nil {
			return err
		}
		for _, u := range admins {
			fmt.Fprintln(stdout, u.Name)
		}
		return nil
	}
	u, err := store.SetAdmin(ctx, name, verb == "grant")
	if code := forum.ErrorCode(err); code != "" && code != forum.EINTERNAL {
		return fmt.Errorf("admin %s: %s", verb, forum.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	if u.Admin {
		fmt.Fprintf(stdout, "%q is an admin\n", u.Name)
	} else {
		fmt.Fprintf(stdout, "%q is no longer an admin\n", u.Name)
	}
	return nil
}

// openDB opens the database cfg names for a command that runs beside, or
// instead of, the forum. The embedded store's lock keeps it from opening a
// data file a running forum holds.
func openDB(ctx context.Context, cfg Config) (*forum.DB, error) {
	if cfg.MongoURI != "" {
		return forum.Connect(ctx, cfg.MongoURI, cfg.MongoDB)
	}
	db, err := forum.OpenFile(ctx, cfg.Data, cfg.History)
	if errors.Is(err, forum.ErrLocked) {
		return nil, fmt.Errorf("%w; stop the forum first, or use the admin page /admin/users", err)
	}
	return db, err
}
