/*
 * ws_deflate.h -- permessage-deflate's compression and decompression of
 * one connection's messages (RFC 7692 section 7.2), on zlib.
 *
 * Inflate: a message's compressed payload is fed as it arrives and its
 * inflated bytes go to a sink in chunks of at most WS_DEFLATE_CHUNK, so the
 * caller applies its size limit to the *inflated* size before the memory
 * is spent; the message's end adds the 0x00 0x00 0xff 0xff tail the sender
 * removed.  The inflater lives while the connection does when the client
 * keeps its context (the window is its history), and only during a
 * message when it does not.
 *
 * Deflate: a whole message at once, raw deflate with a sync flush, the
 * tail removed.  With server_no_context_takeover (our default) the
 * compressor is the calling thread's, reset for each message: no
 * per-connection compressor, and the same message gives the same bytes
 * for every connection with the same settings (ws_deflate_key), which is
 * what lets a broadcast be compressed once.
 *
 * Owns: the zlib streams.  Threads: one connection's calls come from one
 * thread at a time (the engine's rule); the thread-local compressors are
 * the calling thread's.
 */
#ifndef WS_DEFLATE_H
#define WS_DEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "ws_pmd.h"

#define WS_DEFLATE_CHUNK 16384

/* Results. */
#define WS_DEFLATE_OK       0
#define WS_DEFLATE_BAD    (-1)  /* not a valid deflate stream: 1007 */
#define WS_DEFLATE_NOMEM  (-2)
#define WS_DEFLATE_SINK   (-3)  /* the sink refused (the caller's limit) */

typedef struct {
    ws_pmd_params_t params;     /* what the handshake agreed */
    int level;                  /* zlib level 1-9 */
    int mem_level;              /* zlib memLevel 1-9 */
    size_t min_size;            /* messages shorter go uncompressed */
} ws_deflate_conf_t;

typedef struct ws_deflate ws_deflate_t;

/* Receives inflated bytes; returns 0, or non-zero to stop (the inflate
 * then returns WS_DEFLATE_SINK). */
typedef int (*ws_deflate_sink_fn)(void *arg, const uint8_t *data,
                                  size_t len);

/* A connection's state (small: the zlib streams come when needed).  NULL:
 * no memory. */
ws_deflate_t *ws_deflate_create(const ws_deflate_conf_t *conf);
void ws_deflate_destroy(ws_deflate_t *d);

/* Inflate the next len bytes of the current compressed message; last: its
 * final frame's payload ends here. */
int ws_deflate_inflate(ws_deflate_t *d, const uint8_t *in, size_t len,
                       int last, ws_deflate_sink_fn sink, void *arg);

/* Abandon a message being inflated (the connection fails). */
void ws_deflate_inflate_abort(ws_deflate_t *d);

/* Should a message of len bytes be compressed? */
int ws_deflate_wanted(const ws_deflate_t *d, size_t len);

/* Compress a whole message: *out is malloc'd (*olen bytes) for the
 * caller to free. */
int ws_deflate_compress(ws_deflate_t *d, const uint8_t *in, size_t len,
                        uint8_t **out, size_t *olen);

/* Settings that give the same bytes for the same message (0: this
 * connection's compressor keeps context, its output is its own). */
uint32_t ws_deflate_key(const ws_deflate_t *d);

/* Free what an idle connection need not keep (between messages). */
void ws_deflate_trim(ws_deflate_t *d);

/* Bytes of zlib state this connection holds now (for the figures). */
size_t ws_deflate_memory(const ws_deflate_t *d);

#endif /* WS_DEFLATE_H */
