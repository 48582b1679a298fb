package trust

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unsafe"
)

// A snapshot is the engine's learned state, for the server to store so
// that a restart or another replica does not relearn every caller from
// zero. Its format, little-endian:
//
//	magic      "KITHTRST"
//	version    uint32 (snapshotVersion)
//	size       uint32: bytes of one caller's state
//	seed       uint64: the hash seed (routes and networks are kept hashed)
//	count      uint32: callers
//	count ×    uint16 identity length, identity, the caller's state (its
//	           memory image: a fixed-size value without pointers)
//	contexts   uint32 length, then JSON: the context inputs by identity
//
// A snapshot of another version, caller size or byte order (all of
// Kith's 64-bit little-endian platforms share one) is refused with
// ErrSnapshot: the engine then starts afresh, which costs a warm-up, not
// correctness. A restored caller's indices are checked (see sanitize), so
// that no snapshot can make the engine index out of range. About 1.8 KB a caller before compression; it compresses
// well (idle hours and unused tables are zeros).
const (
	snapshotMagic   = "KITHTRST"
	snapshotVersion = 1
)

// ErrSnapshot is wrapped by the errors of [Engine.ReadSnapshot] for data
// that is not a snapshot this version can read.
var ErrSnapshot = errors.New("trust: unusable snapshot")

// WriteSnapshot writes the engine's state to w. It holds the engine's
// lock while it writes: give it a buffer or a fast writer.
func (e *Engine) WriteSnapshot(w io.Writer) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	bw := bufio.NewWriterSize(w, 64<<10)
	size := int(unsafe.Sizeof(caller{}))
	if !littleEndian() {
		return fmt.Errorf("write trust snapshot: big-endian platforms are not supported")
	}
	hdr := make([]byte, 0, 32)
	hdr = append(hdr, snapshotMagic...)
	hdr = binary.LittleEndian.AppendUint32(hdr, snapshotVersion)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(size))
	hdr = binary.LittleEndian.AppendUint64(hdr, e.seed)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(len(e.index)))
	if _, err := bw.Write(hdr); err != nil {
		return fmt.Errorf("write trust snapshot: %w", err)
	}
	buf := make([]byte, 0, 2+maxIdentity+size)
	for i, id := range e.ids {
		if id == "" {
			continue
		}
		buf = binary.LittleEndian.AppendUint16(buf[:0], uint16(len(id)))
		buf = append(buf, id...)
		buf = append(buf, callerBytes(e.at(int32(i)))...)
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("write trust snapshot: %w", err)
		}
	}
	ctx, err := json.Marshal(e.contexts)
	if err != nil {
		return fmt.Errorf("write trust snapshot: %w", err)
	}
	bw.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(ctx))))
	bw.Write(ctx)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write trust snapshot: %w", err)
	}
	return nil
}

// maxIdentity bounds the identities a snapshot holds, as call records
// bound them (callrecord.MaxIDLen).
const maxIdentity = 2048

