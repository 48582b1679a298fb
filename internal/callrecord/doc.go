// Package callrecord is the one record of a decided call, from the proxy
// or SDK middleware that decided it to the server that writes it to the
// audit ledger: the [Record] type, its limits and validation
// ([Record.Validate]), the clipping a proxy applies so that its record
// passes ([Record.Clipped], [ClipText]), the batch format on both wires
// ([DecodeBatch], [DecodeRecords]) with the agent's numbering of its
// batches ([BatchHeader], [BatchID]), the server's acceptance rule
// ([Accept]), and the mapping to ledger events ([Record.Event],
// [RefusedEvent]).
//
// A record travels three legs in the same JSON: proxy → agent on the
// data-plane socket (package dataplane), agent → server on the agent API
// (package agentproto), and into the server's ledger as an
// audit.TypeCallDecided event. The JSON is a compatibility contract
// between versions: fields may be added, never renamed.
//
// The package must stay light: it imports the standard library, go-spiffe's
// spiffeid and package audit only, so that proxies and the SDK middleware
// link it (deps_test.go pins it). It performs no I/O and holds no state;
// transporting, buffering and storing records is the proxy's, the agent's
// and the server's.
package callrecord
