/*
 * fuzz_handshake.c -- libFuzzer harness for the opening handshake's rules:
 * the input is split at newlines into the request fields ws_handshake
 * looks at (method, Host, Upgrade, Connection, key, version, protocols,
 * origin, also tried as Content-Length).  Checks: no crash, a valid
 * verdict always, an accepted request always has a valid key, version 13,
 * both tokens and no body, and list elements are well-formed slices.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws_handshake.h"

#define NFIELDS 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size + 1), *fields[NFIELDS] = { 0 }, *p;
    ws_handshake_req_t req;
    ws_hs_result_e res;
    const char *why = NULL, *list, *end, *elem;
    char accept[WS_ACCEPT_LEN + 1];
    size_t elen;
    int i;

    memcpy(copy, data, size);
    copy[size] = '\0';
    p = copy;
    for (i = 0; i < NFIELDS && p; i++) {
        fields[i] = p;
        p = strchr(p, '\n');
        if (p) {
            *p++ = '\0';
        }
    }
    memset(&req, 0, sizeof(req));
    req.method = fields[0];
    req.proto_num = size % 2 ? 1001 : 1000;
    req.host = fields[1];
    req.upgrade = fields[2];
    req.connection = fields[3];
    req.key = fields[4];
    req.version = fields[5];
    req.protocols = fields[6];

    res = ws_handshake_check(&req, &why);
    if (!why || res < WS_HS_OK || res > WS_HS_BAD_VERSION) {
        abort();
    }
    if (res == WS_HS_OK) {
        if (!ws_handshake_key_valid(req.key) || strcmp(req.version, "13")
            || !ws_handshake_has_token(req.upgrade, "websocket")
            || !ws_handshake_has_token(req.connection, "upgrade")) {
            abort();
        }
        ws_handshake_accept(req.key, accept);
        if (strlen(accept) != WS_ACCEPT_LEN) {
            abort();
        }
    }
    /* Elements are never empty, never start or end with whitespace,
     * never hold a comma, and stay inside the list. */
    list = fields[6] ? fields[6] : "";
    end = list + strlen(list);
    while (ws_handshake_next_element(&list, &elem, &elen)) {
        if (elen == 0 || elem < fields[6] || elem + elen > end
            || memchr(elem, ',', elen) || elem[0] == ' ' || elem[0] == '\t'
            || elem[elen - 1] == ' ' || elem[elen - 1] == '\t') {
            abort();
        }
    }
    if (fields[7]) {
        req.content_length = fields[7];
        if (ws_handshake_check(&req, &why) == WS_HS_OK
            && strspn(fields[7], " \t0") != strlen(fields[7])) {
            abort();
        }
    }
    if (fields[7]) {
        ws_handshake_origin_same(fields[7], "http", fields[1] ? fields[1]
                                                              : "");
        ws_handshake_origin_match(fields[7], fields[1] ? fields[1] : "*");
    }
    free(copy);
    return 0;
}
