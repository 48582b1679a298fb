package httpserve_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/kith-dev/kith/internal/httpserve"
)

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// TestRunGracefulShutdown: a call in flight when ctx is done is still
// answered, Run returns nil, and the listener is closed then.
func TestRunGracefulShutdown(t *testing.T) {
	ln := listen(t)
	entered, release := make(chan struct{}), make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		<-release
		io.WriteString(w, "done")
	})
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- httpserve.Run(ctx, ln, httpserve.Config{Handler: h}) }()

	body := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String())
		if err != nil {
			body <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		body <- string(b)
	}()
	<-entered
	cancel()
	close(release)
	if got := <-body; got != "done" {
		t.Errorf("call in flight got %q, want done", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Run = %v, want nil", err)
	}
	if _, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		t.Error("the listener still accepts after Run returned")
	}
}

func TestRunErrors(t *testing.T) {
	if err := httpserve.Run(t.Context(), listen(t), httpserve.Config{}); err == nil {
		t.Error("Run without Handler: no error")
	}
	ln := listen(t)
	ln.Close()
	err := httpserve.Run(t.Context(), ln, httpserve.Config{Handler: http.NotFoundHandler()})
	if !errors.Is(err, net.ErrClosed) {
		t.Errorf("Run on a closed listener = %v, want net.ErrClosed", err)
	}
}
