/*
 * ws_plugin_api.h -- the one public header of mod_websocket.
 *
 * A WebSocket handler is a shared object (.so) that includes only this
 * header, defines one exported variable named `ws_handler` (use
 * WS_HANDLER_EXPORT) and is loaded by httpd through
 *
 *     WebSocketLoadHandler echo /usr/lib/apache2/modules/websocket/echo.so
 *     <Location "/echo">
 *         WebSocketHandler echo
 *     </Location>
 *
 * Handlers see whole messages, never frames: mod_websocket does the
 * handshake, masking, fragmentation, UTF-8 validation, ping/pong and the
 * closing handshake.  handlers/echo.c is the smallest complete example.
 *
 * ABI rules.  Both structs below start with an ABI version and their own
 * size.  mod_websocket refuses (at `apachectl configtest`, with the reason)
 * a handler built for another major ABI version.  New members are only ever
 * appended: the server reads a handler's ws_handler_t only as far as its
 * declared size, so a handler built against an older header keeps loading
 * and working (the members it lacks count as NULL or 0), and a handler
 * tests `api->size` before using a ws_api_t member newer than its header's
 * oldest supported server (offsetof(ws_api_t, member) < api->size).
 *
 * Threads.  httpd runs many connections at once, on many threads.  For one
 * connection, on_open, on_message and on_close are never called
 * concurrently, and always in that order.  Callbacks of different
 * connections do run concurrently: shared handler state needs a lock.
 * on_open runs on the httpd worker that handles the upgrade request;
 * on_message and on_close run, under mpm_event, on one of mod_websocket's
 * event-loop threads, which serve thousands of connections each: a
 * callback must not block (no sleeping, no slow I/O; hand such work to a
 * thread of your own and send the answer from there).  Under worker and
 * prefork they run on the connection's own httpd thread, and for a
 * WebSocket over HTTP/2 on the mod_http2 worker running its stream.
 * on_subscribed runs where on_message does; on_channel_event (per location,
 * not per connection) on the child's channel thread.  Every
 * function in ws_api_t may be called from any thread, including threads the
 * handler starts itself, and none of them blocks.
 *
 * Lifetimes.  A ws_connection_t pointer is valid from on_open until on_close
 * returns.  To keep using it after that (another thread, a timer), take a
 * reference with api->ref() inside a callback and drop it with api->unref();
 * sends on a closed connection return WS_ECLOSED and are harmless.  Buffers
 * passed to callbacks are valid only until the callback returns.  Buffers
 * passed to api->send() are copied before it returns.  Strings returned by
 * the request accessors live as long as the connection (until on_close
 * returns, or the last unref).
 */
#ifndef WS_PLUGIN_API_H
#define WS_PLUGIN_API_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Major ABI version; a handler built for another one is refused. */
#define WS_PLUGIN_ABI_VERSION 1

/** The name of the one symbol every handler .so exports. */
#define WS_PLUGIN_SYMBOL "ws_handler"

/** One WebSocket connection, opaque to handlers. */
typedef struct ws_connection ws_connection_t;

/** Message types (the RFC 6455 data opcodes). */
typedef enum {
    WS_MSG_TEXT = 1,            /**< UTF-8 text, validated by the server */
    WS_MSG_BINARY = 2           /**< arbitrary bytes */
} ws_msg_type_e;

/** Results of ws_api_t calls. */
#define WS_OK        0          /**< done (queued for sending) */
#define WS_ECLOSED  (-1)        /**< connection closing or closed; dropped */
#define WS_EQUEUE   (-2)        /**< output queue full; dropped, counted */
#define WS_EINVAL   (-3)        /**< bad argument (code, UTF-8, state) */
#define WS_ELIMIT   (-4)        /**< a limit would be passed (channels per
                                 *   connection); nothing done */

/** ws_handler_t.flags. */
/** The handler speaks no particular subprotocol (echo, broadcast): where
 *  the location lists none (WebSocketProtocols), agree to the client's
 *  first offer, as Node's ws does.  A browser that offers subprotocols
 *  fails the connection (1006) unless one is agreed. */
#define WS_HANDLER_ANY_PROTOCOL  0x1u

