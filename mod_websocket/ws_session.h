/*
 * ws_session.h -- one WebSocket connection as handlers and the rest of the
 * module see it.
 *
 * Owns: struct ws_connection (the handle handlers hold, opaque outside
 * ws_session.c), its reference count and lifetime, its state machine
 * (below), the protocol engine (ws_conn), and the composition of its
 * parts: the request snapshot (ws_snapshot), the mailbox of sends from
 * other threads (ws_mailbox), the output limits (ws_outq), the timers
 * (ws_timers).  It also holds what the handler API does (send, close,
 * data, protocol); ws_api.c only turns that into the public table.
 *
 * Must not: read or write the network (its owner does: ws_io), know event
 * loops or threads by name (an owner is a ws_owner_t), or call a handler
 * callback with its lock held.
 *
 * States (one table in ws_session.c; every other transition is refused and
 * logged at debug):
 *
 *     OPENING --opened--> HANDOFF --run--> RUNNING --end--> ENDED
 *        |                   |                                ^
 *        +--refused----------+--end---------------------------+
 *
 *   OPENING  created for an upgrade request; on_open runs on the request's
 *            worker.  Sends are queued as mail.
 *   HANDOFF  on_open accepted it, the 101 is sent; nobody runs it yet (the
 *            request is finishing, or it waits for an event loop).  Sends
 *            are queued as mail.
 *   RUNNING  an owner runs it: an event loop, or the connection's own
 *            thread.  The owner's thread uses the engine directly, without
 *            the lock; other threads mail and wake the owner.
 *   ENDED    on_close was called (or is owed no more); sends fail with
 *            WS_ECLOSED; the owner winds the connection down.
 * The engine's own state (OPEN, CLOSING, CLOSED: ws_conn.h) says where the
 * closing handshake stands while RUNNING.
 */
#ifndef WS_SESSION_H
#define WS_SESSION_H

#include "apr_time.h"
#include "httpd.h"

#include "ws_plugin_api.h"
#include "ws_capacity.h"
#include "ws_config.h"
#include "ws_conn.h"
#include "ws_mailbox.h"
#include "ws_snapshot.h"
#include "ws_timers.h"

typedef struct ws_connection ws_session_t;

typedef enum {
    WS_SESSION_OPENING = 0,
    WS_SESSION_HANDOFF,
    WS_SESSION_RUNNING,
    WS_SESSION_ENDED,
    WS_SESSION_NSTATES
} ws_session_state_e;

/* --- owners ------------------------------------------------------------ */

/*
 * Who runs sessions: an event loop, or the thread of one connection.  A
 * session knows its owner only through this; the owner's thread marks
 * itself with ws_owner_enter() so that the session can tell its owner's
 * calls (straight into the engine) from everybody else's (mail).
 */
typedef struct ws_owner ws_owner_t;
struct ws_owner {
    /* Any thread, with ws's lock held (so that the owner cannot end the
     * session and vanish meanwhile): ws has mail or must be looked at;
     * run it soon.  Must not block or take a session's lock.  slot: what
     * the owner gave ws_session_run. */
    void (*wake)(ws_owner_t *owner, ws_session_t *ws, void *slot);
    /* The owner's thread, from a callback of another session it runs: ws
     * got output outside its own turn; write it out this round. */
    void (*dirty)(ws_owner_t *owner, ws_session_t *ws, void *slot);
};

/* The session whose handler callback the calling thread is in (on_open,
 * on_message, on_close, on_subscribed), or NULL. */
ws_session_t *ws_session_current(void);

/* The calling thread runs owner's sessions from now on (until leave). */
void ws_owner_enter(ws_owner_t *owner);
void ws_owner_leave(void);

/*
 * Room in every session for the records its containers keep about it, so
 * that they live exactly as long as the session: the owner's (an event
 * loop's links and flags), the registry's (its list links) and the
 * channels' (the session's subscriptions).  Each is
 * WS_SESSION_AREA bytes, zeroed when the session is made, aligned for
 * pointers; only the container it belongs to reads or writes it.
 */
#define WS_SESSION_AREA (16 * sizeof(void *))

typedef enum {
    WS_AREA_OWNER = 0,
    WS_AREA_REGISTRY,
    WS_AREA_CHANNELS,
    WS_AREA_COUNT
} ws_session_area_e;

void *ws_session_area(ws_session_t *ws, ws_session_area_e which);
ws_session_t *ws_session_from_area(void *area, ws_session_area_e which);

/* --- output ------------------------------------------------------------ */

/*
 * Where the engine's frames go (ws_io implements it).  frame: hdr then
 * payload, both valid during the call only, unless owned is not NULL: then
 * payload is owned (a malloc'd buffer handed over; free() it when
 * written).  Returns 0, or -1 if the connection can no longer be written.
 */
