/*
 * ws_frame.h -- RFC 6455 frame codec, pure.
 *
 * Owns: the wire format of section 5.2 (header, lengths, masking) and the
 * per-frame and fragmentation rules of sections 5.2-5.5.  The decoder is an
 * incremental state machine: it is handed any split of the input (one byte
 * at a time works) and returns one event per call.  It never reads a
 * socket, never allocates, and knows nothing of httpd or messages beyond
 * "is a fragmented message in progress".
 *
 * Payload is unmasked in place in the caller's buffer, so the caller gets
 * pointers into its own input, with no copy.
 */
#ifndef WS_FRAME_H
#define WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* Opcodes, RFC 6455 section 5.2. */
#define WS_OP_CONT    0x0
#define WS_OP_TEXT    0x1
#define WS_OP_BINARY  0x2
#define WS_OP_CLOSE   0x8
#define WS_OP_PING    0x9
#define WS_OP_PONG    0xA

#define WS_OP_IS_CONTROL(op) (((op) & 0x8) != 0)

#define WS_RSV1 0x4
#define WS_RSV2 0x2
#define WS_RSV3 0x1

/* Longest header: 2 + 8 (64-bit length) + 4 (mask). */
#define WS_FRAME_MAX_HEADER 14
/* Largest control frame payload, section 5.5. */
#define WS_FRAME_MAX_CONTROL 125

/* Close codes (section 7.4.1, and IANA's registry for 1012-1014): the one
 * list the module uses.  ws_plugin_api.h gives handlers the same values as
 * WS_CLOSE_*; ws_session.c checks they agree. */
#define WS_CLOSE_CODE_NORMAL       1000
#define WS_CLOSE_CODE_GOING_AWAY   1001
#define WS_CLOSE_CODE_PROTOCOL     1002
#define WS_CLOSE_CODE_UNSUPPORTED  1003
#define WS_CLOSE_CODE_NO_STATUS    1005    /* never sent: no code given */
#define WS_CLOSE_CODE_ABNORMAL     1006    /* never sent: no close frame */
#define WS_CLOSE_CODE_INVALID_DATA 1007
#define WS_CLOSE_CODE_POLICY       1008
#define WS_CLOSE_CODE_TOO_BIG      1009
#define WS_CLOSE_CODE_MANDATORY_EXT 1010
#define WS_CLOSE_CODE_INTERNAL     1011
#define WS_CLOSE_CODE_TRY_AGAIN    1013

typedef struct {
    int fin;                    /* 1 if final fragment */
    unsigned rsv;               /* WS_RSV1|WS_RSV2|WS_RSV3 bits as sent */
    int opcode;                 /* WS_OP_* */
    int masked;                 /* 1 if a masking key was present */
    uint64_t length;            /* payload length */
} ws_frame_header_t;

typedef enum {
    WS_FRAME_NEED_MORE = 0,     /* input used up; nothing more without more */
    WS_FRAME_HEADER,            /* ev->header: a frame begins */
    WS_FRAME_PAYLOAD,           /* ev->data/ev->len: unmasked payload bytes */
    WS_FRAME_END,               /* the frame's payload is complete */
    WS_FRAME_ERROR              /* ev->close_code/ev->reason; sticky */
} ws_frame_result_e;

typedef struct {
    ws_frame_header_t header;   /* valid from HEADER until the next HEADER */
    uint8_t *data;              /* PAYLOAD: points into the caller's buffer */
    size_t len;                 /* PAYLOAD: number of bytes at data */
    int close_code;             /* ERROR: 1002 or 1009 */
    const char *reason;         /* ERROR: static text, for logs and close */
} ws_frame_event_t;

typedef struct {
    /* Settings: set after ws_frame_decoder_init, before the first decode. */
    uint64_t max_frame_size;    /* payload limit (1009 above it); 0 = none */
    unsigned allowed_rsv;       /* RSV bits an extension negotiated */
    int require_mask;           /* 1: unmasked frames are errors (server) */

    /* Private state. */
    int stage;
    uint8_t hdr[WS_FRAME_MAX_HEADER];
    size_t hdr_have;
    size_t hdr_need;
    uint64_t remaining;
    uint8_t mask[4];
    size_t mask_off;
    int in_message;             /* a fragmented data message is open */
    int error_code;
    const char *error_reason;
    ws_frame_header_t cur;
} ws_frame_decoder_t;

/* Reset to "expecting a frame header" with defaults: no size limit, no RSV
 * bits allowed, masking required. */
void ws_frame_decoder_init(ws_frame_decoder_t *d);

/*
 * Decode from buf[0..len).  *used is set to the bytes consumed (the caller
 * advances by it and calls again).  Returns one event.  HEADER is always
 * followed by zero or more PAYLOAD and then END, even for an empty payload
 * (END may be returned by a call with len == 0).  NEED_MORE means every
 * byte given was consumed and no further event is possible without more.
 * PAYLOAD data is unmasked in place in buf.
 *
 * Errors (each sets close_code and a reason):
 *   1002: reserved opcode; RSV bit not negotiated (RSV1 also on a
 *         continuation or control frame); unmasked frame when masking is
 *         required; control frame fragmented or longer than 125 bytes;
 *         64-bit length with the top bit set; continuation frame with no
 *         message open; new text/binary frame while a message is open.
 *   1009: payload length over max_frame_size.
 */
ws_frame_result_e ws_frame_decode(ws_frame_decoder_t *d, uint8_t *buf,
                                  size_t len, size_t *used,
                                  ws_frame_event_t *ev);

/* Write a frame header to out; returns its length (2..14).  mask NULL: no
 * masking key (server to client frames). */
size_t ws_frame_header_encode(uint8_t out[WS_FRAME_MAX_HEADER], int fin,
                              unsigned rsv, int opcode, uint64_t len,
                              const uint8_t *mask);

/* XOR data with the masking key, starting at key position offset % 4.
 * Masking and unmasking are the same operation. */
void ws_frame_mask(uint8_t *data, size_t len, const uint8_t mask[4],
                   size_t offset);

/* 1 if code may appear in a close frame on the wire (section 7.4):
 * 1000-1003, 1007-1014, 3000-4999. */
int ws_frame_close_code_valid(int code);

/*
 * Parse a received close payload (section 5.5.1).  Returns 0 and sets
 * *code (1005 if the payload is empty) and *reason, *reason_len (pointing
 * into payload), or returns the close code to fail with: 1002 for a
 * one-byte payload or a code not valid on the wire, 1007 for a reason that
 * is not valid UTF-8.
 */
int ws_frame_close_parse(const uint8_t *payload, size_t len, int *code,
                         const uint8_t **reason, size_t *reason_len);

#endif /* WS_FRAME_H */
