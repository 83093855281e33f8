/*
 * ws_session.h -- one WebSocket connection as httpd and handlers see it.
 *
 * Owns: struct ws_connection (the handle handlers hold), its reference
 * count and lifetime, the snapshot of the upgrade request that handlers
 * read, the output queue and its limit, the timers (ping, idle, closing),
 * and the ws_api_t table.
 *
 * Who may touch what (see docs/INTERNALS.md, "Threads"):
 *   io_state    ACTIVE: one thread, the owner, runs the connection (an
 *               event loop thread, or the connection's own thread); only
 *               it touches the engine, conn_rec, filters and brigades,
 *               without the lock.
 *               HANDOFF: the upgrade request is still finishing; nobody
 *               touches the connection, sends wait in the mailbox.
 *               DEAD: closed; sends fail with WS_ECLOSED.
 *   (L)         fields guarded by `lock`.
 *   snapshot    path, headers, ... are written before on_open and read-only
 *               afterwards: readers need no lock.
 *
 * Memory: the struct and its snapshot are one malloc block, freed by the
 * last unref (an APR pool would cost 8 KB per connection).  Brigades live in
 * c->pool and are only used while the connection is not DEAD.
 */
#ifndef WS_SESSION_H
#define WS_SESSION_H

#include <pthread.h>

#include "apr_poll.h"
#include "apr_tables.h"
#include "apr_buckets.h"
#include "apr_portable.h"
#include "httpd.h"

#include "ws_plugin_api.h"
#include "ws_conn.h"
#include "ws_config.h"
#include "ws_loop.h"

typedef enum {
    WS_IO_HANDOFF = 0,
    WS_IO_ACTIVE,
    WS_IO_DEAD
} ws_io_state_e;

/* A message queued while the connection is owned by another thread. */
typedef struct ws_mail {
    struct ws_mail *next;
    int opcode;                 /* WS_OP_TEXT/BINARY/PING, or WS_OP_CLOSE */
    int close_code;
    size_t len;
    uint8_t data[1];            /* len bytes and a NUL */
} ws_mail_t;

typedef struct {
    const char *key;
    const char *val;
} ws_kv_t;

struct ws_connection {
    apr_uint32_t refs;          /* atomic */
    pthread_mutex_t lock;
    unsigned long id;
    struct ws_connection *prev, *next;  /* the registry */
    int registered;

    /* The event loop that runs it (ws_loop.c), and the loop's lists. */
    ws_loop_t *loop;            /* (L) set at adoption */
    struct ws_connection *ready_next;   /* loop's lock */
    int in_ready;                       /* loop's lock */
    struct ws_connection *dirty_next;   /* loop thread only, from here */
    int in_dirty;
    struct ws_connection *lprev, *lnext;
    struct ws_connection *leave_next;
    struct ws_connection *again_next;   /* loop thread only */
    int in_again;
    unsigned turn_round;
    int leaving;
    int adopted;
    int suspending;             /* our hook returned SUSPENDED */
    unsigned epoll_events;
    apr_time_t adopted_at;
    apr_time_t linger_until;    /* closing TCP: the deadline; 0 before */
    int shut_wr;
    int linger_done;            /* closed and drained: waiting to release */

    /* The upgrade request, read-only after on_open. */
    server_rec *s;
    const char *path;
    const char *query;
    const char *user;
    const char *remote_addr;
    const char **offers;        /* the client's Sec-WebSocket-Protocol
                                 * elements, in its order */
    int noffers;
    ws_kv_t *headers;
    int nheaders;
    ws_kv_t *cookies;
    int ncookies;
    ws_kv_t *options;           /* WebSocketHandlerOption, merged */
    int noptions;
    ws_plugin_t *plugin;        /* in pconf: lives as long as the child */
    ws_settings_t set;          /* the location's settings, copied */
    const char *protocol;       /* agreed subprotocol (one of offers) or
                                 * NULL */
    void *user_data;
    int in_open;                /* only during on_open */
    int async;                  /* runs in an event loop (mpm_event) */
    int tls;                    /* mod_ssl (or another TLS filter) is on */
    int upgrade_eos;            /* an HTTP/2 stream: its input starts with
                                 * the EOS of the upgrade request */

