package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runMainChild runs the program's main in a child process, as the shell
// would run the binary, with args and the environment pairs given, and
// returns its stderr and exit code. test names the calling test, which calls
// runMainChild first thing: in the child, that call runs main.
func runMainChild(t *testing.T, test string, args []string, envPairs ...string) (string, int) {
	t.Helper()
	if v, ok := os.LookupEnv("FORUM_TEST_MAIN_ARGS"); ok {
		os.Args = append([]string{"forum"}, strings.Fields(v)...)
		main()
		os.Exit(0)
	}
	// A child that does not fail is a forum that would serve forever.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), "FORUM_TEST_MAIN_ARGS="+strings.Join(args, " "))
	cmd.Env = append(cmd.Env, envPairs...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return stderr.String(), cmd.ProcessState.ExitCode()
}

func TestRemovedAdminsSettingExitsWithOneLine(t *testing.T) {
	data := "FORUM_DATA=" + filepath.Join(t.TempDir(), "forum.db")
	const addr = "FORUM_ADDR=127.0.0.1:0"
	for _, tc := range []struct {
		name string
		args []string
		env  []string
	}{
		{"environment", nil, []string{"FORUM_ADMINS=admin"}},
		{"flag", []string{"-admins", "admin"}, nil},
		{"flag with value", []string{"--admins=admin"}, nil},
		{"seed", []string{"seed", "-posts", "1"}, []string{"FORUM_ADMINS=admin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr, code := runMainChild(t, "TestRemovedAdminsSettingExitsWithOneLine", tc.args, append(tc.env, data, addr)...)
			if code == 0 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, `"forum admin grant NAME"`) {
				t.Fatalf("got exit %d and stderr %q; want a failure with one line saying what to do", code, stderr)
			}
		})
	}
}

// runAdmin runs "forum admin args..." on the data file and returns its output.
func runAdmin(t *testing.T, data string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), append([]string{"admin"}, args...), env("FORUM_DATA", data), &out, io.Discard)
	return out.String(), err
}

func TestAdminCommandGrantsRevokesAndLists(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "forum.db")
	m := startMain(t, dir)
	base := "http://" + m.Addr().String()
	clients := map[string]*http.Client{}
	for _, name := range []string{"alice", "bob"} {
		clients[name] = newJarClient()
		if resp := postJSON(t, clients[name], base+"/api/register", `{"name":"`+name+`","password":"password123"}`); resp.StatusCode != http.StatusCreated {
			t.Fatalf("register %s: %d", name, resp.StatusCode)
		}
	}
	if _, err := runAdmin(t, data, "list"); err == nil || !strings.Contains(err.Error(), "in use by another process") || !strings.Contains(err.Error(), "stop the forum") {
		t.Fatalf("admin list beside a running forum: got %v, want a clear refusal", err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	for _, step := range []struct {
		args    []string
		out     string
		wantErr string
	}{
		{[]string{"list"}, "", ""},
		{[]string{"grant", "ALICE"}, "\"alice\" is an admin\n", ""},
		{[]string{"grant", "bob"}, "\"bob\" is an admin\n", ""},
		{[]string{"list"}, "alice\nbob\n", ""},
		{[]string{"revoke", "alice"}, "\"alice\" is no longer an admin\n", ""},
		{[]string{"grant", "nobody"}, "", `No user is named "nobody".`},
		{[]string{"revoke", "bob"}, "", "bob is the last admin"},
		{[]string{"grant"}, "", "name the user"},
		{[]string{"promote", "bob"}, "", "unknown command"},
		{[]string{"list"}, "bob\n", ""},
	} {
		out, err := runAdmin(t, data, step.args...)
		if out != step.out || (err == nil) != (step.wantErr == "") || (err != nil && (!strings.Contains(err.Error(), step.wantErr) || strings.Contains(err.Error(), "\n"))) {
			t.Fatalf("forum admin %s: got %q, %v; want %q and an error with %q", strings.Join(step.args, " "), out, err, step.out, step.wantErr)
		}
	}

	// The sessions made before survive the restart and carry the new roles.
	m = startMain(t, dir)
	defer m.Close()
	base = "http://" + m.Addr().String()
	for name, want := range map[string]int{"alice": http.StatusForbidden, "bob": http.StatusOK} {
		resp, err := clients[name].Get(base + "/api/stats")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s's stats: got %d, want %d", name, resp.StatusCode, want)
		}
	}
}
