/*
 * ws_conn.c -- the WebSocket protocol engine of one connection, pure.
 *
 * Owns the state machine in ws_conn.h.  Everything the peer can get wrong
 * after the handshake is decided here and answered with a close code; the
 * caller only moves bytes.  Single-threaded: the caller serialises calls.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_conn.h"

/* Largest reason that fits a close frame next to its 2-byte code. */
#define WS_MAX_REASON (WS_FRAME_MAX_CONTROL - 2)

/* First allocation of the message buffer; it grows by doubling. */
#define WS_MSG_INITIAL 4096

static const char *const state_names[] = {
    "CONNECTING", "OPEN", "CLOSING", "CLOSED"
};

/*
 * The engine's transitions, all made by set_state() (sections 7.1.2-7.1.5):
 *   OPEN    -> CLOSING  we sent a close (ours, a handler's, a handler error)
 *   OPEN    -> CLOSED   the peer's close answered, a violation, an abort
 *   CLOSING -> CLOSED   the peer's close arrived, or we gave up waiting
 * CONNECTING exists for completeness: the engine starts in OPEN.  Anything
 * else (leaving CLOSED, going back to OPEN) is refused: set_state keeps
 * the state (the unit tests check every path ends where the RFC says).
 */
static const unsigned char allowed[4][4] = {
    /*               CONNECTING OPEN CLOSING CLOSED */
    /* CONNECTING */ { 0,       1,   0,      1 },
    /* OPEN       */ { 0,       0,   1,      1 },
    /* CLOSING    */ { 0,       0,   0,      1 },
    /* CLOSED     */ { 0,       0,   0,      1 },
};

static void set_state(ws_conn_t *c, ws_state_e to)
{
    if (allowed[c->state][to]) {
        c->state = to;
    }
}

const char *ws_conn_state_str(ws_state_e state)
{
    if ((unsigned)state < sizeof(state_names) / sizeof(state_names[0])) {
        return state_names[state];
    }
    return "INVALID";
}

void ws_conn_init(ws_conn_t *c, const ws_conn_limits_t *limits,
                  const ws_conn_ops_t *ops, void *baton)
{
    memset(c, 0, sizeof(*c));
    ws_frame_decoder_init(&c->dec);
    c->dec.require_mask = 1;
    c->dec.max_frame_size = limits->max_frame_size;
    c->max_message_size = limits->max_message_size;
    c->max_fragments = limits->max_fragments;
    c->max_control = limits->max_control;
    c->ops = ops;
    c->baton = baton;
    c->state = WS_STATE_CONNECTING;
    set_state(c, WS_STATE_OPEN);
}

void ws_conn_cleanup(ws_conn_t *c)
{
    free(c->msg);
    c->msg = NULL;
    c->msg_cap = c->msg_len = 0;
}

static void set_outcome(ws_conn_t *c, int code, const char *reason,
                        size_t reason_len)
{
    if (reason_len > WS_MAX_REASON) {
        reason_len = WS_MAX_REASON;
    }
    c->close_code = code;
    if (reason_len) {
        memcpy(c->close_reason, reason, reason_len);
    }
    c->close_reason[reason_len] = '\0';
}

static int emit_rsv(ws_conn_t *c, unsigned rsv, int opcode,
                    const uint8_t *data, size_t len)
{
    uint8_t hdr[WS_FRAME_MAX_HEADER];
    size_t hlen = ws_frame_header_encode(hdr, 1, rsv, opcode, len, NULL);

    if (c->ops->output(c->baton, hdr, hlen, data, len) != 0) {
        return WS_CONN_EOUTPUT;
    }
    c->bytes_out += len;
    return WS_CONN_OK;
}

static int emit(ws_conn_t *c, int opcode, const uint8_t *data, size_t len)
{
    return emit_rsv(c, 0, opcode, data, len);
}

/* Send a close frame carrying code (0: no status) and reason. */
static int emit_close_len(ws_conn_t *c, int code, const char *reason,
                          size_t rlen)
{
    uint8_t payload[WS_FRAME_MAX_CONTROL];
    size_t len = 0;

    c->close_sent = 1;
    if (code) {
        if (rlen > WS_MAX_REASON) {
            rlen = WS_MAX_REASON;
        }
        payload[0] = (uint8_t)(code >> 8);
        payload[1] = (uint8_t)(code & 0xff);
        if (rlen) {
            memcpy(payload + 2, reason, rlen);
        }
        len = 2 + rlen;
    }
    return emit(c, WS_OP_CLOSE, payload, len);
}

static int emit_close(ws_conn_t *c, int code, const char *reason)
{
    return emit_close_len(c, code, reason, reason ? strlen(reason) : 0);
}

/*
 * Fail the WebSocket connection (section 7.1.7): send a close frame with the
 * code and stop.  The caller closes TCP (with httpd's lingering close, so the
 * close frame is not lost to a reset).
 */
