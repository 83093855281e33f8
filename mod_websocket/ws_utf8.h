/*
 * ws_utf8.h -- incremental UTF-8 validator (RFC 3629), pure.
 *
 * Owns: deciding whether a byte stream, fed in arbitrary pieces, is valid
 * UTF-8.  Touches nothing else: no httpd or APR types, no allocation, no I/O.
 *
 * It fails fast, as RFC 6455 section 8.1 asks: WS_UTF8_INVALID is returned
 * for the first byte that makes the input impossible to complete as valid
 * UTF-8 (overlong forms, surrogates U+D800..U+DFFF, code points above
 * U+10FFFF, stray continuation bytes, 0xC0, 0xC1, 0xF5..0xFF), not at the
 * end of the message.
 */
#ifndef WS_UTF8_H
#define WS_UTF8_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    WS_UTF8_OK = 0,             /* valid so far, at a character boundary */
    WS_UTF8_INCOMPLETE = 1,     /* valid so far, inside a character */
    WS_UTF8_INVALID = -1        /* can never become valid; sticky */
} ws_utf8_result_e;

typedef struct {
    uint32_t state;             /* private: 0 at a character boundary */
} ws_utf8_t;

/* Start (or restart) validation of a new string. */
void ws_utf8_init(ws_utf8_t *v);

/* Feed the next n bytes; returns the state after them.  Once INVALID, stays
 * INVALID until ws_utf8_init. */
ws_utf8_result_e ws_utf8_feed(ws_utf8_t *v, const uint8_t *p, size_t n);

/* One shot: 1 if p[0..n) is complete, valid UTF-8, else 0. */
int ws_utf8_valid(const uint8_t *p, size_t n);

#endif /* WS_UTF8_H */