/** Log levels for api->log (the syslog numbers httpd uses). */
#define WS_LOG_ERR      3
#define WS_LOG_WARNING  4
#define WS_LOG_NOTICE   5
#define WS_LOG_INFO     6
#define WS_LOG_DEBUG    7

/** Close codes (RFC 6455 section 7.4.1) a handler may use. */
#define WS_CLOSE_NORMAL          1000
#define WS_CLOSE_GOING_AWAY      1001
#define WS_CLOSE_UNSUPPORTED     1003
#define WS_CLOSE_POLICY          1008
#define WS_CLOSE_TOO_BIG         1009
#define WS_CLOSE_INTERNAL        1011
#define WS_CLOSE_TRY_AGAIN       1013
/** Reported to on_close when the peer went away without a close frame. */
#define WS_CLOSE_ABNORMAL        1006

#if defined(__GNUC__)
#define WS_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define WS_PRINTF(f, a)
#endif

/** A location using the handler (a <Location> with WebSocketHandler),
 *  opaque.  Each location has its own, in each child process: two
 *  locations using the same .so never share data unless the handler
 *  shares it itself.  Valid from location_init until location_fini. */
typedef struct ws_location ws_location_t;

/*
 * Channels (publish/subscribe).  A channel is named by a string (1-255
 * bytes, no control characters) within the location's *namespace*: by
 * default the location's own path (`<Location "/chat">`: "/chat"), so that
 * two locations never see each other's channels; `WebSocketNamespace`
 * gives several locations (and `websocket-publish` endpoints) one.  A
 * message published to a channel reaches every subscriber of it in every
 * httpd child process (and generation, during a graceful restart), in the
 * order each publisher published; every message gets an id, and the
 * channel keeps a bounded history (`WebSocketChannelHistory`) that a
 * subscriber may replay from an id it saw (resume after a reconnect).
 * Presence: a subscriber may carry a small label (a chat name); the
 * others see it join and leave.
 */

/** Message ids: unique within the server, increasing with each message of
 *  a channel (they are the publish time in microseconds since the epoch,
 *  made unique), so below 2^53: safe as a JSON number. */
typedef unsigned long long ws_msgid_t;

/** Connection ids unique across the whole server (every child process and
 *  generation) while httpd runs; never 0. */
typedef unsigned long long ws_connid_t;

/** What happened on a channel (ws_channel_event_t.event). */
typedef enum {
    WS_CHANNEL_MESSAGE = 1,     /**< a message was published */
    WS_CHANNEL_JOIN = 2,        /**< a subscriber with a presence label
                                 *   joined */
    WS_CHANNEL_LEAVE = 3        /**< ...left (unsubscribed, closed, or its
                                 *   child process ended) */
} ws_channel_event_e;

/** One event on a channel, as on_channel_event and on_subscribed see it.
 *  Everything is valid only during the callback. */
typedef struct {
    ws_channel_event_e event;
    const char *channel;        /**< the channel's name (NUL-terminated) */
    ws_msgid_t id;              /**< MESSAGE: its id; else 0 */
    long long time_ms;          /**< when it was published / joined / left
                                 *   (ms since the epoch) */
    ws_msg_type_e type;         /**< MESSAGE: text or binary */
    const char *data;           /**< MESSAGE: the payload (text is UTF-8
                                 *   and NUL-terminated, the NUL not in
                                 *   len); JOIN/LEAVE: the label */
    size_t len;
    ws_connid_t conn_id;        /**< MESSAGE: the publisher's connection
                                 *   (0 if published over HTTP or without
                                 *   one); JOIN/LEAVE: the member's */
    size_t subscribers;         /**< subscribers of the channel
                                 *   server-wide (JOIN/LEAVE: after it) */
} ws_channel_event_t;

/** api->subscribe's options (NULL: all defaults).  Set size to
 *  sizeof(ws_subscribe_options_t); members may be appended. */
typedef struct {
    size_t size;
    /** Presence label (at most 255 bytes, UTF-8), or NULL to subscribe
     *  without being seen in presence. */
    const char *presence;
    /** Replay the messages after this id (a resume: the id of the last
     *  message the client saw); 0: no resume (see last).  If some of them
     *  are gone from the history (too old, evicted, or the server
     *  restarted since), the result says gap. */
    ws_msgid_t since;
    /** Without since: replay the last this many messages (0: none). */
    unsigned int last;
} ws_subscribe_options_t;

