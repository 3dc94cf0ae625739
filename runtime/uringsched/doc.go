// Package uringsched is unet's io_uring completion scheduler: Read, Write
// and Accept of unet conns park their goroutine and are woken when the
// kernel posts the completion.
//
// The design notes and the measurements behind each choice are in
// DESIGN.md beside this file.
package uringsched
