/*
 * ws_frame.c -- RFC 6455 frame codec, pure.
 *
 * Owns: the incremental frame decoder (section 5.2 wire format, the
 * per-frame rules of sections 5.2-5.5 and the "is a fragmented message
 * open" bit of section 5.4), the header encoder, masking (section 5.3) and
 * close payload checks (sections 5.5.1 and 7.4).  No I/O, no allocation,
 * no httpd or APR types.
 *
 * Decoder outline.  Header bytes are copied into d->hdr until the header
 * is complete.  The checks that need only the first two bytes (opcode, RSV
 * bits, mask bit, control frame rules, fragmentation state) run as soon as
 * those two bytes are in, so a bad frame fails before its extended length
 * or masking key arrives; the length checks run when the header is
 * complete.  Either way the checks and their order depend only on the
 * bytes, never on how the input was split, so every split of the same
 * input gives the same events.
 *
 * Consumption on error: the call that detects an error consumes the header
 * bytes it read up to and including the offending one (they were absorbed
 * into d->hdr); every later call returns the same error and consumes
 * nothing.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ws_frame.h"
#include "ws_utf8.h"

/* d->stage */
#define STAGE_HEADER  0         /* accumulating a header into d->hdr */
#define STAGE_PAYLOAD 1         /* d->remaining payload bytes to pass on */
#define STAGE_ERROR   2         /* d->error_code/d->error_reason; sticky */

/* Opcodes 0x3-0x7 and 0xB-0xF are reserved, section 5.2. */
#define OP_RESERVED(op) (((op) >= 0x3 && (op) <= 0x7) || (op) >= 0xB)

void ws_frame_decoder_init(ws_frame_decoder_t *d)
{
    memset(d, 0, sizeof(*d));
    d->max_frame_size = 0;
    d->allowed_rsv = 0;
    d->require_mask = 1;
    d->stage = STAGE_HEADER;
    d->hdr_have = 0;
    d->hdr_need = 2;
    d->error_reason = NULL;
}

static ws_frame_result_e decoder_error(ws_frame_decoder_t *d,
                                       ws_frame_event_t *ev)
{
    ev->data = NULL;
    ev->len = 0;
    ev->close_code = d->error_code;
    ev->reason = d->error_reason;
    return WS_FRAME_ERROR;
}

static ws_frame_result_e decoder_fail(ws_frame_decoder_t *d,
                                      ws_frame_event_t *ev, int code,
                                      const char *reason)
{
    d->stage = STAGE_ERROR;
    d->error_code = code;
    d->error_reason = reason;
    return decoder_error(d, ev);
}

/*
 * Checks on the first two header bytes (section 5.2).  Returns the reason
 * for a 1002 failure, or NULL and sets d->hdr_need to the full header
 * length.
 */
static const char *check_first_two(ws_frame_decoder_t *d)
{
    unsigned b0 = d->hdr[0], b1 = d->hdr[1];
    int fin = (b0 & 0x80) != 0;
    unsigned rsv = (b0 >> 4) & 0x7;
    int opcode = b0 & 0xF;
    int masked = (b1 & 0x80) != 0;
    unsigned len7 = b1 & 0x7F;

    /* Section 5.2: reserved opcodes. */
    if (OP_RESERVED(opcode)) {
        return "reserved opcode";
    }
    /* Section 5.2: RSV bits must be 0 unless an extension defines them. */
    if (rsv & ~d->allowed_rsv & 0x7) {
        return "reserved bits set";
    }
    /*
     * RSV1 is the "per-message compressed" bit of permessage-deflate (RFC
     * 7692 section 6): set on the first frame of a data message only.
     */
    if ((rsv & WS_RSV1)
        && (opcode == WS_OP_CONT || WS_OP_IS_CONTROL(opcode))) {
        return "RSV1 on continuation or control frame";
    }
    /* Section 5.3: a client masks every frame it sends to the server. */
    if (d->require_mask && !masked) {
        return "unmasked client frame";
    }
    if (WS_OP_IS_CONTROL(opcode)) {
        /* Section 5.5: control frames are never fragmented... */
        if (!fin) {
            return "fragmented control frame";
        }
        /*
         * ... and carry at most 125 bytes.  A 126 or 127 length code is
         * either more than 125 bytes or a non-minimal encoding (section
         * 5.2 asks for the minimal one), so it fails here, before the
         * extended length arrives.
         */
        if (len7 > WS_FRAME_MAX_CONTROL) {
            return "control frame too long";
        }
    }
    else if (opcode == WS_OP_CONT) {
        /* Section 5.4: a continuation belongs to an open message. */
        if (!d->in_message) {
            return "continuation without message";
        }
    }
    else if (d->in_message) {
        /* Section 5.4: fragments of messages are never interleaved. */
        return "new message inside fragmented message";
    }

    d->hdr_need = (size_t)2 + (len7 == 126 ? 2u : len7 == 127 ? 8u : 0u)
                  + (masked ? 4u : 0u);
    return NULL;
}

