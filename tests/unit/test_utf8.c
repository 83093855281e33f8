/*
 * test_utf8.c -- unit tests for ws_utf8.c (Check).
 *
 * Owns: the ws_utf8_suite() test suite.  The cases follow Markus Kuhn's
 * UTF-8 decoder stress test as used by the Autobahn test suite, section 6
 * (RFC 6455 section 8.1: invalid text fails the connection, as soon as it
 * is known to be invalid).  Besides the tables, an independent reference
 * validator (code point intervals, no state machine) is compared with
 * ws_utf8_feed() byte by byte over exhaustive short sequences, so the fail
 * fast position is checked for every lead byte and every second byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "ws_utf8.h"

#include "unit.h"

/* ------------------------------------------------------------------ */
/* Reference validator                                                */
/* ------------------------------------------------------------------ */

/*
 * Does the code point interval [lo, hi] meet the scalar values that an
 * n-byte sequence may encode (Unicode Table 3-7: shortest form only, no
 * surrogates, nothing above U+10FFFF)?
 */
static int ref_interval_ok(uint32_t lo, uint32_t hi, int n)
{
    switch (n) {
    case 2:
        return hi >= 0x80 && lo <= 0x7FF;
    case 3:
        return (hi >= 0x800 && lo <= 0xD7FF)
               || (hi >= 0xE000 && lo <= 0xFFFF);
    case 4:
        return hi >= 0x10000 && lo <= 0x10FFFF;
    }
    return 0;
}

/*
 * Status of the whole of p[0..n) as the validator must report it: INVALID
 * if no continuation can make it valid, INCOMPLETE if it stops inside a
 * character that can still be completed, OK otherwise.
 */
static ws_utf8_result_e ref_status(const uint8_t *p, size_t n)
{
    size_t i = 0, k;
    int need, have;
    uint32_t cp, lo, hi;
    unsigned rest;

    while (i < n) {
        uint8_t b = p[i];

        if (b < 0x80) {
            i++;
            continue;
        }
        if ((b & 0xE0) == 0xC0) {
            need = 2;
            cp = b & 0x1F;
        }
        else if ((b & 0xF0) == 0xE0) {
            need = 3;
            cp = b & 0x0F;
        }
        else if ((b & 0xF8) == 0xF0) {
            need = 4;
            cp = b & 0x07;
        }
        else {
            return WS_UTF8_INVALID;
        }
        have = 1;
        for (k = i + 1; have < need && k < n; k++, have++) {
            if ((p[k] & 0xC0) != 0x80) {
                return WS_UTF8_INVALID;
            }
            cp = (cp << 6) | (p[k] & 0x3F);
        }
        rest = 6 * (unsigned)(need - have);
        lo = cp << rest;
        hi = lo | ((1u << rest) - 1);
        if (!ref_interval_ok(lo, hi, need)) {
            return WS_UTF8_INVALID;
        }
        if (have < need) {
            return WS_UTF8_INCOMPLETE;
        }
        i += (size_t)need;
    }
    return WS_UTF8_OK;
}

/* Encode a scalar value (no checks); returns the length. */
static size_t encode_utf8(uint32_t cp, uint8_t *out)
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | (cp >> 6));
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | (cp >> 12));
        out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | (cp >> 18));
    out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Deterministic pseudo-random numbers for the stress tests. */
static uint32_t rng_next(uint32_t *s)
{
    *s = *s * 1103515245u + 12345u;
    return *s >> 8;
}

/* A heap copy of exactly n bytes, so ASan and valgrind see overreads. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n ? n : 1);

    ck_assert_ptr_nonnull(q);
    if (n) {
        memcpy(q, p, n);
    }
    return q;
}

/*
 * Feed p[0..n) one byte at a time and check that every prefix gets the
 * reference status.  Returns the index of the first INVALID, or -1.
 */
static long feed_bytewise(const char *name, const uint8_t *p, size_t n)
{
    ws_utf8_t v;
    ws_utf8_result_e r, want;
    long first_bad = -1;
    size_t i;

    ws_utf8_init(&v);
    for (i = 0; i < n; i++) {
        r = ws_utf8_feed(&v, p + i, 1);
        want = ref_status(p, i + 1);
        REQUIRE(r == want, "%s: byte %zu: got %d, reference %d", name, i,
                (int)r, (int)want);
        if (r == WS_UTF8_INVALID && first_bad < 0) {
            first_bad = (long)i;
        }
    }
    return first_bad;
}

