package simulate

import (
	"strconv"
	"time"
)

// event is one call as the generator holds it until it is written: small,
// pointer-free, with the strings derived from the world when written.
type event struct {
	t      int64  // unix ns
	seq    uint32 // order of creation, to break ties
	caller int32  // service index
	pod    int32  // caller instance: source, node, credential
	route  int32  // index into world.routes
	ovr    int32  // 1 + index into gen.ovr; 0: none
	status int16
	dec    decision
	id     int64 // first path parameter, or page of a list
	id2    int64 // second path parameter, or page size of a list
	req    int64
	resp   int64
	lat    int64 // latency in µs
}

// decision is the decided action recorded with a call.
type decision uint8

const (
	decAllow   decision = iota
	decDeny             // denied by policy
	decRefused          // refused before policy (an expired token)
)

var decisionText = [...]string{"allow", "deny", "refused"}

// override replaces what an attack's call does not take from its caller's
// pod or route.
type override struct {
	target     int    // -1: the route's service
	method     string // with path: a raw request, route empty
	path       string
	credential string
	credType   string
	source     uint32 // with v6: the host within the v6 form of its /24
	v6         bool
	node       string
}

// timeText caches the date part of timestamps, which changes once a day.
type timeText struct {
	day  int64
	date []byte // "2026-12-08T"
}

// appendTime appends t (unix ns, UTC) as RFC 3339 with milliseconds.
func (tt *timeText) appendTime(b []byte, t int64) []byte {
	const nsDay = 86400e9
	day := t / nsDay
	if t < 0 && t%nsDay != 0 {
		day--
	}
	if day != tt.day || tt.date == nil {
		tt.day = day
		tt.date = time.Unix(day*86400, 0).UTC().AppendFormat(tt.date[:0], "2006-01-02T")
	}
	b = append(b, tt.date...)
	ms := (t - day*nsDay) / 1e6
	h, m, s, f := ms/3600000, ms/60000%60, ms/1000%60, ms%1000
	return append(b, byte('0'+h/10), byte('0'+h%10), ':', byte('0'+m/10), byte('0'+m%10), ':',
		byte('0'+s/10), byte('0'+s%10), '.', byte('0'+f/100), byte('0'+f/10%10), byte('0'+f%10), 'Z')
}

const hexDigits = "0123456789abcdef"

// appendHex appends x as 16 lowercase hex digits.
func appendHex(b []byte, x uint64) []byte {
	for i := 60; i >= 0; i -= 4 {
		b = append(b, hexDigits[x>>uint(i)&15])
	}
	return b
}

// appendUUID appends a, b formatted as a version 4 UUID.
func appendUUID(dst []byte, a, b uint64) []byte {
	a = a&^(0xf<<12) | 4<<12
	b = b&^(3<<62) | 2<<62
	var h [32]byte
	appendHex(h[:0], a)
	appendHex(h[16:16], b)
	dst = append(dst, h[0:8]...)
	dst = append(dst, '-')
	dst = append(dst, h[8:12]...)
	dst = append(dst, '-')
	dst = append(dst, h[12:16]...)
	dst = append(dst, '-')
	dst = append(dst, h[16:20]...)
	dst = append(dst, '-')
	return append(dst, h[20:32]...)
}

// appendAddr appends the address ip: IPv4 in dotted form, or for an IPv6
// pod network the address with the same node and host numbers in
// fd00:a10::/32, a /64 per node.
func appendAddr(b []byte, ip uint32, v6 bool) []byte {
	if !v6 {
		return appendIP(b, ip)
	}
	b = append(b, "fd00:a10:"...)
	b = strconv.AppendUint(b, uint64(ip>>8&0xffff), 16)
	b = append(b, "::"...)
	return strconv.AppendUint(b, uint64(ip&255), 16)
}

// addrText formats an address for a description.
func addrText(ip uint32, v6 bool) string { return string(appendAddr(nil, ip, v6)) }

