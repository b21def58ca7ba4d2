package healthmesh

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Messages on the mesh are one type byte and a body: vector and list
// pages (vector.go) are binary, drains JSON. Push/pull states are items
// of these (loop.go).
const msgDrain byte = 'd'

var errBadMessage = errors.New("healthmesh: malformed message")

// encode writes a drain message; a value JSON cannot encode is an error,
// never an empty message.
func encode(kind byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("healthmesh: encode: %w", err)
	}
	return append([]byte{kind}, b...), nil
}

// decodeMsg parses a mesh message.
func decodeMsg(b []byte) (kind byte, v *vectorPage, l *listPage, d *Drain, err error) {
	if len(b) < 2 {
		return 0, nil, nil, nil, errBadMessage
	}
	switch b[0] {
	case msgVector:
		v, err = decodeVector(b)
	case msgList:
		l, err = decodeList(b)
	case msgDrain:
		d = new(Drain)
		if json.Unmarshal(b[1:], d) != nil || d.Target == "" {
			err = errBadMessage
		}
	default:
		err = errBadMessage
	}
	if err != nil {
		return 0, nil, nil, nil, errBadMessage
	}
	return b[0], v, l, d, nil
}
