// Package static holds the forum's stylesheet and script, embedded in the
// binary. Their URLs carry a hash of their content, so browsers may cache them
// for good and still get a new version as soon as it ships.
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed app.css app.js live-worker.js favicon.svg
var files embed.FS

// prefix is where Handler expects to be mounted.
const prefix = "/static/"

var contentTypes = map[string]string{
	".css": "text/css; charset=utf-8",
	".js":  "text/javascript; charset=utf-8",
	".svg": "image/svg+xml",
}

type asset struct {
	data        []byte
	version     string
	contentType string
}

var assets = load()

func load() map[string]asset {
	m := map[string]asset{}
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		m[name] = asset{
			data:        data,
			version:     hex.EncodeToString(sum[:6]),
			contentType: contentTypes[path.Ext(name)],
		}
		return nil
	})
	if err != nil {
		panic("static: read embedded files: " + err.Error())
	}
	return m
}

// Path returns the URL of the embedded file name, versioned by a hash of its
// content. It panics when there is no such file: names are constants in the
// views, so that is a programming error.
func Path(name string) string {
	a, ok := assets[name]
	if !ok {
		panic("static: no embedded file " + name)
	}
	return prefix + name + "?v=" + a.version
}

// Handler serves the embedded files under /static/, with the prefix intact.
// A request that names the current version may be cached for good; any other
// must be revalidated.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := strings.CutPrefix(r.URL.Path, prefix)
		a, found := assets[name]
		if !ok || !found {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		if r.URL.Query().Get("v") == a.version {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		h.Set("Content-Type", a.contentType)
		h.Set("ETag", `"`+a.version+`"`)
		h.Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.data))
	})
}