static void fail(ws_conn_t *c, int code, const char *reason)
{
    if (c->state == WS_STATE_OPEN) {
        if (c->ops->violation) {
            c->ops->violation(c->baton, code, reason);
        }
        emit_close(c, code, reason);
        set_outcome(c, code, reason, strlen(reason));
    }
    set_state(c, WS_STATE_CLOSED);
}

static int grow_message(ws_conn_t *c, size_t need)
{
    size_t cap = c->msg_cap ? c->msg_cap : WS_MSG_INITIAL;
    uint8_t *m;

    while (cap < need) {
        cap *= 2;
    }
    if (cap == c->msg_cap) {
        return 0;
    }
    m = realloc(c->msg, cap);
    if (!m) {
        return -1;
    }
    c->msg = m;
    c->msg_cap = cap;
    return 0;
}

static void deliver(ws_conn_t *c, int opcode, uint8_t *data, size_t len)
{
    int rv;

    c->msgs_in++;
    c->bytes_in += len;
    if (c->state != WS_STATE_OPEN) {
        /* Section 1.4: after sending a close, incoming data is dropped. */
        return;
    }
    rv = c->ops->message(c->baton, opcode, data, len);
    if (rv != 0 && c->state == WS_STATE_OPEN) {
        emit_close(c, WS_CLOSE_CODE_INTERNAL, "handler error");
        set_outcome(c, WS_CLOSE_CODE_INTERNAL, "handler error", 13);
        set_state(c, WS_STATE_CLOSING);
    }
}

/* A control frame is complete (section 5.5). */
static void control_end(ws_conn_t *c)
{
    int code;
    const uint8_t *reason;
    size_t reason_len;
    int bad;

    switch (c->frame.opcode) {
    case WS_OP_PING:
        /* Section 5.5.2: answer with the same payload "unless it already
         * received a Close frame" -- also after sending ours (CLOSING);
         * receiving one ends in CLOSED, where nothing is read any more. */
        emit(c, WS_OP_PONG, c->ctl, c->ctl_len);
        break;
    case WS_OP_PONG:
        if (c->ops->pong) {
            c->ops->pong(c->baton, c->ctl, c->ctl_len);
        }
        break;
    case WS_OP_CLOSE:
        bad = ws_frame_close_parse(c->ctl, c->ctl_len, &code, &reason,
                                   &reason_len);
        if (bad) {
            fail(c, bad, bad == WS_CLOSE_CODE_INVALID_DATA
                         ? "invalid UTF-8 in close reason"
                         : "invalid close frame");
            break;
        }
        c->close_received = 1;
        if (c->state == WS_STATE_OPEN) {
            c->peer_closed_first = 1;
            /* Section 5.5.1: echo the status code (and the reason, so
             * close(code, reason) round-trips); then the server closes TCP
             * first (section 7.1.1). */
            set_outcome(c, code, (const char *)reason, reason_len);
            emit_close_len(c, code == WS_CLOSE_CODE_NO_STATUS ? 0 : code,
                           (const char *)reason, reason_len);
        }
        set_state(c, WS_STATE_CLOSED);
        break;
    }
}

static void data_header(ws_conn_t *c, size_t avail)
{
    const ws_frame_header_t *h = &c->frame;

    c->direct_data = NULL;
    if (h->opcode != WS_OP_CONT) {
        c->msg_opcode = h->opcode;
        c->msg_len = 0;
        c->msg_frames = 0;
        /* RFC 7692 section 6.1: RSV1 on the first frame only (the decoder
         * refuses it elsewhere). */
        c->msg_compressed = c->pmd && (h->rsv & WS_RSV1);
        ws_utf8_init(&c->utf8);
    }
    /* Section 10.4: fragments cost per frame; bound them per message. */
    if (c->max_fragments && ++c->msg_frames > c->max_fragments) {
        fail(c, WS_CLOSE_CODE_POLICY, "too many fragments in one message");
        return;
    }
    if (c->max_message_size && !c->msg_compressed
        && h->length > c->max_message_size - c->msg_len) {
        fail(c, WS_CLOSE_CODE_TOO_BIG, "message too big");
        return;
    }
    if (c->msg_compressed) {
        /* Inflated as it comes (inflate_sink): its size is not known. */
        c->direct = 0;
        return;
    }
    /* An unfragmented frame whose payload is all in this input is handed
     * to the handler from the input buffer itself, without a copy. */
    c->direct = h->fin && h->opcode != WS_OP_CONT && h->length <= avail;
    if (!c->direct && grow_message(c, c->msg_len + h->length + 1) != 0) {
        fail(c, WS_CLOSE_CODE_INTERNAL, "out of memory");
    }
}