/* ------------------------------------------------------------------ */
/* Tables                                                             */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *name;
    const uint8_t *p;
    size_t n;
} utf8_valid_case_t;

static const utf8_valid_case_t valid_cases[] = {
    { "empty", B("") },
    { "ASCII", B("Hello, world") },
    { "NUL byte", B("a\0b") },
    { "all of ASCII 0x01-0x7F",
      B("\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
        "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f"
        " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ"
        "[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~\x7f") },
    /* Autobahn 6.2.x */
    { "6.2 Hello-mu@ss", B("Hello-\xc2\xb5@\xc3\x9f\xc3\xb6\xc3\xa4\xc3\xbc"
                            "\xc3\xa0\xc3\xa1-UTF-8!!") },
    /* Autobahn 6.5.x: kosme */
    { "6.5 kosme", B("\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5") },
    /* Autobahn 6.7.x: first possible sequence of each length */
    { "6.7.1 U+0000", B("\x00") },
    { "6.7.2 U+0080", B("\xc2\x80") },
    { "6.7.3 U+0800", B("\xe0\xa0\x80") },
    { "6.7.4 U+10000", B("\xf0\x90\x80\x80") },
    /* Autobahn 6.9.x: last possible sequence of each length */
    { "6.9.1 U+007F", B("\x7f") },
    { "6.9.2 U+07FF", B("\xdf\xbf") },
    { "6.9.3 U+FFFF", B("\xef\xbf\xbf") },
    { "6.9.4 U+10FFFF", B("\xf4\x8f\xbf\xbf") },
    /* Autobahn 6.11.x: other boundary conditions */
    { "6.11.1 U+D7FF", B("\xed\x9f\xbf") },
    { "6.11.2 U+E000", B("\xee\x80\x80") },
    { "6.11.3 U+FFFD", B("\xef\xbf\xbd") },
    { "U+0FFF, U+1000", B("\xe0\xbf\xbf\xe1\x80\x80") },
    { "U+CFFF, U+D000", B("\xec\xbf\xbf\xed\x80\x80") },
    { "U+3FFFF, U+40000", B("\xf0\xbf\xbf\xbf\xf1\x80\x80\x80") },
    { "U+FFFFF, U+100000", B("\xf3\xbf\xbf\xbf\xf4\x80\x80\x80") },
    /* Autobahn 6.22.x: noncharacters are valid UTF-8 */
    { "6.22 U+FFFE", B("\xef\xbf\xbe") },
    { "6.22 U+FDD0..U+FDEF ends", B("\xef\xb7\x90\xef\xb7\xaf") },
    { "6.22 U+1FFFE U+1FFFF", B("\xf0\x9f\xbf\xbe\xf0\x9f\xbf\xbf") },
    { "6.22 U+10FFFE", B("\xf4\x8f\xbf\xbe") },
    /* Autobahn 6.23.x */
    { "6.23 U+FFFD", B("\xef\xbf\xbd") },
    { "mixed lengths across word boundaries",
      B("abcdefg\xc3\xa9hijklmnopq\xe2\x82\xacrstuvwxyz012345\xf0\x9f\x98\x80"
        "6789ABCDEFGHIJKLMNOPQRSTUVWXYZ\xf4\x8f\xbf\xbf") },
    { "long ASCII run", B("0123456789abcdef0123456789abcdef0123456789abcdef"
                          "0123456789abcdef0123456789abcdef!") },
};

typedef struct {
    const char *name;
    const uint8_t *p;
    size_t n;
    size_t bad_at;              /* index of the first impossible byte */
} utf8_invalid_case_t;

#define KOSME "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"

