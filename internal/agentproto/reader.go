package agentproto

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxMessageSize caps one line of the sync stream. A full state of a busy
// node (thousands of entries, a large revocation set) fits well within it.
const MaxMessageSize = 32 << 20

// ErrMessageTooLarge is returned by [MessageReader.Next] for a line of
// the sync stream over [MaxMessageSize].
var ErrMessageTooLarge = errors.New("sync message too large")

// MessageReader reads the newline-delimited JSON [Message] values of a
// sync stream.
type MessageReader struct {
	r   *bufio.Reader
	max int
	buf []byte
}

// NewMessageReader returns a MessageReader reading the sync stream r.
func NewMessageReader(r io.Reader) *MessageReader {
	return &MessageReader{r: bufio.NewReaderSize(r, 64<<10), max: MaxMessageSize}
}

// Next returns the next message, skipping blank lines; unknown fields are
// ignored, so that a newer server may add some. It returns io.EOF at the
// end of the stream, [ErrMessageTooLarge] for an oversized line, a
// decoding error for a line that is not a JSON message, and the
// underlying reader's error otherwise.
func (m *MessageReader) Next() (Message, error) {
	for {
		line, err := m.line()
		if err != nil {
			return Message{}, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		var msg Message
		if err := json.Unmarshal(line, &msg); err != nil {
			return Message{}, fmt.Errorf("decode sync message: %w", err)
		}
		return msg, nil
	}
}

// line reads one line without its newline; a last line without a newline
// counts.
func (m *MessageReader) line() ([]byte, error) {
	m.buf = m.buf[:0]
	for {
		chunk, err := m.r.ReadSlice('\n')
		if len(m.buf)+len(chunk) > m.max {
			return nil, ErrMessageTooLarge
		}
		m.buf = append(m.buf, chunk...)
		switch {
		case err == nil:
			return m.buf[:len(m.buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(m.buf) > 0:
			return m.buf, nil
		default:
			return nil, err
		}
	}
}
