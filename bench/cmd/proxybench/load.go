package main

import "errors"

// The load pattern and percentiles are internal/loadgen's, shared with
// BenchmarkProxyPair so the two report comparable figures.

var errNoCalls = errors.New("no call succeeded")
