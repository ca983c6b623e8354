package registry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/drover/drover/image/content"
	"github.com/drover/drover/internal/errdefs"
)

func blobLocation(name string, d digest.Digest) string {
	return "/v2/" + name + "/blobs/" + d.String()
}

func uploadLocation(name, id string) string {
	return "/v2/" + name + "/blobs/uploads/" + id
}

// getBlob serves a blob linked to the repository, with Range support.
func (r *Registry) getBlob(w http.ResponseWriter, req *http.Request, name, ref string) error {
	d, ok := parseDigest(ref)
	if !ok {
		return errDigestInvalid(fmt.Sprintf("invalid digest %q", ref))
	}
	var open func(digest.Digest) (io.ReadCloser, error) = r.store.Open
	if !r.meta.blobLinked(name, d) {
		if r.source == nil || !r.source.hasBlob(name, d) {
			return errBlobUnknown("blob unknown to registry")
		}
		open = r.source.src.Blobs.Open
	}
	rc, err := open(d)
	if errors.Is(err, errdefs.ErrNotFound) {
		return errBlobUnknown("blob unknown to registry")
	}
	if err != nil {
		return err
	}
	defer rc.Close()
	f, ok := rc.(io.ReadSeeker)
	if !ok {
		return fmt.Errorf("blob %s: the store's reader cannot seek", d)
	}
	h := w.Header()
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Etag", `"`+d.String()+`"`)
	h.Set("Cache-Control", "max-age=31536000")
	// ServeContent answers Range requests (206, Content-Range, 416) and HEAD. The file
	// goes out in 32 KiB writes, not by sendfile: a pull is bound by the client's CPU
	// (hashing and writing what it gets), and sendfile's large bursts cost the client
	// more wakeups (skopeo's pull of 200 MB: 0.89 s with sendfile, 0.79 s without,
	// docker-registry's 0.83 s, means of 7 alternating runs).
	http.ServeContent(w, req, "", time.Time{}, copiedFile{f})
	return nil
}

// copiedFile hides the *os.File under a blob reader from net/http, which would otherwise
// hand it to sendfile.
type copiedFile struct{ io.ReadSeeker }

// deleteBlob unlinks a blob from the repository; GC frees the bytes once nothing else
// needs them.
func (r *Registry) deleteBlob(w http.ResponseWriter, name, ref string) error {
	d, ok := parseDigest(ref)
	if !ok {
		return errDigestInvalid(fmt.Sprintf("invalid digest %q", ref))
	}
	found, err := r.meta.unlinkBlob(name, d)
	if err != nil {
		return err
	}
	if !found {
		return errBlobUnknown("blob unknown to registry")
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// upload is a blob upload in progress: a content store ingest, never visible until the
// final PUT commits it.
type upload struct {
	mu       sync.Mutex // one request at a time
	repo     string
	w        content.Writer
	lastUse  time.Time
	finished bool
}

// copyBufs are the buffers uploads copy through: larger than io.Copy's 32 KiB, so a
// layer takes fewer read and write calls.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

func copyBuffered(w io.Writer, r io.Reader) (int64, error) {
	b := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(b)
	return io.CopyBuffer(w, r, *b)
}

// bufferedReader makes io.Copy use copyBuffered.
type bufferedReader struct{ io.Reader }

func (b bufferedReader) WriteTo(w io.Writer) (int64, error) { return copyBuffered(w, b.Reader) }

// bodyReader bounds a request body by the registry's blob size limit.
func (r *Registry) bodyReader(w http.ResponseWriter, req *http.Request, already int64) (io.Reader, error) {
	if max := r.opts.MaxBlobSize; max > 0 {
		if req.ContentLength > max-already {
			return nil, errTooLarge(fmt.Sprintf("blob larger than the registry's limit of %d bytes", max))
		}
		return http.MaxBytesReader(w, req.Body, max-already), nil
	}
	return req.Body, nil
}

// writeErr turns a failed body copy into the error to answer.
func writeErr(err error) error {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return errTooLarge(fmt.Sprintf("blob larger than the registry's limit of %d bytes", mb.Limit))
	}
	if errors.Is(err, errdefs.ErrInvalidArgument) {
		return errDigestInvalid(err.Error())
	}
	return err
}

// startUpload begins an upload: a monolithic one when the digest comes with the body, a
// cross-repository mount with mount=, otherwise a session for PATCH and PUT.
func (r *Registry) startUpload(w http.ResponseWriter, req *http.Request, name string) error {
	q := req.URL.Query()
	if mount := q.Get("mount"); mount != "" {
		d, ok := parseDigest(mount)
		if !ok {
			return errDigestInvalid(fmt.Sprintf("invalid digest %q", mount))
		}
		if r.mount(req, name, d, q.Get("from")) {
			w.Header().Set("Location", blobLocation(name, d))
			w.Header().Set("Docker-Content-Digest", d.String())
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusCreated)
			return nil
		}
		// Not mountable: the client uploads instead (the spec's answer is a session).
	} else if ds := q.Get("digest"); ds != "" {
		d, err := parseDigestParam(ds)
		if err != nil {
			return err
		}
		body, err := r.bodyReader(w, req, 0)
		if err != nil {
			return err
		}
		if err := r.commitBody(name, body, d, req.ContentLength); err != nil {
			return err
		}
		w.Header().Set("Location", blobLocation(name, d))
		w.Header().Set("Docker-Content-Digest", d.String())
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusCreated)
		return nil
	}
	id := newID()
	r.upMu.Lock()
	if len(r.uploads) >= r.opts.MaxUploads {
		r.upMu.Unlock()
		return &apiError{http.StatusTooManyRequests, "TOOMANYREQUESTS", fmt.Sprintf("%d uploads are in progress, the most this registry holds open: finish or cancel some, or retry later", r.opts.MaxUploads), nil}
	}
	r.uploads[id] = &upload{repo: name, lastUse: time.Now(), finished: true} // holds the place
	r.upMu.Unlock()
	cw, err := r.store.Writer("upload-"+id, "", -1)
	if err != nil {
		r.upMu.Lock()
		delete(r.uploads, id)
		r.upMu.Unlock()
		return err
	}
	r.upMu.Lock()
	r.uploads[id] = &upload{repo: name, w: cw, lastUse: time.Now()}
	r.upMu.Unlock()
	writeUploadHeaders(w, name, id, 0)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// commitBody stores a whole blob from a request body and links it to the repository.
