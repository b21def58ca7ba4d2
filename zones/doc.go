// Package zones turns zone files into immutable, compiled snapshots and
// answers name lookups from them.
//
// A Set is every zone a node serves. It is built whole by a Loader, never
// modified afterwards, and published through an atomic pointer, so queries
// read it without locks. Lookup returns a typed Result (Success, NoData,
// NameError, Delegation, Refused); only the server maps it to rcodes and
// header bits.
package zones