static const utf8_invalid_case_t invalid_cases[] = {
    /* Autobahn 6.3.x, 6.4.x: fail fast in the middle of a message */
    { "6.3 kosme + surrogate + edited",
      B(KOSME "\xed\xa0\x80" "edited"), 12 },
    { "6.4.1 kosme + F4 90 80 80 + edited",
      B(KOSME "\xf4\x90\x80\x80" "edited"), 12 },
    { "6.4.3 kosme + F4 90 80 80", B(KOSME "\xf4\x90\x80\x80"), 12 },
    /* Autobahn 6.8.x, 6.10.x: five- and six-byte forms, above U+10FFFF */
    { "6.8.1 five-byte F8 88 80 80 80", B("\xf8\x88\x80\x80\x80"), 0 },
    { "6.8.2 six-byte FC 84 80 80 80 80", B("\xfc\x84\x80\x80\x80\x80"), 0 },
    { "6.10.1 F7 BF BF BF", B("\xf7\xbf\xbf\xbf"), 0 },
    { "6.10.2 FB BF BF BF BF", B("\xfb\xbf\xbf\xbf\xbf"), 0 },
    { "6.10.3 FD BF BF BF BF BF", B("\xfd\xbf\xbf\xbf\xbf\xbf"), 0 },
    { "6.11.5 U+110000", B("\xf4\x90\x80\x80"), 1 },
    { "F4 BF", B("\xf4\xbf\xbf\xbf"), 1 },
    { "F5 lead", B("\xf5\x80\x80\x80"), 0 },
    /* Autobahn 6.12.x: unexpected continuation bytes */
    { "6.12.1 lone 80", B("\x80"), 0 },
    { "6.12.2 lone BF", B("\xbf"), 0 },
    { "6.12.3 80 BF", B("\x80\xbf"), 0 },
    { "continuation after ASCII", B("abc\x80"), 3 },
    { "continuation after a full character", B("\xc3\xa9\x80"), 2 },
    { "extra continuation after 3 bytes", B("\xe2\x82\xac\xac"), 3 },
    { "extra continuation after 4 bytes", B("\xf0\x9f\x98\x80\x80"), 4 },
    /* Autobahn 6.13.x: lonely start characters */
    { "6.13.1 C2 space", B("\xc2\x20"), 1 },
    { "6.13.2 E1 space", B("\xe1\x20"), 1 },
    { "6.13.3 F1 space", B("\xf1\x20"), 1 },
    { "lead then lead", B("\xc2\xc2\x80"), 1 },
    /* Autobahn 6.14.x: last continuation byte missing */
    { "6.14 E1 80 then ASCII", B("\xe1\x80\x41"), 2 },
    { "6.14 F1 80 80 then ASCII", B("\xf1\x80\x80\x41"), 3 },
    { "6.14 C0", B("\xc0"), 0 },
    { "6.14 E0 80", B("\xe0\x80"), 1 },
    { "6.14 F0 80 80", B("\xf0\x80\x80"), 1 },
    /* Autobahn 6.16.x: impossible bytes */
    { "6.16.1 FE", B("\xfe"), 0 },
    { "6.16.2 FF", B("\xff"), 0 },
    { "6.16.3 FE FE FF FF", B("\xfe\xfe\xff\xff"), 0 },
    /* Autobahn 6.17.x: overlong ASCII '/' */
    { "6.17.1 C0 AF", B("\xc0\xaf"), 0 },
    { "6.17.2 E0 80 AF", B("\xe0\x80\xaf"), 1 },
    { "6.17.3 F0 80 80 AF", B("\xf0\x80\x80\xaf"), 1 },
    { "6.17.4 F8 80 80 80 AF", B("\xf8\x80\x80\x80\xaf"), 0 },
    { "6.17.5 FC 80 80 80 80 AF", B("\xfc\x80\x80\x80\x80\xaf"), 0 },
    /* Autobahn 6.18.x: maximum overlong sequences */
    { "6.18.1 C1 BF", B("\xc1\xbf"), 0 },
    { "6.18.2 E0 9F BF", B("\xe0\x9f\xbf"), 1 },
    { "6.18.3 F0 8F BF BF", B("\xf0\x8f\xbf\xbf"), 1 },
    { "6.18.4 F8 87 BF BF BF", B("\xf8\x87\xbf\xbf\xbf"), 0 },
    { "6.18.5 FC 83 BF BF BF BF", B("\xfc\x83\xbf\xbf\xbf\xbf"), 0 },
    /* Autobahn 6.19.x: overlong NUL */
    { "6.19.1 C0 80", B("\xc0\x80"), 0 },
    { "6.19.2 E0 80 80", B("\xe0\x80\x80"), 1 },
    { "6.19.3 F0 80 80 80", B("\xf0\x80\x80\x80"), 1 },
    { "6.19.4 F8 80 80 80 80", B("\xf8\x80\x80\x80\x80"), 0 },
    { "6.19.5 FC 80 80 80 80 80", B("\xfc\x80\x80\x80\x80\x80"), 0 },
    /* Autobahn 6.20.x: single UTF-16 surrogates */
    { "6.20.1 U+D800", B("\xed\xa0\x80"), 1 },
    { "6.20.2 U+DB7F", B("\xed\xad\xbf"), 1 },
    { "6.20.3 U+DB80", B("\xed\xae\x80"), 1 },
    { "6.20.4 U+DBFF", B("\xed\xaf\xbf"), 1 },
    { "6.20.5 U+DC00", B("\xed\xb0\x80"), 1 },
    { "6.20.6 U+DF80", B("\xed\xbe\x80"), 1 },
    { "6.20.7 U+DFFF", B("\xed\xbf\xbf"), 1 },
    /* Autobahn 6.21.x: paired surrogates */
    { "6.21.1 U+D800 U+DC00", B("\xed\xa0\x80\xed\xb0\x80"), 1 },
    { "6.21.8 U+DBFF U+DFFF", B("\xed\xaf\xbf\xed\xbf\xbf"), 1 },
    /* Fail fast after a long valid ASCII prefix (fast path). */
    { "bad byte after 20 ASCII", B("01234567890123456789\xff"), 20 },
    { "surrogate after 16 ASCII", B("0123456789abcdef\xed\xa0\x80"), 17 },
    { "bad byte inside the second word", B("01234567\xc0" "9abcdef"), 8 },
    { "bad byte at the end of a word", B("0123456\x80" "89abcdef"), 7 },
};

