package healthmesh

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// Messages on the mesh are one type byte and a JSON body. JSON keeps them
// debuggable; they are small (observations are sent on change and in
// periodic refreshes, chunked to fit a gossip packet).
const (
	msgObservations byte = 'o'
	msgDrain        byte = 'd'
)

// wireObs is one observation on the wire. Ages are milliseconds before the
// sender sent it, so no clocks are compared across nodes.
type wireObs struct {
	Endpoint string `json:"e"`
	Up       bool   `json:"u"`
	Since    int64  `json:"s"` // unix ms, for people only
	Seq      uint64 `json:"q"`
	AgeMS    int64  `json:"a"`
}

// wireBatch is a set of one observer's observations.
type wireBatch struct {
	Observer string    `json:"n"`
	Region   string    `json:"r"`
	Items    []wireObs `json:"i"`
}

// wireState is the full state exchanged on push/pull: everyone's fresh
// observations and every drain (tombstones included).
type wireState struct {
	Batches []wireBatch `json:"b"`
	Drains  []Drain     `json:"d"`
}

var errBadMessage = errors.New("healthmesh: malformed message")

// maxAgeMS is the greatest age an observation can carry: an older one
// would not fit a time.Duration.
const maxAgeMS = math.MaxInt64 / int64(time.Millisecond)

// valid reports whether b is a batch a node could have sent: from a named
// observer, about named endpoints, with ages that are not negative (an
// observation from the future would stay fresh for as long as it says).
func (b *wireBatch) valid() bool {
	if b.Observer == "" {
		return false
	}
	for _, it := range b.Items {
		if it.Endpoint == "" || it.AgeMS < 0 || it.AgeMS > maxAgeMS {
			return false
		}
	}
	return true
}

// valid reports whether s holds only valid batches and well-formed
// drains.
func (s *wireState) valid() bool {
	for i := range s.Batches {
		if !s.Batches[i].valid() {
			return false
		}
	}
	for i := range s.Drains {
		if s.Drains[i].wellFormed() != nil {
			return false
		}
	}
	return true
}

// encode is a message of kind with body v. HTML characters are not
// escaped: a reason with < or & keeps its size. An error (a time that
// does not marshal) means there is nothing to send.
func encode(kind byte, v any) ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteByte(kind)
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("mesh: encoding a %q message: %w", kind, err)
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// decodeMsg parses a mesh message into a batch or a drain.
func decodeMsg(b []byte) (kind byte, batch *wireBatch, drain *Drain, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errBadMessage
	}
	switch b[0] {
	case msgObservations:
		batch = new(wireBatch)
		if err := json.Unmarshal(b[1:], batch); err != nil || !batch.valid() {
			return 0, nil, nil, errBadMessage
		}
		return b[0], batch, nil, nil
	case msgDrain:
		drain = new(Drain)
		if err := json.Unmarshal(b[1:], drain); err != nil || drain.wellFormed() != nil {
			return 0, nil, nil, errBadMessage
		}
		return b[0], nil, drain, nil
	}
	return 0, nil, nil, errBadMessage
}

// chunk splits items into batches whose encoding stays under max bytes.
// An encoding error returns no batch at all.
func chunk(observer, region string, items []wireObs, max int) ([][]byte, error) {
	var out [][]byte
	cur := wireBatch{Observer: observer, Region: region}
	size := 64 + len(observer) + len(region)
	flush := func() error {
		msg, err := encode(msgObservations, cur)
		out = append(out, msg)
		return err
	}
	for _, it := range items {
		b, err := json.Marshal(it)
		if err != nil {
			return nil, fmt.Errorf("mesh: encoding an observation: %w", err)
		}
		if len(cur.Items) > 0 && size+len(b)+1 > max {
			if err := flush(); err != nil {
				return nil, err
			}
			cur.Items, size = nil, 64+len(observer)+len(region)
		}
		cur.Items = append(cur.Items, it)
		size += len(b) + 1
	}
	if len(cur.Items) > 0 {
		if err := flush(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func ms(d time.Duration) int64 { return d.Milliseconds() }
