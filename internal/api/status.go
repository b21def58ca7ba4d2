package api

import (
	"net/http"
	"time"

	"github.com/meridiandns/meridian/healthmesh"
)

// StatusReply is GET /api/v1/status: the mesh status, the dynamic records
// with their values' verdicts, and the last reload.
type StatusReply struct {
	healthmesh.Status
	Records []Record     `json:"records"`
	Reload  ReloadStatus `json:"reload"`
	// State lists the files the node keeps in its state dirs and whether
	// they can be written; empty when nothing is persisted.
	State []StateFile `json:"state"`
	// Auth is what mutating calls need: "token" (a bearer token) or
	// "loopback" (no token file: loopback tools only, never browsers).
	Auth string `json:"auth"`
	// Now is the node's clock, so that readers elsewhere can show ages
	// and expiries without trusting their own.
	Now time.Time `json:"now"`
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	st := s.b.Status()
	st.Members = nonNil(st.Members)
	st.Endpoints = nonNil(st.Endpoints)
	for i := range st.Endpoints {
		st.Endpoints[i].Observations = nonNil(st.Endpoints[i].Observations)
	}
	st.Drains = nonNil(st.Drains)
	st.ZoneSet.Zones = nonNil(st.ZoneSet.Zones)
	recs := nonNil(s.b.Records())
	for i := range recs {
		recs[i].Rules = nonNil(recs[i].Rules)
		recs[i].Pools = nonNil(recs[i].Pools)
		recs[i].Values = nonNil(recs[i].Values)
		for j := range recs[i].Pools {
			recs[i].Pools[j].Values = nonNil(recs[i].Pools[j].Values)
		}
	}
	rl := s.b.Reload()
	rl.Problems = nonNil(rl.Problems)
	rl.Pending = nonNil(rl.Pending)
	auth := "loopback"
	if s.token != nil {
		auth = "token"
	}
	var state []StateFile
	if sr, ok := s.b.(StateReporter); ok {
		state = sr.StateFiles()
	}
	writeJSON(w, http.StatusOK, StatusReply{Status: st, Records: recs, Reload: rl, State: nonNil(state),
		Auth: auth, Now: s.now().UTC()})
}
