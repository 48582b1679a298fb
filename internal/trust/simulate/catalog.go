package simulate

// tier is a service's place in the call graph.
type tier uint8

const (
	tierEntry   tier = iota // receives traffic from outside the mesh
	tierMid                 // business logic: called and calling
	tierLeaf                // owns data: called, rarely calling
	tierBatch               // runs cron jobs only
	tierMonitor             // health checks everything
)

func (t tier) String() string {
	return [...]string{"entry", "mid", "leaf", "batch", "monitor"}[t]
}

// archetype is a kind of service the generator can instantiate: a name,
// the resources its API serves, and for entry services the shape of
// their day.
type archetype struct {
	name      string
	resources []string
	profile   profile // entry services only
	openRead  bool    // policy lets any caller in the domain GET it
}

// Catalogues of services per tier. The generator draws from them in a
// seed-dependent order; names run out only beyond ~60 services, and get a
// numeric suffix then.
var (
	entryArchetypes = []archetype{
		{name: "api-gateway", resources: []string{"sessions", "routes"}, profile: profileConsumer},
		{name: "web-bff", resources: []string{"pages", "sessions"}, profile: profileEvening},
		{name: "partner-api", resources: []string{"partners", "webhooks"}, profile: profileBusiness},
		{name: "mobile-bff", resources: []string{"screens", "devices"}, profile: profileEvening},
		{name: "admin-portal", resources: []string{"views", "audits"}, profile: profileBusiness},
	}
	midArchetypes = []archetype{
		{name: "checkout", resources: []string{"checkouts"}},
		{name: "orders", resources: []string{"orders", "order-lines"}},
		{name: "cart", resources: []string{"carts"}},
		{name: "search", resources: []string{"queries", "suggestions"}},
		{name: "recommendations", resources: []string{"recommendations"}},
		{name: "billing", resources: []string{"invoices", "credit-notes"}},
		{name: "shipping", resources: []string{"shipments", "labels"}},
		{name: "returns", resources: []string{"returns"}},
		{name: "subscriptions", resources: []string{"subscriptions", "plans"}},
		{name: "notifications", resources: []string{"notifications", "preferences"}},
		{name: "pricing", resources: []string{"prices", "quotes"}},
		{name: "fraud", resources: []string{"assessments", "rules"}},
		{name: "reviews", resources: []string{"reviews"}},
		{name: "loyalty", resources: []string{"members", "points"}},
		{name: "promotions", resources: []string{"coupons", "campaigns"}},
		{name: "accounts", resources: []string{"accounts", "memberships"}},
		{name: "support", resources: []string{"tickets", "messages"}},
		{name: "fulfillment", resources: []string{"fulfillments", "picks"}},
		{name: "wishlist", resources: []string{"wishlists"}},
		{name: "onboarding", resources: []string{"applications"}},
	}
	leafArchetypes = []archetype{
		{name: "users", resources: []string{"users", "addresses"}},
		{name: "catalog", resources: []string{"products", "categories"}, openRead: true},
		{name: "inventory", resources: []string{"stock", "reservations"}},
		{name: "payments", resources: []string{"payments", "refunds"}},
		{name: "ledger", resources: []string{"entries", "balances"}},
		{name: "tax", resources: []string{"rates", "calculations"}},
		{name: "geo", resources: []string{"locations", "regions"}, openRead: true},
		{name: "config", resources: []string{"configs"}, openRead: true},
		{name: "feature-flags", resources: []string{"flags"}, openRead: true},
		{name: "media", resources: []string{"images", "videos"}},
		{name: "email", resources: []string{"messages", "templates"}},
		{name: "sms", resources: []string{"messages"}},
		{name: "audit-log", resources: []string{"events"}},
		{name: "currency", resources: []string{"rates"}, openRead: true},
		{name: "customers", resources: []string{"customers", "consents"}},
		{name: "documents", resources: []string{"documents"}},
		{name: "identity-verify", resources: []string{"checks"}},
		{name: "warehouse", resources: []string{"bins", "movements"}},
	}
	batchArchetypes = []archetype{
		{name: "reporting", resources: []string{"reports"}},
		{name: "search-indexer", resources: []string{"indexes"}},
		{name: "invoice-runner", resources: []string{"runs"}},
		{name: "analytics-rollup", resources: []string{"rollups"}},
	}
	monitorArchetype = archetype{name: "synthetic-monitor", resources: []string{"checks"}}
	// newServiceArchetypes are services that start in the middle of a run.
	newServiceArchetypes = []archetype{
		{name: "gift-cards", resources: []string{"gift-cards", "redemptions"}},
		{name: "referrals", resources: []string{"referrals"}},
		{name: "bundles", resources: []string{"bundles"}},
	}
)

// Words for sub-resources and actions in route templates.
var (
	subNames    = []string{"items", "history", "status", "events", "lines", "notes", "attachments", "summary"}
	actionNames = []string{"cancel", "confirm", "capture", "refund", "approve", "retry", "archive", "resend"}
	adminPaths  = []struct{ method, tmpl string }{
		{"GET", "/internal/debug/vars"},
		{"POST", "/internal/cache/flush"},
		{"GET", "/admin/v1/export"},
		{"POST", "/admin/v1/reindex"},
		{"GET", "/internal/metrics"},
	}
	// probePaths are what an enumeration tries beside real routes: paths
	// that exist on many servers, and guesses around the target's API.
	probePaths = []string{
		"/admin", "/admin/login", "/actuator/env", "/actuator/health", "/.env", "/.git/config",
		"/debug/pprof/", "/swagger.json", "/openapi.json", "/graphql", "/api/v1/users",
		"/v1/users/me", "/v1/export", "/v1/admin/users", "/metrics", "/server-status",
		"/v2/", "/internal/", "/console", "/wp-login.php", "/config.json", "/v1/keys",
		"/v1/tokens", "/v1/secrets", "/backup.zip", "/v1/internal/state", "/status",
	}
)
