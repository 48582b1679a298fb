package dataplane

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// pruneEvery is how often Run drops revocations whose credentials have
// all expired.
const pruneEvery = time.Minute

// errDeadFeed ends a feed that stayed silent for twice the heartbeat.
var errDeadFeed = errors.New("no message for twice the heartbeat interval")

// Run follows the agent's feed until ctx is done: it connects, resumes
// from the version it holds (after=), applies each message, and
// reconnects with exponential backoff and full jitter when the agent goes
// away. Meanwhile the View keeps answering from what it holds. It returns
// nil when ctx is done; connection failures are logged, never returned.
func (v *View) Run(ctx context.Context) error {
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", v.cfg.SocketPath)
		},
		DisableCompression: true,
	}}
	defer client.CloseIdleConnections()
	prune := time.NewTicker(pruneEvery)
	defer prune.Stop()
	delay := v.backoffBase
	for {
		applied, err := v.follow(ctx, client)
		if ctx.Err() != nil {
			return nil
		}
		if applied {
			delay = v.backoffBase
		}
		wait := time.Duration(rand.Int64N(int64(delay) + 1)) // full jitter
		v.logger.Warn("dataplane: feed ended; serving held data and reconnecting",
			"error", err, "version", v.Version(), "retry_in", wait)
		delay = min(2*delay, v.backoffMax)
		timer := time.NewTimer(wait)
	sleep:
		for {
			select {
			case <-ctx.Done():
				timer.Stop()
				return nil
			case <-prune.C:
				_ = v.revoked.Load().Sync(ctx) // no store: it only prunes
			case <-timer.C:
				break sleep
			}
		}
	}
}

// follow reads one connection of the feed. It reports whether it applied
// a message and why it ended.
func (v *View) follow(ctx context.Context, client *http.Client) (applied bool, err error) {
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	q := url.Values{"after": {strconv.FormatInt(v.Version(), 10)}}
	req, err := http.NewRequestWithContext(fctx, http.MethodGet, "http://agent"+FeedPath+"?"+q.Encode(), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", FeedContentType)
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return false, fmt.Errorf("feed: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	v.logger.Info("dataplane: feed connected", "socket", v.cfg.SocketPath, "after", v.Version())
	watchdog := time.AfterFunc(v.heartbeatTimeout, func() { cancel(errDeadFeed) })
	defer watchdog.Stop()
	lr := newLineReader(resp.Body)
	lastPrune := v.cfg.Clock()
	for {
		line, err := lr.next()
		if err != nil {
			if fctx.Err() != nil && ctx.Err() == nil {
				return applied, context.Cause(fctx)
			}
			return applied, fmt.Errorf("read feed: %w", err)
		}
		watchdog.Reset(v.heartbeatTimeout)
		m, err := DecodeFeedMessage(line)
		if err != nil {
			return applied, err
		}
		if err := v.Apply(m); err != nil {
			return applied, err
		}
		applied = true
		if now := v.cfg.Clock(); now.Sub(lastPrune) >= pruneEvery {
			lastPrune = now
			_ = v.revoked.Load().Sync(ctx)
		}
	}
}

// lineReader reads the non-blank lines of the feed, up to
// MaxFeedMessageSize each.
type lineReader struct {
	r   *bufio.Reader
	buf []byte
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{r: bufio.NewReaderSize(r, 64<<10)} }

// next returns the next non-blank line. It returns io.EOF at the end, or
// an error wrapping ErrFeedMessage for a line that is too long.
func (l *lineReader) next() ([]byte, error) {
	for {
		l.buf = l.buf[:0]
		for {
			chunk, err := l.r.ReadSlice('\n')
			if len(l.buf)+len(chunk) > MaxFeedMessageSize {
				return nil, fmt.Errorf("%w: line over %d bytes", ErrFeedMessage, MaxFeedMessageSize)
			}
			l.buf = append(l.buf, chunk...)
			if errors.Is(err, bufio.ErrBufferFull) {
				continue
			}
			if err != nil && (!errors.Is(err, io.EOF) || len(l.buf) == 0) {
				return nil, err
			}
			break
		}
		if line := bytes.TrimSpace(l.buf); len(line) > 0 {
			return line, nil
		}
	}
}
