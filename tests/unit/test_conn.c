/*
 * test_conn.c -- unit tests for the protocol engine (ws_conn.c): message
 * assembly, the closing handshake and the close code of every violation,
 * with the engine fed every split of the input.
 */
#include <stdlib.h>
#include <string.h>
#include <check.h>
#include <zlib.h>

#include "ws_conn.h"

/* What the engine did, recorded by the callbacks. */
typedef struct {
    int nmsg;
    int last_op;
    uint8_t last[70000];
    size_t last_len;
    int last_nul;               /* data[len] was NUL */
    uint8_t out[70000];         /* frames the engine sent */
    size_t out_len;
    int npong;
    int fail_handler;
    int violation;
} rec_t;

static int on_message(void *baton, int opcode, const uint8_t *data,
                      size_t len)
{
    rec_t *r = baton;

    r->nmsg++;
    r->last_op = opcode;
    ck_assert_uint_le(len, sizeof(r->last));
    memcpy(r->last, data, len);
    r->last_len = len;
    r->last_nul = data[len] == '\0';
    return r->fail_handler;
}

static int on_output(void *baton, const uint8_t *hdr, size_t hlen,
                     const uint8_t *payload, size_t plen)
{
    rec_t *r = baton;

    if (r->out_len + hlen + plen > sizeof(r->out)) {
        return -1;
    }
    memcpy(r->out + r->out_len, hdr, hlen);
    memcpy(r->out + r->out_len + hlen, payload, plen);
    r->out_len += hlen + plen;
    return 0;
}

static void on_pong(void *baton, const uint8_t *data, size_t len)
{
    rec_t *r = baton;

    (void)data;
    (void)len;
    r->npong++;
}

static void on_violation(void *baton, int code, const char *reason)
{
    rec_t *r = baton;

    (void)reason;
    r->violation = code;
}

static const ws_conn_ops_t ops = { on_message, on_output, on_pong,
                                   on_violation };

static void start(ws_conn_t *c, rec_t *r, uint64_t max_msg)
{
    ws_conn_limits_t lim = { max_msg, 0 };

    memset(r, 0, sizeof(*r));
    ws_conn_init(c, &lim, &ops, r);
}

/* Append one masked client frame to buf. */
static size_t client_frame(uint8_t *buf, int fin, unsigned rsv, int op,
                           const void *data, size_t len)
{
    static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    size_t h = ws_frame_header_encode(buf, fin, rsv, op, len, key);

    memcpy(buf + h, data, len);
    ws_frame_mask(buf + h, len, key, 0);
    return h + len;
}

/* Parse the first frame the engine sent: opcode and payload. */
static int sent_frame(const rec_t *r, size_t index, uint8_t *payload,
                      size_t *plen)
{
    ws_frame_decoder_t d;
    uint8_t copy[sizeof(r->out)];
    size_t off = 0, used;
    ws_frame_event_t ev;
    size_t n = 0;
    int op = -1;

    memcpy(copy, r->out, r->out_len);
    ws_frame_decoder_init(&d);
    d.require_mask = 0;
    d.allowed_rsv = WS_RSV1;    /* compressed frames (RFC 7692) */
    *plen = 0;
    for (;;) {
        ws_frame_result_e res = ws_frame_decode(&d, copy + off,
                                                r->out_len - off, &used, &ev);

        off += used;
        if (res == WS_FRAME_NEED_MORE || res == WS_FRAME_ERROR) {
            return -1;
        }
        if (res == WS_FRAME_HEADER) {
            op = ev.header.opcode;
        }
        else if (res == WS_FRAME_PAYLOAD && n == index) {
            memcpy(payload + *plen, ev.data, ev.len);
            *plen += ev.len;
        }
        else if (res == WS_FRAME_END) {
            if (n == index) {
                return op;
            }
            n++;
        }
    }
}

static int sent_close_code(const rec_t *r, size_t index)
{
    uint8_t p[200];
    size_t len;

    if (sent_frame(r, index, p, &len) != WS_OP_CLOSE) {
        return -1;
    }
    return len >= 2 ? (p[0] << 8 | p[1]) : 0;
}

/* Feed input split at every point (and byte by byte), checking that the
 * outcome is the same. */
static void feed_split(ws_conn_t *c, uint8_t *in, size_t len, size_t split)
{
    uint8_t *a = malloc(len + 1), *b = malloc(len + 1);

    memcpy(a, in, split);
    memcpy(b, in + split, len - split);
    ws_conn_feed(c, a, split);
    ws_conn_feed(c, b, len - split);
    free(a);
    free(b);
}