// appendIP appends the IPv4 address ip in dotted form.
func appendIP(b []byte, ip uint32) []byte {
	b = strconv.AppendUint(b, uint64(ip>>24), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(ip>>16&255), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(ip>>8&255), 10)
	b = append(b, '.')
	return strconv.AppendUint(b, uint64(ip&255), 10)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// credential appends the credential ID pod uses for a call to target at
// time t: its X509-SVID serial (a new one every hour of its life) or the
// jti of its token for target (a new one every refresh period).
func (w *world) appendCredential(b []byte, p *pod, target int, t int64) []byte {
	s := w.services[p.svc]
	if s.cred == credX509 {
		epoch := uint64((t - p.born) / 3600e9)
		x := mix64(p.seed ^ epoch*0x2545f4914f6cdd1d)
		return appendHex(appendHex(b, x), mix64(x))
	}
	salt := mix64(p.seed ^ uint64(target)<<40)
	phase := int64(salt % uint64(s.refresh))
	epoch := uint64((t - p.born + phase) / s.refresh)
	x := mix64(salt ^ epoch*0x9e3779b97f4a7c15)
	return appendUUID(b, x, mix64(x))
}

// credentialAt returns the credential ID pod uses for target at time t.
func (w *world) credentialAt(p *pod, target int, t int64) string {
	return string(w.appendCredential(nil, p, target, t))
}

// appendParam appends a path parameter of rt: a number or a UUID.
func appendParam(b []byte, rt *route, id int64, salt uint64) []byte {
	if rt.uuids {
		x := mix64(uint64(id) ^ salt)
		return appendUUID(b, x, mix64(x^salt))
	}
	return strconv.AppendInt(b, id, 10)
}

// appendPath appends the path of a call to rt with parameters id, id2.
func appendPath(b []byte, rt *route, ri int32, id, id2 int64) []byte {
	b = append(b, rt.lit[0]...)
	if rt.params >= 1 {
		b = appendParam(b, rt, id, uint64(ri))
		b = append(b, rt.lit[1]...)
	}
	if rt.params >= 2 {
		b = strconv.AppendInt(b, id2, 10)
		b = append(b, rt.lit[2]...)
	}
	if rt.kind == kindSearch {
		b = append(b, "?q="...)
		b = strconv.AppendInt(b, id%100000, 36)
		if id >= 100000 {
			b = append(b, "&page="...)
			b = strconv.AppendInt(b, id/100000+1, 10)
		}
	}
	if rt.kind == kindList {
		sep := byte('?')
		if id > 1 {
			b = append(b, "?page="...)
			b = strconv.AppendInt(b, id, 10)
			sep = '&'
		}
		if id2 > 0 {
			b = append(b, sep)
			b = append(b, "limit="...)
			b = strconv.AppendInt(b, id2, 10)
		}
	}
	return b
}

// appendEvent appends e as one line of the replay format.
func (g *gen) appendEvent(b []byte, e *event) []byte {
	w := g.w
	rt := &w.routes[e.route]
	p := &w.pods[e.pod]
	caller := w.services[e.caller]
	var o *override
	target := rt.svc
	if e.ovr > 0 {
		o = &g.ovr[e.ovr-1]
		if o.target >= 0 {
			target = o.target
		}
	}
	b = append(b, `{"ts":"`...)
	b = g.tt.appendTime(b, e.t)
	b = append(b, `","caller":"`...)
	b = append(b, caller.id...)
	b = append(b, `","credential":"`...)
	if o != nil && o.credential != "" {
		b = append(b, o.credential...)
	} else {
		b = w.appendCredential(b, p, target, e.t)
	}
	b = append(b, `","credential_type":"`...)
	if o != nil && o.credType != "" {
		b = append(b, o.credType...)
	} else {
		b = append(b, caller.cred.String()...)
	}
	b = append(b, `","target":"`...)
	b = append(b, w.services[target].id...)
	if o != nil && o.path != "" {
		b = append(b, `","method":"`...)
		b = append(b, o.method...)
		b = append(b, `","route":"","path":`...)
		b = appendJSONString(b, o.path)
	} else {
		b = append(b, `","method":"`...)
		b = append(b, rt.method...)
		b = append(b, `","route":"`...)
		b = append(b, rt.tmpl...)
		b = append(b, `","path":"`...)
		b = appendPath(b, rt, e.route, e.id, e.id2)
		b = append(b, '"')
	}
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(e.status), 10)
	b = append(b, `,"req_bytes":`...)
	b = strconv.AppendInt(b, e.req, 10)
	b = append(b, `,"resp_bytes":`...)
	b = strconv.AppendInt(b, e.resp, 10)
	b = append(b, `,"source":"`...)
	if o != nil && o.source != 0 {
		b = appendAddr(b, o.source, o.v6)
	} else {
		b = appendAddr(b, p.ip, w.nodes[p.node].v6)
	}
	b = append(b, `","node":"`...)
	if o != nil && o.node != "" {
		b = append(b, o.node...)
	} else {
		b = append(b, w.nodes[p.node].id...)
	}
	b = append(b, `","latency_ms":`...)
	b = strconv.AppendInt(b, e.lat/1000, 10)
	b = append(b, '.', byte('0'+e.lat/100%10))
	b = append(b, `,"decision":"`...)
	b = append(b, decisionText[e.dec]...)
	return append(b, "\"}\n"...)
}
