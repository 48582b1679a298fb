package simulate

import (
	"math"
	"strings"
)

// routeKind is what a route does, which sets its sizes, latency and
// errors.
type routeKind uint8

const (
	kindList   routeKind = iota // GET /v1/res (paged)
	kindGet                     // GET /v1/res/{id}
	kindCreate                  // POST /v1/res
	kindUpdate                  // PUT or PATCH /v1/res/{id}
	kindDelete                  // DELETE /v1/res/{id}
	kindSub                     // GET /v1/res/{id}/sub
	kindItem                    // GET /v1/res/{id}/sub/{item}
	kindAction                  // POST /v1/res/{id}/action
	kindSearch                  // GET /v1/res/search
	kindHealth                  // GET /healthz
	kindAdmin                   // internal routes nobody calls
)

// reads reports whether a route of kind k only reads.
func (k routeKind) reads() bool {
	switch k {
	case kindList, kindGet, kindSub, kindItem, kindSearch:
		return true
	}
	return false
}

// paged reports whether a route of kind k returns a page of a list.
func (k routeKind) paged() bool { return k == kindList || k == kindSearch }

// route is one route template of a service, with the distributions of
// the calls to it.
type route struct {
	svc    int
	kind   routeKind
	method string
	tmpl   string    // as in the route field: /v1/orders/{id}
	lit    [3]string // tmpl split around its parameters
	params int
	uuids  bool  // IDs are UUIDs rather than numbers
	idMax  int64 // number of distinct IDs
	// Log-normal parameters of response and request bytes and of latency
	// in milliseconds (mu is the log of the median).
	respMu, respSigma float64
	reqMu, reqSigma   float64 // reqMu 0: no request body
	latMu, latSigma   float64
	p404, p4xx        float64
	from              int64 // the route exists from this time (unix ns); 0: always
}

// newRoute returns the route of kind k on resource res of service svc,
// with distributions drawn from r.
func newRoute(r rng, svc int, k routeKind, res string) route {
	rt := route{svc: svc, kind: k, idMax: int64(r.logNormal(math.Log(20000), 1.5)) + 50, uuids: r.chance(0.3)}
	base := "/v1/" + res
	switch k {
	case kindList:
		rt.method, rt.tmpl = "GET", base
	case kindGet:
		rt.method, rt.tmpl = "GET", base+"/{id}"
	case kindCreate:
		rt.method, rt.tmpl = "POST", base
	case kindUpdate:
		rt.method, rt.tmpl = "PUT", base+"/{id}"
		if r.chance(0.4) {
			rt.method = "PATCH"
		}
	case kindDelete:
		rt.method, rt.tmpl = "DELETE", base+"/{id}"
	case kindSub:
		rt.method, rt.tmpl = "GET", base+"/{id}/"+subNames[r.IntN(len(subNames))]
	case kindItem:
		rt.method, rt.tmpl = "GET", base+"/{id}/"+subNames[r.IntN(2)]+"/{item}"
	case kindAction:
		rt.method, rt.tmpl = "POST", base+"/{id}/"+actionNames[r.IntN(len(actionNames))]
	case kindSearch:
		rt.method, rt.tmpl = "GET", base+"/search"
	case kindHealth:
		rt.method, rt.tmpl = "GET", "/healthz"
	}
	rt.split()
	// Medians: a few hundred bytes for writes, kilobytes for reads, tens of
	// kilobytes for pages; latency a few ms to tens of ms.
	switch k {
	case kindList, kindSearch:
		rt.respMu, rt.respSigma = math.Log(r.between(6e3, 60e3)), r.between(0.5, 0.9)
		rt.latMu = math.Log(r.between(15, 70))
	case kindGet, kindSub, kindItem:
		rt.respMu, rt.respSigma = math.Log(r.between(400, 5e3)), r.between(0.3, 0.8)
		rt.latMu = math.Log(r.between(2, 20))
		rt.p404 = r.between(0.002, 0.025)
	case kindCreate, kindUpdate, kindAction:
		rt.respMu, rt.respSigma = math.Log(r.between(150, 1500)), r.between(0.2, 0.5)
		rt.reqMu, rt.reqSigma = math.Log(r.between(200, 4e3)), r.between(0.4, 1.0)
		rt.latMu = math.Log(r.between(8, 60))
		rt.p4xx = r.between(0.002, 0.012)
		if k != kindCreate {
			rt.p404 = r.between(0.001, 0.005)
		}
	case kindDelete:
		rt.respMu, rt.respSigma = math.Log(40), 0.2
		rt.latMu = math.Log(r.between(5, 30))
		rt.p404 = r.between(0.005, 0.03)
	case kindHealth:
		rt.respMu, rt.respSigma = math.Log(r.between(15, 90)), 0.05
		rt.latMu = math.Log(r.between(0.4, 2))
	}
	rt.latSigma = r.between(0.35, 0.8)
	return rt
}

// newAdminRoute returns an internal route of svc that no caller uses.
func newAdminRoute(svc int, method, tmpl string) route {
	rt := route{svc: svc, kind: kindAdmin, method: method, tmpl: tmpl, idMax: 1,
		respMu: math.Log(300), respSigma: 0.5, latMu: math.Log(3), latSigma: 0.5}
	rt.split()
	return rt
}

// split fills lit and params from tmpl.
func (rt *route) split() {
	rest := rt.tmpl
	rt.params = 0
	rt.lit = [3]string{}
	for rt.params < 2 {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		rt.lit[rt.params] = rest[:i]
		rest = rest[i+j+1:]
		rt.params++
	}
	rt.lit[rt.params] = rest
}

// drawID returns an ID for a call to rt: small IDs are popular.
func (rt *route) drawID(r rng) int64 {
	u := r.Float64()
	return int64(float64(rt.idMax)*u*u*u) + 1
}