func (r *Registry) commitBody(name string, body io.Reader, d digest.Digest, size int64) error {
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	desc, err := content.WriteBlob(r.store, bufferedReader{body}, d, size)
	if err != nil {
		return writeErr(err)
	}
	return r.meta.linkBlob(name, d, desc.Size)
}

// mount links a blob of another repository (or, without from, any stored blob when no
// access control is set up) to name. It reports false when the client must upload.
func (r *Registry) mount(req *http.Request, name string, d digest.Digest, from string) bool {
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	if from != "" {
		if !validName(from) || !r.canPull(req, from) || !r.meta.blobLinked(from, d) {
			return false
		}
	} else if r.opts.Auth != nil {
		return false // a blob of a private repository must not be reachable by its digest
	}
	info, err := r.store.Info(d)
	if err != nil {
		return false
	}
	return r.meta.linkBlob(name, d, info.Size) == nil
}

func writeUploadHeaders(w http.ResponseWriter, name, id string, offset int64) {
	h := w.Header()
	h.Set("Location", uploadLocation(name, id))
	h.Set("Docker-Upload-UUID", id)
	end := offset - 1
	if end < 0 {
		end = 0
	}
	h.Set("Range", fmt.Sprintf("0-%d", end))
	h.Set("Content-Length", "0")
}

// takeUpload finds and locks an upload of the repository; the caller unlocks it.
func (r *Registry) takeUpload(name, id string) (*upload, error) {
	r.upMu.Lock()
	u := r.uploads[id]
	r.upMu.Unlock()
	if u == nil || u.repo != name {
		return nil, errBlobUploadUnknown()
	}
	u.mu.Lock()
	if u.finished {
		u.mu.Unlock()
		return nil, errBlobUploadUnknown()
	}
	u.lastUse = time.Now()
	return u, nil
}

// dropUpload ends an upload (the caller holds u.mu).
func (r *Registry) dropUpload(id string, u *upload, abort bool) {
	if abort {
		_ = u.w.Abort()
	}
	u.finished = true
	r.upMu.Lock()
	delete(r.uploads, id)
	r.upMu.Unlock()
}

