/*
 * abi_v1.c -- a test-only handler built against a frozen copy of the
 * first ABI 1 header (tests/abi/v1/ws_plugin_api.h, the ws_handler_t
 * before any member was appended).  The server's header has grown since
 * (ws_handler_t.flags): this handler must keep loading and working, its
 * missing members read as 0 (so it agrees to no subprotocol).  It echoes.
 */
#include "ws_plugin_api.h"

static const ws_api_t *ws;

static int v1_init(const ws_api_t *api)
{
    ws = api;
    return 0;
}

static int v1_message(ws_connection_t *conn, ws_msg_type_e type,
                      const char *data, size_t len)
{
    int rv = ws->send(conn, type, data, len);

    return (rv == WS_OK || rv == WS_ECLOSED) ? 0 : rv;
}

WS_HANDLER_EXPORT = {
    WS_HANDLER_HEADER("abi_v1"),
    NULL,
    v1_init,
    NULL,
    NULL,
    v1_message,
    NULL
};