/* Inflated bytes of the message: the limits apply to them (a small
 * compressed message must not inflate past WebSocketMaxMessageSize), then
 * UTF-8, then they are kept. */
static int inflate_sink(void *arg, const uint8_t *data, size_t len)
{
    ws_conn_t *c = arg;

    if (c->max_message_size && len > c->max_message_size - c->msg_len) {
        fail(c, WS_CLOSE_CODE_TOO_BIG, "message too big (inflated)");
        return -1;
    }
    if (c->msg_opcode == WS_OP_TEXT
        && ws_utf8_feed(&c->utf8, data, len) == WS_UTF8_INVALID) {
        fail(c, WS_CLOSE_CODE_INVALID_DATA, "invalid UTF-8 in text");
        return -1;
    }
    if (grow_message(c, c->msg_len + len + 1) != 0) {
        fail(c, WS_CLOSE_CODE_INTERNAL, "out of memory");
        return -1;
    }
    memcpy(c->msg + c->msg_len, data, len);
    c->msg_len += len;
    return 0;
}

static int inflate_some(ws_conn_t *c, const uint8_t *data, size_t len,
                        int last)
{
    int rv = ws_deflate_inflate(c->pmd, data, len, last, inflate_sink, c);

    if (rv == WS_DEFLATE_BAD) {
        fail(c, WS_CLOSE_CODE_INVALID_DATA, "invalid compressed data");
    }
    else if (rv == WS_DEFLATE_NOMEM) {
        fail(c, WS_CLOSE_CODE_INTERNAL, "out of memory");
    }
    if (rv != WS_DEFLATE_OK) {
        ws_deflate_inflate_abort(c->pmd);
        return -1;
    }
    return 0;
}

static void data_payload(ws_conn_t *c, uint8_t *data, size_t len)
{
    if (c->msg_compressed) {
        inflate_some(c, data, len, 0);
        return;
    }
    if (c->msg_opcode == WS_OP_TEXT
        && ws_utf8_feed(&c->utf8, data, len) == WS_UTF8_INVALID) {
        /* Section 8.1: fail as soon as the text cannot be valid. */
        fail(c, WS_CLOSE_CODE_INVALID_DATA, "invalid UTF-8 in text");
        return;
    }
    if (c->direct) {
        /* The decoder returns a frame's payload in one piece when it is
         * all in the input, so this is the whole payload. */
        c->direct_data = data;
        return;
    }
    memcpy(c->msg + c->msg_len, data, len);
    c->msg_len += len;
}

static void data_end(ws_conn_t *c)
{
    int opcode = c->msg_opcode;

    if (!c->frame.fin) {
        return;
    }
    if (c->msg_compressed) {
        c->msg_compressed = 0;
        if (inflate_some(c, NULL, 0, 1) != 0) {
            c->msg_opcode = 0;
            return;
        }
        if (!c->msg && grow_message(c, 1) != 0) {
            fail(c, WS_CLOSE_CODE_INTERNAL, "out of memory");
            return;
        }
    }
    c->msg_opcode = 0;
    if (opcode == WS_OP_TEXT
        && c->utf8.state != 0
        && ws_utf8_feed(&c->utf8, NULL, 0) != WS_UTF8_OK) {
        fail(c, WS_CLOSE_CODE_INVALID_DATA, "truncated UTF-8 in text");
        return;
    }
    if (c->direct) {
        uint8_t *data = c->direct_data;
        size_t len = (size_t)c->frame.length;
        uint8_t saved;

        if (!data) {
            static uint8_t empty[1];

            empty[0] = '\0';
            deliver(c, opcode, empty, 0);
            return;
        }
        /* ws_conn_feed's contract: one writable byte after the input. */
        saved = data[len];
        data[len] = '\0';
        deliver(c, opcode, data, len);
        data[len] = saved;
        c->direct_data = NULL;
        return;
    }
    c->msg[c->msg_len] = '\0';
    c->delivering = c->msg;
    deliver(c, opcode, c->msg, c->msg_len);
    c->delivering = NULL;
    c->msg_len = 0;
}

