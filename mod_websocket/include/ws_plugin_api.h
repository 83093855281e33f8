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
 * WebSocket over HTTP/2 on the mod_http2 worker running its stream.  Every
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
