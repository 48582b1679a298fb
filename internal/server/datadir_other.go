//go:build !unix

package server

import "io/fs"

// fileOwner is unknown where files have no Unix owner.
func fileOwner(fs.FileInfo) (int, bool) { return 0, false }
