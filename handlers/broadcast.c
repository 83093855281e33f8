/*
 * broadcast.c -- every message a client sends goes to every subscriber of
 * its channel, in every httpd child process, byte for byte with its type
 * (text stays text, binary stays binary), the sender included unless the
 * location says otherwise.  Tickers, notifications, "emit to everyone",
 * or any protocol of your own riding on top.
 *
 *     WebSocketLoadHandler broadcast .../websocket/broadcast.so
 *     <Location "/broadcast">
 *         WebSocketHandler broadcast
 *     </Location>
 *
 * A client picks its channel with the query string
 * (ws://host/broadcast?channel=news); without one it gets the location's
 * default channel.  Channels are the location's own (its namespace): two
 * broadcast locations never see each other's messages.  Options
 * (WebSocketHandlerOption):
 *     channel <name>          the default channel (default: "default")
 *     include-sender on|off   the sender gets its own messages (on)
 *     publishers <user> ...   only these httpd-authenticated users may
 *                             send; anyone else's message closes the
 *                             connection with 1008.  "none": nobody (the
 *                             channel is fed over HTTP, websocket-publish)
 * See broadcast.md.
 *
 * Threads: all the work is the server's (api->publish); per-connection
 * data is only the channel name, per-location data only the options,
 * read-only after location_init.
 */
#include <stdlib.h>
#include <string.h>

#include "ws_plugin_api.h"

#define DEFAULT_CHANNEL "default"
#define MAX_PUBLISHERS 64

typedef struct {
    const char *channel;        /* the default channel */
    int include_sender;
    int restricted;             /* publishers listed (or none) */
    int npublishers;
    char *publishers[MAX_PUBLISHERS];
    char *list;                 /* the option's copy, split in place */
} bc_location_t;

static const ws_api_t *ws;

static int bc_init(const ws_api_t *api)
{
    /* Channels came with the appended API: refuse an older server. */
    if (api->size < offsetof(ws_api_t, deliver) + sizeof(api->deliver)) {
        return -1;
    }
    ws = api;
    return 0;
}

static int name_ok(const char *s, size_t len)
{
    size_t i;

    if (len == 0 || len > 255) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) {
            return 0;
        }
    }
    return 1;
}

static const char *bc_check_option(const char *name, const char *value)
{
    if (!strcmp(name, "channel")) {
        return name_ok(value, strlen(value))
               ? NULL : "a channel name is 1 to 255 bytes without control "
                        "characters";
    }
    if (!strcmp(name, "include-sender")) {
        return !strcmp(value, "on") || !strcmp(value, "off")
               ? NULL : "include-sender is on or off";
    }
    if (!strcmp(name, "publishers")) {
        return *value ? NULL : "publishers lists user names, or none";
    }
    return "unknown option (broadcast takes channel, include-sender, "
           "publishers)";
}

static int bc_location_init(ws_location_t *loc)
{
    bc_location_t *bl = calloc(1, sizeof(*bl));
    const char *v;
    char *p, *save;

    if (!bl) {
        return -1;
    }
    v = ws->location_option(loc, "channel");
    bl->channel = v ? v : DEFAULT_CHANNEL;
    v = ws->location_option(loc, "include-sender");
    bl->include_sender = !v || strcmp(v, "off") != 0;
    v = ws->location_option(loc, "publishers");
    if (v) {
        bl->restricted = 1;
        bl->list = strdup(v);
        if (!bl->list) {
            free(bl);
            return -1;
        }
        for (p = strtok_r(bl->list, " \t,", &save);
             p && bl->npublishers < MAX_PUBLISHERS;
             p = strtok_r(NULL, " \t,", &save)) {
            if (strcmp(p, "none") != 0) {
                bl->publishers[bl->npublishers++] = p;
            }
        }
    }
    ws->set_location_data(loc, bl);
    return 0;
}

static void bc_location_fini(ws_location_t *loc)
{
    bc_location_t *bl = ws->location_data(loc);

    if (bl) {
        free(bl->list);
        free(bl);
    }
}