typedef struct {
    int (*frame)(void *sink, const uint8_t *hdr, size_t hlen,
                 const uint8_t *payload, size_t plen, uint8_t *owned);
} ws_sink_ops_t;

/* --- lifetime ---------------------------------------------------------- */

/* A session for an upgrade request (OPENING), with its snapshot and the
 * location's settings.  The one reference returned is the caller's.  NULL
 * if memory ran out. */
ws_session_t *ws_session_create(request_rec *r, const ws_dir_conf_t *conf,
                                ws_plugin_t *plugin);

/* Any thread.  The last unref frees it. */
ws_session_t *ws_session_ref(ws_session_t *ws);
void ws_session_unref(ws_session_t *ws);

/* --- the request phase (the upgrade request's worker) ------------------ */

/* Agree on the subprotocol: the first of the location's WebSocketProtocols
 * the client offered ("*": its first offer), or its first offer for a
 * handler that speaks any (WS_HANDLER_ANY_PROTOCOL); then run on_open.
 * Returns 0 (HANDOFF: accepted), or the HTTP status to refuse with
 * (ENDED, no on_close owed). */
int ws_session_open(ws_session_t *ws, request_rec *r,
                    const ws_dir_conf_t *conf);

/* The agreed subprotocol, or NULL. */
const char *ws_session_protocol(const ws_session_t *ws);

/*
 * The handshake (request's worker, before the 101): take a
 * permessage-deflate offer of the request's Sec-WebSocket-Extensions
 * (offers: every header's value, joined; NULL: none) if the location's
 * WebSocketCompression settings allow one.  Returns the response's
 * Sec-WebSocket-Extensions value (in p), or NULL: none agreed.
 */
const char *ws_session_negotiate_deflate(ws_session_t *ws,
                                         const char *offers, apr_pool_t *p);

/* What the session holds of the admission limits (ws_addrlimit's token,
 * ws_capacity's hold): released once when it ends. */
void ws_session_hold_admission(ws_session_t *ws, int addr_token,
                               const ws_capacity_hold_t *capacity);

/* --- the owner ---------------------------------------------------------- */

/* The session's frames go to sink from now on; the engine starts (OPEN).
 * Called once, before ws_session_run, by the thread that has the
 * connection. */
void ws_session_attach(ws_session_t *ws, const ws_sink_ops_t *ops,
                       void *sink, apr_time_t now);

/* HANDOFF -> RUNNING under owner (slot: the owner's own record of it).
 * Returns 0, or -1 if it ENDED meanwhile (the client left, the child is
 * exiting): then nobody must run it. */
int ws_session_run(ws_session_t *ws, ws_owner_t *owner, void *slot);

/* Owner's thread, RUNNING.  Feed input (buf has one writable byte after
 * len: see ws_conn_feed); returns the engine state afterwards. */
ws_state_e ws_session_feed(ws_session_t *ws, uint8_t *buf, size_t len,
                           apr_time_t now);

/* Owner's thread: send the mail other threads left. */
void ws_session_take_mail(ws_session_t *ws, apr_time_t now);

/* Owner's thread: act on the timers (pings, timeouts, the child's stop)
 * at now.  Returns 1 if TCP should be closed now (the peer is gone or did
 * not answer our close), with the reason noted for on_close. */
int ws_session_timers(ws_session_t *ws, apr_time_t now);
/* Owner's thread: when ws_session_timers may next have something to do
 * if nothing happens on the connection meanwhile (ws_timers_next): 0 for
 * now, APR_INT64_MAX for never. */
apr_time_t ws_session_timers_next(const ws_session_t *ws, apr_time_t now);

/* Owner's thread: the child stops at once: start the closing handshake
 * with 1001 now. */
void ws_session_goodbye(ws_session_t *ws);

/* Owner's thread: n bytes of output were written (ws_outq's count). */
void ws_session_written(ws_session_t *ws, size_t n);

/* The engine's state (owner's thread). */
ws_state_e ws_session_engine_state(const ws_session_t *ws);

/* Owner's thread: 1 if nothing came or went for longer than quiet; the
 * engine gives back its message buffer (trim) when asked. */
int ws_session_quiet(const ws_session_t *ws, apr_time_t now,
                     apr_interval_time_t quiet);
void ws_session_trim(ws_session_t *ws);
/* Data messages so far, both ways (owner's thread): what may have left
 * memory to trim since the last look (control frames leave none). */
apr_uint64_t ws_session_messages(const ws_session_t *ws);

/* Why the connection ends without a close exchange ("peer vanished",
 * "write failed"...: static text), for on_close; the first reason
 * noted wins. */
void ws_session_note_end(ws_session_t *ws, const char *reason);

/*
 * The connection is over (owner's thread, or any thread for a session
 * nobody runs): ENDED, the mail dropped, admission released, the
 * handler's on_close called once (if on_open accepted it).  Safe to call
 * more than once.
 */
