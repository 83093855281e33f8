/*
 * ws_handshake.c -- the opening handshake's rules (RFC 6455 section 4.2).
 *
 * Pure functions over strings; see ws_handshake.h.  The order of the checks
 * decides which status a request with several faults gets: not an upgrade
 * at all, then method, then HTTP version and headers, then the version
 * number (426), then the key.
 */
#include <string.h>
#include <strings.h>

#include "apr_lib.h"
#include "apr_sha1.h"
#include "apr_base64.h"

#include "ws_handshake.h"

/* Section 1.3. */
static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

static int is_ows(char ch)
{
    return ch == ' ' || ch == '\t';
}

static int is_tchar(char ch)
{
    return apr_isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

int ws_handshake_is_token(const char *s, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (!is_tchar(s[i])) {
            return 0;
        }
    }
    return len > 0;
}

int ws_handshake_next_element(const char **list, const char **elem,
                              size_t *len)
{
    const char *s = *list;

    for (;;) {
        const char *start, *end;

        /* Empty elements ("a, , b", a leading or trailing comma) are
         * skipped, as RFC 9110 section 5.6.1 tells recipients to. */
        while (is_ows(*s) || *s == ',') {
            s++;
        }
        if (!*s) {
            *list = s;
            return 0;
        }
        start = s;
        while (*s && *s != ',') {
            s++;
        }
        end = s;
        while (end > start && is_ows(end[-1])) {
            end--;
        }
        *list = s;
        if (end > start) {
            *elem = start;
            *len = (size_t)(end - start);
            return 1;
        }
    }
}

int ws_handshake_has_token(const char *value, const char *token)
{
    size_t tlen = strlen(token), len;
    const char *elem;

    while (value && ws_handshake_next_element(&value, &elem, &len)) {
        if (len == tlen && !strncasecmp(elem, token, tlen)) {
            return 1;
        }
    }
    return 0;
}

int ws_handshake_token_list_valid(const char *value)
{
    const char *elem;
    size_t len;

    while (ws_handshake_next_element(&value, &elem, &len)) {
        if (!ws_handshake_is_token(elem, len)) {
            return 0;
        }
    }
    return 1;
}

static int is_b64(char ch)
{
    return apr_isalnum(ch) || ch == '+' || ch == '/';
}

int ws_handshake_key_valid(const char *key)
{
    int i;

    /* 16 bytes encode as 22 base64 characters and "==" (section 4.1). */
    if (!key || strlen(key) != 24 || strcmp(key + 22, "==") != 0) {
        return 0;
    }
    for (i = 0; i < 22; i++) {
        if (!is_b64(key[i])) {
            return 0;
        }
    }
    return 1;
}

void ws_handshake_accept(const char *key, char out[WS_ACCEPT_LEN + 1])
{
    apr_sha1_ctx_t sha;
    unsigned char digest[APR_SHA1_DIGESTSIZE];

    apr_sha1_init(&sha);
    apr_sha1_update(&sha, key, (unsigned int)strlen(key));
    apr_sha1_update(&sha, ws_guid, (unsigned int)(sizeof(ws_guid) - 1));
    apr_sha1_final(digest, &sha);
    apr_base64_encode(out, (const char *)digest, APR_SHA1_DIGESTSIZE);
    out[WS_ACCEPT_LEN] = '\0';
}

/* Section 4.1's ABNF: a version is a number from 0 to 255 written without
 * leading zeros.  Anything else (a list, as a repeated header becomes) is
 * malformed, not merely unsupported. */
static int version_well_formed(const char *v)
{
    int n = 0, digits = 0;

    for (; *v; v++, digits++) {
        if (*v < '0' || *v > '9' || digits == 3 || (digits == 1 && n == 0)) {
            return 0;
        }
        n = n * 10 + (*v - '0');
    }
    return digits > 0 && n <= 255;
}

/* 1 if a Content-Length header is absent or says 0. */
static int body_length_zero(const char *cl)
{
    if (!cl) {
        return 1;
    }
    while (is_ows(*cl)) {
        cl++;
    }
    while (*cl == '0') {
        cl++;
    }
    while (is_ows(*cl)) {
        cl++;
    }
    return *cl == '\0';
}

