package healthmesh

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Messages on the mesh are one type byte and a body: vector and list
// pages (vector.go) are binary, drains JSON. Push/pull states are items
// of these (loop.go).
const msgDrain byte = 'd'

var errBadMessage = errors.New("healthmesh: malformed message")

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
		if json.Unmarshal(b[1:], d) != nil || d.wellFormed() != nil {
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