typedef struct {
    const char *name;
    const uint8_t *p;
    size_t n;
    const uint8_t *rest;        /* completes it */
    size_t rest_n;
} utf8_incomplete_case_t;

static const utf8_incomplete_case_t incomplete_cases[] = {
    { "C2", B("\xc2"), B("\x80") },
    { "DF (6.14 last byte missing)", B("\xdf"), B("\xbf") },
    { "E0 A0", B("\xe0\xa0"), B("\x80") },
    { "E0", B("\xe0"), B("\xa0\x80") },
    { "ED 9F", B("\xed\x9f"), B("\xbf") },
    { "EF BF (6.14 last byte missing)", B("\xef\xbf"), B("\xbf") },
    { "F0 90 80", B("\xf0\x90\x80"), B("\x80") },
    { "F0 90", B("\xf0\x90"), B("\x80\x80") },
    { "F4 8F BF", B("\xf4\x8f\xbf"), B("\xbf") },
    { "F4", B("\xf4"), B("\x8f\xbf\xbf") },
    { "ASCII then E2 82", B("abc\xe2\x82"), B("\xac") },
    { "kosme then F0", B(KOSME "\xf0"), B("\x9f\x98\x80") },
    { "17 ASCII then E1", B("0123456789abcdefg\xe1"), B("\x80\x80") },
};

/* ------------------------------------------------------------------ */
/* Tests                                                              */
/* ------------------------------------------------------------------ */

START_TEST(utf8_accepts_valid_text_whole_bytewise_and_at_every_split)
{
    const utf8_valid_case_t *c = &valid_cases[_i];
    uint8_t *p = dup_exact(c->p, c->n);
    ws_utf8_t v;
    ws_utf8_result_e r;
    size_t split;

    ck_assert_msg(ref_status(p, c->n) == WS_UTF8_OK, "%s: reference",
                  c->name);
    ck_assert_msg(ws_utf8_valid(p, c->n) == 1, "%s: one shot", c->name);
    ck_assert_msg(feed_bytewise(c->name, p, c->n) < 0, "%s: bytewise",
                  c->name);

    for (split = 0; split <= c->n; split++) {
        ws_utf8_init(&v);
        r = ws_utf8_feed(&v, p, split);
        ck_assert_msg(r == ref_status(p, split), "%s: split %zu: first part",
                      c->name, split);
        r = ws_utf8_feed(&v, p + split, c->n - split);
        ck_assert_msg(r == WS_UTF8_OK, "%s: split %zu: got %d", c->name,
                      split, (int)r);
    }
    free(p);
}
END_TEST

