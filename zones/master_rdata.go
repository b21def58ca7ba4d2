package zones

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/miekg/dns"
)

// rdataProblem says what is wrong with the data of rr, "" when nothing.
// The parser accepts a record with no data at all ("www IN CNAME", the
// way dynamic updates write deletions) and, in the \# form, one whose
// domain name is cut off; both pack without error into answers that
// resolvers reject as malformed. buf is scratch space of dns.MaxMsgSize.
func rdataProblem(rr dns.RR, buf []byte) string {
	h := rr.Header()
	typ := dns.Type(h.Rrtype).String()
	if noData(rr) {
		return typ + " record has no data"
	}
	if field := emptyName(rr); field != "" {
		return fmt.Sprintf("%s record has an empty domain name (%s)", typ, field)
	}
	saved := *h
	_, err := dns.PackRR(rr, buf, 0, nil, false)
	*h = saved // PackRR sets the data length; keep the record as parsed
	if err != nil {
		return fmt.Sprintf("%s record cannot be sent: %v", typ, err)
	}
	return ""
}

// noData reports whether rr holds nothing but its header: every field of
// its data is the zero value. Records of unknown types, and APL, whose
// data may be empty, are never reported.
func noData(rr dns.RR) bool {
	// The common types first, without making an empty one to compare.
	switch rr := rr.(type) {
	case *dns.A:
		return len(rr.A) == 0
	case *dns.AAAA:
		return len(rr.AAAA) == 0
	case *dns.TXT:
		return len(rr.Txt) == 0
	case *dns.RFC3597, *dns.APL:
		return false
	}
	mk := dns.TypeToRR[rr.Header().Rrtype]
	if mk == nil {
		return false
	}
	empty := mk()
	*empty.Header() = *rr.Header()
	return dns.IsDuplicate(empty, rr)
}

// nameFields caches, by RR type, the indexes of the fields that hold a
// single domain name.
var nameFields sync.Map // reflect.Type → []int

// emptyName returns the name of the first domain-name field of rr that is
// empty, "" when none is. Fields are found by the tags the dns package
// packs them by, so every type is covered, present and future.
func emptyName(rr dns.RR) string {
	v := reflect.ValueOf(rr)
	if v.Kind() != reflect.Pointer || v.Elem().Kind() != reflect.Struct {
		return ""
	}
	v = v.Elem()
	for _, i := range domainNameFields(v.Type()) {
		if v.Field(i).String() == "" {
			return v.Type().Field(i).Name
		}
	}
	return ""
}

func domainNameFields(t reflect.Type) []int {
	if idx, ok := nameFields.Load(t); ok {
		return idx.([]int)
	}
	var idx []int
	for i := range t.NumField() {
		f := t.Field(i)
		if tag := f.Tag.Get("dns"); (tag == "domain-name" || tag == "cdomain-name") && f.Type.Kind() == reflect.String {
			idx = append(idx, i)
		}
	}
	nameFields.Store(t, idx)
	return idx
}
