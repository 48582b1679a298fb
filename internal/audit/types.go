package audit

// Event types: the Type of every event Kith writes. A type is a dotted
// name, noun first ("entry.created"); its meaning does not change once
// released, so that old entries of the log keep their sense. Each
// constant's comment says what happened and which part writes it; the
// same text is in [Types].
const (
	// TypeAdminCredentialCreated: the server created an admin credential
	// (the bootstrap admin token at first start). Written by the server.
	TypeAdminCredentialCreated = "admin.credential.created"
	// TypeAdminAuthFailed: requests to the admin API failed to
	// authenticate. The first failure of a source in a window is one
	// event; its repeats in the window are one more, whose "count" detail
	// says how many requests it stands for ("rate_limited" of them were
	// answered 429). Written by the server.
	TypeAdminAuthFailed = "admin.auth.failed"

	// TypeAgentJoinTokenCreated: a one-time join token for a node agent
	// was created. Written by nodes.
	TypeAgentJoinTokenCreated = "agent.join_token.created"
	// TypeAgentAttested: a node agent attested with a join token, or was
	// refused. Written by nodes.
	TypeAgentAttested = "agent.attested"
	// TypeAgentAuthenticated: an agent's request over mutual TLS was
	// refused (evicted, revoked or unknown agent); successes are not
	// recorded. Written by nodes.
	TypeAgentAuthenticated = "agent.authenticated"
	// TypeAgentRenewed: an agent renewed its own X509-SVID. Written by
	// nodes.
	TypeAgentRenewed = "agent.renewed"
	// TypeAgentEvicted: an agent was evicted; its SVIDs are revoked and
	// its sync stream ended. Written by nodes.
	TypeAgentEvicted = "agent.evicted"

	// TypeEntryCreated: a workload entry was registered (or the attempt
	// failed). Written by registry.
	TypeEntryCreated = "entry.created"
	// TypeEntryUpdated: a workload entry was changed (or the attempt
	// failed). Written by registry.
	TypeEntryUpdated = "entry.updated"
	// TypeEntryDeleted: a workload entry was deleted (detail
	// deleted_clients: the OAuth clients deleted with it, each also an
	// oauth.client.deleted event), or the deletion was refused because
	// clients act for it. Written by registry.
	TypeEntryDeleted = "entry.deleted"
	// TypeEntryRevoked: every credential of an entry issued so far was
	// revoked. Written by nodes.
	TypeEntryRevoked = "entry.revoked"
	// TypeEntryQuarantined: an entry was quarantined: its credentials are
	// revoked and no new SVID is issued until it is released. Written by
	// nodes.
	TypeEntryQuarantined = "entry.quarantined"
	// TypeEntryReleased: a quarantined entry was released. Written by
	// nodes.
	TypeEntryReleased = "entry.released"

	// TypeSVIDX509Minted: an X509-SVID was issued (to an agent for a
	// workload, or by `kith svid mint`), or its issuance refused. Written
	// by nodes and the server.
	TypeSVIDX509Minted = "svid.x509.minted"
	// TypeSVIDJWTMinted: a JWT-SVID was issued, or its issuance refused.
	// Written by nodes and the server.
	TypeSVIDJWTMinted = "svid.jwt.minted"

	// TypeCAKeyPrepared: a new CA key was prepared and published in the
	// trust bundle ahead of use. Written by ca.
	TypeCAKeyPrepared = "ca.key.prepared"
	// TypeCAKeyActivated: a prepared CA key became the one that signs.
	// Written by ca.
	TypeCAKeyActivated = "ca.key.activated"
	// TypeCAKeyRetired: a CA key was retired (it expired, or no longer
	// fits the configuration). Written by ca.
	TypeCAKeyRetired = "ca.key.retired"

	// TypeOAuthKeyPrepared: a token-signing key was prepared and
	// published in the JWKS ahead of use. Written by oauth.
	TypeOAuthKeyPrepared = "oauth.key.prepared"
	// TypeOAuthKeyActivated: a prepared token-signing key began to sign.
	// Written by oauth.
	TypeOAuthKeyActivated = "oauth.key.activated"
	// TypeOAuthKeyRetired: a token-signing key stopped signing; it stays
	// in the JWKS until the tokens it signed have expired. Written by
	// oauth.
	TypeOAuthKeyRetired = "oauth.key.retired"
	// TypeOAuthKeyDropped: a retired token-signing key left the JWKS.
	// Written by oauth.
	TypeOAuthKeyDropped = "oauth.key.dropped"
	// TypeOAuthNonceKeyCreated: the key that makes DPoP nonces (shared by
	// the replicas) was created. Written by oauth.
	TypeOAuthNonceKeyCreated = "oauth.key.nonce_key_created"
	// TypeOAuthClientCreated: an OAuth client was registered (or the
	// attempt failed). Written by oauth.
	TypeOAuthClientCreated = "oauth.client.created"
	// TypeOAuthClientDeleted: an OAuth client was deleted. Written by
	// oauth.
	TypeOAuthClientDeleted = "oauth.client.deleted"
	// TypeOAuthClientTokensRevoked: every token of a client issued so far
	// was revoked. Written by oauth.
	TypeOAuthClientTokensRevoked = "oauth.client.tokens_revoked"
	// TypeOAuthClientSecretRotated: a client's secret was rotated.
	// Written by oauth.
	TypeOAuthClientSecretRotated = "oauth.client.secret_rotated"
	// TypeOAuthClientKeyAdded: a public key was registered for a client's
	// private_key_jwt authentication. Written by oauth.
	TypeOAuthClientKeyAdded = "oauth.client.key_added"
	// TypeOAuthClientKeyRemoved: a client's registered public key was
	// removed. Written by oauth.
	TypeOAuthClientKeyRemoved = "oauth.client.key_removed"
	// TypeOAuthClientSecretLeaked: a client's secret was reported found
	// outside Kith (by kith scan, through the admin API's secret check).
	// Target: the client; details: entry_id, spiffe_id, secret_id,
	// location ("path:line" where it was found), commit (when found in
	// git history), places (how many places it was found in), live
	// (whether it still authenticated the client) and revoked (whether
	// the report revoked it: the secret removed from the client and the
	// client's tokens revoked). A check of a secret no client holds is
	// recorded with outcome failure and no target. The secret itself is
	// never recorded. Governance turns the successes into findings; the
	// trust engine lowers the entry's trust. Written by oauth.
	TypeOAuthClientSecretLeaked = "oauth.client.secret_leaked"
	// TypeOAuthTokenIssued: the token endpoint issued access tokens
	// (client credentials or token exchange). Written by oauth.
	TypeOAuthTokenIssued = "oauth.token.issued"
	// TypeOAuthTokenRefused: the token endpoint refused requests (failed
	// client authentication, invalid grant, ...); refusals are coalesced
	// per client, source and reason, with a count. Written by oauth.
	TypeOAuthTokenRefused = "oauth.token.refused"
	// TypeOAuthTokenRevoked: a token was revoked at the revocation
	// endpoint (RFC 7009). Written by oauth.
	TypeOAuthTokenRevoked = "oauth.token.revoked"
	// TypeOAuthIntrospectionRefused: the introspection endpoint refused
	// requests (failed authentication); coalesced as refusals are.
	// Written by oauth.
	TypeOAuthIntrospectionRefused = "oauth.introspection.refused"

	// TypeFederationAdded: a federated trust domain was added with its
	// first bundle. Written by federation.
	TypeFederationAdded = "federation.added"
	// TypeFederationRemoved: a federated trust domain was removed.
	// Written by federation.
	TypeFederationRemoved = "federation.removed"
	// TypeFederationBundleRefreshed: a federated trust domain's bundle
	// changed at a refresh. Written by federation.
	TypeFederationBundleRefreshed = "federation.bundle.refreshed"
	// TypeFederationRefreshFailed: a federated bundle could not be
	// fetched or was refused; the last good bundle is kept. Written by
	// federation.
	TypeFederationRefreshFailed = "federation.refresh.failed"

	// TypePolicyApplied: a policy set revision was applied. Written by
	// policyset.
	TypePolicyApplied = "policy.applied"
	// TypePolicyDeleted: a policy was deleted, making a new revision.
	// Written by policyset.
	TypePolicyDeleted = "policy.deleted"
	// TypePolicyDecision: one policy decision as a decision record
	// (policyset.DecisionEvent: caller, target, rule, trust, request
	// line). No running part writes it yet; calls decided by proxies and
	// the middleware are TypeCallDecided.
	TypePolicyDecision = "policy.decision"

	// TypeCallDecided: a call a proxy or the SDK middleware verified and
	// decided, uploaded by the node's agent. Written by the server from
	// call records.
	TypeCallDecided = "call.decided"
	// TypeTelemetryRefused: call records an agent uploaded were left out
	// as invalid. Written by the server.
	TypeTelemetryRefused = "telemetry.refused"

	// TypeTrustSignal: the behavioural-trust engine found evidence about
	// a caller (a rate spike, a new network, ...); the details carry the
	// kind, severity and evidence. Written by the server from package
	// trust.
	TypeTrustSignal = "trust.signal"
	// TypeTrustLevelChanged: a caller's trust level changed (a signal, a
	// context input, recovery, or an admin clearing it); the reason lists
	// what weighs on the score. Written by the server from package trust.
	TypeTrustLevelChanged = "trust.level_changed"
	// TypeTrustCleared: an admin restored a caller's trust at once
	// (`kith trust clear`); every replica's trust engine applies it when
	// it reads the event. Written by the server's admin API.
	TypeTrustCleared = "trust.cleared"
	// TypeTrustContextAdded: a context input about a caller (a
	// vulnerability, a leak, a partner's event) was added or replaced,
	// with its reason, weight and expiry in the details; every replica's
	// trust engine applies it when it reads the event. Written by the
	// server's admin API.
	TypeTrustContextAdded = "trust.context_added"
	// TypeTrustContextRemoved: a context input about a caller was
	// removed. Written by the server's admin API.
	TypeTrustContextRemoved = "trust.context_removed"

	// TypeRemediationActed: the remediation ladder took a step for a
	// caller whose trust fell: a server-side action (quarantine,
	// revoke_credentials, require_rotation; outcome failure if it
	// failed) or a data-plane rung reached (observe, step_up, restrict,
	// rate_limit, which policy enforces on trust.level). Details: the
	// ladder, the step, the evidence, the instances acted on. Written by
	// the server from package remediation.
	TypeRemediationActed = "remediation.acted"
	// TypeRemediationDryRun: a dry-run ladder would have taken a step;
	// nothing was done. Written by the server from package remediation.
	TypeRemediationDryRun = "remediation.dry_run"
	// TypeRemediationSkipped: a guard rail held a step back (detail
	// guard: allow_list, evidence, cooldown, share, no_instances); one
	// event per step and guard while the caller's trust stays low.
	// Written by the server from package remediation.
	TypeRemediationSkipped = "remediation.skipped"
	// TypeRemediationNotifyFailed: notifications of remediation for
	// people could not be delivered to the webhook (refused or failing
	// after every retry, or dropped from a full queue; detail count).
	// Written by the server from package remediation.
	TypeRemediationNotifyFailed = "remediation.notify_failed"
)