// ReadSnapshot replaces the engine's state by the snapshot read from r
// and adopts its hash seed. On error the engine is left as it was; the
// error wraps ErrSnapshot when r holds no snapshot this version reads.
func (e *Engine) ReadSnapshot(r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	hdr := make([]byte, 28)
	if _, err := io.ReadFull(br, hdr); err != nil {
		return fmt.Errorf("%w: header: %v", ErrSnapshot, err)
	}
	le := binary.LittleEndian
	size := int(unsafe.Sizeof(caller{}))
	switch {
	case !littleEndian():
		return fmt.Errorf("%w: big-endian platforms are not supported", ErrSnapshot)
	case string(hdr[:8]) != snapshotMagic:
		return fmt.Errorf("%w: not a trust snapshot", ErrSnapshot)
	case le.Uint32(hdr[8:]) != snapshotVersion:
		return fmt.Errorf("%w: version %d, this engine reads %d", ErrSnapshot, le.Uint32(hdr[8:]), snapshotVersion)
	case le.Uint32(hdr[12:]) != uint32(size):
		return fmt.Errorf("%w: caller state of %d bytes, this engine's is %d", ErrSnapshot, le.Uint32(hdr[12:]), size)
	}
	seed, count := le.Uint64(hdr[16:]), le.Uint32(hdr[24:])
	if int64(count) > int64(e.maxCallers) {
		return fmt.Errorf("%w: %d callers, more than MaxCallers (%d)", ErrSnapshot, count, e.maxCallers)
	}
	n := &Engine{index: make(map[string]int32, count), contexts: map[string][]ContextInput{}, dirty: map[int32]struct{}{}}
	for k := range count {
		var l [2]byte
		if _, err := io.ReadFull(br, l[:]); err != nil {
			return fmt.Errorf("%w: caller %d: %v", ErrSnapshot, k, err)
		}
		idLen := int(le.Uint16(l[:]))
		if idLen == 0 || idLen > maxIdentity {
			return fmt.Errorf("%w: caller %d: identity of %d bytes", ErrSnapshot, k, idLen)
		}
		id := make([]byte, idLen)
		if _, err := io.ReadFull(br, id); err != nil {
			return fmt.Errorf("%w: caller %d: %v", ErrSnapshot, k, err)
		}
		i := int32(k)
		if int(i)/chunkSize == len(n.chunks) {
			n.chunks = append(n.chunks, new([chunkSize]caller))
		}
		if _, err := io.ReadFull(br, callerBytes(n.at(i))); err != nil {
			return fmt.Errorf("%w: caller %d: %v", ErrSnapshot, k, err)
		}
		n.at(i).sanitize()
		s := string(id)
		if _, dup := n.index[s]; dup {
			return fmt.Errorf("%w: identity %q twice", ErrSnapshot, s)
		}
		n.index[s] = i
		n.ids = append(n.ids, s)
	}
	var l [4]byte
	if _, err := io.ReadFull(br, l[:]); err != nil {
		return fmt.Errorf("%w: contexts: %v", ErrSnapshot, err)
	}
	ctx := make([]byte, min(le.Uint32(l[:]), 1<<30))
	if _, err := io.ReadFull(br, ctx); err != nil {
		return fmt.Errorf("%w: contexts: %v", ErrSnapshot, err)
	}
	if err := json.Unmarshal(ctx, &n.contexts); err != nil {
		return fmt.Errorf("%w: contexts: %v", ErrSnapshot, err)
	}
	for id := range n.contexts {
		i, ok := n.index[id]
		if !ok {
			return fmt.Errorf("%w: contexts of unknown identity %q", ErrSnapshot, id)
		}
		n.at(i).trust.hasCtx = true
	}
	for i := range n.ids {
		if n.at(int32(i)).penalized() {
			n.dirty[int32(i)] = struct{}{}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.seed, e.rng = seed, seed|1
	e.index, e.ids, e.chunks, e.free = n.index, n.ids, n.chunks, nil
	e.contexts, e.dirty = n.contexts, n.dirty
	e.stats.Callers = int64(len(n.ids))
	return nil
}

// callerBytes returns the memory of cs as bytes: a caller holds no
// pointers, so its image is its value.
func callerBytes(cs *caller) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(cs)), unsafe.Sizeof(*cs))
}

// littleEndian reports whether the platform is little-endian.
func littleEndian() bool { return binary.NativeEndian.Uint16([]byte{1, 0}) == 1 }

// sanitize clamps the fields of a restored caller that index arrays, so
// that a damaged snapshot cannot make the engine panic.
func (cs *caller) sanitize() {
	cs.route.used = min(cs.route.used, routeCap)
	cs.seq.judged = min(cs.seq.judged, 16)
	for i := range cs.sess {
		cs.sess[i].prev = min(cs.sess[i].prev, seqStart)
	}
	for k := range cs.inc.sev {
		cs.inc.sev[k] = min(cs.inc.sev[k], Critical)
	}
	cs.rate.refH = min(cs.rate.refH, 24)
	cs.trust.level = min(cs.trust.level, uint8(LevelHigh))
	cs.trust.base = min(cs.trust.base, MaxScore)
	cs.trust.reported = min(cs.trust.reported, MaxScore)
	for k, p := range cs.trust.pen {
		if !(p >= 0 && p <= MaxScore) { // NaN too
			cs.trust.pen[k] = MaxScore
		}
	}
}
