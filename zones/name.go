package zones

// lower returns s with ASCII letters lower-cased, without allocating when
// it has none. DNS names from the wire are ASCII (other bytes are escaped),
// and case folding must not change their length.
func lower(s string) string {
	i := 0
	for i < len(s) && !(s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