/*
 * The header is complete: check the payload length and start the frame.
 */
static ws_frame_result_e finish_header(ws_frame_decoder_t *d,
                                       ws_frame_event_t *ev)
{
    const uint8_t *h = d->hdr;
    unsigned len7 = h[1] & 0x7F;
    uint64_t length;
    size_t pos = 2;
    int i;

    if (len7 == 126) {
        length = ((uint64_t)h[2] << 8) | h[3];
        pos = 4;
    }
    else if (len7 == 127) {
        length = 0;
        for (i = 0; i < 8; i++) {
            length = (length << 8) | h[2 + i];
        }
        pos = 10;
        /* Section 5.2: the most significant bit MUST be 0. */
        if (length >> 63) {
            return decoder_fail(d, ev, WS_CLOSE_CODE_PROTOCOL,
                                "invalid 64-bit length");
        }
    }
    else {
        length = len7;
    }

    if (d->max_frame_size && length > d->max_frame_size) {
        return decoder_fail(d, ev, WS_CLOSE_CODE_TOO_BIG, "frame too large");
    }

    d->cur.fin = (h[0] & 0x80) != 0;
    d->cur.rsv = (h[0] >> 4) & 0x7;
    d->cur.opcode = h[0] & 0xF;
    d->cur.masked = (h[1] & 0x80) != 0;
    d->cur.length = length;
    if (d->cur.masked) {
        memcpy(d->mask, h + pos, 4);
    }
    d->mask_off = 0;
    d->remaining = length;

    /*
     * Section 5.4: a data frame with FIN clear opens (or continues) a
     * fragmented message, one with FIN set ends it.  Control frames may
     * be injected in the middle and change nothing.
     */
    if (!WS_OP_IS_CONTROL(d->cur.opcode)) {
        d->in_message = !d->cur.fin;
    }

    d->stage = STAGE_PAYLOAD;
    ev->header = d->cur;
    ev->data = NULL;
    ev->len = 0;
    return WS_FRAME_HEADER;
}

ws_frame_result_e ws_frame_decode(ws_frame_decoder_t *d, uint8_t *buf,
                                  size_t len, size_t *used,
                                  ws_frame_event_t *ev)
{
    const char *reason;
    size_t i = 0, take, before;
    uint64_t n;

    *used = 0;

    if (d->stage == STAGE_ERROR) {
        return decoder_error(d, ev);
    }

    if (d->stage == STAGE_PAYLOAD) {
        ev->header = d->cur;
        if (d->remaining == 0) {
            d->stage = STAGE_HEADER;
            d->hdr_have = 0;
            d->hdr_need = 2;
            ev->data = NULL;
            ev->len = 0;
            return WS_FRAME_END;
        }
        if (len == 0) {
            return WS_FRAME_NEED_MORE;
        }
        n = d->remaining < len ? d->remaining : len;
        if (d->cur.masked) {
            ws_frame_mask(buf, (size_t)n, d->mask, d->mask_off);
            d->mask_off = (d->mask_off + (size_t)n) & 3;
        }
        d->remaining -= n;
        ev->data = buf;
        ev->len = (size_t)n;
        *used = (size_t)n;
        return WS_FRAME_PAYLOAD;
    }

    /* STAGE_HEADER */
    while (d->hdr_have < d->hdr_need) {
        if (i == len) {
            *used = len;
            return WS_FRAME_NEED_MORE;
        }
        take = d->hdr_need - d->hdr_have;
        if (take > len - i) {
            take = len - i;
        }
        before = d->hdr_have;
        memcpy(d->hdr + before, buf + i, take);
        d->hdr_have += take;
        i += take;
        /*
         * hdr_need is 2 until the first two bytes are in, so take stops
         * exactly there.
         */
        if (before < 2 && d->hdr_have == 2) {
            reason = check_first_two(d);
            if (reason) {
                *used = i;
                return decoder_fail(d, ev, WS_CLOSE_CODE_PROTOCOL, reason);
            }
        }
    }
    *used = i;
    return finish_header(d, ev);
}

