/*
 * echo.c -- the smallest complete mod_websocket handler: every message is
 * sent back to its sender, with its type (text stays text, binary stays
 * binary).  Start here when writing your own; see README "Writing a
 * handler".
 *
 *     WebSocketLoadHandler echo /usr/lib/apache2/modules/websocket/echo.so
 *     <Location "/echo">
 *         WebSocketHandler echo
 *     </Location>
 */
#include "ws_plugin_api.h"

/* The server's API, set once per process by init. */
static const ws_api_t *ws;

static int echo_init(const ws_api_t *api)
{
    ws = api;
    return 0;
}

/* Called on the connection's thread; data is valid until we return, and
 * send() copies it, so echoing needs no buffer of our own. */
static int echo_message(ws_connection_t *conn, ws_msg_type_e type,
                        const char *data, size_t len)
{
    int rv = ws->send(conn, type, data, len);

    /* A closed connection is not an error of ours; anything else is. */
    return (rv == WS_OK || rv == WS_ECLOSED) ? 0 : rv;
}

WS_HANDLER_EXPORT = {
    WS_HANDLER_HEADER("echo"),
    NULL,                       /* check_option: echo has none */
    echo_init,
    NULL,                       /* fini */
    NULL,                       /* on_open: accept everyone */
    echo_message,
    NULL,                       /* on_close */
    /* Speaks no subprotocol of its own: agree to a browser's first offer
     * (a browser that offers some needs one agreed). */
    WS_HANDLER_ANY_PROTOCOL
};
