package proxy

import (
	"net/http/httputil"
	"sync"
)

// copyBuffers lends both proxies' ReverseProxy the 32 KiB buffers it
// copies response bodies with; without a pool it allocates one per call,
// which was most of the bytes a proxied call allocated.
var copyBuffers httputil.BufferPool = bufferPool{}

// bufferPool is an httputil.BufferPool over a sync.Pool.
type bufferPool struct{}

var buffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte { return *buffers.Get().(*[]byte) }

func (bufferPool) Put(b []byte) {
	if cap(b) == 32<<10 {
		b = b[:cap(b)]
		buffers.Put(&b)
	}
}
