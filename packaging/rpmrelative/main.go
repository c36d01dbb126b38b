// Command rpmrelative rewrites an RPM that nfpm made so that its cpio
// payload names files relatively (./usr/bin/wgtray), as rpmbuild does.
//
// nfpm (through rpmpack) stores absolute names (/usr/bin/wgtray) in the
// payload. rpm installs either form the same way, from the header's file
// list, but `rpm2cpio pkg.rpm | cpio -idm`, the usual way to look inside
// an RPM, honours absolute names and, run as root, writes the package
// into the real /. Later nfpm releases cannot be used here (see the
// Makefile), so `make packages` runs this on the RPM it built:
//
//	rpmrelative FILE.rpm
//
// Only what depends on the payload changes: the payload itself, the
// header's payload digest (the same length: the header keeps its layout)
// and the signature header's sizes and header digest, all rewritten in
// place. (The archive's size, which rpmpack gets wrong, is set right:
// rpm2cpio exits 1 when it differs.) An RPM with anything else that would need updating (an MD5 or
// SHA-1 digest, a signature, another compressor than gzip) is refused.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: rpmrelative FILE.rpm")
		os.Exit(2)
	}
	if err := rewriteFile(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "rpmrelative: %v\n", err)
		os.Exit(1)
	}
}

// rewriteFile rewrites path in place (through a temporary file and a
// rename, so that a failure leaves the original).
func rewriteFile(path string) error {
	in, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := Relativize(in)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".rpmrelative-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(out); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Tags this program reads or writes (rpm's rpmtag.h).
const (
	sigSize        = 1000 // header + payload size (INT32)
	sigSHA256      = 273  // hex SHA-256 of the header (STRING)
	sigPayloadSize = 1007 // size of the uncompressed cpio archive (INT32)
	tagCompressor  = 1125 // payload compressor (STRING)
	tagPayloadHash = 5092 // hex digests of the compressed payload (STRING_ARRAY)
	tagPayloadAlgo = 5093 // their algorithm (INT32): 8 is SHA-256

	typeInt32       = 4
	typeString      = 6
	typeStringArray = 8
)

// refusedSig and refusedHdr are the tags of the signature and the main
// header whose values depend on the header or the payload and that this
// program does not update. (The two headers number their tags apart.)
var (
	refusedSig = map[uint32]string{
		1004: "MD5 digest", 269: "SHA-1 digest", 1002: "PGP signature", 268: "RSA signature",
		1005: "GPG signature", 267: "DSA signature", 270: "64-bit size", 271: "64-bit archive size",
	}
	refusedHdr = map[uint32]string{1046: "archive size", 5097: "alternative payload digest"}
)

// Relativize returns the RPM rpm with a payload whose absolute names are
// made relative.
func Relativize(rpm []byte) ([]byte, error) {
	const leadLen = 96
	if len(rpm) < leadLen || !bytes.Equal(rpm[:4], []byte{0xed, 0xab, 0xee, 0xdb}) {
		return nil, errors.New("not an RPM (no lead)")
	}
	sig, err := parseHeader(rpm, leadLen)
	if err != nil {
		return nil, fmt.Errorf("signature header: %w", err)
	}
	hdrStart := sig.end + (8-sig.end%8)%8 // the signature header is padded to 8 bytes
	hdr, err := parseHeader(rpm, hdrStart)
	if err != nil {
		return nil, fmt.Errorf("main header: %w", err)
	}
	for _, c := range []struct {
		h       *header
		refused map[uint32]string
	}{{sig, refusedSig}, {hdr, refusedHdr}} {
		for _, e := range c.h.entries {
			if what, ok := c.refused[e.tag]; ok {
				return nil, fmt.Errorf("has a %s (tag %d), which this program cannot update", what, e.tag)
			}
		}
	}
	if c, err := hdr.str(tagCompressor); err != nil || c != "gzip" {
		return nil, fmt.Errorf("payload compressor %q (%v): only gzip is handled", c, err)
	}
	if a, err := hdr.int32(tagPayloadAlgo); err != nil || a != 8 {
		return nil, fmt.Errorf("payload digest algorithm %d (%v): only SHA-256 (8) is handled", a, err)
	}

	zr, err := gzip.NewReader(bytes.NewReader(rpm[hdr.end:]))
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	archive, err := io.ReadAll(zr)
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	newArchive, err := relativeCpio(archive)
	if err != nil {
		return nil, err
	}
	var payload bytes.Buffer
	// nfpm's default level, and no name or time in the gzip header.
	zw, _ := gzip.NewWriterLevel(&payload, gzip.DefaultCompression)
	zw.Write(newArchive)
	if err := zw.Close(); err != nil {
		return nil, err
	}

	out := append([]byte(nil), rpm[:hdr.end]...)
	sum := sha256.Sum256(payload.Bytes())
	if err := hdr.setStr(out, tagPayloadHash, hex.EncodeToString(sum[:])); err != nil {
		return nil, err
	}
	hsum := sha256.Sum256(out[hdrStart:hdr.end])
	if err := sig.setStr(out, sigSHA256, hex.EncodeToString(hsum[:])); err != nil {
		return nil, err
	}
	if err := sig.setInt32(out, sigSize, uint32(hdr.end-hdrStart+payload.Len())); err != nil {
		return nil, err
	}
	// rpmpack stores the sum of the files' sizes here; rpm means the
	// size of the uncompressed cpio archive, and rpm2cpio exits 1 when
	// it copied another number of bytes.
	if err := sig.setInt32(out, sigPayloadSize, uint32(len(newArchive))); err != nil {
		return nil, err
	}
	return append(out, payload.Bytes()...), nil
}

// header is a parsed RPM header structure: its index entries and where
// its data store starts, as offsets into the whole file.
type header struct {
	bytes   []byte // the whole file
	entries []entry
	store   int // offset of the data store
	end     int // offset just past the data store
}

type entry struct{ tag, typ, off, count uint32 }

// parseHeader parses the header structure at offset at.
func parseHeader(b []byte, at int) (*header, error) {
	if len(b) < at+16 || !bytes.Equal(b[at:at+4], []byte{0x8e, 0xad, 0xe8, 0x01}) {
		return nil, errors.New("no header magic")
	}
	n := int(binary.BigEndian.Uint32(b[at+8:]))
	size := int(binary.BigEndian.Uint32(b[at+12:]))
	h := &header{store: at + 16 + 16*n}
	h.end = h.store + size
	if n > 10000 || h.end > len(b) {
		return nil, fmt.Errorf("header of %d entries and %d bytes past the end of the file", n, size)
	}
	for i := 0; i < n; i++ {
		p := b[at+16+16*i:]
		e := entry{binary.BigEndian.Uint32(p), binary.BigEndian.Uint32(p[4:]), binary.BigEndian.Uint32(p[8:]), binary.BigEndian.Uint32(p[12:])}
		if int(e.off) > size {
			return nil, fmt.Errorf("tag %d's data at %d, past the store's %d bytes", e.tag, e.off, size)
		}
		h.entries = append(h.entries, e)
	}
	h.bytes = b
	return h, nil
}

func (h *header) find(tag, typ uint32) (entry, error) {
	for _, e := range h.entries {
		if e.tag == tag {
			if e.typ != typ || e.count != 1 {
				return e, fmt.Errorf("tag %d has type %d and count %d, want type %d and count 1", tag, e.typ, e.count, typ)
			}
			return e, nil
		}
	}
	return entry{}, fmt.Errorf("no tag %d", tag)
}

// str returns a STRING tag's value.
func (h *header) str(tag uint32) (string, error) {
	e, err := h.find(tag, typeString)
	if err != nil {
		return "", err
	}
	data := h.bytes[h.store+int(e.off) : h.end]
	if i := bytes.IndexByte(data, 0); i >= 0 {
		return string(data[:i]), nil
	}
	return "", fmt.Errorf("tag %d: unterminated string", tag)
}

// int32 returns an INT32 tag's value.
func (h *header) int32(tag uint32) (uint32, error) {
	e, err := h.find(tag, typeInt32)
	if err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(h.bytes[h.store+int(e.off):]), nil
}

// setStr overwrites, in out, the value of a STRING or one-element
// STRING_ARRAY tag with one of the same length.
func (h *header) setStr(out []byte, tag uint32, v string) error {
	e, err := h.find(tag, typeString)
	if err != nil {
		if e, err = h.find(tag, typeStringArray); err != nil {
			return err
		}
	}
	old, _ := h.strAt(e)
	if len(old) != len(v) {
		return fmt.Errorf("tag %d: new value %q is not as long as the old %q", tag, v, old)
	}
	copy(out[h.store+int(e.off):], v)
	return nil
}

func (h *header) strAt(e entry) (string, error) {
	data := h.bytes[h.store+int(e.off) : h.end]
	i := bytes.IndexByte(data, 0)
	if i < 0 {
		return "", errors.New("unterminated string")
	}
	return string(data[:i]), nil
}

// setInt32 overwrites, in out, the value of an INT32 tag.
func (h *header) setInt32(out []byte, tag uint32, v uint32) error {
	e, err := h.find(tag, typeInt32)
	if err != nil {
		return err
	}
	binary.BigEndian.PutUint32(out[h.store+int(e.off):], v)
	return nil
}

// relativeCpio rewrites a "newc" cpio archive (magic 070701, or 070702
// with checksums) so that every absolute member name /x becomes ./x.
func relativeCpio(a []byte) ([]byte, error) {
	const hdrLen = 110
	var out bytes.Buffer
	pad4 := func(n int) int { return (4 - n%4) % 4 }
	for off := 0; ; {
		if len(a) < off+hdrLen {
			return nil, fmt.Errorf("cpio: truncated header at %d", off)
		}
		h := a[off : off+hdrLen]
		if magic := string(h[:6]); magic != "070701" && magic != "070702" {
			return nil, fmt.Errorf("cpio: magic %q at %d, want newc", magic, off)
		}
		field := func(i int) (int, error) {
			v, err := strconv.ParseUint(string(h[6+8*i:14+8*i]), 16, 32)
			return int(v), err
		}
		fileSize, err1 := field(6)
		nameSize, err2 := field(11)
		if err := errors.Join(err1, err2); err != nil || nameSize < 1 {
			return nil, fmt.Errorf("cpio: bad header at %d: %v", off, err)
		}
		nameStart := off + hdrLen
		dataStart := nameStart + nameSize + pad4(hdrLen+nameSize)
		dataEnd := dataStart + fileSize
		if len(a) < dataEnd {
			return nil, fmt.Errorf("cpio: member at %d runs past the end", off)
		}
		name := string(a[nameStart : nameStart+nameSize-1])
		newName := name
		if len(name) > 0 && name[0] == '/' {
			newName = "." + name
		}
		nh := append([]byte(nil), h...)
		copy(nh[6+8*11:], fmt.Sprintf("%08X", len(newName)+1))
		out.Write(nh)
		out.WriteString(newName)
		out.WriteByte(0)
		out.Write(make([]byte, pad4(hdrLen+len(newName)+1)))
		out.Write(a[dataStart:dataEnd])
		out.Write(make([]byte, pad4(fileSize)))
		off = dataEnd + pad4(fileSize)
		if name == "TRAILER!!!" {
			// Whatever padding followed the trailer is kept as it was.
			out.Write(a[min(off, len(a)):])
			return out.Bytes(), nil
		}
	}
}