size_t ws_frame_header_encode(uint8_t out[WS_FRAME_MAX_HEADER], int fin,
                              unsigned rsv, int opcode, uint64_t len,
                              const uint8_t *mask)
{
    uint8_t mask_bit = mask ? 0x80 : 0x00;
    size_t n;
    int i;

    /* Section 5.2: FIN, RSV1-3, opcode; MASK, payload length. */
    out[0] = (uint8_t)((fin ? 0x80 : 0x00) | ((rsv & 0x7) << 4)
                       | (opcode & 0xF));
    if (len <= 125) {
        out[1] = (uint8_t)(mask_bit | len);
        n = 2;
    }
    else if (len <= 0xFFFF) {
        out[1] = mask_bit | 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        n = 4;
    }
    else {
        out[1] = mask_bit | 127;
        for (i = 0; i < 8; i++) {
            out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
        }
        n = 10;
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

void ws_frame_mask(uint8_t *data, size_t len, const uint8_t mask[4],
                   size_t offset)
{
    /* Section 5.3: octet i is XORed with mask[i % 4]. */
    size_t k = offset & 3;
    uint8_t pattern[8];
    uint64_t key, w0, w1;
    size_t i;

    /* Bytes up to an 8-byte boundary of the buffer. */
    while (len > 0 && ((uintptr_t)data & 7) != 0) {
        *data++ ^= mask[k];
        k = (k + 1) & 3;
        len--;
    }

    if (len >= 8) {
        /*
         * The key rotated to the current position, as one word; since 8
         * is a multiple of 4 the rotation stays the same word to word.
         */
        for (i = 0; i < 8; i++) {
            pattern[i] = mask[(k + i) & 3];
        }
        memcpy(&key, pattern, 8);
        while (len >= 16) {
            memcpy(&w0, data, 8);
            memcpy(&w1, data + 8, 8);
            w0 ^= key;
            w1 ^= key;
            memcpy(data, &w0, 8);
            memcpy(data + 8, &w1, 8);
            data += 16;
            len -= 16;
        }
        if (len >= 8) {
            memcpy(&w0, data, 8);
            w0 ^= key;
            memcpy(data, &w0, 8);
            data += 8;
            len -= 8;
        }
    }

    while (len > 0) {
        *data++ ^= mask[k];
        k = (k + 1) & 3;
        len--;
    }
}

int ws_frame_close_code_valid(int code)
{
    /*
     * Section 7.4.1 defines 1000-1011 with 1004-1006 never sent on the
     * wire (1004 reserved, 1005 and 1006 local only); 1012-1014 were
     * registered later (section 11.7 registry); 1015 is local only.
     * Section 7.4.2: 3000-3999 registered, 4000-4999 private use.
     */
    return (code >= 1000 && code <= 1003)
           || (code >= 1007 && code <= 1014)
           || (code >= 3000 && code <= 4999);
}

int ws_frame_close_parse(const uint8_t *payload, size_t len, int *code,
                         const uint8_t **reason, size_t *reason_len)
{
    int c;

    /* Section 5.5.1: an empty body means no status code (1005, 7.1.5). */
    if (len == 0) {
        *code = WS_CLOSE_CODE_NO_STATUS;
        *reason = NULL;
        *reason_len = 0;
        return 0;
    }
    /* Otherwise the body starts with a two-byte code. */
    if (len == 1) {
        return WS_CLOSE_CODE_PROTOCOL;
    }
    c = (payload[0] << 8) | payload[1];
    if (!ws_frame_close_code_valid(c)) {
        return WS_CLOSE_CODE_PROTOCOL;
    }
    /* Section 5.5.1: the reason is UTF-8; section 8.1: fail with 1007. */
    if (!ws_utf8_valid(payload + 2, len - 2)) {
        return WS_CLOSE_CODE_INVALID_DATA;
    }
    *code = c;
    *reason = payload + 2;
    *reason_len = len - 2;
    return 0;
}
