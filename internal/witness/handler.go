package witness

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxRequestSize bounds an add-checkpoint request body. A checkpoint is a
// few hundred bytes and the proof at most 63 lines of 45, so this leaves
// room for dozens of signatures.
const maxRequestSize = 64 << 10

// Handler returns the HTTP handler of the witness's submission prefix. It
// serves "POST /add-checkpoint" as https://c2sp.org/tlog-witness specifies
// (mount it with http.StripPrefix to serve it under a longer prefix): 200
// with the cosignature lines; 400 for a malformed body or one larger than
// 64 KiB; 404, 403, 409, 422 and 503 for the refusals [Witness.AddCheckpoint]
// describes, a 409 for a stale old size with the known size as a
// text/x.tlog.size body; 500, with no detail, when the store or signer
// fails. Other methods get 405, other paths 404.
//
// It speaks plain HTTP: serve it behind a TLS terminator.
func (w *Witness) Handler() http.Handler { return w.handler }

func (w *Witness) newHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /add-checkpoint", w.serveAddCheckpoint)
	return mux
}

func (w *Witness) serveAddCheckpoint(rw http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxRequestSize))
	if err != nil {
		msg := "cannot read the request body"
		if errors.As(err, new(*http.MaxBytesError)) {
			msg = fmt.Sprintf("request body is larger than %d bytes", maxRequestSize)
		}
		w.writeError(rw, r, refuse(ErrMalformed, "%s", msg))
		return
	}
	req, err := parseAddCheckpoint(body)
	if err != nil {
		w.writeError(rw, r, refuse(ErrMalformed, "%v", err))
		return
	}
	cosig, err := w.AddCheckpoint(r.Context(), req.OldSize, req.Proof, req.Checkpoint)
	if err != nil {
		w.writeError(rw, r, err)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Header().Set("X-Content-Type-Options", "nosniff")
	rw.WriteHeader(http.StatusOK)
	_, _ = rw.Write(cosig)
}

// writeError maps err to the protocol's response. It is the one place
// where errors become statuses and public text.
func (w *Witness) writeError(rw http.ResponseWriter, r *http.Request, err error) {
	var se *StatusError
	if !errors.As(err, &se) {
		w.logger.ErrorContext(r.Context(), "witness: add-checkpoint failed", "error", err)
		http.Error(rw, "internal error", http.StatusInternalServerError)
		return
	}
	if errors.Is(se, ErrStaleSize) {
		rw.Header().Set("Content-Type", "text/x.tlog.size")
		rw.Header().Set("X-Content-Type-Options", "nosniff")
		rw.WriteHeader(http.StatusConflict)
		fmt.Fprintf(rw, "%d\n", se.KnownSize)
		return
	}
	http.Error(rw, se.Msg, se.Code)
}
