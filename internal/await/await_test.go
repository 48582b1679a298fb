package await

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestSignal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b Buffer
		checks := 0
		for i := range 3 { // a write a second, for 3s
			time.AfterFunc(time.Duration(i+1)*time.Second, func() { b.Write([]byte("x")) })
		}
		start := time.Now()
		if !Signal(time.Minute, b.Wrote, func() bool { checks++; return b.String() == "xxx" }) {
			t.Fatal("Signal = false, want true once the condition holds")
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("Signal returned after %v, want 3s (at the third change)", d)
		}
		if checks != 4 {
			t.Errorf("cond checked %d times, want 4 (at once and at each change)", checks)
		}
	})
}

func TestSignalTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var b Buffer
		start := time.Now()
		if Signal(5*time.Second, b.Wrote, func() bool { return false }) {
			t.Fatal("Signal = true for a condition that never holds")
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("Signal gave up after %v, want 5s", d)
		}
	})
}

func TestPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		if !Poll(time.Minute, func() bool { return time.Since(start) >= time.Second }) {
			t.Error("Poll = false, want true once the condition holds")
		}
		if Poll(time.Second, func() bool { return false }) {
			t.Error("Poll = true for a condition that never holds")
		}
	})
}

func TestBuffer(t *testing.T) {
	var b Buffer
	wrote := b.Wrote()
	select {
	case <-wrote:
		t.Fatal("Wrote closed before a write")
	default:
	}
	go b.Write([]byte("ready\n"))
	if !Signal(time.Minute, b.Wrote, func() bool { return b.String() == "ready\n" }) {
		t.Fatalf("output %q, want the write", b.String())
	}
	select {
	case <-wrote:
	default:
		t.Error("Wrote not closed by the write")
	}
}