void ws_session_end(ws_session_t *ws);

/* Child exit, for a session whose owner did not end it in time: ENDED
 * without on_close (logged by the caller), so that sends fail. */
void ws_session_kill(ws_session_t *ws);

/* Any thread: wake the session's owner (the child is stopping). */
void ws_session_wake(ws_session_t *ws);

/* fn(ws) is called once for every session that ends (from
 * ws_session_end, after ENDED: sends fail; before on_close), on the
 * thread ending it, with no lock held.  One listener: the channels. */
void ws_session_on_end(void (*fn)(ws_session_t *ws));

/* --- what others may read ----------------------------------------------- */

unsigned long ws_session_id(const ws_session_t *ws);
/* The server-wide id (ws_ids.h). */
ws_connid_t ws_session_gid(const ws_session_t *ws);
/* The location whose WebSocketHandler runs it. */
ws_location_t *ws_session_location(const ws_session_t *ws);
ws_session_state_e ws_session_state(ws_session_t *ws);
/* "OPENING", "HANDOFF", "OPEN", "CLOSING" (RUNNING, by the engine's
 * closing handshake), "ENDED": for logs. */
const char *ws_session_state_str(ws_session_t *ws);
const ws_snapshot_t *ws_session_snapshot(const ws_session_t *ws);
server_rec *ws_session_server(const ws_session_t *ws);
ws_plugin_t *ws_session_plugin(const ws_session_t *ws);
/* How it ended (after ws_session_end): the close code (1006 if none). */
int ws_session_close_code(const ws_session_t *ws);

/* How it went, for its access-log line (after ws_session_end; the
 * owner's thread).  close_reason lives as long as ws. */
typedef struct {
    int close_code;             /* 1006 if no closing handshake */
    const char *close_reason;
    int closed_by;              /* 'c' the client's close frame came first,
                                 * 's' ours, 0 none was exchanged */
    apr_uint64_t msgs_in, msgs_out;
    apr_uint64_t bytes_in, bytes_out;  /* on the wire (frames) */
    apr_time_t opened_at;       /* the 101 */
} ws_session_outcome_t;
void ws_session_outcome(const ws_session_t *ws, ws_session_outcome_t *out);

/* The access-log line's data (ws_accesslog): one malloc'd block the
 * session frees with itself if nobody took it.  take: once (atomic). */
void ws_session_set_logline(ws_session_t *ws, void *block);
void *ws_session_take_logline(ws_session_t *ws);

/* --- the handler API (ws_api.c) ----------------------------------------- */

/* ws_api_t's send and close: WS_OK, WS_ECLOSED, WS_EQUEUE, WS_EINVAL. */
int ws_session_send(ws_session_t *ws, ws_msg_type_e type, const void *data,
                    size_t len);
int ws_session_close(ws_session_t *ws, int code, const char *reason);

/* Send sh's payload (a reference is taken; the caller checked type and
 * UTF-8): a channel message fanned out without a copy per connection.
 * WS_OK, WS_ECLOSED, WS_EQUEUE, as ws_session_send. */
int ws_session_send_shared(ws_session_t *ws, ws_msg_type_e type,
                           ws_shared_t *sh);

/* Have the owner call call(ws, arg) on its thread, in order with the
 * session's mail (a handler callback that must not run concurrently with
 * the connection's others).  drop(arg) runs after the call, or instead if
 * the session ends first.  WS_OK, WS_ECLOSED (ended: drop has run),
 * WS_EQUEUE (no memory: drop has run). */
int ws_session_post_call(ws_session_t *ws, ws_mail_call_fn call,
                         ws_mail_drop_fn drop, void *arg);

void ws_session_set_user_data(ws_session_t *ws, void *data);
void *ws_session_user_data(const ws_session_t *ws);

/* Only during on_open: agree on name, which must be one the client
 * offered (NULL: none).  WS_OK or WS_EINVAL. */
int ws_session_select_protocol(ws_session_t *ws, const char *name);

/*
 * One log line about a session, prefixed with its server-wide id (the
 * access log's WS_SESSION), path and state:
 *     WS_SLOG(ws, APLOG_INFO, 0, 00020, "closing with %d: %s", code, why);
 * n is the line's log tag number (WSLOGNO; every message at debug level
 * and above carries one).  For files that include ws_private.h.
 */
#define WS_SLOG(ws, level, status, n, fmt, ...) \
    ap_log_error(APLOG_MARK, (level), (status), ws_session_server(ws), \
                 WSLOGNO(n) "[ws %" APR_UINT64_T_FMT " %s %s] " fmt, \
                 (apr_uint64_t)ws_session_gid(ws), \
                 ws_snapshot_path(ws_session_snapshot(ws)), \
                 ws_session_state_str(ws), ##__VA_ARGS__)

#endif /* WS_SESSION_H */