ws_state_e ws_conn_feed(ws_conn_t *c, uint8_t *buf, size_t len)
{
    size_t off = 0;

    while (c->state == WS_STATE_OPEN || c->state == WS_STATE_CLOSING) {
        ws_frame_event_t ev;
        size_t used = 0;
        ws_frame_result_e r;

        r = ws_frame_decode(&c->dec, buf + off, len - off, &used, &ev);
        off += used;
        switch (r) {
        case WS_FRAME_NEED_MORE:
            return c->state;
        case WS_FRAME_HEADER:
            c->frame = ev.header;
            if (WS_OP_IS_CONTROL(ev.header.opcode)) {
                c->ctl_len = 0;
                /* A ping flood may cost its answers, not more.  While
                 * closing, a flood just ends the wait for the peer's
                 * close. */
                if (c->max_control && ++c->ctl_count > c->max_control) {
                    fail(c, WS_CLOSE_CODE_POLICY, "control frame flood");
                    break;
                }
            }
            else {
                data_header(c, len - off);
            }
            break;
        case WS_FRAME_PAYLOAD:
            if (WS_OP_IS_CONTROL(c->frame.opcode)) {
                memcpy(c->ctl + c->ctl_len, ev.data, ev.len);
                c->ctl_len += ev.len;
            }
            else {
                data_payload(c, ev.data, ev.len);
            }
            break;
        case WS_FRAME_END:
            if (WS_OP_IS_CONTROL(c->frame.opcode)) {
                control_end(c);
            }
            else {
                data_end(c);
            }
            break;
        case WS_FRAME_ERROR:
            if (c->state == WS_STATE_OPEN) {
                fail(c, ev.close_code, ev.reason);
            }
            else {
                /* Already closing: nothing more to say, just stop. */
                set_state(c, WS_STATE_CLOSED);
            }
            break;
        }
    }
    return c->state;
}

int ws_conn_send(ws_conn_t *c, int opcode, const void *data, size_t len)
{
    int rv;

    if (c->state != WS_STATE_OPEN) {
        return WS_CONN_ECLOSED;
    }
    if (c->pmd && (opcode == WS_OP_TEXT || opcode == WS_OP_BINARY)
        && ws_deflate_wanted(c->pmd, len)) {
        uint8_t *z;
        size_t zlen;

        if (ws_deflate_compress(c->pmd, data, len, &z, &zlen)
            == WS_DEFLATE_OK) {
            rv = emit_rsv(c, WS_RSV1, opcode, z, zlen);
            free(z);
            if (rv == WS_CONN_OK) {
                c->msgs_out++;
            }
            return rv;
        }
        /* No memory to compress: it goes as it is. */
    }
    rv = emit(c, opcode, data, len);
    if (rv == WS_CONN_OK) {
        c->msgs_out++;
    }
    return rv;
}

int ws_conn_send_deflated(ws_conn_t *c, int opcode, const void *data,
                          size_t len)
{
    int rv;

    if (c->state != WS_STATE_OPEN) {
        return WS_CONN_ECLOSED;
    }
    rv = emit_rsv(c, WS_RSV1, opcode, data, len);
    if (rv == WS_CONN_OK) {
        c->msgs_out++;
    }
    return rv;
}

void ws_conn_set_deflate(ws_conn_t *c, ws_deflate_t *d)
{
    c->pmd = d;
    c->dec.allowed_rsv = d ? WS_RSV1 : 0;
}

int ws_conn_ping(ws_conn_t *c, const void *data, size_t len)
{
    if (c->state != WS_STATE_OPEN) {
        return WS_CONN_ECLOSED;
    }
    if (len > WS_FRAME_MAX_CONTROL) {
        return WS_CONN_EINVAL;
    }
    return emit(c, WS_OP_PING, data, len);
}

int ws_conn_close(ws_conn_t *c, int code, const char *reason)
{
    size_t rlen = reason ? strlen(reason) : 0;

    if (c->state != WS_STATE_OPEN) {
        return WS_CONN_ECLOSED;
    }
    if ((code && !ws_frame_close_code_valid(code))
        || rlen > WS_MAX_REASON || (!code && rlen)
        || !ws_utf8_valid((const uint8_t *)(reason ? reason : ""), rlen)) {
        return WS_CONN_EINVAL;
    }
    set_outcome(c, code ? code : WS_CLOSE_CODE_NO_STATUS,
                reason ? reason : "", rlen);
    set_state(c, WS_STATE_CLOSING);
    return emit_close(c, code, reason);
}

uint8_t *ws_conn_take_message(ws_conn_t *c, const void *data, size_t len)
{
    uint8_t *m = c->delivering;

    if (!m || data != m || len != c->msg_len) {
        return NULL;
    }
    /* The next message gets a buffer of its own (grow_message). */
    c->delivering = NULL;
    c->msg = NULL;
    c->msg_cap = 0;
    return m;
}

void ws_conn_new_control_window(ws_conn_t *c)
{
    c->ctl_count = 0;
}

void ws_conn_trim(ws_conn_t *c)
{
    if (c->msg_opcode == 0 && c->msg) {
        ws_conn_cleanup(c);
    }
    if (c->msg_opcode == 0) {
        ws_deflate_trim(c->pmd);
    }
}

void ws_conn_abort(ws_conn_t *c, int code, const char *reason)
{
    if (c->state != WS_STATE_CLOSED && !c->close_code) {
        set_outcome(c, code, reason ? reason : "",
                    reason ? strlen(reason) : 0);
    }
    set_state(c, WS_STATE_CLOSED);
}
