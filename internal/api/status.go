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
	// Serving sums up what the dynamic records answer now.
	Serving Serving `json:"serving"`
	// Now is the node's clock, so that readers elsewhere can show ages
	// and expiries without trusting their own.
	Now time.Time `json:"now"`
}

// Serving sums up how the dynamic records answer now, for a banner: which
// records answer from a fallback or fail open, and how many answers were
// degraded since the node started.
type Serving struct {
	// FailOpen names the records ("app.example.com. A") some of whose
	// clients get the record's own values, since no pool of theirs has a
	// serviceable value.
	FailOpen []string `json:"failopen"`
	// Fallback names the records, not failing open, some of whose clients
	// are answered from a fallback pool or a farther nearest pool.
	Fallback []string `json:"fallback"`
	// Decisions counts the answers of every dynamic record since the node
	// started, by outcome (pool, fallback, nearest, failopen, norule).
	Decisions map[string]uint64 `json:"decisions"`
	// Degraded is the sum of the fallback, nearest and failopen answers.
	Degraded uint64 `json:"degraded"`
}

// outcomes are the keys of Serving.Decisions, always present.
var outcomes = []string{"pool", "fallback", "nearest", "failopen", "norule"}

// serving sums up recs.
func serving(recs []Record) Serving {
	sv := Serving{FailOpen: []string{}, Fallback: []string{}, Decisions: map[string]uint64{}}
	for _, o := range outcomes {
		sv.Decisions[o] = 0
	}
	for _, r := range recs {
		switch r.Outcome {
		case OutcomeFailOpen:
			sv.FailOpen = append(sv.FailOpen, r.Name+" "+r.Type)
		case OutcomeFallback, OutcomeNearest:
			sv.Fallback = append(sv.Fallback, r.Name+" "+r.Type)
		}
		for o, n := range r.Decisions {
			sv.Decisions[o] += n
		}
	}
	sv.Degraded = sv.Decisions["fallback"] + sv.Decisions["nearest"] + sv.Decisions["failopen"]
	return sv
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
		if recs[i].Decisions == nil {
			recs[i].Decisions = map[string]uint64{}
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
		Auth: auth, Serving: serving(recs), Now: s.now().UTC()})
}
