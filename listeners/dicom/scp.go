package dicom

import (
	"bufio"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/medgate/medgate/listeners"
)

// store receives a C-STORE data set into a Part 10 temporary file, gives
// it to the Handler and answers with the status its error maps to.
func (sc *scpConn) store(ctx context.Context, pc byte, apc acceptedPC, cmd *Command, ds *dataSetReader) error {
	rsp := &Command{Field: CStoreRSP, AffectedSOPClassUID: cmd.AffectedSOPClassUID, AffectedSOPInstanceUID: cmd.AffectedSOPInstanceUID, MessageIDBeingRespondedTo: cmd.MessageID}
	log := sc.log.With("msg", cmd.MessageID, "sop_class", cmd.AffectedSOPClassUID, "sop_instance", cmd.AffectedSOPInstanceUID, "ts", apc.transfer)
	reject := func(status uint16, comment string) error {
		if err := ds.Discard(); err != nil {
			return err
		}
		rsp.Status, rsp.ErrorComment = status, ErrorComment(comment)
		log.Warn("C-STORE refused", "status", fmt.Sprintf("0x%04X", status), "why", rsp.ErrorComment, "size", ds.n)
		return sc.respond(ctx, pc, rsp, nil)
	}
	switch {
	case !cmd.HasDataSet:
		rsp.Status, rsp.ErrorComment = StatusCannotUnderstand, "C-STORE-RQ without a data set"
		return sc.respond(ctx, pc, rsp, nil)
	case cmd.AffectedSOPClassUID != apc.abstract:
		return reject(StatusSOPClassNotSupported, "SOP class differs from the presentation context's")
	case cmd.AffectedSOPInstanceUID == "":
		return reject(StatusDataSetMismatch, "C-STORE-RQ lacks the Affected SOP Instance UID")
	case sc.s.Handler == nil:
		return reject(StatusSOPClassNotSupported, "storage not offered")
	}

	start := time.Now()
	f, err := os.CreateTemp(sc.s.TempDir, "medgate-dicom-*.dcm")
	if err != nil {
		log.Error("cannot create temporary file", "err", err)
		return reject(StatusOutOfResources, "out of resources: cannot create a temporary file")
	}
	path := f.Name()
	defer os.Remove(path) // the handler moves it when it keeps it
	w := &part10Writer{f: f, h: sha256.New(), limit: orDefault(sc.s.MaxInstanceSize, DefaultMaxInstanceSize)}
	w.bw = bufio.NewWriterSize(f, 256<<10)
	w.write(AppendPart10Header(nil, &FileMeta{
		SOPClassUID:            cmd.AffectedSOPClassUID,
		SOPInstanceUID:         cmd.AffectedSOPInstanceUID,
		TransferSyntax:         apc.transfer,
		ImplementationClassUID: ImplementationClassUID,
		ImplementationVersion:  ImplementationVersionName,
		SourceAE:               sc.assoc.CallingAE,
	}))
	w.dataStart = w.size
	if _, err := ds.WriteTo(w); err != nil {
		f.Close()
		return err // association lost or protocol error
	}
	received := time.Now()
	werr := w.finish()
	switch {
	case w.tooLarge:
		return reject(StatusOutOfResources, fmt.Sprintf("instance larger than %d bytes", w.limit))
	case werr != nil:
		log.Error("cannot write instance", "err", werr)
		return reject(StatusOutOfResources, "out of resources: cannot write the instance")
	}
	env := &listeners.Envelope{
		Protocol:  listeners.DICOM,
		Listener:  sc.name,
		Peer:      sc.assoc.Peer,
		Received:  received,
		CallingAE: sc.assoc.CallingAE,
		CalledAE:  sc.assoc.CalledAE,
		Key:       cmd.AffectedSOPInstanceUID,
		Type:      cmd.AffectedSOPClassUID,
		File:      path,
		Size:      w.size,
	}
	copy(env.Digest[:], w.h.Sum(nil))
	herr := sc.s.Handler.Handle(ctx, env)
	rsp.Status, rsp.ErrorComment = storeStatus(herr)
	lvl := slog.LevelInfo
	if herr != nil {
		lvl = slog.LevelWarn
	}
	log.Log(ctx, lvl, "C-STORE handled", "status", fmt.Sprintf("0x%04X", rsp.Status), "size", w.size,
		"sha256", fmt.Sprintf("%x", env.Digest[:8]), "took", time.Since(start), "result", errClass(herr))
	return sc.respond(ctx, pc, rsp, nil)
}

// storeStatus maps the Handler's error to the C-STORE-RSP status and Error
// Comment. The comment of an unavailable store or an unknown error is the
// error class, never the error text (which might carry data set values).
func storeStatus(err error) (uint16, string) {
	var inv *listeners.InvalidError
	switch {
	case err == nil:
		return StatusSuccess, ""
	case errors.As(err, &inv) && inv.Mismatch:
		return StatusDataSetMismatch, ErrorComment(inv.Reason)
	case errors.As(err, &inv):
		return StatusCannotUnderstand, ErrorComment(inv.Reason)
	case errors.Is(err, listeners.ErrUnavailable):
		return StatusOutOfResources, "out of resources: temporarily unable to store; retry later"
	default:
		return StatusOutOfResources, "out of resources: internal error; retry later"
	}
}

