package callrecord

import (
	"errors"
	"fmt"
	"time"
)

// MaxSkew is how far ahead of the server's clock a record's time may be.
const MaxSkew = 5 * time.Minute

// Accept is the server's check of the records of an agent's batch: it
// returns the valid ones (see [Record.Validate]) not timed more than
// [MaxSkew] after now, and for each other one why, as text safe to log
// and to record. offset is the position of batch[0] in the agent's batch,
// for the messages. valid shares batch's backing array.
func Accept(batch []Record, offset int, now time.Time) (valid []Record, refused []string) {
	valid = batch[:0]
	for i := range batch {
		rec := &batch[i]
		err := rec.Validate()
		if err == nil && rec.Time.After(now.Add(MaxSkew)) {
			err = errors.New("time is in the future")
		}
		if err != nil {
			refused = append(refused, fmt.Sprintf("record %d: %v", offset+i, err))
			continue
		}
		valid = append(valid, *rec)
	}
	return valid, refused
}
