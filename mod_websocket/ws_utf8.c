/*
 * ws_utf8.c -- incremental UTF-8 validator (RFC 3629), pure.
 *
 * Owns: the byte-class table and the state machine that decide, one byte
 * at a time, whether a stream can still become valid UTF-8.  RFC 6455
 * section 8.1 asks an endpoint to fail a connection as soon as text data
 * is known to be invalid, so the machine rejects a byte the moment the
 * prefix can no longer be completed, not at the end of the message.
 *
 * The states follow the well-formed byte sequences of the Unicode
 * Standard, Table 3-7:
 *
 *     U+0000..U+007F      00..7F
 *     U+0080..U+07FF      C2..DF  80..BF
 *     U+0800..U+0FFF      E0      A0..BF  80..BF
 *     U+1000..U+CFFF      E1..EC  80..BF  80..BF
 *     U+D000..U+D7FF      ED      80..9F  80..BF
 *     U+E000..U+FFFF      EE..EF  80..BF  80..BF
 *     U+10000..U+3FFFF    F0      90..BF  80..BF  80..BF
 *     U+40000..U+FFFFF    F1..F3  80..BF  80..BF  80..BF
 *     U+100000..U+10FFFF  F4      80..8F  80..BF  80..BF
 *
 * Only the second byte of a sequence ever has a range narrower than
 * 80..BF, so four "restricted second byte" states (after E0, ED, F0, F4)
 * plus "1, 2 or 3 plain continuation bytes to go" cover everything: the
 * table below (utf8_row) is this table, read column by column.
 *
 * Plain ASCII, the common case, is skipped 8 or 16 bytes at a time while
 * the machine sits at a character boundary.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ws_utf8.h"

/* Byte classes, in the order of utf8_row. */
enum {
    C_ASCII = 0,                /* 00..7F */
    C_CONT_LO,                  /* 80..8F */
    C_CONT_MID,                 /* 90..9F */
    C_CONT_HI,                  /* A0..BF */
    C_BAD,                      /* C0 C1 F5..FF: never in valid UTF-8 */
    C_LEAD2,                    /* C2..DF */
    C_E0,                       /* E0 */
    C_LEAD3,                    /* E1..EC EE EF */
    C_ED,                       /* ED */
    C_F0,                       /* F0 */
    C_LEAD4,                    /* F1..F3 */
    C_F4,                       /* F4 */
    C_COUNT
};

/*
 * States are bit offsets, multiples of 6, so that the whole transition
 * function for one byte class fits in a uint64_t "row": the next state
 * from state s is (row >> s) & 63.  On the critical path that is a shift
 * and a mask per byte; the two table loads do not depend on the state.
 * S_ACCEPT must be 0 (see ws_utf8_t in the header).
 */
#define S_ACCEPT  0             /* at a character boundary */
#define S_1       6             /* one 80..BF to go */
#define S_2      12             /* two 80..BF to go */
#define S_3      18             /* three 80..BF to go */
#define S_E0     24             /* after E0: A0..BF, then one more */
#define S_ED     30             /* after ED: 80..9F, then one more */
#define S_F0     36             /* after F0: 90..BF, then two more */
#define S_F4     42             /* after F4: 80..8F, then two more */
#define S_REJECT 48             /* invalid; absorbing */

static const uint8_t utf8_class[256] = {
    /* 00..7F */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    /* 80..8F */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    /* 90..9F */
    2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2,
    /* A0..BF */
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
    /* C0 C1, C2..DF */
    4, 4, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5,
    /* E0, E1..EC, ED, EE EF */
    6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 7,
    /* F0, F1..F3, F4, F5..FF */
    9, 10, 10, 10, 11, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4
};

/*
 * Rows.  Every transition not listed goes to S_REJECT: a row starts as
 * "all states reject" and GO(s, n) flips state s over to n.
 */
#define REJECT_AT(s) ((uint64_t)S_REJECT << (s))
#define ALL_REJECT (REJECT_AT(S_ACCEPT) | REJECT_AT(S_1) | REJECT_AT(S_2) \
                    | REJECT_AT(S_3) | REJECT_AT(S_E0) | REJECT_AT(S_ED) \
                    | REJECT_AT(S_F0) | REJECT_AT(S_F4) | REJECT_AT(S_REJECT))
