//! gomirror: a Go module mirror that never serves a corrupted byte.
