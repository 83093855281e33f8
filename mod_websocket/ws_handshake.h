/*
 * ws_handshake.h -- the opening handshake's rules (RFC 6455 section 4.2),
 * pure.
 *
 * Owns: deciding whether an upgrade request is a valid WebSocket handshake
 * and with which HTTP status to refuse it, the Sec-WebSocket-Accept value,
 * header token lists, the same-origin comparison and subprotocol choice.
 * Uses APR (apr_sha1, apr_base64) but no httpd types, so it is unit-tested
 * and fuzzed alone; ws_upgrade.c feeds it the request.
 */
#ifndef WS_HANDSHAKE_H
#define WS_HANDSHAKE_H

#include <stddef.h>

/* Length of a Sec-WebSocket-Accept value (base64 of a SHA-1). */
#define WS_ACCEPT_LEN 28

/* The request fields the handshake looks at; NULL when absent. */
typedef struct {
    const char *method;
    int proto_num;              /* 1000 * major + minor, as httpd's */
    const char *host;
    const char *upgrade;
    const char *connection;
    const char *key;
    const char *version;
    const char *protocols;      /* Sec-WebSocket-Protocol, merged */
    const char *content_length;
    const char *transfer_encoding;
} ws_handshake_req_t;

typedef enum {
    WS_HS_OK = 0,               /* a valid WebSocket handshake */
    WS_HS_NOT_WEBSOCKET,        /* no "Upgrade: websocket": plain HTTP */
    WS_HS_BAD_METHOD,           /* 405, with Allow: GET */
    WS_HS_BAD_REQUEST,          /* 400 */
    WS_HS_BAD_VERSION           /* 426, with Sec-WebSocket-Version: 13 */
} ws_hs_result_e;

/* Check a request; on failure *why (if given) is set to a static sentence
 * for the log. */
ws_hs_result_e ws_handshake_check(const ws_handshake_req_t *req,
                                  const char **why);

/* The HTTP status for a result (0 for OK and NOT_WEBSOCKET). */
int ws_handshake_status(ws_hs_result_e result);

/* 1 if key is the base64 encoding of 16 bytes (section 4.2.1 item 5). */
int ws_handshake_key_valid(const char *key);

/* Sec-WebSocket-Accept for key (section 4.2.2 item 5.4): base64 of the
 * SHA-1 of key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11".  out gets
 * WS_ACCEPT_LEN characters and a NUL. */
void ws_handshake_accept(const char *key, char out[WS_ACCEPT_LEN + 1]);

/*
 * Header lists (RFC 9110 section 5.6.1: `#element`).  Walk a
 * comma-separated list: returns 1 and points *elem at the next element
 * (len bytes, surrounding whitespace trimmed, not NUL-terminated, never
 * copied: elements may be of any length), or 0 at the end.  Empty
 * elements are skipped, as recipients must, so "a, , b" holds a and b (and
 * httpd merges a repeated header, empty ones too, that way).
 */
int ws_handshake_next_element(const char **list, const char **elem,
                              size_t *len);

/* 1 if the len bytes at s are an HTTP token (RFC 9110 section 5.6.2). */
int ws_handshake_is_token(const char *s, size_t len);

/* 1 if every element of the list is a token (an empty list is valid). */
int ws_handshake_token_list_valid(const char *value);

/* 1 if the list value (NULL: absent) holds token, compared
 * case-insensitively, as Upgrade and Connection need. */
int ws_handshake_has_token(const char *value, const char *token);

/*
 * Same-origin check: 1 if origin ("scheme://host[:port]") names the site a
 * request was made to (scheme "http"/"https" and the Host header value),
 * with ports compared after applying defaults (80, 443) and the host
 * compared case-insensitively.  Anything unparsable is 0.
 */
int ws_handshake_origin_same(const char *origin, const char *scheme,
                             const char *host);

/* 1 if origin is "*" or "scheme://host[:port]" with no path and a
 * numeric port below 65536: the form WebSocketAllowedOrigins accepts. */
int ws_handshake_origin_valid(const char *origin);

/* 1 if origin equals allowed (scheme and host case-insensitively, default
 * ports applied), or allowed is "*". */
int ws_handshake_origin_match(const char *origin, const char *allowed);

#endif /* WS_HANDSHAKE_H */