START_TEST(masked_hello_is_delivered_whatever_the_split)
{
    uint8_t in[64];
    size_t len = client_frame(in, 1, 0, WS_OP_TEXT, "Hello", 5);
    size_t split;

    for (split = 0; split <= len; split++) {
        ws_conn_t c;
        rec_t r;

        start(&c, &r, 0);
        feed_split(&c, in, len, split);
        ck_assert_int_eq(r.nmsg, 1);
        ck_assert_int_eq(r.last_op, WS_OP_TEXT);
        ck_assert_uint_eq(r.last_len, 5);
        ck_assert(memcmp(r.last, "Hello", 5) == 0);
        ck_assert(r.last_nul);
        ck_assert_int_eq(c.state, WS_STATE_OPEN);
        ws_conn_cleanup(&c);
    }
}
END_TEST

START_TEST(direct_delivery_restores_the_byte_after_the_payload)
{
    uint8_t in[64];
    size_t len = client_frame(in, 1, 0, WS_OP_BINARY, "ab", 2);
    ws_conn_t c;
    rec_t r;

    len += client_frame(in + len, 1, 0, WS_OP_BINARY, "cd", 2);
    start(&c, &r, 0);
    ws_conn_feed(&c, in, len);
    ck_assert_int_eq(r.nmsg, 2);
    ck_assert(memcmp(r.last, "cd", 2) == 0);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(fragments_with_interleaved_ping_make_one_message)
{
    uint8_t in[128], p[64];
    size_t len = 0, plen, split;

    len += client_frame(in + len, 0, 0, WS_OP_TEXT, "Hel", 3);
    len += client_frame(in + len, 1, 0, WS_OP_PING, "hb", 2);
    len += client_frame(in + len, 0, 0, WS_OP_CONT, "l", 1);
    len += client_frame(in + len, 1, 0, WS_OP_CONT, "o", 1);
    for (split = 0; split <= len; split++) {
        ws_conn_t c;
        rec_t r;

        start(&c, &r, 0);
        feed_split(&c, in, len, split);
        ck_assert_int_eq(r.nmsg, 1);
        ck_assert_uint_eq(r.last_len, 5);
        ck_assert(memcmp(r.last, "Hello", 5) == 0);
        ck_assert_int_eq(sent_frame(&r, 0, p, &plen), WS_OP_PONG);
        ck_assert_uint_eq(plen, 2);
        ck_assert(memcmp(p, "hb", 2) == 0);
        ws_conn_cleanup(&c);
    }
}
END_TEST

START_TEST(utf8_split_across_fragments_is_accepted)
{
    /* U+20AC EURO SIGN is E2 82 AC; split after the first byte. */
    uint8_t in[64];
    size_t len = 0;
    ws_conn_t c;
    rec_t r;

    len += client_frame(in + len, 0, 0, WS_OP_TEXT, "\xe2", 1);
    len += client_frame(in + len, 1, 0, WS_OP_CONT, "\x82\xac", 2);
    start(&c, &r, 0);
    ws_conn_feed(&c, in, len);
    ck_assert_int_eq(r.nmsg, 1);
    ck_assert_uint_eq(r.last_len, 3);
    ck_assert_int_eq(c.state, WS_STATE_OPEN);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(invalid_utf8_fails_fast_with_1007)
{
    /* 0xC0 can never start valid UTF-8: fail before the message ends. */
    uint8_t in[64];
    size_t len = client_frame(in, 0, 0, WS_OP_TEXT, "ok\xc0", 3);
    ws_conn_t c;
    rec_t r;

    start(&c, &r, 0);
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_CLOSED);
    ck_assert_int_eq(sent_close_code(&r, 0), 1007);
    ck_assert_int_eq(r.violation, 1007);
    ck_assert_int_eq(r.nmsg, 0);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(truncated_utf8_at_message_end_is_1007)
{
    uint8_t in[64];
    size_t len = client_frame(in, 1, 0, WS_OP_TEXT, "\xe2\x82", 2);
    ws_conn_t c;
    rec_t r;

    start(&c, &r, 0);
    ws_conn_feed(&c, in, len);
    ck_assert_int_eq(sent_close_code(&r, 0), 1007);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(message_over_limit_across_fragments_is_1009)
{
    uint8_t in[64];
    size_t len = 0;
    ws_conn_t c;
    rec_t r;

    len += client_frame(in + len, 0, 0, WS_OP_BINARY, "12345", 5);
    len += client_frame(in + len, 1, 0, WS_OP_CONT, "678", 3);
    start(&c, &r, 7);
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_CLOSED);
    ck_assert_int_eq(sent_close_code(&r, 0), 1009);
    ck_assert_int_eq(r.nmsg, 0);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(message_in_too_many_fragments_is_1008)
{
    ws_conn_limits_t lim = { 0, 0, 3 };
    uint8_t in[64];
    size_t len = 0;
    ws_conn_t c;
    rec_t r;

    len += client_frame(in + len, 0, 0, WS_OP_TEXT, "a", 1);
    len += client_frame(in + len, 0, 0, WS_OP_CONT, "b", 1);
    len += client_frame(in + len, 1, 0, WS_OP_CONT, "c", 1);
    memset(&r, 0, sizeof(r));
    ws_conn_init(&c, &lim, &ops, &r);
    /* Three fragments: allowed. */
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_OPEN);
    ck_assert_int_eq(r.nmsg, 1);
    /* Four: refused at the fourth frame's header. */
    len += client_frame(in + len, 0, 0, WS_OP_TEXT, "a", 1);
    len += client_frame(in + len, 0, 0, WS_OP_CONT, "b", 1);
    len += client_frame(in + len, 0, 0, WS_OP_CONT, "c", 1);
    len += client_frame(in + len, 1, 0, WS_OP_CONT, "d", 1);
    ck_assert_int_eq(ws_conn_feed(&c, in + 21, len - 21), WS_STATE_CLOSED);
    ck_assert_int_eq(sent_close_code(&r, 0), 1008);
    ck_assert_int_eq(r.nmsg, 1);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(control_frames_over_the_rate_are_1008)
{
    ws_conn_limits_t lim = { 0, 0, 0, 5 };
    uint8_t in[128];
    size_t len = 0;
    int i;
    ws_conn_t c;
    rec_t r;

    for (i = 0; i < 5; i++) {
        len += client_frame(in + len, 1, 0, WS_OP_PING, "p", 1);
    }
    memset(&r, 0, sizeof(r));
    ws_conn_init(&c, &lim, &ops, &r);
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_OPEN);
    /* The caller opens a new window: five more are fine again. */
    ws_conn_new_control_window(&c);
    ck_assert_int_eq(ws_conn_feed(&c, in, 0), WS_STATE_OPEN);
    len = 0;
    for (i = 0; i < 6; i++) {
        len += client_frame(in + len, 1, 0, WS_OP_PING, "p", 1);
    }
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_CLOSED);
    /* Ten pongs (five per window), then the close: the sixth ping of the
     * second window is not answered. */
    ck_assert_int_eq(sent_close_code(&r, 10), 1008);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(message_at_limit_is_accepted)
{
    uint8_t in[64];
    size_t len = client_frame(in, 1, 0, WS_OP_BINARY, "1234567", 7);
    ws_conn_t c;
    rec_t r;

    start(&c, &r, 7);
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_OPEN);
    ck_assert_int_eq(r.nmsg, 1);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(close_is_echoed_with_code_and_reason)
{
    uint8_t in[64], p[64];
    size_t len, plen;
    ws_conn_t c;
    rec_t r;

    len = client_frame(in, 1, 0, WS_OP_CLOSE, "\x0f\xa0" "bye", 5);
    start(&c, &r, 0);
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_CLOSED);
    ck_assert_int_eq(sent_frame(&r, 0, p, &plen), WS_OP_CLOSE);
    ck_assert_uint_eq(plen, 5);
    ck_assert(memcmp(p, "\x0f\xa0" "bye", 5) == 0);
    ck_assert_int_eq(c.close_code, 4000);
    ck_assert_str_eq(c.close_reason, "bye");
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(empty_close_is_answered_without_status)
{
    uint8_t in[16], p[16];
    size_t len = client_frame(in, 1, 0, WS_OP_CLOSE, "", 0), plen;
    ws_conn_t c;
    rec_t r;

    start(&c, &r, 0);
    ws_conn_feed(&c, in, len);
    ck_assert_int_eq(sent_frame(&r, 0, p, &plen), WS_OP_CLOSE);
    ck_assert_uint_eq(plen, 0);
    ck_assert_int_eq(c.close_code, 1005);
    ws_conn_cleanup(&c);
}
END_TEST

typedef struct {
    const char *name;
    const char *payload;
    size_t len;
    int code;
} close_case_t;

static const close_case_t bad_closes[] = {
    { "one byte", "\x03", 1, 1002 },
    { "code 999", "\x03\xe7", 2, 1002 },
    { "code 1005", "\x03\xed", 2, 1002 },
    { "code 1006", "\x03\xee", 2, 1002 },
    { "code 1015", "\x03\xf7", 2, 1002 },
    { "code 5000", "\x13\x88", 2, 1002 },
    { "bad UTF-8 reason", "\x03\xe8\xff", 3, 1007 },
};

START_TEST(bad_close_frames_get_their_code)
{
    const close_case_t *tc = &bad_closes[_i];
    uint8_t in[64];
    size_t len = client_frame(in, 1, 0, WS_OP_CLOSE, tc->payload, tc->len);
    ws_conn_t c;
    rec_t r;

    start(&c, &r, 0);
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_CLOSED);
    ck_assert_msg(sent_close_code(&r, 0) == tc->code, "%s", tc->name);
    ws_conn_cleanup(&c);
}
END_TEST

typedef struct {
    const char *name;
    int fin;
    unsigned rsv;
    int op;
    size_t len;
    int masked;
} violation_t;

static const violation_t violations[] = {
    { "reserved opcode 3", 1, 0, 3, 0, 1 },
    { "reserved opcode 0xB", 1, 0, 0xB, 0, 1 },
    { "RSV1", 1, WS_RSV1, WS_OP_TEXT, 0, 1 },
    { "RSV2", 1, WS_RSV2, WS_OP_TEXT, 0, 1 },
    { "RSV3", 1, WS_RSV3, WS_OP_TEXT, 0, 1 },
    { "ping of 126 bytes", 1, 0, WS_OP_PING, 126, 1 },
    { "fragmented ping", 0, 0, WS_OP_PING, 1, 1 },
    { "continuation first", 1, 0, WS_OP_CONT, 1, 1 },
    { "unmasked", 1, 0, WS_OP_TEXT, 1, 0 },
};

START_TEST(each_violation_closes_with_1002)
{
    const violation_t *v = &violations[_i];
    static const uint8_t key[4] = { 1, 2, 3, 4 };
    uint8_t in[300];
    size_t len;
    ws_conn_t c;
    rec_t r;

    memset(in, 'a', sizeof(in));
    len = ws_frame_header_encode(in, v->fin, v->rsv, v->op, v->len,
                                 v->masked ? key : NULL);
    memset(in + len, 'a', v->len);
    len += v->len;
    start(&c, &r, 0);
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_CLOSED);
    ck_assert_msg(sent_close_code(&r, 0) == 1002, "%s", v->name);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(new_message_inside_fragmented_one_is_1002)
{
    uint8_t in[64];
    size_t len = 0;
    ws_conn_t c;
    rec_t r;

    len += client_frame(in + len, 0, 0, WS_OP_TEXT, "a", 1);
    len += client_frame(in + len, 1, 0, WS_OP_TEXT, "b", 1);
    start(&c, &r, 0);
    ws_conn_feed(&c, in, len);
    ck_assert_int_eq(sent_close_code(&r, 0), 1002);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(ping_after_our_close_is_still_answered)
{
    uint8_t in[64], payload[8];
    size_t len, plen;
    ws_conn_t c;
    rec_t r;

    /* RFC 6455 section 5.5.2: a Pong answers every Ping "unless it
     * already received a Close frame"; sending ours is not that. */
    start(&c, &r, 0);
    ck_assert_int_eq(ws_conn_close(&c, 1000, NULL), WS_CONN_OK);
    len = client_frame(in, 1, 0, WS_OP_PING, "late", 4);
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_CLOSING);
    ck_assert_int_eq(sent_frame(&r, 1, payload, &plen), WS_OP_PONG);
    ck_assert(plen == 4 && !memcmp(payload, "late", 4));
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(ping_flood_while_closing_ends_the_wait)
{
    ws_conn_limits_t lim = { 0, 0, 0, 3 };
    uint8_t in[128];
    size_t len = 0;
    int i;
    ws_conn_t c;
    rec_t r;

    memset(&r, 0, sizeof(r));
    ws_conn_init(&c, &lim, &ops, &r);
    ck_assert_int_eq(ws_conn_close(&c, 1000, NULL), WS_CONN_OK);
    for (i = 0; i < 5; i++) {
        len += client_frame(in + len, 1, 0, WS_OP_PING, "p", 1);
    }
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_CLOSED);
    /* Our close, three pongs, and nothing more. */
    ck_assert_int_eq(sent_frame(&r, 3, in, &len), WS_OP_PONG);
    ck_assert_int_eq(sent_frame(&r, 4, in, &len), -1);
    ws_conn_cleanup(&c);
}
END_TEST

/* A handler that sends back what it got, taking the engine's buffer. */
static uint8_t *taken;
static ws_conn_t *taker;

static int take_message(void *baton, int opcode, const uint8_t *data,
                        size_t len)
{
    (void)baton; (void)opcode;
    taken = ws_conn_take_message(taker, data, len);
    return 0;
}

START_TEST(assembled_message_buffer_can_be_taken_once)
{
    static const ws_conn_ops_t take_ops = { take_message, on_output, NULL,
                                            NULL };
    ws_conn_limits_t lim = { 0, 0, 0, 0 };
    uint8_t in[64];
    size_t len = 0;
    ws_conn_t c;
    rec_t r;

    memset(&r, 0, sizeof(r));
    ws_conn_init(&c, &lim, &take_ops, &r);
    taker = &c;
    /* Fragmented: assembled in the engine's buffer, which is handed
     * over (with its NUL) and replaced for the next message. */
    len += client_frame(in + len, 0, 0, WS_OP_TEXT, "ab", 2);
    len += client_frame(in + len, 1, 0, WS_OP_CONT, "cd", 2);
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_OPEN);
    ck_assert_ptr_nonnull(taken);
    ck_assert(!memcmp(taken, "abcd", 5));
    ck_assert_ptr_null(c.msg);
    free(taken);
    /* (The engine unmasks its input in place: new frames.) */
    len = client_frame(in, 0, 0, WS_OP_TEXT, "ab", 2);
    len += client_frame(in + len, 1, 0, WS_OP_CONT, "cd", 2);
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_OPEN);
    ck_assert_ptr_nonnull(taken);
    ck_assert(!memcmp(taken, "abcd", 5));
    free(taken);
    /* Unfragmented and whole in the input: delivered from the input, not
     * the engine's buffer: nothing to take. */
    len = client_frame(in, 1, 0, WS_OP_TEXT, "xy", 2);
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_OPEN);
    ck_assert_ptr_null(taken);
    /* Outside the callback, nothing either. */
    ck_assert_ptr_null(ws_conn_take_message(&c, c.msg, 0));
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(handler_error_closes_with_1011)
{
    uint8_t in[64];
    size_t len = client_frame(in, 1, 0, WS_OP_TEXT, "x", 1);
    ws_conn_t c;
    rec_t r;

    start(&c, &r, 0);
    r.fail_handler = 1;
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_CLOSING);
    ck_assert_int_eq(sent_close_code(&r, 0), 1011);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(after_our_close_data_is_dropped_until_the_peer_closes)
{
    uint8_t in[64];
    size_t len = 0;
    ws_conn_t c;
    rec_t r;

    start(&c, &r, 0);
    ck_assert_int_eq(ws_conn_close(&c, 1001, "going"), WS_CONN_OK);
    ck_assert_int_eq(c.state, WS_STATE_CLOSING);
    ck_assert_int_eq(ws_conn_send(&c, WS_OP_TEXT, "late", 4),
                     WS_CONN_ECLOSED);
    len += client_frame(in + len, 1, 0, WS_OP_TEXT, "ignored", 7);
    len += client_frame(in + len, 1, 0, WS_OP_CLOSE, "\x03\xe9", 2);
    ck_assert_int_eq(ws_conn_feed(&c, in, len), WS_STATE_CLOSED);
    ck_assert_int_eq(r.nmsg, 0);
    ck_assert_int_eq(c.close_code, 1001);
    /* Only our close went out: the peer's close is not answered twice. */
    ck_assert_int_eq(sent_close_code(&r, 0), 1001);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(close_rejects_codes_not_allowed_on_the_wire)
{
    ws_conn_t c;
    rec_t r;

    start(&c, &r, 0);
    ck_assert_int_eq(ws_conn_close(&c, 1005, NULL), WS_CONN_EINVAL);
    ck_assert_int_eq(ws_conn_close(&c, 1006, NULL), WS_CONN_EINVAL);
    ck_assert_int_eq(ws_conn_close(&c, 999, NULL), WS_CONN_EINVAL);
    ck_assert_int_eq(c.state, WS_STATE_OPEN);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(abort_reports_its_code_unless_a_close_was_exchanged)
{
    ws_conn_t c;
    rec_t r;

    start(&c, &r, 0);
    ck_assert_int_eq(ws_conn_close(&c, 4000, "bye"), WS_CONN_OK);
    ws_conn_abort(&c, 1006, "close timeout");
    ck_assert_int_eq(c.close_code, 4000);
    ck_assert_str_eq(c.close_reason, "bye");
    ws_conn_cleanup(&c);

    start(&c, &r, 0);
    ws_conn_abort(&c, 1006, "peer vanished");
    ck_assert_int_eq(c.state, WS_STATE_CLOSED);
    ck_assert_int_eq(c.close_code, 1006);
    ck_assert_str_eq(c.close_reason, "peer vanished");
    ck_assert_int_eq(ws_conn_send(&c, WS_OP_TEXT, "x", 1), WS_CONN_ECLOSED);
    ck_assert_str_eq(ws_conn_state_str(c.state), "CLOSED");
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(pong_is_reported)
{
    uint8_t in[16];
    size_t len = client_frame(in, 1, 0, WS_OP_PONG, "x", 1);
    ws_conn_t c;
    rec_t r;

    start(&c, &r, 0);
    ws_conn_feed(&c, in, len);
    ck_assert_int_eq(r.npong, 1);
    ck_assert_uint_eq(r.out_len, 0);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(large_fragmented_binary_is_reassembled)
{
    static uint8_t in[70000 + 64], data[65536 + 100];
    size_t len = 0, i;
    ws_conn_t c;
    rec_t *r = malloc(sizeof(*r));

    for (i = 0; i < sizeof(data); i++) {
        data[i] = (uint8_t)(i * 7);
    }
    len += client_frame(in + len, 0, 0, WS_OP_BINARY, data, 30000);
    len += client_frame(in + len, 1, 0, WS_OP_CONT, data + 30000,
                        sizeof(data) - 30000);
    start(&c, r, 0);
    /* Byte by byte: the slowest, most split path. */
    for (i = 0; i < len; i++) {
        uint8_t b[2] = { in[i], 0 };

        ws_conn_feed(&c, b, 1);
    }
    ck_assert_int_eq(r->nmsg, 1);
    ck_assert_uint_eq(r->last_len, sizeof(data));
    ck_assert(memcmp(r->last, data, sizeof(data)) == 0);
    ws_conn_cleanup(&c);
    free(r);
}
END_TEST

/* --- permessage-deflate (RFC 7692) --- */

/* Raw deflate of data with a sync flush, the tail removed (what a client
 * sends). */
static size_t client_deflate(const void *data, size_t len, uint8_t *out,
                             size_t cap)
{
    z_stream z;
    size_t n;

    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, -12, 8,
                                  Z_DEFAULT_STRATEGY), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_SYNC_FLUSH), Z_OK);
    n = cap - z.avail_out;
    deflateEnd(&z);
    ck_assert_uint_ge(n, 4);
    ck_assert(memcmp(out + n - 4, "\x00\x00\xff\xff", 4) == 0);
    return n - 4;
}

static ws_deflate_t *pmd_for_tests(int client_no_takeover)
{
    ws_deflate_conf_t dc;

    memset(&dc, 0, sizeof(dc));
    dc.params.server_no_context_takeover = 1;
    dc.params.client_no_context_takeover = client_no_takeover;
    dc.params.server_max_window_bits = 15;
    dc.params.client_max_window_bits = 12;
    dc.level = 3;
    dc.mem_level = 8;
    dc.min_size = 16;
    return ws_deflate_create(&dc);
}

START_TEST(a_compressed_message_inflates_whatever_the_split)
{
    static char text[3000];
    uint8_t z[4000], in[4100];
    size_t zlen, len, split, i;

    for (i = 0; i < sizeof(text); i++) {
        text[i] = "abcdefgh {}:,"[i % 13 * (i % 7) % 13];
    }
    zlen = client_deflate(text, sizeof(text), z, sizeof(z));
    len = client_frame(in, 1, WS_RSV1, WS_OP_TEXT, z, zlen);
    for (split = 0; split <= len; split++) {
        ws_deflate_t *d = pmd_for_tests(0);
        ws_conn_t c;
        rec_t r;

        start(&c, &r, 0);
        ws_conn_set_deflate(&c, d);
        feed_split(&c, in, len, split);
        ck_assert_int_eq(r.nmsg, 1);
        ck_assert_int_eq(r.last_op, WS_OP_TEXT);
        ck_assert_uint_eq(r.last_len, sizeof(text));
        ck_assert(memcmp(r.last, text, sizeof(text)) == 0);
        ck_assert(r.last_nul);
        ws_conn_cleanup(&c);
        ws_deflate_destroy(d);
    }
}
END_TEST

START_TEST(a_compressed_message_in_fragments_inflates)
{
    static const char text[] = "fragmented and compressed, "
                               "fragmented and compressed, "
                               "fragmented and compressed";
    uint8_t z[400], in[600];
    size_t zlen, len = 0, cut;

    zlen = client_deflate(text, sizeof(text) - 1, z, sizeof(z));
    for (cut = 1; cut + 1 < zlen; cut++) {
        ws_deflate_t *d = pmd_for_tests(1);
        ws_conn_t c;
        rec_t r;

        /* RSV1 on the first frame only (section 6.1). */
        len = client_frame(in, 0, WS_RSV1, WS_OP_TEXT, z, cut);
        len += client_frame(in + len, 0, 0, WS_OP_CONT, z + cut, 1);
        len += client_frame(in + len, 1, 0, WS_OP_CONT, z + cut + 1,
                            zlen - cut - 1);
        start(&c, &r, 0);
        ws_conn_set_deflate(&c, d);
        ws_conn_feed(&c, in, len);
        ck_assert_int_eq(r.nmsg, 1);
        ck_assert_uint_eq(r.last_len, sizeof(text) - 1);
        ck_assert(memcmp(r.last, text, sizeof(text) - 1) == 0);
        ws_conn_cleanup(&c);
        ws_deflate_destroy(d);
    }
}
END_TEST

START_TEST(a_small_message_inflating_past_the_limit_is_1009)
{
    static uint8_t zeros[200000];
    uint8_t z[2000], in[2100];
    size_t zlen, len;
    ws_deflate_t *d = pmd_for_tests(0);
    ws_conn_t c;
    rec_t r;

    zlen = client_deflate(zeros, sizeof(zeros), z, sizeof(z));
    ck_assert_uint_lt(zlen, 1000);  /* a few hundred bytes on the wire */
    len = client_frame(in, 1, WS_RSV1, WS_OP_BINARY, z, zlen);
    start(&c, &r, 65536);
    ws_conn_set_deflate(&c, d);
    ws_conn_feed(&c, in, len);
    ck_assert_int_eq(r.nmsg, 0);
    ck_assert_int_eq(r.violation, WS_CLOSE_CODE_TOO_BIG);
    ck_assert_int_eq(sent_close_code(&r, 0), WS_CLOSE_CODE_TOO_BIG);
    /* The buffer never grew much past the limit. */
    ck_assert_uint_le(c.msg_cap, 2 * 65536 + WS_DEFLATE_CHUNK);
    ws_conn_cleanup(&c);
    ws_deflate_destroy(d);
}
END_TEST

START_TEST(bad_compressed_data_is_1007_and_rsv1_without_it_is_1002)
{
    static const uint8_t junk[] = { 0xff, 0xff, 0xff, 0x00, 0x13 };
    uint8_t in[64];
    size_t len = client_frame(in, 1, WS_RSV1, WS_OP_BINARY, junk,
                              sizeof(junk));
    ws_deflate_t *d = pmd_for_tests(0);
    ws_conn_t c;
    rec_t r;

    start(&c, &r, 0);
    ws_conn_set_deflate(&c, d);
    ws_conn_feed(&c, in, len);
    ck_assert_int_eq(r.nmsg, 0);
    ck_assert_int_eq(r.violation, WS_CLOSE_CODE_INVALID_DATA);
    ws_conn_cleanup(&c);
    ws_deflate_destroy(d);
    /* Not agreed: RSV1 is a protocol error. */
    len = client_frame(in, 1, WS_RSV1, WS_OP_BINARY, junk, sizeof(junk));
    start(&c, &r, 0);
    ws_conn_feed(&c, in, len);
    ck_assert_int_eq(r.violation, WS_CLOSE_CODE_PROTOCOL);
    ws_conn_cleanup(&c);
}
END_TEST

START_TEST(sent_messages_are_compressed_above_the_minimum)
{
    static char text[1000];
    uint8_t payload[2000], plain[2000];
    size_t plen, i;
    z_stream z;
    ws_deflate_t *d = pmd_for_tests(0);
    ws_conn_t c;
    rec_t r;

    for (i = 0; i < sizeof(text); i++) {
        text[i] = "json {\"a\": 1} "[i % 15];
    }
    start(&c, &r, 0);
    ws_conn_set_deflate(&c, d);
    ck_assert_int_eq(ws_conn_send(&c, WS_OP_TEXT, "tiny", 4), WS_CONN_OK);
    ck_assert_int_eq(ws_conn_send(&c, WS_OP_TEXT, text, sizeof(text)),
                     WS_CONN_OK);
    /* The small one went as it is (RSV1 clear): byte 0 is 0x81. */
    ck_assert_int_eq(r.out[0], 0x81);
    ck_assert_int_eq(sent_frame(&r, 0, payload, &plen), WS_OP_TEXT);
    ck_assert_uint_eq(plen, 4);
    /* The big one: RSV1 set, smaller, and it inflates back. */
    ck_assert_int_eq(r.out[6], 0xc1);
    ck_assert_int_eq(sent_frame(&r, 1, payload, &plen), WS_OP_TEXT);
    ck_assert_uint_lt(plen, sizeof(text) / 4);
    memcpy(payload + plen, "\x00\x00\xff\xff", 4);
    memset(&z, 0, sizeof(z));
    ck_assert_int_eq(inflateInit2(&z, -15), Z_OK);
    z.next_in = payload;
    z.avail_in = (uInt)(plen + 4);
    z.next_out = plain;
    z.avail_out = sizeof(plain);
    ck_assert_int_eq(inflate(&z, Z_SYNC_FLUSH), Z_OK);
    ck_assert_uint_eq(sizeof(plain) - z.avail_out, sizeof(text));
    ck_assert(memcmp(plain, text, sizeof(text)) == 0);
    inflateEnd(&z);
    ws_conn_cleanup(&c);
    ws_deflate_destroy(d);
}
END_TEST

Suite *ws_conn_suite(void)
{
    Suite *s = suite_create("ws_conn");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, masked_hello_is_delivered_whatever_the_split);
    tcase_add_test(tc, direct_delivery_restores_the_byte_after_the_payload);
    tcase_add_test(tc, fragments_with_interleaved_ping_make_one_message);
    tcase_add_test(tc, ping_after_our_close_is_still_answered);
    tcase_add_test(tc, assembled_message_buffer_can_be_taken_once);
    tcase_add_test(tc, ping_flood_while_closing_ends_the_wait);
    tcase_add_test(tc, utf8_split_across_fragments_is_accepted);
    tcase_add_test(tc, invalid_utf8_fails_fast_with_1007);
    tcase_add_test(tc, truncated_utf8_at_message_end_is_1007);
    tcase_add_test(tc, message_over_limit_across_fragments_is_1009);
    tcase_add_test(tc, message_at_limit_is_accepted);
    tcase_add_test(tc, message_in_too_many_fragments_is_1008);
    tcase_add_test(tc, control_frames_over_the_rate_are_1008);
    tcase_add_test(tc, close_is_echoed_with_code_and_reason);
    tcase_add_test(tc, empty_close_is_answered_without_status);
    tcase_add_loop_test(tc, bad_close_frames_get_their_code, 0,
                        (int)(sizeof(bad_closes) / sizeof(bad_closes[0])));
    tcase_add_loop_test(tc, each_violation_closes_with_1002, 0,
                        (int)(sizeof(violations) / sizeof(violations[0])));
    tcase_add_test(tc, new_message_inside_fragmented_one_is_1002);
    tcase_add_test(tc, handler_error_closes_with_1011);
    tcase_add_test(tc, after_our_close_data_is_dropped_until_the_peer_closes);
    tcase_add_test(tc, close_rejects_codes_not_allowed_on_the_wire);
    tcase_add_test(tc, abort_reports_its_code_unless_a_close_was_exchanged);
    tcase_add_test(tc, pong_is_reported);
    tcase_add_test(tc, large_fragmented_binary_is_reassembled);
    tcase_add_test(tc, a_compressed_message_inflates_whatever_the_split);
    tcase_add_test(tc, a_compressed_message_in_fragments_inflates);
    tcase_add_test(tc, a_small_message_inflating_past_the_limit_is_1009);
    tcase_add_test(tc,
                   bad_compressed_data_is_1007_and_rsv1_without_it_is_1002);
    tcase_add_test(tc, sent_messages_are_compressed_above_the_minimum);
    suite_add_tcase(s, tc);
    return s;
}