START_TEST(utf8_rejects_invalid_text_exactly_at_the_first_impossible_byte)
{
    const utf8_invalid_case_t *c = &invalid_cases[_i];
    uint8_t *p = dup_exact(c->p, c->n);
    ws_utf8_t v;
    ws_utf8_result_e r;
    size_t i, split;

    /* The table agrees with the reference... */
    ck_assert_msg(ref_status(p, c->bad_at) != WS_UTF8_INVALID
                  && ref_status(p, c->bad_at + 1) == WS_UTF8_INVALID,
                  "%s: table disagrees with reference", c->name);

    /* ... and the validator says INVALID at that byte and not before. */
    ws_utf8_init(&v);
    for (i = 0; i < c->n; i++) {
        r = ws_utf8_feed(&v, p + i, 1);
        if (i < c->bad_at) {
            ck_assert_msg(r != WS_UTF8_INVALID, "%s: INVALID early at %zu",
                          c->name, i);
        }
        else {
            ck_assert_msg(r == WS_UTF8_INVALID, "%s: got %d at byte %zu",
                          c->name, (int)r, i);
        }
    }
    ck_assert_msg(ws_utf8_valid(p, c->n) == 0, "%s: one shot", c->name);

    for (split = 0; split <= c->n; split++) {
        ws_utf8_init(&v);
        r = ws_utf8_feed(&v, p, split);
        ck_assert_msg((r == WS_UTF8_INVALID) == (split > c->bad_at),
                      "%s: split %zu: first part %d", c->name, split, (int)r);
        r = ws_utf8_feed(&v, p + split, c->n - split);
        ck_assert_msg(r == WS_UTF8_INVALID, "%s: split %zu: got %d",
                      c->name, split, (int)r);
    }
    free(p);
}
END_TEST

START_TEST(utf8_reports_incomplete_for_a_truncated_character)
{
    const utf8_incomplete_case_t *c = &incomplete_cases[_i];
    uint8_t *p = dup_exact(c->p, c->n);
    uint8_t *rest = dup_exact(c->rest, c->rest_n);
    ws_utf8_t v;

    ws_utf8_init(&v);
    ck_assert_msg(ws_utf8_feed(&v, p, c->n) == WS_UTF8_INCOMPLETE, "%s",
                  c->name);
    ck_assert_msg(ws_utf8_valid(p, c->n) == 0, "%s: one shot", c->name);
    /* Feeding nothing changes nothing. */
    ck_assert_msg(ws_utf8_feed(&v, rest, 0) == WS_UTF8_INCOMPLETE, "%s",
                  c->name);
    ck_assert_msg(ws_utf8_feed(&v, rest, c->rest_n) == WS_UTF8_OK,
                  "%s: completed", c->name);
    free(p);
    free(rest);
}
END_TEST

START_TEST(utf8_stays_invalid_until_reinitialised)
{
    ws_utf8_t v;

    ws_utf8_init(&v);
    ck_assert_int_eq(ws_utf8_feed(&v, B("\xc0")), WS_UTF8_INVALID);
    ck_assert_int_eq(ws_utf8_feed(&v, B("abc")), WS_UTF8_INVALID);
    ck_assert_int_eq(ws_utf8_feed(&v, B("0123456789abcdef0123")),
                     WS_UTF8_INVALID);
    ck_assert_int_eq(ws_utf8_feed(&v, B("\x80")), WS_UTF8_INVALID);
    ck_assert_int_eq(ws_utf8_feed(&v, B("")), WS_UTF8_INVALID);
    ws_utf8_init(&v);
    ck_assert_int_eq(ws_utf8_feed(&v, B("")), WS_UTF8_OK);
    ck_assert_int_eq(ws_utf8_feed(&v, B("abc")), WS_UTF8_OK);
}
END_TEST