static int hexval(int c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* The value of `channel` in the query string, percent-decoded ('+' is a
 * space, as in forms; malloc'd), or NULL if absent or malformed (*bad:
 * why, for the log).  The first `channel` counts. */
static char *query_channel(const char *q, const char **bad)
{
    *bad = NULL;
    while (q && *q) {
        const char *end = strchr(q, '&');
        size_t n = end ? (size_t)(end - q) : strlen(q);

        if (n >= 7 && !strncmp(q, "channel", 7) && (n == 7 || q[7] == '=')) {
            char *out, *o;
            size_t i;

            if (n <= 8) {
                *bad = "?channel= is empty";
                return NULL;
            }
            if (!(out = malloc(n))) {
                *bad = "out of memory";
                return NULL;
            }
            for (i = 8, o = out; i < n; i++) {
                if (q[i] == '%' && i + 2 < n
                    && hexval(q[i + 1]) >= 0 && hexval(q[i + 2]) >= 0) {
                    *o = (char)(hexval(q[i + 1]) * 16 + hexval(q[i + 2]));
                    i += 2;
                    if (!*o++) {
                        *bad = "%00 in the channel name";
                        free(out);
                        return NULL;
                    }
                }
                else if (q[i] == '%') {
                    *bad = "a % not followed by two hex digits";
                    free(out);
                    return NULL;
                }
                else {
                    *o++ = q[i] == '+' ? ' ' : q[i];
                }
            }
            *o = '\0';
            return out;
        }
        q = end ? end + 1 : NULL;
    }
    return NULL;
}

static int bc_open(ws_connection_t *conn)
{
    bc_location_t *bl = ws->location_data(ws->location(conn));
    const char *bad;
    int rv;
    char *channel = query_channel(ws->query(conn), &bad);

    if (bad) {
        ws->log(conn, WS_LOG_INFO, "refused: %s", bad);
        return 400;
    }
    if (!bl) {
        return 503;
    }
    if (!channel && !(channel = strdup(bl->channel))) {
        return 503;
    }
    rv = ws->subscribe(conn, channel, NULL);
    if (rv != WS_OK) {
        ws->log(conn, WS_LOG_INFO, "refused: channel '%s' (%s)", channel,
                rv == WS_EINVAL ? "not a valid channel name"
                                : "cannot subscribe");
        free(channel);
        return rv == WS_EINVAL ? 400 : 503;
    }
    ws->set_data(conn, channel);
    return 0;
}

static int may_publish(const bc_location_t *bl, ws_connection_t *conn)
{
    const char *user;
    int i;

    if (!bl->restricted) {
        return 1;
    }
    if (!(user = ws->user(conn))) {
        return 0;
    }
    for (i = 0; i < bl->npublishers; i++) {
        if (!strcmp(bl->publishers[i], user)) {
            return 1;
        }
    }
    return 0;
}

static int bc_message(ws_connection_t *conn, ws_msg_type_e type,
                      const char *data, size_t len)
{
    ws_location_t *loc = ws->location(conn);
    bc_location_t *bl = ws->location_data(loc);
    const char *channel = ws->get_data(conn);

    if (!may_publish(bl, conn)) {
        ws->log(conn, WS_LOG_INFO, "a message from %s, who may not publish "
                "here (WebSocketHandlerOption publishers): closing with 1008",
                ws->user(conn) ? ws->user(conn) : "an anonymous client");
        ws->close(conn, WS_CLOSE_POLICY, "not allowed to publish here");
        return 0;
    }
    /* A message that cannot be queued (the channel service away with a
     * full backlog) is counted by the server; the sender goes on. */
    ws->publish(loc, channel, type, data, len,
                bl->include_sender ? 0 : ws->conn_id(conn));
    return 0;
}

static void bc_close(ws_connection_t *conn, int code, const char *reason)
{
    (void)code; (void)reason;
    free(ws->get_data(conn));
}

WS_HANDLER_EXPORT = {
    WS_HANDLER_HEADER("broadcast"),
    bc_check_option,
    bc_init,
    NULL,                       /* fini */
    bc_open,
    bc_message,
    bc_close,
    /* Speaks no subprotocol of its own: agree to a browser's first offer
     * (a browser that offers some needs one agreed). */
    WS_HANDLER_ANY_PROTOCOL,
    bc_location_init,
    bc_location_fini,
    NULL,                       /* on_subscribed: nothing to replay */
    NULL                        /* on_channel_event: byte for byte */
};