func (r *Registry) uploadStatus(w http.ResponseWriter, name, id string) error {
	u, err := r.takeUpload(name, id)
	if err != nil {
		return err
	}
	defer u.mu.Unlock()
	writeUploadHeaders(w, name, id, u.w.Offset())
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// parseContentRange reads "start-end" (inclusive; "bytes=" or "bytes " may lead).
func parseContentRange(s string) (start, end int64, ok bool) {
	s = strings.TrimPrefix(strings.TrimPrefix(s, "bytes="), "bytes ")
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// appendBody writes a PATCH or final PUT body to the upload. A chunk (Content-Range)
// must start where the upload ends: one that does not is refused with 416 and the
// upload stays as it was. A chunk whose length is not the announced one fails the upload.
func (r *Registry) appendBody(w http.ResponseWriter, req *http.Request, name, id string, u *upload) error {
	offset := u.w.Offset()
	body, err := r.bodyReader(w, req, offset)
	if err != nil {
		r.dropUpload(id, u, true)
		return err
	}
	cr := req.Header.Get("Content-Range")
	if cr == "" {
		if _, err := copyBuffered(u.w, body); err != nil {
			r.dropUpload(id, u, true)
			return writeErr(err)
		}
		return nil
	}
	start, end, ok := parseContentRange(cr)
	if !ok {
		return errRangeInvalid(fmt.Sprintf("Content-Range %q: want start-end", cr))
	}
	if start != offset {
		writeUploadHeaders(w, name, id, offset)
		return errRangeInvalid(fmt.Sprintf("chunk starts at %d, the upload holds %d bytes: send the chunk that starts there", start, offset))
	}
	n := end - start + 1
	if req.ContentLength >= 0 && req.ContentLength != n {
		return errBlobUploadInvalid(fmt.Sprintf("Content-Range %q announces %d bytes, Content-Length %d", cr, n, req.ContentLength))
	}
	copied, err := copyBuffered(u.w, io.LimitReader(body, n))
	if err == nil && copied != n {
		err = errBlobUploadInvalid(fmt.Sprintf("chunk cut short: got %d of %d bytes", copied, n))
	}
	if err != nil {
		r.dropUpload(id, u, true)
		return writeErr(err)
	}
	return nil
}

func (r *Registry) patchUpload(w http.ResponseWriter, req *http.Request, name, id string) error {
	u, err := r.takeUpload(name, id)
	if err != nil {
		return err
	}
	defer u.mu.Unlock()
	if err := r.appendBody(w, req, name, id, u); err != nil {
		return err
	}
	writeUploadHeaders(w, name, id, u.w.Offset())
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// finishUpload appends the last chunk, if any, checks the digest and commits the blob.
func (r *Registry) finishUpload(w http.ResponseWriter, req *http.Request, name, id string) error {
	d, err := parseDigestParam(req.URL.Query().Get("digest"))
	if err != nil {
		return err
	}
	u, err := r.takeUpload(name, id)
	if err != nil {
		return err
	}
	defer u.mu.Unlock()
	if req.ContentLength != 0 {
		if err := r.appendBody(w, req, name, id, u); err != nil {
			return err
		}
	}
	size := u.w.Offset()
	if err := u.w.SetExpected(d); err != nil {
		r.dropUpload(id, u, true)
		return errDigestInvalid(err.Error())
	}
	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	err = u.w.Commit()
	r.dropUpload(id, u, false)
	var exists *content.ExistsError
	if err != nil && !errors.As(err, &exists) {
		if errors.Is(err, errdefs.ErrInvalidArgument) {
			return errDigestInvalid(fmt.Sprintf("the uploaded content is not %s", d))
		}
		return err
	}
	if err := r.meta.linkBlob(name, d, size); err != nil {
		return err
	}
	w.Header().Set("Location", blobLocation(name, d))
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func (r *Registry) cancelUpload(w http.ResponseWriter, name, id string) error {
	u, err := r.takeUpload(name, id)
	if err != nil {
		return err
	}
	defer u.mu.Unlock()
	r.dropUpload(id, u, true)
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// expireUploads drops uploads nobody touched for UploadTimeout.
func (r *Registry) expireUploads() {
	defer close(r.done)
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		r.upMu.Lock()
		var stale []string
		for id, u := range r.uploads {
			if u.mu.TryLock() {
				if !u.finished && time.Since(u.lastUse) > r.opts.UploadTimeout {
					stale = append(stale, id)
					_ = u.w.Abort()
					u.finished = true
				}
				u.mu.Unlock()
			}
		}
		for _, id := range stale {
			delete(r.uploads, id)
		}
		r.upMu.Unlock()
	}
}
