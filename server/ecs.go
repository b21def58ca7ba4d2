package server

import (
	"errors"

	"github.com/meridiandns/meridian/zones"
	"github.com/miekg/dns"
)

var errBadECS = errors.New("malformed client subnet option")

// clientSubnet returns the query's ECS option (RFC 7871), nil when it has
// none, and an error when it is malformed: unknown family, a source prefix
// longer than the family's addresses, or address bits set beyond it. An
// address in the wrong number of octets does not show once unpacked; see
// ecswire.go.
func clientSubnet(opt *dns.OPT) (*dns.EDNS0_SUBNET, error) {
	var ecs *dns.EDNS0_SUBNET
	for _, o := range opt.Option {
		e, ok := o.(*dns.EDNS0_SUBNET)
		if !ok {
			continue
		}
		if ecs != nil {
			return nil, errBadECS // RFC 7871 6: at most one
		}
		ecs = e
	}
	if ecs == nil {
		return nil, nil
	}
	var bits int
	switch ecs.Family {
	case 0:
		if ecs.SourceNetmask == 0 {
			return ecs, nil // "no subnet, please" (dig +subnet=0)
		}
		return nil, errBadECS
	case 1:
		bits = 32
		if ip4 := ecs.Address.To4(); ip4 != nil {
			ecs.Address = ip4
		}
	case 2:
		bits = 128
	default:
		return nil, errBadECS
	}
	if int(ecs.SourceNetmask) > bits || len(ecs.Address)*8 != bits {
		return nil, errBadECS
	}
	for i, b := range ecs.Address {
		keep := int(ecs.SourceNetmask) - i*8
		switch {
		case keep >= 8:
			continue
		case keep <= 0:
			if b != 0 {
				return nil, errBadECS
			}
		default:
			if b&(0xFF>>keep) != 0 {
				return nil, errBadECS
			}
		}
	}
	return ecs, nil
}

// echoSubnet adds ECS to the reply OPT: family, source prefix and address
// as asked, with the scope the answer depends on (0 for answers that are
// the same for every client).
func echoSubnet(ropt *dns.OPT, q *dns.EDNS0_SUBNET, res zones.Result) {
	ropt.Option = append(ropt.Option, &dns.EDNS0_SUBNET{
		Code:          dns.EDNS0SUBNET,
		Family:        q.Family,
		SourceNetmask: q.SourceNetmask,
		SourceScope:   ecsScope(&res, q.SourceNetmask),
		Address:       q.Address,
	})
}

// ecsScope is the scope prefix to echo for the answer res to a query whose
// ECS source prefix is source: the answer's scope when it was chosen by
// client location, else 0, for an answer that is the same for every client
// or a query that asked for no subnet. Both paths take it from here.
func ecsScope(res *zones.Result, source uint8) uint8 {
	if res.Dynamic && source > 0 {
		return uint8(res.Scope)
	}
	return 0
}