func errClass(err error) string {
	var inv *listeners.InvalidError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &inv):
		return "invalid " + inv.Stage
	case errors.Is(err, listeners.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, listeners.ErrUnknownDevice):
		return "unknown device"
	}
	return "internal"
}

// part10Writer writes the file through a buffer and the hash. Past limit
// data set bytes it stops writing and only counts; write errors are kept
// for finish, so the data set is still read to its end.
type part10Writer struct {
	f         *os.File
	bw        *bufio.Writer
	h         hash.Hash
	size      int64
	dataStart int64
	limit     int64
	tooLarge  bool
	err       error
}

func (w *part10Writer) write(b []byte) {
	if w.err != nil || w.tooLarge {
		return
	}
	if w.dataStart > 0 && w.size-w.dataStart+int64(len(b)) > w.limit {
		w.tooLarge = true
		return
	}
	w.h.Write(b)
	_, w.err = w.bw.Write(b)
	w.size += int64(len(b))
}

func (w *part10Writer) Write(b []byte) (int, error) {
	w.write(b)
	return len(b), nil
}

func (w *part10Writer) finish() error {
	err := w.err
	if err == nil && !w.tooLarge {
		err = w.bw.Flush()
		if err == nil {
			err = w.f.Sync()
		}
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// find runs a C-FIND: the handler runs in its own goroutine while this one
// watches for a C-CANCEL (or the association's end).
func (sc *scpConn) find(ctx context.Context, pc byte, apc acceptedPC, cmd *Command, ds *dataSetReader) error {
	rsp := func(status uint16, comment string) *Command {
		return &Command{Field: CFindRSP, AffectedSOPClassUID: cmd.AffectedSOPClassUID, MessageIDBeingRespondedTo: cmd.MessageID, Status: status, ErrorComment: ErrorComment(comment)}
	}
	log := sc.log.With("msg", cmd.MessageID, "sop_class", cmd.AffectedSOPClassUID)
	var h FindHandler
	switch apc.abstract {
	case ModalityWorklistFind:
		h = sc.s.Worklist
	case StudyRootFind:
		h = sc.s.StudyRoot
	}
	if !cmd.HasDataSet {
		return sc.respond(ctx, pc, rsp(StatusCannotUnderstand, "C-FIND-RQ without an identifier"), nil)
	}
	id, ok, err := ds.readAllLimited(maxIdentifierSize)
	switch {
	case err != nil:
		return err
	case !ok:
		return sc.respond(ctx, pc, rsp(StatusOutOfResources, "identifier too large"), nil)
	case h == nil || cmd.AffectedSOPClassUID != apc.abstract:
		return sc.respond(ctx, pc, rsp(StatusSOPClassNotSupported, "SOP class not supported on this context"), nil)
	}
	req := &FindRequest{Association: sc.assoc, SOPClassUID: apc.abstract, TransferSyntax: apc.transfer, Priority: cmd.Priority, Identifier: id}

	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var mu sync.Mutex
	finished := false
	matches := 0
	emit := func(identifier []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if finished {
			return errors.New("dicom: emit after Find returned")
		}
		if err := fctx.Err(); err != nil {
			return err
		}
		matches++
		return sc.respond(ctx, pc, rsp(StatusPending, ""), identifier)
	}
	done := make(chan struct{})
	var herr error
	start := time.Now()
	go func() {
		err := h.Find(fctx, req, emit)
		mu.Lock()
		finished = true
		mu.Unlock()
		herr = err
		close(done)
	}()

	cancelled, releasing := false, false
	var lost error
wait:
	for {
		if releasing || lost != nil {
			<-done
			break
		}
		_, c2, err := sc.d.readCommand(waiter{stop: done})
		switch {
		case errors.Is(err, errStopped):
			break wait
		case errors.Is(err, errReleaseRequest):
			// Sta8: we may still send the final response, then release.
			releasing = true
		case err != nil:
			cancel()
			lost = err
		case c2.Field == CCancelRQ && c2.MessageIDBeingRespondedTo == cmd.MessageID:
			if err := sc.d.dataSet().Discard(); err != nil {
				lost = err
			}
			cancelled = true
			cancel()
		default:
			cancel()
			lost = &dimseError{fmt.Sprintf("%s while C-FIND %d runs (asynchronous window is 1)", c2, cmd.MessageID)}
		}
	}
	if lost != nil {
		log.Info("C-FIND interrupted", "err", lost)
		return lost
	}
	var final *Command
	var se *StatusError
	switch {
	case cancelled:
		final = rsp(StatusCancel, "")
	case herr == nil:
		final = rsp(StatusSuccess, "")
	case errors.As(herr, &se):
		final = rsp(se.Status, se.Comment)
	default:
		log.Warn("C-FIND handler failed", "err_class", errClass(herr))
		final = rsp(StatusCannotUnderstand, "unable to process the query")
	}
	log.Info("C-FIND handled", "status", fmt.Sprintf("0x%04X", final.Status), "matches", matches, "took", time.Since(start))
	if err := sc.respond(ctx, pc, final, nil); err != nil {
		return err
	}
	if releasing {
		sc.m.local(evt14, nil)
		return ErrReleased
	}
	return nil
}

var _ io.WriterTo = (*dataSetReader)(nil)