// TypeInfo describes one event type.
type TypeInfo struct {
	// Type is the event type, such as "entry.created".
	Type string
	// Meaning says what happened.
	Meaning string
	// Writer names the part of Kith that writes it.
	Writer string
}

// Types lists every event type Kith writes, in the order of the
// constants, for `kith audit query --type` and the documentation. The
// list is a copy: changing it changes nothing.
func Types() []TypeInfo {
	return []TypeInfo{
		{TypeAdminCredentialCreated, "an admin credential was created (the bootstrap token at first start)", "server"},
		{TypeAdminAuthFailed, "requests to the admin API failed to authenticate", "server"},
		{TypeAgentJoinTokenCreated, "a one-time join token for a node agent was created", "nodes"},
		{TypeAgentAttested, "a node agent attested with a join token, or was refused", "nodes"},
		{TypeAgentAuthenticated, "an agent's mutual-TLS request was refused", "nodes"},
		{TypeAgentRenewed, "an agent renewed its own X509-SVID", "nodes"},
		{TypeAgentEvicted, "an agent was evicted and its SVIDs revoked", "nodes"},
		{TypeEntryCreated, "a workload entry was registered, or the attempt failed", "registry"},
		{TypeEntryUpdated, "a workload entry was changed, or the attempt failed", "registry"},
		{TypeEntryDeleted, "a workload entry was deleted (with its OAuth clients: deleted_clients), or refused while clients act for it", "registry"},
		{TypeEntryRevoked, "every credential of an entry issued so far was revoked", "nodes"},
		{TypeEntryQuarantined, "an entry was quarantined: credentials revoked, no new SVIDs", "nodes"},
		{TypeEntryReleased, "a quarantined entry was released", "nodes"},
		{TypeSVIDX509Minted, "an X509-SVID was issued, or its issuance refused", "nodes, server"},
		{TypeSVIDJWTMinted, "a JWT-SVID was issued, or its issuance refused", "nodes, server"},
		{TypeCAKeyPrepared, "a new CA key was prepared and published ahead of use", "ca"},
		{TypeCAKeyActivated, "a prepared CA key began to sign", "ca"},
		{TypeCAKeyRetired, "a CA key was retired (expired, or no longer fits the configuration)", "ca"},
		{TypeOAuthKeyPrepared, "a token-signing key was prepared and published ahead of use", "oauth"},
		{TypeOAuthKeyActivated, "a prepared token-signing key began to sign", "oauth"},
		{TypeOAuthKeyRetired, "a token-signing key stopped signing (still published until its tokens expire)", "oauth"},
		{TypeOAuthKeyDropped, "a retired token-signing key left the JWKS", "oauth"},
		{TypeOAuthNonceKeyCreated, "the key that makes DPoP nonces was created", "oauth"},
		{TypeOAuthClientCreated, "an OAuth client was registered, or the attempt failed", "oauth"},
		{TypeOAuthClientDeleted, "an OAuth client was deleted", "oauth"},
		{TypeOAuthClientTokensRevoked, "every token of a client issued so far was revoked", "oauth"},
		{TypeOAuthClientSecretRotated, "a client's secret was rotated", "oauth"},
		{TypeOAuthClientKeyAdded, "a public key was registered for a client's private_key_jwt", "oauth"},
		{TypeOAuthClientKeyRemoved, "a client's registered public key was removed", "oauth"},
		{TypeOAuthClientSecretLeaked, "a client's secret was reported found outside Kith (where, whether live, whether revoked), or a reported secret matched no client", "oauth"},
		{TypeOAuthTokenIssued, "the token endpoint issued access tokens", "oauth"},
		{TypeOAuthTokenRefused, "the token endpoint refused requests (coalesced, with a count)", "oauth"},
		{TypeOAuthTokenRevoked, "a token was revoked at the revocation endpoint", "oauth"},
		{TypeOAuthIntrospectionRefused, "the introspection endpoint refused requests (coalesced)", "oauth"},
		{TypeFederationAdded, "a federated trust domain was added", "federation"},
		{TypeFederationRemoved, "a federated trust domain was removed", "federation"},
		{TypeFederationBundleRefreshed, "a federated bundle changed at a refresh", "federation"},
		{TypeFederationRefreshFailed, "a federated bundle could not be fetched or was refused", "federation"},
		{TypePolicyApplied, "a policy set revision was applied", "policyset"},
		{TypePolicyDeleted, "a policy was deleted, making a new revision", "policyset"},
		{TypePolicyDecision, "one policy decision as a decision record (not written by a running part yet)", "policyset"},
		{TypeCallDecided, "a proxy or the SDK middleware decided a call", "server, from call records"},
		{TypeTelemetryRefused, "call records an agent uploaded were left out as invalid", "server"},
		{TypeTrustSignal, "the trust engine found evidence about a caller's behaviour", "server, from the trust engine"},
		{TypeTrustLevelChanged, "a caller's trust level changed, with the reasons", "server, from the trust engine"},
		{TypeTrustCleared, "an admin restored a caller's trust", "server (admin API)"},
		{TypeTrustContextAdded, "a context input about a caller was added, with its reason, weight and expiry", "server (admin API)"},
		{TypeTrustContextRemoved, "a context input about a caller was removed", "server (admin API)"},
		{TypeRemediationActed, "the remediation ladder acted on a caller (or a data-plane rung was reached), or its action failed", "server, from remediation"},
		{TypeRemediationDryRun, "a dry-run remediation ladder would have acted on a caller", "server, from remediation"},
		{TypeRemediationSkipped, "a guard rail held back a remediation step (allow-list, evidence, cooldown, share, no instances)", "server, from remediation"},
		{TypeRemediationNotifyFailed, "remediation notifications could not be delivered to the webhook", "server, from remediation"},
	}
}

// KnownType reports whether typ is one of [Types].
func KnownType(typ string) bool {
	for _, t := range Types() {
		if t.Type == typ {
			return true
		}
	}
	return false
}