ws_hs_result_e ws_handshake_check(const ws_handshake_req_t *req,
                                  const char **why)
{
    const char *dummy;

    if (!why) {
        why = &dummy;
    }
    /* Section 4.2.1 item 3. */
    if (!ws_handshake_has_token(req->upgrade, "websocket")) {
        *why = "no 'Upgrade: websocket' header";
        return WS_HS_NOT_WEBSOCKET;
    }
    /* Item 1: "An HTTP/1.1 or higher GET request". */
    if (!req->method || strcmp(req->method, "GET") != 0) {
        *why = "WebSocket upgrade with a method other than GET";
        return WS_HS_BAD_METHOD;
    }
    if (req->proto_num < 1001) {
        *why = "WebSocket upgrade over HTTP/1.0";
        return WS_HS_BAD_REQUEST;
    }
    /* Item 2. */
    if (!req->host || !*req->host) {
        *why = "no Host header";
        return WS_HS_BAD_REQUEST;
    }
    /* Item 4. */
    if (!ws_handshake_has_token(req->connection, "upgrade")) {
        *why = "the Connection header lacks the 'upgrade' token";
        return WS_HS_BAD_REQUEST;
    }
    /* Item 6 and section 4.4. */
    if (!req->version) {
        *why = "no Sec-WebSocket-Version header";
        return WS_HS_BAD_REQUEST;
    }
    if (!version_well_formed(req->version)) {
        *why = "Sec-WebSocket-Version is not one version number (sent "
               "twice?)";
        return WS_HS_BAD_REQUEST;
    }
    if (strcmp(req->version, "13") != 0) {
        *why = "unsupported Sec-WebSocket-Version (only 13 is spoken)";
        return WS_HS_BAD_VERSION;
    }
    /* Item 5. */
    if (!req->key) {
        *why = "no Sec-WebSocket-Key header";
        return WS_HS_BAD_REQUEST;
    }
    if (!ws_handshake_key_valid(req->key)) {
        *why = "Sec-WebSocket-Key is not the base64 of 16 bytes";
        return WS_HS_BAD_REQUEST;
    }
    /* Item 8: a list of tokens, of any length, if present. */
    if (req->protocols && !ws_handshake_token_list_valid(req->protocols)) {
        *why = "Sec-WebSocket-Protocol is not a list of tokens";
        return WS_HS_BAD_REQUEST;
    }
    /* An upgrade carries no body (item 1 asks for a GET; RFC 9110 section
     * 9.3.1 gives a GET body no meaning).  Were one accepted, client and
     * server (and any proxy between) could disagree on where it ends and
     * where the frames begin: refuse any declared body. */
    if (req->transfer_encoding || !body_length_zero(req->content_length)) {
        *why = "the upgrade request carries a body (Content-Length or "
               "Transfer-Encoding)";
        return WS_HS_BAD_REQUEST;
    }
    *why = "valid";
    return WS_HS_OK;
}

int ws_handshake_status(ws_hs_result_e result)
{
    switch (result) {
    case WS_HS_BAD_METHOD:
        return 405;
    case WS_HS_BAD_REQUEST:
        return 400;
    case WS_HS_BAD_VERSION:
        return 426;
    default:
        return 0;
    }
}

typedef struct {
    char scheme[16];
    char host[256];
    unsigned port;
} origin_t;

static unsigned default_port(const char *scheme)
{
    if (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "ws")) {
        return 80;
    }
    if (!strcasecmp(scheme, "https") || !strcasecmp(scheme, "wss")) {
        return 443;
    }
    return 0;
}

/* Split "host[:port]" (host may be an [IPv6] literal); 0 if malformed. */
static int parse_authority(const char *s, const char *scheme, origin_t *o)
{
    const char *colon = NULL, *end = s + strlen(s);
    size_t hlen;

    if (*s == '[') {
        const char *rb = strchr(s, ']');

        if (!rb) {
            return 0;
        }
        if (rb[1] == ':') {
            colon = rb + 1;
        }
        else if (rb[1]) {
            return 0;
        }
    }
    else {
        colon = strchr(s, ':');
    }
    hlen = (size_t)((colon ? colon : end) - s);
    if (hlen == 0 || hlen >= sizeof(o->host)) {
        return 0;
    }
    memcpy(o->host, s, hlen);
    o->host[hlen] = '\0';
    if (colon) {
        const char *p = colon + 1;
        unsigned long port = 0;

        if (!*p) {
            return 0;
        }
        for (; *p; p++) {
            if (!apr_isdigit(*p) || (port = port * 10 + (unsigned)(*p - '0'))
                                    > 65535) {
                return 0;
            }
        }
        o->port = (unsigned)port;
    }
    else {
        o->port = default_port(scheme);
    }
    return 1;
}

static int parse_origin(const char *origin, origin_t *o)
{
    const char *sep = strstr(origin, "://");
    size_t slen;

    if (!sep) {
        return 0;
    }
    slen = (size_t)(sep - origin);
    if (slen == 0 || slen >= sizeof(o->scheme)) {
        return 0;
    }
    memcpy(o->scheme, origin, slen);
    o->scheme[slen] = '\0';
    if (strchr(sep + 3, '/')) {
        return 0;
    }
    return parse_authority(sep + 3, o->scheme, o);
}

static int same(const origin_t *a, const origin_t *b)
{
    return !strcasecmp(a->scheme, b->scheme)
           && !strcasecmp(a->host, b->host) && a->port == b->port;
}

int ws_handshake_origin_same(const char *origin, const char *scheme,
                             const char *host)
{
    origin_t o, site;

    if (!origin || !scheme || !host || !parse_origin(origin, &o)) {
        return 0;
    }
    if (strlen(scheme) >= sizeof(site.scheme)) {
        return 0;
    }
    strcpy(site.scheme, scheme);
    if (!parse_authority(host, scheme, &site)) {
        return 0;
    }
    return same(&o, &site);
}

int ws_handshake_origin_valid(const char *origin)
{
    origin_t o;

    return !strcmp(origin, "*") || parse_origin(origin, &o);
}

int ws_handshake_origin_match(const char *origin, const char *allowed)
{
    origin_t o, a;

    if (!strcmp(allowed, "*")) {
        return 1;
    }
    if (!origin || !parse_origin(origin, &o) || !parse_origin(allowed, &a)) {
        return 0;
    }
    return same(&o, &a);
}
