/*
 * fuzz_frame.c -- libFuzzer harness for the bottom of the stack: the frame
 * decoder, the UTF-8 validator and the protocol engine, fed the input in
 * pieces whose sizes come from the input itself.
 *
 * Checks beyond "no crash" (ASan/UBSan find those): the engine's outcome
 * does not depend on how the input is split, every close frame it sends
 * carries a code valid on the wire, and the incremental UTF-8 validator
 * agrees with the one-shot one.  When the first byte's high bit is set,
 * permessage-deflate is agreed: RSV1 messages go through the inflater, and
 * its output is held to the message limit and UTF-8 like any other.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_conn.h"
#include "ws_frame.h"
#include "ws_utf8.h"

typedef struct {
    int msgs;
    uint64_t msg_bytes;
    uint8_t out[256];
    size_t out_len;
} rec_t;

static int on_message(void *baton, int opcode, const uint8_t *data,
                      size_t len)
{
    rec_t *r = baton;

    if (data[len] != '\0') {
        abort();
    }
    if (opcode == WS_OP_TEXT && !ws_utf8_valid(data, len)) {
        abort();                /* text reached the handler unvalidated */
    }
    r->msgs++;
    r->msg_bytes += len;
    return 0;
}

static int on_output(void *baton, const uint8_t *hdr, size_t hlen,
                     const uint8_t *payload, size_t plen)
{
    rec_t *r = baton;

    if ((hdr[0] & 0x0f) == WS_OP_CLOSE && plen >= 2) {
        int code = payload[0] << 8 | payload[1];

        if (!ws_frame_close_code_valid(code)) {
            abort();            /* 1005/1006/1015 etc. must never be sent */
        }
    }
    if (r->out_len + hlen <= sizeof(r->out)) {
        memcpy(r->out + r->out_len, hdr, hlen);
        r->out_len += hlen;
    }
    return 0;
}

static const ws_conn_ops_t ops = { on_message, on_output, NULL, NULL };

/* Run the engine over data cut into pieces of the given sizes. */
static void run(const uint8_t *data, size_t size, size_t piece, int deflate,
                rec_t *r, ws_state_e *state, int *code)
{
    ws_conn_limits_t lim = { 1 << 20, 1 << 19, 64 };
    ws_deflate_t *d = NULL;
    ws_conn_t c;
    size_t off = 0;

    memset(r, 0, sizeof(*r));
    ws_conn_init(&c, &lim, &ops, r);
    if (deflate) {
        ws_deflate_conf_t dc;

        memset(&dc, 0, sizeof(dc));
        dc.params.server_no_context_takeover = 1;
        dc.params.client_no_context_takeover = deflate & 2;
        dc.params.server_max_window_bits = 15;
        dc.params.client_max_window_bits = 9 + (deflate & 1) * 6;
        dc.level = 1;
        dc.mem_level = 8;
        dc.min_size = 16;
        d = ws_deflate_create(&dc);
        ws_conn_set_deflate(&c, d);
    }
    while (off < size) {
        size_t n = size - off < piece ? size - off : piece;
        uint8_t *buf = malloc(n + 1);

        memcpy(buf, data + off, n);
        ws_conn_feed(&c, buf, n);
        free(buf);
        off += n;
    }
    *state = c.state;
    *code = c.close_code;
    ws_conn_cleanup(&c);
    ws_deflate_destroy(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rec_t whole, split;
    ws_state_e s1, s2;
    int c1, c2;
    ws_utf8_t v;
    size_t i;
    int inc, deflate;

    if (size < 1) {
        return 0;
    }
    deflate = data[0] & 0x80 ? 1 | (data[0] & 0x40 ? 2 : 0) : 0;
    run(data + 1, size - 1, size, deflate, &whole, &s1, &c1);
    run(data + 1, size - 1, (size_t)(data[0] % 7) + 1, deflate, &split, &s2,
        &c2);
    if (s1 != s2 || c1 != c2 || whole.msgs != split.msgs
        || whole.msg_bytes != split.msg_bytes) {
        abort();                /* the outcome depends on the split */
    }

    /* Incremental and one-shot UTF-8 agree. */
    ws_utf8_init(&v);
    inc = WS_UTF8_OK;
    for (i = 0; i < size; i++) {
        inc = ws_utf8_feed(&v, data + i, 1);
        if (inc == WS_UTF8_INVALID) {
            break;
        }
    }
    if ((inc == WS_UTF8_OK) != ws_utf8_valid(data, size)) {
        abort();
    }

    /* Close payload parsing never reads past the payload. */
    {
        int code;
        const uint8_t *reason;
        size_t rlen;
        uint8_t *copy = malloc(size);

        memcpy(copy, data, size);
        if (ws_frame_close_parse(copy, size > 125 ? 125 : size, &code,
                                 &reason, &rlen) == 0 && size >= 2
            && !ws_frame_close_code_valid(code)) {
            abort();
        }
        free(copy);
    }
    return 0;
}