/** A member of a channel's presence (ws_subscription_t.members). */
typedef struct {
    ws_connid_t conn_id;
    const char *label;
    size_t len;
} ws_presence_member_t;

/** The result of api->subscribe, passed to on_subscribed.  Everything is
 *  valid only during the callback. */
typedef struct {
    const char *channel;
    /** Replayed messages (since / last), oldest first; they are not sent
     *  to the connection by themselves when the handler has
     *  on_subscribed.  The channel's live messages follow them without a
     *  gap or a repeat. */
    const ws_channel_event_t *history;
    size_t nhistory;
    /** 1 if messages after `since` are gone from the history (too old,
     *  evicted, or the server restarted since): the replay is incomplete. */
    int gap;
    /** The newest message id of the channel when subscribed (0: none). */
    ws_msgid_t last_id;
    /** Presence: members with a label at the time (this connection
     *  included if it has one), at most 1000; subscribers: all of them,
     *  with a label or not. */
    const ws_presence_member_t *members;
    size_t nmembers;
    size_t subscribers;
} ws_subscription_t;

/** The delivery being prepared by on_channel_event (opaque). */
typedef struct ws_delivery ws_delivery_t;

/**
 * What mod_websocket offers a handler.  A pointer to one is passed to
 * ws_handler_t.init; it stays valid until fini returns.  Every function
 * may be called from any thread.
 */
