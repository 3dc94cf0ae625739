// Package nethttptest runs real servers and clients over unet: net/http
// (HTTP/1.1, TLS, HTTP/2, h2c), WebSocket through Hijack, gRPC and
// fasthttp, on every backend, including faults such as resets, half-closes
// and descriptor exhaustion. It holds only tests.
package nethttptest