START_TEST(utf8_accepts_every_scalar_value_and_rejects_every_surrogate)
{
    uint8_t buf[4];
    uint32_t cp;
    size_t n;
    ws_utf8_t v;

    for (cp = 0; cp <= 0x10FFFF; cp++) {
        n = encode_utf8(cp, buf);
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            ws_utf8_init(&v);
            REQUIRE(ws_utf8_feed(&v, buf, 1) == WS_UTF8_INCOMPLETE,
                    "U+%04X: first byte", (unsigned)cp);
            REQUIRE(ws_utf8_feed(&v, buf + 1, 1) == WS_UTF8_INVALID,
                    "U+%04X not rejected at its second byte", (unsigned)cp);
        }
        else {
            REQUIRE(ws_utf8_valid(buf, n), "U+%04X rejected", (unsigned)cp);
        }
    }
    /*
     * Above U+10FFFF, in the 4-byte form: rejected at the second byte or
     * the first.
     */
    for (cp = 0x110000; cp < 0x200000; cp += 0x1111) {
        n = encode_utf8(cp, buf);
        ck_assert_msg(feed_bytewise("above U+10FFFF", buf, n) <= 1,
                      "U+%X", (unsigned)cp);
        ck_assert(!ws_utf8_valid(buf, n));
    }
}
END_TEST

START_TEST(utf8_matches_the_reference_on_all_one_and_two_byte_inputs)
{
    uint8_t buf[2];
    unsigned a, b;

    for (a = 0; a < 256; a++) {
        buf[0] = (uint8_t)a;
        feed_bytewise("1 byte", buf, 1);
        for (b = 0; b < 256; b++) {
            buf[1] = (uint8_t)b;
            feed_bytewise("2 bytes", buf, 2);
            REQUIRE(ws_utf8_valid(buf, 2)
                    == (ref_status(buf, 2) == WS_UTF8_OK), "%02X %02X", a, b);
        }
    }
}
END_TEST

/* One value from each byte range that matters, plus the edges. */
static const uint8_t edge_bytes[] = {
    0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1,
    0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF
};

#define N_EDGE (sizeof(edge_bytes) / sizeof(edge_bytes[0]))

START_TEST(utf8_matches_the_reference_on_three_and_four_byte_inputs)
{
    uint8_t buf[4];
    unsigned a, b, c, d;

    /* Every lead byte, every second byte, an edge third byte. */
    for (a = 0x80; a < 256; a++) {
        buf[0] = (uint8_t)a;
        for (b = 0; b < 256; b++) {
            buf[1] = (uint8_t)b;
            for (c = 0; c < N_EDGE; c++) {
                buf[2] = edge_bytes[c];
                feed_bytewise("3 bytes", buf, 3);
            }
        }
    }
    /* Four-byte leads, every second byte, edge third and fourth bytes. */
    for (a = 0xF0; a <= 0xF5; a++) {
        buf[0] = (uint8_t)a;
        for (b = 0; b < 256; b++) {
            buf[1] = (uint8_t)b;
            for (c = 0; c < N_EDGE; c++) {
                buf[2] = edge_bytes[c];
                for (d = 0; d < N_EDGE; d++) {
                    buf[3] = edge_bytes[d];
                    feed_bytewise("4 bytes", buf, 4);
                }
            }
        }
    }
}
END_TEST

START_TEST(utf8_fast_path_finds_a_bad_byte_at_any_offset_and_alignment)
{
    static const uint8_t bad[] = { 0x80, 0xBF, 0xC0, 0xF8, 0xFF };
    static const uint8_t good[] = { 0xC3, 0xA9 };
    uint8_t *mem, *p;
    size_t n, pos, align, k;
    ws_utf8_t v;

    for (n = 1; n <= 40; n++) {
        for (align = 0; align < 8; align++) {
            mem = malloc(align + n);
            ck_assert_ptr_nonnull(mem);
            p = mem + align;
            for (pos = 0; pos < n; pos++) {
                /* One bad byte in an ASCII run: INVALID, at it. */
                for (k = 0; k < sizeof(bad); k++) {
                    memset(p, 'a', n);
                    p[pos] = bad[k];
                    REQUIRE(!ws_utf8_valid(p, n), "n %zu pos %zu", n, pos);
                    ws_utf8_init(&v);
                    REQUIRE(ws_utf8_feed(&v, p, pos) == WS_UTF8_OK,
                            "n %zu pos %zu: prefix", n, pos);
                    REQUIRE(ws_utf8_feed(&v, p + pos, 1) == WS_UTF8_INVALID,
                            "n %zu pos %zu: bad byte", n, pos);
                }
                /*
                 * One two-byte character in an ASCII run: fine, and a
                 * truncated one at the end is INCOMPLETE.
                 */
                memset(p, 'a', n);
                p[pos] = good[0];
                ws_utf8_init(&v);
                if (pos + 1 < n) {
                    p[pos + 1] = good[1];
                    REQUIRE(ws_utf8_valid(p, n), "n %zu pos %zu", n, pos);
                }
                else {
                    REQUIRE(ws_utf8_feed(&v, p, n) == WS_UTF8_INCOMPLETE,
                            "n %zu: truncated at the end", n);
                }
            }
            free(mem);
        }
    }
}
END_TEST

