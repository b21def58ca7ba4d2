package api

import (
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"
)

// The status page is plain HTML, CSS and JavaScript compiled into the
// binary: nothing to build, nothing fetched from elsewhere.
//
//go:embed ui/index.html ui/app.css ui/app.js ui/favicon.svg
var uiFiles embed.FS

// pageCSP keeps the page to its own files: no inline script, no third
// party, no framing.
const pageCSP = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// page serves the status page at /.
func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	s.serveUI(w, "index.html")
}

// asset serves the page's files under /ui/.
func (s *Server) asset(w http.ResponseWriter, r *http.Request) {
	s.serveUI(w, r.PathValue("file"))
}

func (s *Server) serveUI(w http.ResponseWriter, name string) {
	data, err := fs.ReadFile(uiFiles, path.Join("ui", path.Clean("/"+name)))
	if err != nil {
		writeError(w, http.StatusNotFound, "no such file: /ui/"+name)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Security-Policy", pageCSP)
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}
