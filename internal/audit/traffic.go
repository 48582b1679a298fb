package audit

// IsTraffic reports whether an event of type typ by an actor of kind
// actorKind records traffic rather than a change: a decided call, an
// access token issued, an SVID an agent or a workload obtained (an
// administrator's mint is a change), an agent renewing its own SVID.
// Traffic comes at the rate of calls and renewals and drowns the changes
// a person looks for; `kith audit tail` leaves it out unless asked.
func IsTraffic(typ, actorKind string) bool {
	switch typ {
	case TypeCallDecided, TypeOAuthTokenIssued, TypeAgentRenewed:
		return true
	case TypeSVIDX509Minted, TypeSVIDJWTMinted:
		return actorKind != "admin"
	}
	return false
}
