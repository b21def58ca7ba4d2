package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/meridiandns/meridian/internal/explain"
	"github.com/miekg/dns"
)

// explainParams are the query parameters GET /api/v1/explain accepts.
var explainParams = map[string]bool{"name": true, "type": true, "client": true}

// explain answers GET /api/v1/explain?name=&type=&client=: the trace
// `meridian explain` prints, as JSON, with this node's verdicts.
func (s *Server) explain(w http.ResponseWriter, r *http.Request) {
	q, err := parseExplain(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rep, err := s.b.Explain(r.Context(), q)
	if err != nil {
		writeError(w, errStatus(err), err.Error())
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// parseExplain reads and checks the parameters; each error names the
// parameter at fault.
func parseExplain(r *http.Request) (explain.Query, error) {
	var q explain.Query
	vals := r.URL.Query()
	for k, v := range vals {
		if !explainParams[k] {
			return q, fmt.Errorf("unknown parameter %q; want name, type and client", k)
		}
		if len(v) > 1 {
			return q, fmt.Errorf("parameter %s given %d times", k, len(v))
		}
	}
	name := strings.TrimSpace(vals.Get("name"))
	if name == "" {
		return q, fmt.Errorf("name is required, as in name=app.example.com")
	}
	if _, ok := dns.IsDomainName(name); !ok || len(name) > 254 {
		return q, fmt.Errorf("name %q is not a domain name", name)
	}
	q.Name = dns.Fqdn(name)
	q.Type = dns.TypeA
	if t := vals.Get("type"); t != "" {
		qt, ok := dns.StringToType[strings.ToUpper(t)]
		if !ok {
			return q, fmt.Errorf("type %q is not a DNS record type", t)
		}
		q.Type = qt
	}
	c := vals.Get("client")
	if c == "" {
		return q, fmt.Errorf("client is required: an IP address (the packet source) or IP/PREFIX (an ECS source)")
	}
	var err error
	if q.Client, err = explain.ParseClient(c); err != nil {
		return q, fmt.Errorf("client %q: %v", c, err)
	}
	return q, nil
}