#define GO(s, n) ((uint64_t)((n) ^ S_REJECT) << (s))

static const uint64_t utf8_row[C_COUNT] = {
    /* 00..7F */
    ALL_REJECT ^ GO(S_ACCEPT, S_ACCEPT),
    /* 80..8F */
    ALL_REJECT ^ GO(S_1, S_ACCEPT) ^ GO(S_2, S_1) ^ GO(S_3, S_2)
               ^ GO(S_ED, S_1) ^ GO(S_F4, S_2),
    /* 90..9F */
    ALL_REJECT ^ GO(S_1, S_ACCEPT) ^ GO(S_2, S_1) ^ GO(S_3, S_2)
               ^ GO(S_ED, S_1) ^ GO(S_F0, S_2),
    /* A0..BF */
    ALL_REJECT ^ GO(S_1, S_ACCEPT) ^ GO(S_2, S_1) ^ GO(S_3, S_2)
               ^ GO(S_E0, S_1) ^ GO(S_F0, S_2),
    /* C0 C1 F5..FF */
    ALL_REJECT,
    /* C2..DF */
    ALL_REJECT ^ GO(S_ACCEPT, S_1),
    /* E0 */
    ALL_REJECT ^ GO(S_ACCEPT, S_E0),
    /* E1..EC EE EF */
    ALL_REJECT ^ GO(S_ACCEPT, S_2),
    /* ED */
    ALL_REJECT ^ GO(S_ACCEPT, S_ED),
    /* F0 */
    ALL_REJECT ^ GO(S_ACCEPT, S_F0),
    /* F1..F3 */
    ALL_REJECT ^ GO(S_ACCEPT, S_3),
    /* F4 */
    ALL_REJECT ^ GO(S_ACCEPT, S_F4)
};

#undef GO
#undef ALL_REJECT
#undef REJECT_AT

#define HIGH_BITS UINT64_C(0x8080808080808080)

static ws_utf8_result_e utf8_result(uint32_t s)
{
    if (s == S_ACCEPT) {
        return WS_UTF8_OK;
    }
    return s == S_REJECT ? WS_UTF8_INVALID : WS_UTF8_INCOMPLETE;
}

void ws_utf8_init(ws_utf8_t *v)
{
    v->state = S_ACCEPT;
}

ws_utf8_result_e ws_utf8_feed(ws_utf8_t *v, const uint8_t *p, size_t n)
{
    uint32_t s = v->state;
    uint64_t w1, w2;
    size_t step;

    if (s == S_REJECT || n == 0) {
        return utf8_result(s);
    }

    while (n > 0) {
        if (s == S_ACCEPT) {
            /* Fast path: whole words of ASCII keep us at a boundary. */
            while (n >= 16) {
                memcpy(&w1, p, 8);
                memcpy(&w2, p + 8, 8);
                if ((w1 | w2) & HIGH_BITS) {
                    break;
                }
                p += 16;
                n -= 16;
            }
            if (n >= 8) {
                memcpy(&w1, p, 8);
                if (!(w1 & HIGH_BITS)) {
                    p += 8;
                    n -= 8;
                    continue;
                }
            }
        }
        /*
         * Run the machine over at most 8 bytes before trying the fast path
         * again.  S_REJECT is absorbing, so checking it once per block
         * loses nothing: the result is the same as stopping at the byte.
         */
        step = n < 8 ? n : 8;
        n -= step;
        while (step--) {
            s = (uint32_t)(utf8_row[utf8_class[*p++]] >> s) & 63;
        }
        if (s == S_REJECT) {
            break;
        }
    }

    v->state = s;
    return utf8_result(s);
}

int ws_utf8_valid(const uint8_t *p, size_t n)
{
    ws_utf8_t v;

    ws_utf8_init(&v);
    return ws_utf8_feed(&v, p, n) == WS_UTF8_OK;
}
