// Package bench holds Kith's load generators and comparisons against
// peers. It is its own Go module, so that what it needs never enters
// Kith's go.mod; it reaches Kith's packages through a replace directive.
package bench
