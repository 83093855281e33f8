/*
 * ws_conn.h -- the WebSocket protocol engine of one connection, pure.
 *
 * Owns: the connection state machine (RFC 6455 section 4-7): message
 * assembly from fragments, size limits, UTF-8 validation of text, answering
 * pings, the closing handshake, and mapping every violation to its close
 * code.  It is fed bytes and hands frames to an output callback.
 *
 * Must not touch: sockets, httpd, threads.  It is single-threaded by design:
 * the caller (ws_session) serialises every call for one connection.  That is
 * what lets the I/O strategy (a thread per connection, or parked connections
 * under mpm_event) change without touching the protocol.
 */
#ifndef WS_CONN_H
#define WS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include "ws_deflate.h"
#include "ws_frame.h"
#include "ws_utf8.h"

typedef enum {
    WS_STATE_CONNECTING = 0,    /* handshake not finished */
    WS_STATE_OPEN,              /* messages flow both ways */
    WS_STATE_CLOSING,           /* we sent a close, waiting for the peer's */
    WS_STATE_CLOSED             /* done: the caller closes TCP */
} ws_state_e;

/* Results of ws_conn_send and friends. */
#define WS_CONN_OK       0
#define WS_CONN_ECLOSED (-1)    /* not OPEN: nothing sent */
#define WS_CONN_EINVAL  (-3)    /* bad close code or reason */
#define WS_CONN_EOUTPUT (-4)    /* the output callback failed */

typedef struct {
    /* A whole message.  data[len] is a NUL byte (not part of the message).
     * data is valid until the callback returns.  Return 0, or non-zero to
     * fail the connection with 1011. */
    int (*message)(void *baton, int opcode, const uint8_t *data, size_t len);

    /* Send one frame: hdr then payload.  Both are only valid during the
     * call.  Return 0, or -1 if the connection can no longer be written. */
    int (*output)(void *baton, const uint8_t *hdr, size_t hlen,
                  const uint8_t *payload, size_t plen);

    /* A pong arrived (optional; keepalive bookkeeping). */
    void (*pong)(void *baton, const uint8_t *data, size_t len);

    /* A protocol violation by the peer, just before the close frame is
     * sent (optional; for the log). */
    void (*violation)(void *baton, int close_code, const char *reason);
} ws_conn_ops_t;

typedef struct {
    uint64_t max_message_size;  /* 0 = no limit */
    uint64_t max_frame_size;    /* 0 = no limit */
    uint32_t max_fragments;     /* frames per message; 0 = no limit */
    uint32_t max_control;       /* control frames per window (the caller
                                 * starts a window each second:
                                 * ws_conn_new_control_window); 0 = no
                                 * limit */
} ws_conn_limits_t;

typedef struct {
    ws_state_e state;
    ws_frame_decoder_t dec;
    ws_utf8_t utf8;
    uint64_t max_message_size;
    uint32_t max_fragments;
    uint32_t max_control;
    uint32_t ctl_count;         /* control frames in the current window */

    /* The data message being assembled. */
    int msg_opcode;             /* 0 when none */
    uint32_t msg_frames;        /* frames of it so far */
    uint8_t *msg;               /* malloc'd, reused between messages */
    size_t msg_len;
    size_t msg_cap;
    int direct;                 /* current frame delivered from the input */
    int msg_compressed;         /* RSV1 on its first frame (RFC 7692) */
    ws_deflate_t *pmd;          /* permessage-deflate agreed (the caller's;
                                 * NULL: none) */
    uint8_t *direct_data;
    uint8_t *delivering;        /* msg, while the message callback runs */

    /* The control frame being read (section 5.5: at most 125 bytes). */
    ws_frame_header_t frame;
    uint8_t ctl[WS_FRAME_MAX_CONTROL + 1];
    size_t ctl_len;

    /* How it ended, for on_close and the log. */
    int close_code;
    char close_reason[WS_FRAME_MAX_CONTROL];
    int close_received;         /* the peer sent a close frame */
    int close_sent;             /* we sent one (before or after it) */
    int peer_closed_first;      /* the peer's close frame came first (the
                                 * client started the closing handshake) */

    const ws_conn_ops_t *ops;
    void *baton;

    /* Counters. */
    uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
} ws_conn_t;

const char *ws_conn_state_str(ws_state_e state);

/* Start in OPEN (the handshake is done by the caller). */
void ws_conn_init(ws_conn_t *c, const ws_conn_limits_t *limits,
                  const ws_conn_ops_t *ops, void *baton);

/* Free the message buffer. */
void ws_conn_cleanup(ws_conn_t *c);

/* permessage-deflate was agreed: RSV1 marks compressed messages both ways
 * (RFC 7692 section 6).  d stays the caller's (it outlives the engine's
 * use of it). */
void ws_conn_set_deflate(ws_conn_t *c, ws_deflate_t *d);

/* Send a data message whose payload is already compressed for this
 * connection's settings (a broadcast's shared copy): RSV1 is set. */
int ws_conn_send_deflated(ws_conn_t *c, int opcode, const void *data,
                          size_t len);

/*
 * Feed received bytes.  buf must have one writable byte after buf[len - 1]
 * (the engine NUL-terminates messages delivered straight from the input and
 * restores the byte).  Payload is unmasked in place.  Returns the state
 * afterwards; CLOSED means the caller should close TCP (after flushing).
 */
ws_state_e ws_conn_feed(ws_conn_t *c, uint8_t *buf, size_t len);

/* Send one whole data message (WS_OP_TEXT or WS_OP_BINARY), unfragmented.
 * Text is not validated here. */
int ws_conn_send(ws_conn_t *c, int opcode, const void *data, size_t len);

/* Send a ping with up to 125 bytes of payload. */
int ws_conn_ping(ws_conn_t *c, const void *data, size_t len);

/* Start the closing handshake (section 7.1.2): code 0 sends a close frame
 * without a status.  State becomes CLOSING. */
int ws_conn_close(ws_conn_t *c, int code, const char *reason);

/* From the message callback: if data/len is the message being delivered,
 * as assembled in the engine's own malloc'd buffer (not one delivered
 * straight from the input), hand that buffer over: the caller owns it
 * from now on (len bytes and a NUL; free() it) and the engine allocates
 * another for the next message.  NULL otherwise.  This lets a handler
 * that sends back what it got (echo) do so without copying it. */
uint8_t *ws_conn_take_message(ws_conn_t *c, const void *data, size_t len);

/* A new window of max_control begins: the control-frame count starts
 * over (the caller keeps the clock: one window per second). */
void ws_conn_new_control_window(ws_conn_t *c);

/* Release the message buffer if no message is being assembled (an idle
 * connection should hold no buffer). */
void ws_conn_trim(ws_conn_t *c);

/* The transport is gone, timed out or is being torn down: state becomes
 * CLOSED and, unless a close code was already set (a close frame sent or
 * received), the outcome is code and reason (normally 1006, "abnormal
 * closure", section 7.1.5; 1001 when the server itself is stopping). */
void ws_conn_abort(ws_conn_t *c, int code, const char *reason);

#endif /* WS_CONN_H */