    /* Shared. */
    ws_io_state_e io_state;     /* (L) */
    apr_os_thread_t owner;      /* (L) the ACTIVE thread */
    ws_mail_t *mail_head;       /* (L) */
    ws_mail_t *mail_tail;       /* (L) */
    apr_size_t queued;          /* (L) mail + obb bytes not yet written */
    apr_pollset_t *wakeup;      /* (L) the own-thread loop's pollset */
    apr_uint32_t dropped;       /* atomic: messages dropped, queue full */
    int overflowed;             /* the overflow policy was applied */

    /* Timers: the owner's. */
    apr_time_t last_rx;         /* last bytes from the peer */
    apr_time_t last_msg;        /* last data message either way */
    apr_time_t ping_sent;       /* outstanding ping, 0 if none */
    apr_time_t close_sent;      /* our close frame, 0 if none */
    apr_time_t ctl_window;      /* start of the control-rate window */
    const char *end_reason;     /* why the server ends it without a close
                                 * exchange (static text), or NULL */

    /* The owner's. */
    ws_conn_t engine;
    conn_rec *c;
    apr_bucket_brigade *obb;    /* output not yet passed to the filters */
    apr_size_t obb_bytes;
    apr_bucket_brigade *ibb;    /* input, reused */
    apr_bucket_brigade *tbb;    /* a slice of obb being written, reused */
    apr_status_t write_status;  /* first failed write, or APR_SUCCESS */
    int out_pending;            /* the filters still hold output */
    int opened;                 /* on_open accepted: on_close is owed */
    int read_more;              /* input may be held: read on next turn */
    int busy;                   /* the last turn left input unread: come
                                 * back next round, without waiting */
    int trimmed;                /* idle memory given back (ws_io_trim) */
    int addr_token;             /* ws_addrlimit's, -1: none (atomic) */
    int capacity_held;          /* counted by ws_capacity (atomic) */
    int h2;                     /* over HTTP/2 (an h2 stream) */
};

typedef struct ws_connection ws_session_t;

/* The API table handed to handlers. */
extern const ws_api_t ws_session_api;

/* Create a session for an upgrade request.  The one reference returned
 * belongs to the caller. */
ws_session_t *ws_session_create(request_rec *r, const ws_dir_conf_t *conf,
                                ws_plugin_t *plugin);

ws_session_t *ws_session_ref(ws_session_t *ws);
void ws_session_unref(ws_session_t *ws);

/* The upgrade is done: start the engine on c (owner: the caller). */
void ws_session_start(ws_session_t *ws, conn_rec *c, int async);

/* Become the owner (returns the previous state; DEAD means: do not run). */
ws_io_state_e ws_session_acquire(ws_session_t *ws);

/* Owner: move mail into the engine. */
void ws_session_drain_mail(ws_session_t *ws);

/* Owner: write queued output without blocking.  Sets ws->out_pending if
 * the filters kept some for later. */
apr_status_t ws_session_push(ws_session_t *ws);

/* Owner: run the timers (pings, idle, closing, graceful stop) at now;
 * returns 1 if TCP should be closed now. */
int ws_session_tick(ws_session_t *ws, apr_time_t now);

/* Owner: the connection is over; refuse further sends and call the
 * handler's on_close once.  Safe to call more than once. */
void ws_session_finish(ws_session_t *ws);

/* Any thread: wake the session's own thread (own-thread mode) so that it
 * looks at the child's stop flags. */
void ws_session_wake(ws_session_t *ws);

/* Child exit, for a session whose owner did not end it in time: DEAD, so
 * that sends fail with WS_ECLOSED from now on. */
void ws_session_kill(ws_session_t *ws);

/* Agree on subprotocol name, which must be one the client offered: 0, or
 * -1 if it was not offered. NULL: none. */
int ws_session_set_protocol(ws_session_t *ws, const char *name);

#endif /* WS_SESSION_H */
