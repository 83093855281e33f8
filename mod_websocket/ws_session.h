/*
 * ws_session.h -- one WebSocket connection as httpd and handlers see it.
 *
 * Owns: struct ws_connection (the handle handlers hold), its reference
 * count and lifetime, the snapshot of the upgrade request that handlers read,
 * the mailbox through which other threads send, and the ws_api_t table.
 *
 * Threads: the "owner" is the thread currently running the connection (in
 * this version, the httpd worker that accepted the upgrade, for the
 * connection's whole life).  Only the owner touches the protocol engine,
 * conn_rec, filters and brigades.  Any other thread only touches the
 * mailbox, under `lock`, and wakes the owner.  Everything a handler reads
 * (path, headers, options...) is written once before on_open and is
 * read-only afterwards, so readers need no lock.
 *
 * Memory: the struct and all it points to live in the session's own pool
 * (unmanaged, with its own allocator), destroyed by the last unref.  That
 * pool is never allocated from after on_open except by the owner thread.
 */
#ifndef WS_SESSION_H
#define WS_SESSION_H

#include "apr_pools.h"
#include "apr_poll.h"
#include "apr_tables.h"
#include "apr_thread_mutex.h"
#include "apr_portable.h"
#include "apr_buckets.h"
#include "httpd.h"

#include "ws_plugin_api.h"
#include "ws_conn.h"
#include "ws_config.h"

/* A message queued by a thread other than the owner. */
typedef struct ws_mail {
    struct ws_mail *next;
    int opcode;                 /* WS_OP_TEXT/BINARY, or WS_OP_CLOSE */
    int close_code;
    size_t len;
    uint8_t data[1];            /* len bytes (close: the reason, NUL) */
} ws_mail_t;

struct ws_connection {
    apr_uint32_t refs;          /* atomic */
    apr_pool_t *pool;           /* the session's own pool */
    apr_thread_mutex_t *lock;   /* guards the fields marked (L) */
    unsigned long id;

    /* The upgrade request, read-only after on_open. */
    server_rec *s;
    const char *path;
    const char *query;
    const char *user;
    const char *remote_addr;
    const char *protocol;       /* agreed subprotocol or NULL */
    const char *offered;        /* client's Sec-WebSocket-Protocol */
    apr_table_t *headers;
    apr_table_t *cookies;
    apr_table_t *options;
    ws_plugin_t *plugin;
    const ws_dir_conf_t *conf;
    void *user_data;
    int in_open;                /* only during on_open */

    /* Shared with other threads. */
    apr_os_thread_t owner;      /* (L) valid while has_owner */
    int has_owner;              /* (L) */
    int closed;                 /* (L) no more sends accepted */
    ws_mail_t *mail_head;       /* (L) */
    ws_mail_t *mail_tail;       /* (L) */
    apr_size_t mail_bytes;      /* (L) */
    apr_pollset_t *wakeup;      /* owner's pollset, woken on new mail */
    apr_uint32_t dropped;       /* atomic: messages dropped (queue full) */

    /* Owner only. */
    ws_conn_t engine;
    conn_rec *c;
    apr_bucket_brigade *obb;    /* output being built */
    apr_status_t write_status;  /* first failed write, or APR_SUCCESS */
    int opened;                 /* on_open accepted: on_close is owed */
};

typedef struct ws_connection ws_session_t;

/* The API table handed to handlers. */
extern const ws_api_t ws_session_api;

/* Create a session for an upgrade request (snapshot of r, conf options).
 * The one reference returned belongs to the caller. */
ws_session_t *ws_session_create(request_rec *r, const ws_dir_conf_t *conf,
                                ws_plugin_t *plugin);

ws_session_t *ws_session_ref(ws_session_t *ws);
void ws_session_unref(ws_session_t *ws);

/* Become (or stop being) the owner thread. */
void ws_session_own(ws_session_t *ws);
void ws_session_disown(ws_session_t *ws);

/* Owner: start the engine on connection c (after the 101). */
void ws_session_start(ws_session_t *ws, conn_rec *c);

/* Owner: move queued mail into the engine (and so into ws->obb). */
void ws_session_drain_mail(ws_session_t *ws);

/* Owner: the connection is over; refuse further sends and call the
 * handler's on_close once. */
void ws_session_finish(ws_session_t *ws);

#endif /* WS_SESSION_H */
