/*
 * ws_pmd.h -- permessage-deflate negotiation (RFC 7692 sections 5-7), pure.
 *
 * Reads a request's Sec-WebSocket-Extensions (every header, joined with
 * ", "), takes the first permessage-deflate offer this server can accept
 * under its policy, and writes the response's extension with the
 * parameters both sides then use.  Other extensions are ignored (never
 * agreed).  An offer is declined (the next one is tried) when RFC 7692
 * section 7 says so: a parameter it does not define, one given twice, a
 * bad value, or a configuration this server does not support (a server
 * window of 8 bits: zlib's deflate cannot keep to it).
 *
 * Owns: nothing (no allocation).  Threads: any.
 */
#ifndef WS_PMD_H
#define WS_PMD_H

#include <stddef.h>

/* What this server allows (the location's settings). */
typedef struct {
    int server_no_context_takeover;  /* always reset our compressor
                                      * between messages (so a message to
                                      * many is deflated once) */
    int client_no_context_takeover;  /* ask the client to reset its own
                                      * (our inflater need not keep 2^bits
                                      * bytes between messages) */
    int server_max_window_bits;      /* 9-15: the most we compress with */
    int client_max_window_bits;      /* 9-15: the most we ask the client to
                                      * compress with, when it lets us */
} ws_pmd_policy_t;

/* What was agreed: how each side compresses. */
typedef struct {
    int server_no_context_takeover;
    int client_no_context_takeover;
    int server_max_window_bits;      /* our deflate window, 9-15 */
    int client_max_window_bits;      /* the client's: our inflate window
                                      * (9-15; 15 when it named none) */
} ws_pmd_params_t;

/* Longest response ws_pmd_negotiate writes (with its NUL). */
#define WS_PMD_RESPONSE_MAX 128

/*
 * Negotiate: header is every Sec-WebSocket-Extensions value of the
 * request joined with ", " (NULL: none).  Returns 1 and fills *out and
 * response (the value of the response's Sec-WebSocket-Extensions, at most
 * WS_PMD_RESPONSE_MAX bytes with its NUL) if an offer is accepted, 0 if
 * none is (nothing written to response but a NUL).  Syntax errors in an
 * element decline that element only.
 */
int ws_pmd_negotiate(const char *header, const ws_pmd_policy_t *policy,
                     ws_pmd_params_t *out, char *response);

#endif /* WS_PMD_H */
