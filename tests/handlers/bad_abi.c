/*
 * bad_abi.c -- a test-only handler built for a handler ABI that does not
 * exist (99): WebSocketLoadHandler must refuse it at configtest, naming the
 * ABI version.
 */
#include "ws_plugin_api.h"

static int bad_message(ws_connection_t *conn, ws_msg_type_e type,
                       const char *data, size_t len)
{
    (void)conn; (void)type; (void)data; (void)len;
    return 0;
}

WS_HANDLER_EXPORT = {
    99,                         /* not WS_PLUGIN_ABI_VERSION */
    sizeof(ws_handler_t),
    "bad_abi",
    NULL,
    NULL,
    NULL,
    NULL,
    bad_message,
    NULL
};