typedef struct ws_api {
    unsigned int abi_version;   /**< WS_PLUGIN_ABI_VERSION of the server */
    size_t size;                /**< sizeof(ws_api_t) of the server */

    /** Queue one whole message.  Text must be valid UTF-8 (else
     *  WS_EINVAL).  The data is copied.  Never blocks on the peer: if the
     *  connection's output queue is over WebSocketMaxQueuedOutput the
     *  message is dropped, counted, and WS_EQUEUE returned. */
    int (*send)(ws_connection_t *conn, ws_msg_type_e type,
                const void *data, size_t len);

    /** Start the closing handshake with code (1000-4999, not 1004-1006,
     *  1015) and an optional UTF-8 reason of at most 123 bytes (NULL for
     *  none).  Messages queued before it are sent first; sends after it
     *  return WS_ECLOSED.  on_close follows once the peer answers or the
     *  closing timeout passes. */
    int (*close)(ws_connection_t *conn, int code, const char *reason);

    /** Per-connection handler data (NULL until set). */
    void (*set_data)(ws_connection_t *conn, void *data);
    void *(*get_data)(ws_connection_t *conn);

    /** Keep conn valid after on_close / on another thread; every ref()
     *  needs one unref(). ref() returns conn. */
    ws_connection_t *(*ref)(ws_connection_t *conn);
    void (*unref)(ws_connection_t *conn);

    /** A number unique to this connection within its httpd child. */
    unsigned long (*id)(ws_connection_t *conn);

    /** The upgrade request.  path: the decoded URI path; query: the raw
     *  query string without '?' (NULL if none); header: a request header
     *  by case-insensitive name (NULL if absent); cookie: the value of one
     *  cookie (NULL if absent); user: the user httpd authenticated (NULL
     *  if none); remote_addr: the client's IP address (after mod_remoteip)
     *  as text. */
    const char *(*path)(ws_connection_t *conn);
    const char *(*query)(ws_connection_t *conn);
    const char *(*header)(ws_connection_t *conn, const char *name);
    const char *(*cookie)(ws_connection_t *conn, const char *name);
    const char *(*user)(ws_connection_t *conn);
    const char *(*remote_addr)(ws_connection_t *conn);

    /** A WebSocketHandlerOption of the connection's location (NULL if not
     *  set). */
    const char *(*option)(ws_connection_t *conn, const char *name);

    /** The subprotocol agreed for this connection, NULL if none. */
    const char *(*protocol)(ws_connection_t *conn);

    /** Only in on_open: choose the subprotocol, which must be one the
     *  client offered (else WS_EINVAL).  Without a call, the first client
     *  offer listed in WebSocketProtocols is chosen, if any.  NULL means
     *  none. */
    int (*select_protocol)(ws_connection_t *conn, const char *protocol);

    /** Write to httpd's error log at level, prefixed with the connection
     *  id and path.  conn may be NULL (e.g. from init). */
    void (*log)(ws_connection_t *conn, int level, const char *fmt, ...)
        WS_PRINTF(3, 4);

    /* --- appended after the first ABI 1 release: locations, channels.
     * A handler that uses them checks they exist:
     *     if (api->size < offsetof(ws_api_t, deliver) + sizeof(api->deliver))
     *         return -1;   (the server is older than the handler)
     */

    /** The server-wide id of conn (see ws_connid_t). */
    ws_connid_t (*conn_id)(ws_connection_t *conn);

    /** conn's location. */
    ws_location_t *(*location)(ws_connection_t *conn);

    /** Per-location handler data (NULL until set), for this child. */
    void (*set_location_data)(ws_location_t *loc, void *data);
    void *(*location_data)(ws_location_t *loc);

    /** A WebSocketHandlerOption written in the location's own section,
     *  the one with WebSocketHandler (NULL if not set).  Options of a
     *  nested section without a WebSocketHandler of its own reach that
     *  section's connections through api->option only. */
    const char *(*location_option)(ws_location_t *loc, const char *name);

    /** The location's channel namespace (its path unless
     *  WebSocketNamespace says otherwise). */
    const char *(*location_namespace)(ws_location_t *loc);

    /** Subscribe conn to channel (in its location's namespace); opts may
     *  be NULL.  Returns at once: WS_OK (the subscription completes
     *  asynchronously: on_subscribed, if the handler has it, is called on
     *  the connection's thread with the history and presence asked for,
     *  and the channel's messages follow it), WS_EINVAL (bad name or
     *  label; already subscribed), WS_ELIMIT (more than 255 channels for
     *  one connection), WS_ECLOSED.  Without on_subscribed, replayed
     *  messages are sent to conn as they are, before the live ones.  Any
     *  thread, on_open included. */
    int (*subscribe)(ws_connection_t *conn, const char *channel,
                     const ws_subscribe_options_t *opts);

    /** End conn's subscription to channel (a presence LEAVE follows if it
     *  had a label).  WS_OK, WS_EINVAL (not subscribed).  Messages of the
     *  channel already queued for conn still arrive; a pending
     *  subscription's on_subscribed never comes.  Subscriptions end by
     *  themselves when the connection closes. */
    int (*unsubscribe)(ws_connection_t *conn, const char *channel);

    /** Publish a message to channel in loc's namespace: every subscriber
     *  in every child process gets it, except the connection `exclude`
     *  (0: nobody excluded).  The data is copied.  Returns WS_OK (queued
     *  for delivery), WS_EINVAL (bad name, text not UTF-8, larger than 64
     *  MB), WS_EQUEUE (the channel service is unreachable and its
     *  backlog full: dropped, counted).  Never blocks; any thread. */
    int (*publish)(ws_location_t *loc, const char *channel,
                   ws_msg_type_e type, const void *data, size_t len,
                   ws_connid_t exclude);

    /** Send a message to the connection with this server-wide id, in
     *  whatever child process it is.  WS_OK (queued; if the connection is
     *  gone by then, the message is dropped and counted there),
     *  WS_EINVAL, WS_EQUEUE as for publish.  Any thread. */
    int (*send_to)(ws_connid_t conn_id, ws_msg_type_e type,
                   const void *data, size_t len);

    /** Only inside on_channel_event: deliver this message (copied once)
     *  to every subscriber of the event's channel in this child that
     *  belongs to the location (the excluded connection, and for JOIN the
     *  member who joined, left out).  Call it at most once per event;
     *  without a call, nothing is delivered.  WS_OK, WS_EINVAL. */
    int (*deliver)(ws_delivery_t *d, ws_msg_type_e type, const void *data,
                   size_t len);
} ws_api_t;

/**
 * What a handler exports, as a variable named `ws_handler`.  Only
 * on_message is required.
 */