START_TEST(utf8_random_text_gives_the_same_answer_for_any_chunking)
{
    enum { MAXLEN = 2048 };
    uint8_t *text = malloc(MAXLEN + 4);
    uint32_t seed = 12345, cp;
    size_t n = 0, off, chunk, bad;
    ws_utf8_t v;
    ws_utf8_result_e r = WS_UTF8_OK;
    int round;
    uint8_t saved;

    ck_assert_ptr_nonnull(text);
    while (n < MAXLEN) {
        switch (rng_next(&seed) % 4) {
        case 0:
            cp = rng_next(&seed) % 0x80;
            break;
        case 1:
            cp = 0x80 + rng_next(&seed) % (0x800 - 0x80);
            break;
        case 2:
            cp = 0x800 + rng_next(&seed) % (0x10000 - 0x800);
            break;
        default:
            cp = 0x10000 + rng_next(&seed) % (0x110000 - 0x10000);
            break;
        }
        if (cp >= 0xD800 && cp <= 0xDFFF) {
            continue;
        }
        n += encode_utf8(cp, text + n);
    }
    ck_assert(ws_utf8_valid(text, n));

    for (round = 0; round < 64; round++) {
        /*
         * Corrupt one byte in half the rounds; compare with the
         * reference, chunk by chunk.
         */
        bad = rng_next(&seed) % n;
        saved = text[bad];
        if (round & 1) {
            text[bad] = (uint8_t)rng_next(&seed);
        }
        ws_utf8_init(&v);
        for (off = 0; off < n; off += chunk) {
            chunk = 1 + rng_next(&seed) % 64;
            if (chunk > n - off) {
                chunk = n - off;
            }
            r = ws_utf8_feed(&v, text + off, chunk);
            REQUIRE(r == ref_status(text, off + chunk),
                    "round %d offset %zu", round, off);
        }
        ck_assert_int_eq(ws_utf8_valid(text, n), r == WS_UTF8_OK);
        text[bad] = saved;
    }
    free(text);
}
END_TEST

Suite *ws_utf8_suite(void)
{
    Suite *s = suite_create("ws_utf8");
    TCase *tc;

    tc = tcase_create("tables");
    tcase_add_loop_test(tc,
        utf8_accepts_valid_text_whole_bytewise_and_at_every_split, 0,
        sizeof(valid_cases) / sizeof(valid_cases[0]));
    tcase_add_loop_test(tc,
        utf8_rejects_invalid_text_exactly_at_the_first_impossible_byte, 0,
        sizeof(invalid_cases) / sizeof(invalid_cases[0]));
    tcase_add_loop_test(tc, utf8_reports_incomplete_for_a_truncated_character,
        0, sizeof(incomplete_cases) / sizeof(incomplete_cases[0]));
    tcase_add_test(tc, utf8_stays_invalid_until_reinitialised);
    suite_add_tcase(s, tc);

    /* Exhaustive and random tests: slow under valgrind. */
    tc = tcase_create("exhaustive");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc,
        utf8_accepts_every_scalar_value_and_rejects_every_surrogate);
    tcase_add_test(tc,
        utf8_matches_the_reference_on_all_one_and_two_byte_inputs);
    tcase_add_test(tc,
        utf8_matches_the_reference_on_three_and_four_byte_inputs);
    tcase_add_test(tc,
        utf8_fast_path_finds_a_bad_byte_at_any_offset_and_alignment);
    tcase_add_test(tc,
        utf8_random_text_gives_the_same_answer_for_any_chunking);
    suite_add_tcase(s, tc);

    return s;
}
