/*
 * test_frame.c -- unit tests for ws_frame.c (Check).
 *
 * Owns: the ws_frame_suite() test suite.  Frames are built by a naive
 * reference builder in this file (checked against the literal bytes of the
 * RFC 6455 section 5.7 examples), decoded under many splits of the input
 * (whole, every split point, one byte at a time, random chunks) and the
 * resulting events and payload compared with what was built.  Each chunk
 * is a heap copy of exactly its size, so ASan and valgrind catch any read
 * past it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "ws_frame.h"
#include "ws_utf8.h"

#include "unit.h"

#define K1 "\x37\xfa\x21\x3d"   /* the masking key of section 5.7 */
#define K2 "\x01\x02\x03\x04"
#define K3 "\xff\x00\xaa\x55"

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} bytes_t;

static void bytes_add(bytes_t *b, const uint8_t *p, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        REQUIRE(b->p != NULL, "out of memory");
    }
    if (n) {
        memcpy(b->p + b->n, p, n);
    }
    b->n += n;
}

static void bytes_free(bytes_t *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

static uint32_t rng_next(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* Payload byte i of a generated payload. */
static uint8_t pattern_byte(size_t i)
{
    return (uint8_t)(i * 7 + 3 + (i >> 8));
}

/* The obvious masking, one byte at a time (section 5.3). */
static void naive_mask(uint8_t *p, size_t n, const uint8_t key[4],
                       size_t offset)
{
    size_t i;

    for (i = 0; i < n; i++) {
        p[i] ^= key[(offset + i) % 4];
    }
}

/*
 * The obvious frame builder (section 5.2), independent of the encoder.
 * payload is already masked if key is given.
 */
static void ref_frame(bytes_t *out, int fin, unsigned rsv, int opcode,
                      const uint8_t *key, const uint8_t *payload,
                      uint64_t len)
{
    uint8_t h[WS_FRAME_MAX_HEADER];
    uint64_t rest = len;
    size_t n = 2;
    int i;

    h[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv << 4) | opcode);
    if (len < 126) {
        h[1] = (uint8_t)len;
    }
    else if (len < 65536) {
        h[1] = 126;
        h[2] = (uint8_t)(len / 256);
        h[3] = (uint8_t)(len % 256);
        n = 4;
    }
    else {
        h[1] = 127;
        for (i = 9; i >= 2; i--) {
            h[i] = (uint8_t)(rest % 256);
            rest /= 256;
        }
        n = 10;
    }
    if (key) {
        h[1] |= 0x80;
        memcpy(h + n, key, 4);
        n += 4;
    }
    bytes_add(out, h, n);
    bytes_add(out, payload, (size_t)len);
}

/* ------------------------------------------------------------------ */
/* The decoding driver                                                */
/* ------------------------------------------------------------------ */

typedef struct {
    int require_mask;
    unsigned allowed_rsv;
    uint64_t max_frame_size;
} config_t;

#define MAX_EVENTS 32

typedef struct {
    int type;                   /* WS_FRAME_HEADER, _END or _ERROR */
    ws_frame_header_t h;
    int code;
    const char *reason;
} trace_event_t;

typedef struct {
    trace_event_t ev[MAX_EVENTS];
    size_t nev;
    bytes_t payload;            /* all PAYLOAD data, concatenated */
} trace_t;

/* How the input is cut into chunks. */
typedef enum {
    CUT_WHOLE,
    CUT_AT,                     /* two chunks, cut at arg */
    CUT_BYTES,                  /* one byte at a time */
    CUT_RANDOM                  /* random sizes from 1 to arg, seeded */
} cut_e;

static void trace_add(trace_t *t, int type, const ws_frame_event_t *ev)
{
    trace_event_t *e;

    REQUIRE(t->nev < MAX_EVENTS, "too many events");
    e = &t->ev[t->nev++];
    memset(e, 0, sizeof(*e));
    e->type = type;
    if (type == WS_FRAME_ERROR) {
        e->code = ev->close_code;
        e->reason = ev->reason;
    }
    else {
        e->h = ev->header;
    }
}

/*
 * Decode in[0..n) cut as asked, recording events into t and checking the
 * invariants of the ws_frame_decode() contract on every call.  Stops at
 * the first ERROR; otherwise ends with calls of length 0 until NEED_MORE.
 */
static void decode_cut(const config_t *cfg, const uint8_t *in, size_t n,
                       cut_e cut, size_t arg, trace_t *t)
{
    ws_frame_decoder_t d;
    ws_frame_event_t ev;
    ws_frame_result_e r;
    uint8_t *chunk, dummy = 0;
    uint8_t *p;
    size_t off = 0, clen, rem, used, calls = 0;
    uint64_t want = 0, got = 0;
    int in_frame = 0, last_chunk;
    uint32_t seed = (uint32_t)arg * 2654435761u + 1;

    memset(t, 0, sizeof(*t));
    ws_frame_decoder_init(&d);
    d.require_mask = cfg->require_mask;
    d.allowed_rsv = cfg->allowed_rsv;
    d.max_frame_size = cfg->max_frame_size;

    for (;;) {
        last_chunk = off >= n;
        switch (cut) {
        case CUT_WHOLE:
            clen = n - off;
            break;
        case CUT_AT:
            clen = off < arg ? arg - off : n - off;
            break;
        case CUT_BYTES:
            clen = 1;
            break;
        default:
            clen = 1 + rng_next(&seed) % arg;
            break;
        }
        if (clen > n - off) {
            clen = n - off;
        }
        /* After the input, one empty call flushes a pending END. */
        if (last_chunk) {
            clen = 0;
        }
        chunk = clen ? malloc(clen) : &dummy;
        REQUIRE(chunk != NULL, "out of memory");
        if (clen) {
            memcpy(chunk, in + off, clen);
        }
        p = chunk;
        rem = clen;
        for (;;) {
            REQUIRE(++calls < 4 * n + 64, "decoder makes no progress");
            r = ws_frame_decode(&d, p, rem, &used, &ev);
            REQUIRE(used <= rem, "used %zu > %zu", used, rem);
            if (r == WS_FRAME_NEED_MORE) {
                REQUIRE(used == rem, "NEED_MORE left %zu bytes", rem - used);
                break;
            }
            if (r == WS_FRAME_HEADER) {
                REQUIRE(!in_frame, "HEADER inside a frame");
                in_frame = 1;
                want = ev.header.length;
                got = 0;
                trace_add(t, r, &ev);
            }
            else if (r == WS_FRAME_PAYLOAD) {
                REQUIRE(in_frame, "PAYLOAD outside a frame");
                REQUIRE(ev.len > 0 && ev.len == used && ev.data == p,
                        "PAYLOAD len %zu used %zu", ev.len, used);
                got += ev.len;
                REQUIRE(got <= want, "more payload than the header said");
                bytes_add(&t->payload, ev.data, ev.len);
            }
            else if (r == WS_FRAME_END) {
                REQUIRE(in_frame, "END outside a frame");
                REQUIRE(got == want, "END after %llu of %llu bytes",
                        (unsigned long long)got, (unsigned long long)want);
                REQUIRE(used == 0, "END consumed %zu bytes", used);
                in_frame = 0;
                trace_add(t, r, &ev);
            }
            else {
                ck_assert_int_eq(r, WS_FRAME_ERROR);
                ck_assert_ptr_nonnull(ev.reason);
                trace_add(t, r, &ev);
                /* Sticky, and consumes nothing. */
                p += used;
                rem -= used;
                memset(&ev, 0, sizeof(ev));
                ck_assert_int_eq(ws_frame_decode(&d, p, rem, &used, &ev),
                                 WS_FRAME_ERROR);
                ck_assert_uint_eq(used, 0);
                ck_assert_int_eq(ev.close_code, t->ev[t->nev - 1].code);
                ck_assert_ptr_eq(ev.reason, t->ev[t->nev - 1].reason);
                ck_assert_int_eq(ws_frame_decode(&d, &dummy, 0, &used, &ev),
                                 WS_FRAME_ERROR);
                ck_assert_uint_eq(used, 0);
                if (clen) {
                    free(chunk);
                }
                return;
            }
            p += used;
            rem -= used;
        }
        if (clen) {
            free(chunk);
        }
        off += clen;
        if (last_chunk) {
            break;
        }
    }
}

static void trace_free(trace_t *t)
{
    bytes_free(&t->payload);
}

static void assert_header_eq(const char *what, size_t i,
                             const ws_frame_header_t *a,
                             const ws_frame_header_t *b)
{
    REQUIRE(a->fin == b->fin && a->rsv == b->rsv && a->opcode == b->opcode
            && a->masked == b->masked && a->length == b->length,
            "%s: event %zu: header fin %d rsv %u op %d masked %d len %llu, "
            "expected fin %d rsv %u op %d masked %d len %llu", what, i,
            a->fin, a->rsv, a->opcode, a->masked,
            (unsigned long long)a->length, b->fin, b->rsv, b->opcode,
            b->masked, (unsigned long long)b->length);
}

static void assert_trace_eq(const char *what, const trace_t *got,
                            const trace_t *want)
{
    const trace_event_t *g, *w;
    size_t i;

    REQUIRE(got->nev == want->nev, "%s: %zu events, expected %zu", what,
            got->nev, want->nev);
    for (i = 0; i < got->nev; i++) {
        g = &got->ev[i];
        w = &want->ev[i];
        REQUIRE(g->type == w->type, "%s: event %zu: type %d, expected %d",
                what, i, g->type, w->type);
        if (g->type == WS_FRAME_ERROR) {
            REQUIRE(g->code == w->code, "%s: close code %d, expected %d",
                    what, g->code, w->code);
            REQUIRE(strcmp(g->reason, w->reason) == 0,
                    "%s: reason \"%s\", expected \"%s\"", what, g->reason,
                    w->reason);
        }
        else {
            assert_header_eq(what, i, &g->h, &w->h);
        }
    }
    REQUIRE(got->payload.n == want->payload.n,
            "%s: %zu payload bytes, expected %zu", what, got->payload.n,
            want->payload.n);
    REQUIRE(got->payload.n == 0
            || memcmp(got->payload.p, want->payload.p, got->payload.n) == 0,
            "%s: payload differs", what);
}

/*
 * Decode in every way: whole, at every split point (sampled for long
 * inputs: all near both ends, every 251st in between), one byte at a time
 * and in random chunks; every trace must equal want.
 */
static void decode_every_way(const char *name, const config_t *cfg,
                             const uint8_t *in, size_t n,
                             const trace_t *want)
{
    trace_t t;
    size_t s;
    char what[160];

    decode_cut(cfg, in, n, CUT_WHOLE, 0, &t);
    snprintf(what, sizeof(what), "%s (whole)", name);
    assert_trace_eq(what, &t, want);
    trace_free(&t);

    decode_cut(cfg, in, n, CUT_BYTES, 0, &t);
    snprintf(what, sizeof(what), "%s (byte at a time)", name);
    assert_trace_eq(what, &t, want);
    trace_free(&t);

    for (s = 0; s <= n; s++) {
        if (n > 2048 && s > 64 && s + 64 < n && s % 251 != 0) {
            continue;
        }
        decode_cut(cfg, in, n, CUT_AT, s, &t);
        snprintf(what, sizeof(what), "%s (split at %zu)", name, s);
        assert_trace_eq(what, &t, want);
        trace_free(&t);
    }

    for (s = 1; s <= 20; s++) {
        decode_cut(cfg, in, n, CUT_RANDOM, s * 7, &t);
        snprintf(what, sizeof(what), "%s (random chunks %zu)", name, s);
        assert_trace_eq(what, &t, want);
        trace_free(&t);
    }
}

/* ------------------------------------------------------------------ */
/* Valid examples                                                     */
/* ------------------------------------------------------------------ */

typedef struct {
    int fin;
    unsigned rsv;
    int opcode;
    const char *key;            /* 4 bytes, or NULL for unmasked */
    const char *text;           /* payload, or NULL for a pattern */
    size_t len;
} frame_spec_t;

#define MAX_SPEC 6

typedef struct {
    const char *name;
    config_t cfg;
    frame_spec_t f[MAX_SPEC];
    const uint8_t *wire;        /* what the input must start with */
    size_t wire_n;
} example_t;

#define T(s) (s), sizeof(s) - 1
#define PAT(n) NULL, (n)
#define UNMASKED { 0, 0, 0 }
#define MASKED { 1, 0, 0 }

static const example_t examples[] = {
    { "5.7 single-frame unmasked text", UNMASKED,
      { { 1, 0, WS_OP_TEXT, NULL, T("Hello") } },
      B("\x81\x05\x48\x65\x6c\x6c\x6f") },
    { "5.7 single-frame masked text", MASKED,
      { { 1, 0, WS_OP_TEXT, K1, T("Hello") } },
      B("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58") },
    { "5.7 fragmented unmasked text", UNMASKED,
      { { 0, 0, WS_OP_TEXT, NULL, T("Hel") },
        { 1, 0, WS_OP_CONT, NULL, T("lo") } },
      B("\x01\x03\x48\x65\x6c\x80\x02\x6c\x6f") },
    { "5.7 unmasked ping", UNMASKED,
      { { 1, 0, WS_OP_PING, NULL, T("Hello") } },
      B("\x89\x05\x48\x65\x6c\x6c\x6f") },
    { "5.7 masked pong", MASKED,
      { { 1, 0, WS_OP_PONG, K1, T("Hello") } },
      B("\x8a\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58") },
    { "5.7 256 bytes binary, unmasked, 16-bit length", UNMASKED,
      { { 1, 0, WS_OP_BINARY, NULL, PAT(256) } },
      B("\x82\x7e\x01\x00") },
    { "5.7 64KiB binary, unmasked, 64-bit length", UNMASKED,
      { { 1, 0, WS_OP_BINARY, NULL, PAT(65536) } },
      B("\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00") },
    { "5.7 fragmented text, masked", MASKED,
      { { 0, 0, WS_OP_TEXT, K1, T("Hel") },
        { 1, 0, WS_OP_CONT, K2, T("lo") } },
      B("\x01\x83" K1 "\x7f\x9f\x4d" "\x80\x82" K2 "\x6d\x6d") },
    { "5.7 ping, masked", MASKED,
      { { 1, 0, WS_OP_PING, K2, T("Hello") } },
      B("\x89\x85" K2) },
    { "5.7 256 bytes binary, masked, 16-bit length", MASKED,
      { { 1, 0, WS_OP_BINARY, K3, PAT(256) } },
      B("\x82\xfe\x01\x00" K3) },
    { "5.7 64KiB binary, masked, 64-bit length", MASKED,
      { { 1, 0, WS_OP_BINARY, K1, PAT(65536) } },
      B("\x82\xff\x00\x00\x00\x00\x00\x01\x00\x00" K1) },
    { "fragmented message with control frames in between", MASKED,
      { { 0, 0, WS_OP_TEXT, K1, T("Hel") },
        { 1, 0, WS_OP_PING, K2, T("") },
        { 0, 0, WS_OP_CONT, K3, T("") },
        { 1, 0, WS_OP_PONG, K1, T("x") },
        { 1, 0, WS_OP_CONT, K2, T("lo") },
        { 1, 0, WS_OP_TEXT, K3, T("next") } },
      NULL, 0 },
    { "empty frames", MASKED,
      { { 1, 0, WS_OP_TEXT, K1, T("") },
        { 1, 0, WS_OP_BINARY, K2, T("") },
        { 1, 0, WS_OP_PING, K3, T("") },
        { 1, 0, WS_OP_CLOSE, K1, T("\x03\xe8") } },
      NULL, 0 },
    { "lengths 125, 126 and 127", MASKED,
      { { 1, 0, WS_OP_PING, K1, PAT(125) },
        { 1, 0, WS_OP_TEXT, K2, PAT(126) },
        { 1, 0, WS_OP_BINARY, K3, PAT(127) } },
      B("\x89\xfd" K1) },
    { "length 65535", MASKED,
      { { 1, 0, WS_OP_BINARY, K2, PAT(65535) } },
      B("\x82\xfe\xff\xff" K2) },
    { "negotiated RSV bits", { 1, WS_RSV1 | WS_RSV2 | WS_RSV3, 0 },
      { { 0, 7, WS_OP_TEXT, K1, T("a") },
        { 0, 3, WS_OP_CONT, K2, T("b") },
        { 1, 2, WS_OP_PING, K3, T("") },
        { 1, 1, WS_OP_CONT, K1, T("c") } },
      NULL, 0 },
    { "masked frames accepted when masking is not required", UNMASKED,
      { { 1, 0, WS_OP_TEXT, K1, T("masked") },
        { 1, 0, WS_OP_TEXT, NULL, T("plain") } },
      NULL, 0 },
};

#define N_EXAMPLES (sizeof(examples) / sizeof(examples[0]))

/* Build the wire bytes and the expected trace of an example. */
static void build_example(const example_t *x, bytes_t *wire, trace_t *want)
{
    const frame_spec_t *f;
    uint8_t *payload;
    size_t i, k;
    trace_event_t *e;

    memset(wire, 0, sizeof(*wire));
    memset(want, 0, sizeof(*want));
    for (i = 0; i < MAX_SPEC && (x->f[i].text || x->f[i].len); i++) {
        f = &x->f[i];
        payload = malloc(f->len ? f->len : 1);
        ck_assert_ptr_nonnull(payload);
        for (k = 0; k < f->len; k++) {
            payload[k] = f->text ? (uint8_t)f->text[k] : pattern_byte(k);
        }
        bytes_add(&want->payload, payload, f->len);
        if (f->key) {
            naive_mask(payload, f->len, (const uint8_t *)f->key, 0);
        }
        ref_frame(wire, f->fin, f->rsv, f->opcode,
                  (const uint8_t *)f->key, payload, f->len);
        free(payload);

        e = &want->ev[want->nev++];
        e->type = WS_FRAME_HEADER;
        e->h.fin = f->fin;
        e->h.rsv = f->rsv;
        e->h.opcode = f->opcode;
        e->h.masked = f->key != NULL;
        e->h.length = f->len;
        e = &want->ev[want->nev++];
        e->type = WS_FRAME_END;
        e->h = want->ev[want->nev - 2].h;
    }
}

START_TEST(decode_gives_the_same_events_for_every_split_of_each_example)
{
    const example_t *x = &examples[_i];
    bytes_t wire;
    trace_t want;

    build_example(x, &wire, &want);
    if (x->wire) {
        ck_assert_msg(wire.n >= x->wire_n
                      && memcmp(wire.p, x->wire, x->wire_n) == 0,
                      "%s: built bytes differ from the RFC bytes", x->name);
    }
    decode_every_way(x->name, &x->cfg, wire.p, wire.n, &want);
    bytes_free(&wire);
    trace_free(&want);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Violations                                                         */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    config_t cfg;
    const uint8_t *wire;        /* ends where the error becomes known */
    size_t wire_n;
    int frames_before;          /* good frames (HEADER, END) before it */
    int code;
    const char *reason;
} violation_t;

#define RSV1_OK { 1, WS_RSV1, 0 }
#define LIMIT(n) { 1, 0, (n) }

static const violation_t violations[] = {
    { "reserved opcode 0x3", MASKED, B("\x83\x80"), 0, 1002,
      "reserved opcode" },
    { "reserved opcode 0x7", MASKED, B("\x87\x80"), 0, 1002,
      "reserved opcode" },
    { "reserved opcode 0xB", MASKED, B("\x8b\x80"), 0, 1002,
      "reserved opcode" },
    { "reserved opcode 0xF", MASKED, B("\x8f\x80"), 0, 1002,
      "reserved opcode" },
    { "RSV1 not negotiated", MASKED, B("\xc1\x85"), 0, 1002,
      "reserved bits set" },
    { "RSV2 not negotiated", MASKED, B("\xa1\x85"), 0, 1002,
      "reserved bits set" },
    { "RSV3 not negotiated", MASKED, B("\x91\x85"), 0, 1002,
      "reserved bits set" },
    { "RSV3 with only RSV1 negotiated", RSV1_OK, B("\xd1\x85"), 0, 1002,
      "reserved bits set" },
    { "RSV1 on a continuation frame", RSV1_OK,
      B("\x41\x80" K1 "\xc0\x80"), 1, 1002,
      "RSV1 on continuation or control frame" },
    { "RSV1 on a ping", RSV1_OK, B("\xc9\x80"), 0, 1002,
      "RSV1 on continuation or control frame" },
    { "RSV1 on a close", RSV1_OK, B("\xc8\x80"), 0, 1002,
      "RSV1 on continuation or control frame" },
    { "unmasked client text frame", MASKED, B("\x81\x05"), 0, 1002,
      "unmasked client frame" },
    { "unmasked client ping", MASKED, B("\x89\x00"), 0, 1002,
      "unmasked client frame" },
    { "unmasked frame after a masked one", MASKED,
      B("\x81\x80" K1 "\x82\x00"), 1, 1002, "unmasked client frame" },
    { "ping with a 16-bit length", MASKED, B("\x89\xfe"), 0, 1002,
      "control frame too long" },
    { "close with a 64-bit length", MASKED, B("\x88\xff"), 0, 1002,
      "control frame too long" },
    { "pong with a 16-bit length, unmasked allowed", UNMASKED,
      B("\x8a\x7e"), 0, 1002, "control frame too long" },
    { "fragmented ping", MASKED, B("\x09\x80"), 0, 1002,
      "fragmented control frame" },
    { "fragmented close", MASKED, B("\x08\x80"), 0, 1002,
      "fragmented control frame" },
    { "fragmented pong inside a message", MASKED,
      B("\x01\x80" K1 "\x0a\x80"), 1, 1002, "fragmented control frame" },
    { "64-bit length with the top bit set", MASKED,
      B("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x00" K1), 0, 1002,
      "invalid 64-bit length" },
    { "64-bit length all ones", UNMASKED,
      B("\x82\x7f\xff\xff\xff\xff\xff\xff\xff\xff"), 0, 1002,
      "invalid 64-bit length" },
    { "64-bit length with the top bit set and a limit", LIMIT(1000),
      B("\x82\xff\x80\x00\x00\x00\x00\x00\x00\x01" K1), 0, 1002,
      "invalid 64-bit length" },
    { "continuation without a message", MASKED, B("\x80\x80"), 0, 1002,
      "continuation without message" },
    { "non-final continuation without a message", MASKED, B("\x00\x80"), 0,
      1002, "continuation without message" },
    { "continuation after a complete message", MASKED,
      B("\x81\x80" K1 "\x80\x80"), 1, 1002,
      "continuation without message" },
    { "continuation after a message ended by a continuation", MASKED,
      B("\x01\x80" K1 "\x80\x80" K2 "\x80\x80"), 2, 1002,
      "continuation without message" },
    { "text frame inside a fragmented message", MASKED,
      B("\x01\x80" K1 "\x81\x80"), 1, 1002,
      "new message inside fragmented message" },
    { "binary frame inside a fragmented message", MASKED,
      B("\x02\x81" K1 "x" "\x89\x80" K2 "\x82\x80"), 2, 1002,
      "new message inside fragmented message" },
    { "non-final text inside a fragmented message", MASKED,
      B("\x01\x80" K1 "\x00\x80" K2 "\x01\x80"), 2, 1002,
      "new message inside fragmented message" },
    { "7-bit length over the limit", LIMIT(10), B("\x81\x8b" K1), 0, 1009,
      "frame too large" },
    { "16-bit length over the limit", LIMIT(1000),
      B("\x82\xfe\x03\xe9" K1), 0, 1009, "frame too large" },
    { "64-bit length over the limit", LIMIT(65536),
      B("\x82\xff\x00\x00\x00\x00\x00\x01\x00\x01" K1), 0, 1009,
      "frame too large" },
    { "control frame over a small limit", LIMIT(4),
      B("\x89\x85" K1), 0, 1009, "frame too large" },
};

#define N_VIOLATIONS (sizeof(violations) / sizeof(violations[0]))

START_TEST(decode_maps_each_violation_to_its_close_code_at_every_split)
{
    const violation_t *v = &violations[_i];
    trace_t want, got;
    size_t s;
    char what[160];
    int k;

    /* The expected events, from decoding whole: good frames, then the
     * error. */
    decode_cut(&v->cfg, v->wire, v->wire_n, CUT_WHOLE, 0, &want);
    ck_assert_msg(want.nev == (size_t)(2 * v->frames_before + 1),
                  "%s: %zu events", v->name, want.nev);
    for (k = 0; k < v->frames_before; k++) {
        ck_assert_int_eq(want.ev[2 * k].type, WS_FRAME_HEADER);
        ck_assert_int_eq(want.ev[2 * k + 1].type, WS_FRAME_END);
    }
    ck_assert_msg(want.ev[want.nev - 1].type == WS_FRAME_ERROR,
                  "%s: no error", v->name);
    ck_assert_msg(want.ev[want.nev - 1].code == v->code,
                  "%s: code %d, expected %d", v->name,
                  want.ev[want.nev - 1].code, v->code);
    ck_assert_msg(strcmp(want.ev[want.nev - 1].reason, v->reason) == 0,
                  "%s: reason \"%s\"", v->name, want.ev[want.nev - 1].reason);

    /* The same at every split and one byte at a time. */
    for (s = 0; s <= v->wire_n; s++) {
        decode_cut(&v->cfg, v->wire, v->wire_n, CUT_AT, s, &got);
        snprintf(what, sizeof(what), "%s (split at %zu)", v->name, s);
        assert_trace_eq(what, &got, &want);
        trace_free(&got);
    }
    decode_cut(&v->cfg, v->wire, v->wire_n, CUT_BYTES, 0, &got);
    assert_trace_eq(v->name, &got, &want);
    trace_free(&got);

    /* Without its last byte the input is not yet an error: fail fast
     * means exactly at that byte. */
    decode_cut(&v->cfg, v->wire, v->wire_n - 1, CUT_WHOLE, 0, &got);
    ck_assert_msg(got.nev == 0
                  || got.ev[got.nev - 1].type != WS_FRAME_ERROR,
                  "%s: error before the last byte", v->name);
    trace_free(&got);
    trace_free(&want);
}
END_TEST

START_TEST(decode_rejects_exactly_the_reserved_opcodes)
{
    int op = _i;
    config_t cfg = MASKED;
    bytes_t wire = { NULL, 0, 0 };
    trace_t t;
    int reserved = (op >= 3 && op <= 7) || op >= 0xB;

    /* Open a message first so that a continuation is legal. */
    ref_frame(&wire, 0, 0, WS_OP_BINARY, (const uint8_t *)K1,
              (const uint8_t *)"", 0);
    ref_frame(&wire, 1, 0, op, (const uint8_t *)K2, (const uint8_t *)"", 0);
    decode_cut(&cfg, wire.p, wire.n, CUT_BYTES, 0, &t);
    if (reserved) {
        ck_assert_uint_eq(t.nev, 3);
        ck_assert_int_eq(t.ev[2].type, WS_FRAME_ERROR);
        ck_assert_int_eq(t.ev[2].code, 1002);
        ck_assert_str_eq(t.ev[2].reason, "reserved opcode");
    }
    else if (op == WS_OP_TEXT || op == WS_OP_BINARY) {
        ck_assert_uint_eq(t.nev, 3);
        ck_assert_str_eq(t.ev[2].reason,
                         "new message inside fragmented message");
    }
    else {
        ck_assert_uint_eq(t.nev, 4);
        ck_assert_int_eq(t.ev[2].type, WS_FRAME_HEADER);
        ck_assert_int_eq(t.ev[2].h.opcode, op);
        ck_assert_int_eq(t.ev[3].type, WS_FRAME_END);
    }
    trace_free(&t);
    bytes_free(&wire);
}
END_TEST

static const uint64_t limits[] = { 1, 125, 126, 1000, 65535, 65536, 70000 };

START_TEST(decode_accepts_a_frame_of_exactly_max_frame_size_but_not_one_more)
{
    uint64_t max = limits[_i];
    config_t cfg = LIMIT(max);
    bytes_t wire = { NULL, 0, 0 };
    uint8_t *payload = calloc((size_t)max + 1, 1);
    trace_t t;

    ck_assert_ptr_nonnull(payload);
    ref_frame(&wire, 1, 0, WS_OP_BINARY, (const uint8_t *)K1, payload, max);
    decode_cut(&cfg, wire.p, wire.n, CUT_RANDOM, 1000, &t);
    ck_assert_uint_eq(t.nev, 2);
    ck_assert_int_eq(t.ev[0].type, WS_FRAME_HEADER);
    ck_assert_uint_eq(t.ev[0].h.length, max);
    ck_assert_int_eq(t.ev[1].type, WS_FRAME_END);
    ck_assert_uint_eq(t.payload.n, max);
    trace_free(&t);

    /* One more byte: 1009 as soon as the header is in. */
    wire.n = 0;
    ref_frame(&wire, 1, 0, WS_OP_BINARY, (const uint8_t *)K1, payload,
              max + 1);
    decode_cut(&cfg, wire.p, wire.n - (size_t)(max + 1), CUT_BYTES, 0, &t);
    ck_assert_uint_eq(t.nev, 1);
    ck_assert_int_eq(t.ev[0].type, WS_FRAME_ERROR);
    ck_assert_int_eq(t.ev[0].code, WS_CLOSE_CODE_TOO_BIG);
    ck_assert_str_eq(t.ev[0].reason, "frame too large");
    trace_free(&t);
    bytes_free(&wire);
    free(payload);
}
END_TEST

START_TEST(decode_without_a_limit_accepts_the_largest_64_bit_length)
{
    config_t cfg = UNMASKED;
    trace_t t;

    decode_cut(&cfg, B("\x82\x7f\x7f\xff\xff\xff\xff\xff\xff\xff" "abc"),
               CUT_BYTES, 0, &t);
    ck_assert_uint_eq(t.nev, 1);
    ck_assert_int_eq(t.ev[0].type, WS_FRAME_HEADER);
    ck_assert(t.ev[0].h.length == UINT64_C(0x7fffffffffffffff));
    ck_assert_uint_eq(t.payload.n, 3);
    trace_free(&t);
}
END_TEST

START_TEST(decode_init_sets_the_documented_defaults)
{
    ws_frame_decoder_t d;

    memset(&d, 0x5a, sizeof(d));
    ws_frame_decoder_init(&d);
    ck_assert(d.max_frame_size == 0);
    ck_assert_uint_eq(d.allowed_rsv, 0);
    ck_assert_int_eq(d.require_mask, 1);
    ck_assert_int_eq(d.in_message, 0);
}
END_TEST

START_TEST(decode_returns_end_of_an_empty_frame_on_a_call_with_no_input)
{
    ws_frame_decoder_t d;
    ws_frame_event_t ev;
    uint8_t in[] = { 0x89, 0x80, 1, 2, 3, 4 };
    size_t used = 99;

    ws_frame_decoder_init(&d);
    ck_assert_int_eq(ws_frame_decode(&d, in, 1, &used, &ev),
                     WS_FRAME_NEED_MORE);
    ck_assert_uint_eq(used, 1);
    ck_assert_int_eq(ws_frame_decode(&d, in + 1, 5, &used, &ev),
                     WS_FRAME_HEADER);
    ck_assert_uint_eq(used, 5);
    ck_assert_int_eq(ev.header.opcode, WS_OP_PING);
    ck_assert(ev.header.length == 0);
    ck_assert_int_eq(ws_frame_decode(&d, in + 6, 0, &used, &ev),
                     WS_FRAME_END);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(ws_frame_decode(&d, in + 6, 0, &used, &ev),
                     WS_FRAME_NEED_MORE);
    ck_assert_uint_eq(used, 0);
}
END_TEST

START_TEST(decode_stops_payload_at_the_end_of_its_frame)
{
    ws_frame_decoder_t d;
    ws_frame_event_t ev;
    uint8_t in[] = "\x81\x83" K1 "abc" "\x89\x81" K2 "d";
    size_t used, off = 0;

    naive_mask(in + 6, 3, (const uint8_t *)K1, 0);
    naive_mask(in + 15, 1, (const uint8_t *)K2, 0);
    ws_frame_decoder_init(&d);
    ck_assert_int_eq(ws_frame_decode(&d, in, 16, &used, &ev),
                     WS_FRAME_HEADER);
    off += used;
    ck_assert_int_eq(ws_frame_decode(&d, in + off, 16 - off, &used, &ev),
                     WS_FRAME_PAYLOAD);
    ck_assert_uint_eq(ev.len, 3);
    ck_assert_ptr_eq(ev.data, in + 6);
    ck_assert_mem_eq(in + 6, "abc", 3);
    off += used;
    ck_assert_int_eq(ws_frame_decode(&d, in + off, 16 - off, &used, &ev),
                     WS_FRAME_END);
    ck_assert_int_eq(ws_frame_decode(&d, in + off, 16 - off, &used, &ev),
                     WS_FRAME_HEADER);
    ck_assert_int_eq(ev.header.opcode, WS_OP_PING);
    off += used;
    ck_assert_int_eq(ws_frame_decode(&d, in + off, 16 - off, &used, &ev),
                     WS_FRAME_PAYLOAD);
    ck_assert_uint_eq(ev.len, 1);
    ck_assert_int_eq(in[15], 'd');
    off += used;
    ck_assert_uint_eq(off, 16);
    ck_assert_int_eq(ws_frame_decode(&d, in + off, 0, &used, &ev),
                     WS_FRAME_END);
    ck_assert_int_eq(ws_frame_decode(&d, in + off, 0, &used, &ev),
                     WS_FRAME_NEED_MORE);
}
END_TEST

START_TEST(decode_rejects_unmasked_client_frame)
{
    ws_frame_decoder_t d;
    ws_frame_event_t ev;
    uint8_t in[] = { 0x81, 0x05, 'H', 'e', 'l', 'l', 'o' };
    uint8_t good[] = { 0x81, 0x80, 1, 2, 3, 4 };
    size_t used;

    ws_frame_decoder_init(&d);
    ck_assert_int_eq(ws_frame_decode(&d, in, sizeof(in), &used, &ev),
                     WS_FRAME_ERROR);
    ck_assert_uint_eq(used, 2);
    ck_assert_int_eq(ev.close_code, WS_CLOSE_CODE_PROTOCOL);
    ck_assert_str_eq(ev.reason, "unmasked client frame");
    /* Sticky: even a good frame afterwards gets the same error. */
    memset(&ev, 0, sizeof(ev));
    ck_assert_int_eq(ws_frame_decode(&d, good, sizeof(good), &used, &ev),
                     WS_FRAME_ERROR);
    ck_assert_uint_eq(used, 0);
    ck_assert_int_eq(ev.close_code, WS_CLOSE_CODE_PROTOCOL);
    ck_assert_str_eq(ev.reason, "unmasked client frame");
}
END_TEST

/* ------------------------------------------------------------------ */
/* Encoder                                                            */
/* ------------------------------------------------------------------ */

START_TEST(encode_writes_the_section_5_7_headers)
{
    uint8_t h[WS_FRAME_MAX_HEADER];

    ck_assert_uint_eq(ws_frame_header_encode(h, 1, 0, WS_OP_TEXT, 5, NULL),
                      2);
    ck_assert_mem_eq(h, "\x81\x05", 2);
    ck_assert_uint_eq(ws_frame_header_encode(h, 1, 0, WS_OP_TEXT, 5,
                                             (const uint8_t *)K1), 6);
    ck_assert_mem_eq(h, "\x81\x85" K1, 6);
    ck_assert_uint_eq(ws_frame_header_encode(h, 0, 0, WS_OP_TEXT, 3, NULL),
                      2);
    ck_assert_mem_eq(h, "\x01\x03", 2);
    ck_assert_uint_eq(ws_frame_header_encode(h, 1, 0, WS_OP_CONT, 2, NULL),
                      2);
    ck_assert_mem_eq(h, "\x80\x02", 2);
    ck_assert_uint_eq(ws_frame_header_encode(h, 1, 0, WS_OP_PING, 5, NULL),
                      2);
    ck_assert_mem_eq(h, "\x89\x05", 2);
    ck_assert_uint_eq(ws_frame_header_encode(h, 1, 0, WS_OP_PONG, 5,
                                             (const uint8_t *)K1), 6);
    ck_assert_mem_eq(h, "\x8a\x85" K1, 6);
    ck_assert_uint_eq(ws_frame_header_encode(h, 1, 0, WS_OP_BINARY, 256,
                                             NULL), 4);
    ck_assert_mem_eq(h, "\x82\x7e\x01\x00", 4);
    ck_assert_uint_eq(ws_frame_header_encode(h, 1, 0, WS_OP_BINARY, 65536,
                                             NULL), 10);
    ck_assert_mem_eq(h, "\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00", 10);
}
END_TEST

START_TEST(encode_sets_fin_rsv_and_opcode_bits)
{
    uint8_t h[WS_FRAME_MAX_HEADER];
    int fin, op;
    unsigned rsv;

    for (fin = 0; fin <= 1; fin++) {
        for (rsv = 0; rsv <= 7; rsv++) {
            for (op = 0; op <= 15; op++) {
                ws_frame_header_encode(h, fin, rsv, op, 0, NULL);
                ck_assert_uint_eq(h[0], (fin << 7) | (rsv << 4) | op);
                ck_assert_uint_eq(h[1], 0);
            }
        }
    }
}
END_TEST

static const uint64_t encode_lengths[] = {
    0, 1, 125, 126, 127, 65535, 65536, 70001
};

START_TEST(encode_round_trips_each_length_through_the_decoder)
{
    uint64_t len = encode_lengths[_i];
    size_t want_hlen = len <= 125 ? 2 : len <= 65535 ? 4 : 10;
    uint8_t h[WS_FRAME_MAX_HEADER];
    bytes_t wire = { NULL, 0, 0 }, ref = { NULL, 0, 0 };
    uint8_t *payload = malloc((size_t)len + 1);
    config_t cfg;
    trace_t t;
    size_t hlen, k;
    int masked;

    ck_assert_ptr_nonnull(payload);
    for (masked = 0; masked <= 1; masked++) {
        const uint8_t *key = masked ? (const uint8_t *)K3 : NULL;

        hlen = ws_frame_header_encode(h, 1, WS_RSV1, WS_OP_BINARY, len,
                                      key);
        ck_assert_uint_eq(hlen, want_hlen + (masked ? 4 : 0));

        /* Byte for byte what the naive builder makes. */
        for (k = 0; k < len; k++) {
            payload[k] = pattern_byte(k);
        }
        if (key) {
            naive_mask(payload, (size_t)len, key, 0);
        }
        ref.n = 0;
        ref_frame(&ref, 1, WS_RSV1, WS_OP_BINARY, key, payload, len);
        ck_assert_mem_eq(h, ref.p, hlen);

        wire.n = 0;
        bytes_add(&wire, h, hlen);
        bytes_add(&wire, payload, (size_t)len);
        cfg.require_mask = masked;
        cfg.allowed_rsv = WS_RSV1;
        cfg.max_frame_size = 0;
        decode_cut(&cfg, wire.p, wire.n, CUT_RANDOM, 4096, &t);
        ck_assert_uint_eq(t.nev, 2);
        ck_assert_int_eq(t.ev[0].type, WS_FRAME_HEADER);
        ck_assert_int_eq(t.ev[0].h.fin, 1);
        ck_assert_uint_eq(t.ev[0].h.rsv, WS_RSV1);
        ck_assert_int_eq(t.ev[0].h.opcode, WS_OP_BINARY);
        ck_assert_int_eq(t.ev[0].h.masked, masked);
        ck_assert(t.ev[0].h.length == len);
        ck_assert_uint_eq(t.payload.n, len);
        for (k = 0; k < len; k++) {
            REQUIRE(t.payload.p[k] == pattern_byte(k), "byte %zu", k);
        }
        trace_free(&t);
    }
    bytes_free(&wire);
    bytes_free(&ref);
    free(payload);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Masking                                                            */
/* ------------------------------------------------------------------ */

START_TEST(mask_matches_a_naive_reference_at_every_offset_length_alignment)
{
    static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
    uint8_t *mem, *p, want[48];
    size_t offset, len, align, i;

    for (offset = 0; offset < 8; offset++) {
        for (len = 0; len <= 40; len++) {
            for (align = 0; align < 8; align++) {
                mem = malloc(align + len + 1);
                REQUIRE(mem != NULL, "out of memory");
                p = mem + align;
                for (i = 0; i < len; i++) {
                    p[i] = want[i] = pattern_byte(i + align);
                }
                naive_mask(want, len, key, offset);
                ws_frame_mask(p, len, key, offset);
                REQUIRE(len == 0 || memcmp(p, want, len) == 0,
                        "offset %zu len %zu align %zu", offset, len, align);
                /* Masking twice restores the data. */
                ws_frame_mask(p, len, key, offset);
                for (i = 0; i < len; i++) {
                    REQUIRE(p[i] == pattern_byte(i + align),
                            "offset %zu len %zu align %zu: twice", offset,
                            len, align);
                }
                free(mem);
            }
        }
    }
}
END_TEST

START_TEST(mask_in_pieces_with_carried_offset_equals_mask_in_one_go)
{
    static const uint8_t key[4] = { 0x01, 0x80, 0xfe, 0x7f };
    enum { N = 5000 };
    uint8_t *a = malloc(N), *b = malloc(N);
    uint32_t seed = 7;
    size_t off, piece;
    int round;

    ck_assert_ptr_nonnull(a);
    ck_assert_ptr_nonnull(b);
    for (round = 0; round < 20; round++) {
        for (off = 0; off < N; off++) {
            a[off] = b[off] = (uint8_t)rng_next(&seed);
        }
        naive_mask(a, N, key, 0);
        for (off = 0; off < N; off += piece) {
            piece = 1 + rng_next(&seed) % 100;
            if (piece > N - off) {
                piece = N - off;
            }
            ws_frame_mask(b + off, piece, key, off);
        }
        ck_assert_mem_eq(a, b, N);
    }
    free(a);
    free(b);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Close codes and payloads                                           */
/* ------------------------------------------------------------------ */

static const int valid_codes[] = {
    1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014,
    3000, 3999, 4000, 4999
};

static const int invalid_codes[] = {
    0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535
};

START_TEST(close_code_valid_accepts_only_codes_allowed_on_the_wire)
{
    size_t i;
    int code, n = 0;

    for (i = 0; i < sizeof(valid_codes) / sizeof(valid_codes[0]); i++) {
        ck_assert_msg(ws_frame_close_code_valid(valid_codes[i]), "%d",
                      valid_codes[i]);
    }
    for (i = 0; i < sizeof(invalid_codes) / sizeof(invalid_codes[0]); i++) {
        ck_assert_msg(!ws_frame_close_code_valid(invalid_codes[i]), "%d",
                      invalid_codes[i]);
    }
    ck_assert(!ws_frame_close_code_valid(-1000));
    /* 4 + 8 + 2000 codes in all. */
    for (code = -1; code <= 70000; code++) {
        n += ws_frame_close_code_valid(code) != 0;
    }
    ck_assert_int_eq(n, 4 + 8 + 2000);
}
END_TEST

START_TEST(close_parse_reads_an_empty_payload_as_no_status_1005)
{
    uint8_t dummy = 0;
    const uint8_t *reason = &dummy;
    size_t reason_len = 99;
    int code = 0;

    ck_assert_int_eq(ws_frame_close_parse(&dummy, 0, &code, &reason,
                                          &reason_len), 0);
    ck_assert_int_eq(code, WS_CLOSE_CODE_NO_STATUS);
    ck_assert_uint_eq(reason_len, 0);
}
END_TEST

START_TEST(close_parse_rejects_a_one_byte_payload_with_1002)
{
    const uint8_t *reason;
    size_t reason_len;
    int code;

    ck_assert_int_eq(ws_frame_close_parse(B("\x03"), &code, &reason,
                                          &reason_len), 1002);
    ck_assert_int_eq(ws_frame_close_parse(B("\xe8"), &code, &reason,
                                          &reason_len), 1002);
}
END_TEST

START_TEST(close_parse_rejects_a_code_not_allowed_on_the_wire_with_1002)
{
    int c = invalid_codes[_i], code;
    uint8_t p[5];
    const uint8_t *reason;
    size_t reason_len;

    p[0] = (uint8_t)(c >> 8);
    p[1] = (uint8_t)c;
    memcpy(p + 2, "bye", 3);
    ck_assert_msg(ws_frame_close_parse(p, 2, &code, &reason, &reason_len)
                  == 1002, "code %d", c);
    ck_assert_msg(ws_frame_close_parse(p, 5, &code, &reason, &reason_len)
                  == 1002, "code %d with reason", c);
}
END_TEST

START_TEST(close_parse_accepts_a_valid_code_and_returns_the_reason_in_place)
{
    int c = valid_codes[_i], code = 0;
    uint8_t p[5];
    const uint8_t *reason = NULL;
    size_t reason_len = 99;

    p[0] = (uint8_t)(c >> 8);
    p[1] = (uint8_t)c;
    memcpy(p + 2, "bye", 3);
    ck_assert_int_eq(ws_frame_close_parse(p, 2, &code, &reason,
                                          &reason_len), 0);
    ck_assert_int_eq(code, c);
    ck_assert_uint_eq(reason_len, 0);
    code = 0;
    ck_assert_int_eq(ws_frame_close_parse(p, 5, &code, &reason,
                                          &reason_len), 0);
    ck_assert_int_eq(code, c);
    ck_assert_ptr_eq(reason, p + 2);
    ck_assert_uint_eq(reason_len, 3);
}
END_TEST

START_TEST(close_parse_checks_the_reason_is_utf8)
{
    const uint8_t *reason;
    size_t reason_len;
    int code;

    /* kosme, valid: accepted. */
    ck_assert_int_eq(ws_frame_close_parse(
                         B("\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc"
                           "\xce\xb5"), &code, &reason, &reason_len), 0);
    ck_assert_uint_eq(reason_len, 11);
    /* Autobahn 7.5.1: kosme + surrogate + "edited". */
    ck_assert_int_eq(ws_frame_close_parse(
                         B("\x03\xe8\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc"
                           "\xce\xb5\xed\xa0\x80\x65\x64\x69\x74\x65\x64"),
                         &code, &reason, &reason_len), 1007);
    ck_assert_int_eq(ws_frame_close_parse(B("\x03\xe8\xff"), &code,
                                          &reason, &reason_len), 1007);
    /* A truncated character at the end is invalid too. */
    ck_assert_int_eq(ws_frame_close_parse(B("\x03\xe8" "ab\xe2\x82"), &code,
                                          &reason, &reason_len), 1007);
    /* The code is checked first. */
    ck_assert_int_eq(ws_frame_close_parse(B("\x03\xec\xff"), &code,
                                          &reason, &reason_len), 1002);
}
END_TEST

Suite *ws_frame_suite(void)
{
    Suite *s = suite_create("ws_frame");
    TCase *tc;

    tc = tcase_create("decode");
    /* Every split of a 64KiB frame is slow under valgrind. */
    tcase_set_timeout(tc, 300);
    tcase_add_loop_test(tc,
        decode_gives_the_same_events_for_every_split_of_each_example, 0,
        N_EXAMPLES);
    tcase_add_loop_test(tc,
        decode_maps_each_violation_to_its_close_code_at_every_split, 0,
        N_VIOLATIONS);
    tcase_add_loop_test(tc, decode_rejects_exactly_the_reserved_opcodes, 0,
        16);
    tcase_add_loop_test(tc,
        decode_accepts_a_frame_of_exactly_max_frame_size_but_not_one_more, 0,
        sizeof(limits) / sizeof(limits[0]));
    tcase_add_test(tc,
        decode_without_a_limit_accepts_the_largest_64_bit_length);
    tcase_add_test(tc, decode_init_sets_the_documented_defaults);
    tcase_add_test(tc,
        decode_returns_end_of_an_empty_frame_on_a_call_with_no_input);
    tcase_add_test(tc, decode_stops_payload_at_the_end_of_its_frame);
    tcase_add_test(tc, decode_rejects_unmasked_client_frame);
    suite_add_tcase(s, tc);

    tc = tcase_create("encode");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, encode_writes_the_section_5_7_headers);
    tcase_add_test(tc, encode_sets_fin_rsv_and_opcode_bits);
    tcase_add_loop_test(tc,
        encode_round_trips_each_length_through_the_decoder, 0,
        sizeof(encode_lengths) / sizeof(encode_lengths[0]));
    suite_add_tcase(s, tc);

    tc = tcase_create("mask");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc,
        mask_matches_a_naive_reference_at_every_offset_length_alignment);
    tcase_add_test(tc,
        mask_in_pieces_with_carried_offset_equals_mask_in_one_go);
    suite_add_tcase(s, tc);

    tc = tcase_create("close");
    tcase_add_test(tc,
        close_code_valid_accepts_only_codes_allowed_on_the_wire);
    tcase_add_test(tc, close_parse_reads_an_empty_payload_as_no_status_1005);
    tcase_add_test(tc, close_parse_rejects_a_one_byte_payload_with_1002);
    tcase_add_loop_test(tc,
        close_parse_rejects_a_code_not_allowed_on_the_wire_with_1002, 0,
        sizeof(invalid_codes) / sizeof(invalid_codes[0]));
    tcase_add_loop_test(tc,
        close_parse_accepts_a_valid_code_and_returns_the_reason_in_place, 0,
        sizeof(valid_codes) / sizeof(valid_codes[0]));
    tcase_add_test(tc, close_parse_checks_the_reason_is_utf8);
    suite_add_tcase(s, tc);

    return s;
}
