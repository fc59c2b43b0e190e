// Command gomod-oracle is a test-only reference: it runs Go's own
// golang.org/x/mod (the copy vendored in the Go toolchain that cmd/go uses)
// on inputs given by gomirror's differential tests and prints the result as
// one JSON object. It is built in GOPATH mode, offline, by those tests.
//
//	gomod-oracle create <dir> <path> <version> <out.zip>
//	gomod-oracle checkdir <dir>
//	gomod-oracle checkzip <path> <version> <file.zip>
//	gomod-oracle hashzip <file.zip>
//	gomod-oracle hashmod <go.mod>
//	gomod-oracle files <file.zip>       (name -> sha256 of each entry)
package main

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"
)

type fileErr struct {
	Path string `json:"path"`
	Err  string `json:"err"`
}

type checked struct {
	Valid     []string  `json:"valid"`
	Omitted   []fileErr `json:"omitted"`
	Invalid   []fileErr `json:"invalid"`
	SizeError string    `json:"size_error,omitempty"`
	Error     string    `json:"error,omitempty"`
}

func conv(cf modzip.CheckedFiles, err error) checked {
	out := checked{Valid: cf.Valid, Omitted: []fileErr{}, Invalid: []fileErr{}}
	if out.Valid == nil {
		out.Valid = []string{}
	}
	for _, f := range cf.Omitted {
		out.Omitted = append(out.Omitted, fileErr{f.Path, f.Err.Error()})
	}
	for _, f := range cf.Invalid {
		out.Invalid = append(out.Invalid, fileErr{f.Path, f.Err.Error()})
	}
	if cf.SizeError != nil {
		out.SizeError = cf.SizeError.Error()
	}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

func emit(v any) {
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func main() {
	a := os.Args[1:]
	if len(a) == 0 {
		fmt.Fprintln(os.Stderr, "usage: gomod-oracle create|checkdir|checkzip|hashzip|hashmod|files ...")
		os.Exit(2)
	}
	switch a[0] {
	case "create":
		f, err := os.Create(a[4])
		if err != nil {
			emit(map[string]string{"error": err.Error()})
			return
		}
		err = modzip.CreateFromDir(f, module.Version{Path: a[2], Version: a[3]}, a[1])
		f.Close()
		if err != nil {
			os.Remove(a[4])
		}
		emit(map[string]string{"error": errString(err)})
	case "checkdir":
		emit(conv(modzip.CheckDir(a[1])))
	case "checkzip":
		emit(conv(modzip.CheckZip(module.Version{Path: a[1], Version: a[2]}, a[3])))
	case "hashzip":
		h, err := dirhash.HashZip(a[1], dirhash.Hash1)
		emit(map[string]string{"hash": h, "error": errString(err)})
	case "hashmod":
		h, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) { return os.Open(a[1]) })
		emit(map[string]string{"hash": h, "error": errString(err)})
	case "files":
		z, err := zip.OpenReader(a[1])
		if err != nil {
			emit(map[string]any{"error": err.Error()})
			return
		}
		defer z.Close()
		files := map[string]string{}
		for _, zf := range z.File {
			r, err := zf.Open()
			if err != nil {
				emit(map[string]any{"error": err.Error()})
				return
			}
			h := sha256.New()
			_, err = io.Copy(h, r)
			r.Close()
			if err != nil {
				emit(map[string]any{"error": err.Error()})
				return
			}
			files[zf.Name] = hex.EncodeToString(h.Sum(nil))
		}
		emit(map[string]any{"files": files})
	default:
		fmt.Fprintln(os.Stderr, "unknown command", a[0])
		os.Exit(2)
	}
}