typedef struct ws_handler {
    unsigned int abi_version;   /**< set to WS_PLUGIN_ABI_VERSION */
    size_t size;                /**< set to sizeof(ws_handler_t) */
    const char *name;           /**< short name, used in logs */

    /** Config time (`apachectl configtest` too), in httpd's main process:
     *  check one WebSocketHandlerOption.  Return NULL if it is fine, or a
     *  message that httpd prints with the config file and line. */
    const char *(*check_option)(const char *name, const char *value);

    /** Once in each httpd child process, before its first connection, on
     *  the child's main thread.  The handler may start threads here; it
     *  must stop them in fini.  Return 0, or non-zero to refuse: the
     *  failure is logged and this child answers this handler's upgrades
     *  with 500. */
    int (*init)(const ws_api_t *api);

    /** Once when the child exits, after every on_close of the child.
     *  (Under prefork, httpd may run it from its SIGTERM handler: keep it
     *  to async-signal-safe work there.) */
    void (*fini)(void);

    /** The upgrade request passed every check (httpd auth, Origin,
     *  handshake); the 101 has not been sent yet.  Called on the httpd
     *  worker serving the request.  Return 0 to accept, or an HTTP status
     *  (400-599) to refuse the upgrade with it.  Messages sent here go out
     *  right after the 101. */
    int (*on_open)(ws_connection_t *conn);

    /** One whole message, on the connection's event-loop thread (or its
     *  own thread): do not block here.  data is valid until return; text
     *  is valid UTF-8 and, for convenience, followed by a NUL byte not
     *  counted in len.  Return 0; non-zero closes the connection with
     *  1011. */
    int (*on_message)(ws_connection_t *conn, ws_msg_type_e type,
                      const char *data, size_t len);

    /** The connection is over: code and reason are what the peer sent
     *  (1005 and "" if its close frame had no code), or the code the
     *  server closed with (1001 "server restarting" or "server stopping"
     *  when httpd restarts or stops, 1008, 1009, 1011...), or 1006 if the
     *  connection ended without a close frame (reason "peer vanished",
     *  "ping timeout", "close timeout", "write failed").  Called exactly
     *  once per successful on_open, whatever ended the connection, and
     *  always before fini. */
    void (*on_close)(ws_connection_t *conn, int code, const char *reason);

    /* --- appended after the first ABI 1 release --- */

    /** WS_HANDLER_* bits (0 if none). */
    unsigned int flags;

    /* --- appended: locations and channels --- */

    /** Once per location using this handler, in each child, after init,
     *  on the child's main thread: set up per-location data
     *  (api->set_location_data).  Return 0, or non-zero to refuse: that
     *  location answers upgrades with 500 in this child. */
    int (*location_init)(ws_location_t *loc);

    /** Once per location when the child exits, after every on_close,
     *  before fini. */
    void (*location_fini)(ws_location_t *loc);

    /** A subscription made with api->subscribe is complete (or failed):
     *  on the connection's thread, like on_message (never concurrently
     *  with its other callbacks).  Send the history and presence the way
     *  the protocol wants them here; the channel's live messages reach
     *  the connection only after this returns. */
    void (*on_subscribed)(ws_connection_t *conn,
                          const ws_subscription_t *sub);

    /** Something happened on a channel with subscribers of this location
     *  in this child: called once per event per location per child (not
     *  per subscriber), on the child's channel thread, concurrently with
     *  connection callbacks: do not block.  Call api->deliver(d, ...) to
     *  send every such subscriber one message made from the event (a JSON
     *  envelope with the id, say).  Without this callback, MESSAGE events
     *  reach subscribers byte for byte with their type, and JOIN/LEAVE
     *  reach nobody. */
    void (*on_channel_event)(ws_location_t *loc,
                             const ws_channel_event_t *ev,
                             ws_delivery_t *d);
} ws_handler_t;

/** Define the exported handler.  Usage:
 *      WS_HANDLER_EXPORT = { WS_HANDLER_HEADER("echo"), ... };
 */
#define WS_HANDLER_EXPORT \
    __attribute__((visibility("default"))) ws_handler_t ws_handler
#define WS_HANDLER_HEADER(name) \
    WS_PLUGIN_ABI_VERSION, sizeof(ws_handler_t), (name)

#ifdef __cplusplus
}
#endif

#endif /* WS_PLUGIN_API_H */
