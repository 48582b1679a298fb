package trust

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
	"strconv"
)

// The engine keeps no strings per caller but the caller's identity:
// routes, targets, networks and credentials are kept as seeded 64-bit
// hashes (or 32-bit fingerprints of them). The hash is this package's
// own so that it is stable across processes, which snapshots need; the
// seed keeps it unpredictable to callers.

const (
	mulA = 0x9E3779B97F4A7C15
	mulB = 0xC2B2AE3D27D4EB4F
)

// hashString returns the hash of s under seed h (chain hashes by passing
// one as the seed of the next).
func hashString(h uint64, s string) uint64 {
	h ^= uint64(len(s)) * mulB
	for len(s) >= 8 {
		v := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = bits.RotateLeft64((h^v)*mulA, 29)
		s = s[8:]
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		v |= uint64(s[i]) << (8 * i)
	}
	h = bits.RotateLeft64((h^v^0xFF)*mulA, 29)
	return finalize(h)
}

// hashUint returns the hash of v under seed h.
func hashUint(h, v uint64) uint64 { return finalize(bits.RotateLeft64((h^v)*mulA, 29)) }

// finalize is splitmix64's avalanche.
func finalize(h uint64) uint64 {
	h ^= h >> 30
	h *= 0xBF58476D1CE4E5B9
	h ^= h >> 27
	h *= 0x94D049BB133111EB
	h ^= h >> 31
	return h
}

// fp returns a non-zero 32-bit fingerprint of h (zero marks an empty
// slot in the engine's tables).
func fp(h uint64) uint32 {
	if f := uint32(h >> 32); f != 0 {
		return f
	}
	return 1
}

// idSegment is what a path segment that looks like an identifier hashes
// as, so that /v1/invoices/42 and /v1/invoices/{id} are one route.
const idSegment = "{id}"

// routeHash returns the hash of a call's route: the target, the method and
// the route template, or the path with its identifier-like segments (see
// idLike) replaced by {id} and its query left out.
func routeHash(seed uint64, c *Call) uint64 {
	h := hashString(seed, c.Target)
	h = hashString(h, c.Method)
	p := c.Route
	if p == "" {
		p = c.Path
	}
	for i := 0; i < len(p); {
		if p[i] == '?' || p[i] == '#' {
			break
		}
		j := i
		for j < len(p) && p[j] != '/' && p[j] != '?' && p[j] != '#' {
			j++
		}
		seg := p[i:j]
		if idLike(seg) {
			seg = idSegment
		}
		h = hashString(h, seg)
		if j < len(p) && p[j] == '/' {
			j++
		}
		i = j
	}
	return h
}

// normalizePath returns p as routeHash sees it, for evidence: query left
// out, identifier-like segments replaced by {id}. It allocates; it runs
// only when a signal is raised.
func normalizePath(p string) string {
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); {
		if p[i] == '?' || p[i] == '#' {
			break
		}
		j := i
		for j < len(p) && p[j] != '/' && p[j] != '?' && p[j] != '#' {
			j++
		}
		if seg := p[i:j]; idLike(seg) {
			out = append(out, idSegment...)
		} else {
			out = append(out, seg...)
		}
		if j < len(p) && p[j] == '/' {
			out = append(out, '/')
			j++
		}
		i = j
	}
	return string(out)
}

// idLike reports whether a path segment looks like an identifier rather
// than a name: all digits; a UUID, hash, date or other run of hex digits
// and dashes with a digit, 8 characters or more; a token-like run of
// letters, digits, '-', '_', '=' and '.' with four digits, or with one
// and 8 characters or more ("cus_8f3k2ab", "user1234", but not "v2",
// "oauth2", "x509", "sha256" or "v2beta1"); or anything with an '@'.
func idLike(seg string) bool {
	if seg == "" {
		return false
	}
	digits, hex, token := true, true, true
	nDigits := 0
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		switch {
		case c >= '0' && c <= '9':
			nDigits++
			continue
		case c == '@':
			return true
		case c >= 'a' && c <= 'f', c >= 'A' && c <= 'F', c == '-':
			digits = false
		case c >= 'g' && c <= 'z', c >= 'G' && c <= 'Z', c == '_', c == '=', c == '.':
			digits, hex = false, false
		default:
			digits, hex, token = false, false, false
		}
	}
	switch {
	case digits:
		return true
	case hex && nDigits > 0 && len(seg) >= 8:
		return true
	case token && (nDigits >= 4 || nDigits > 0 && len(seg) >= 8):
		return true
	}
	return false
}

// A place is where a credential is used from: a network (an IPv4 /24 or
// IPv6 /64) and a host within it (the IPv4 address, or again the /64, as
// IPv6 hosts change addresses within their /64), or, when the source
// address is unknown, the reporting node. Places are 64-bit keys; their
// top byte says which kind.
const (
	placeNone = 0
	placeV4   = 4
	placeV6   = 6
	placeNode = 9
)

// placeOf returns the network and host keys of c's source, or of its node
// when the source is unknown; both zero when neither is known.
func placeOf(seed uint64, c *Call) (network, host uint64) {
	if c.Source.IsValid() {
		a := c.Source.Unmap()
		if a.Is4() {
			b := a.As4()
			network = placeV4<<56 | uint64(b[0])<<24 | uint64(b[1])<<16 | uint64(b[2])<<8
			return network, network | uint64(b[3])
		}
		b := a.As16()
		// The /64, hashed into the low 55 bits (the key keeps its kind,
		// and bit 55 whether the network is private).
		network = placeV6<<56 | hashUint(seed, binary.BigEndian.Uint64(b[:8]))>>9
		if a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast() {
			network |= 1 << 55
		}
		return network, network
	}
	if c.Node != "" {
		network = placeNode<<56 | hashString(seed^0x6e6f6465, c.Node)>>8
		return network, network
	}
	return 0, 0
}

// placeKind returns the kind of a place key.
func placeKind(k uint64) uint64 { return k >> 56 }

// networkString returns the network of c's source as text ("10.1.2.0/24",
// "2001:db8::/64"), or its node; for evidence.
func networkString(c *Call) string {
	if c.Source.IsValid() {
		a := c.Source.Unmap()
		bitsLen := 64
		if a.Is4() {
			bitsLen = 24
		}
		p, _ := a.Prefix(bitsLen)
		return p.String()
	}
	return "node " + c.Node
}

// knownNetworkString returns a place key as text: the IPv4 /24 it
// encodes, or a note for places kept only as hashes.
func knownNetworkString(k uint64) string {
	switch placeKind(k) {
	case placeV4:
		a := netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), 0})
		return netip.PrefixFrom(a, 24).String()
	case placeV6:
		return "an IPv6 /64 (#" + strconv.FormatUint(k&0xFFFF, 16) + ")"
	case placeNode:
		return "a node (#" + strconv.FormatUint(k&0xFFFF, 16) + ")"
	}
	return "none"
}

// private reports whether a place key is a private (RFC 1918, ULA) or
// loopback network; node places count as private.
func private(k uint64) bool {
	switch placeKind(k) {
	case placeV4:
		a := netip.AddrFrom4([4]byte{byte(k >> 24), byte(k >> 16), byte(k >> 8), 1})
		return a.IsPrivate() || a.IsLoopback() || a.IsLinkLocalUnicast()
	case placeV6:
		return k&(1<<55) != 0
	case placeNode:
		return true
	}
	return false
}
