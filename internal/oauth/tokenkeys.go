package oauth

// TokenKeys returns the public JWKS of every published signing key,
// exactly as GET /oauth2/jwks serves it, and the version of the key
// journal it was built from: the version changes whenever the key set
// may have changed (a rotation step here or at another replica), so that
// a poller compares one integer. It reads memory only and never fails.
// The slice must not be modified.
func (s *Service) TokenKeys() (jwks []byte, version int64) {
	snap := s.keys.cur.Load()
	return snap.jwks, snap.version
}
