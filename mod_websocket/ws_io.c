/*
 * ws_io.c -- how bytes move between the network and a session.
 *
 * Two ways to run a connection, one protocol engine:
 *
 * Event loop (mpm_event).  The upgrade request returns right after the
 * 101.  A "kick" input filter makes httpd's pipelining check see pending
 * input, so mpm_event re-enters process_connection at once; our hook
 * returns CONN_STATE_SUSPENDED and, once mpm_event has let go of the
 * connection (suspend_connection), hands it to one of mod_websocket's
 * event loops (ws_loop.c): mpm_event keeps counting the connection but no
 * longer polls it or holds a thread for it.  The loop calls ws_io_turn
 * when the socket is readable or writable, mail arrived or a turn was cut
 * short, and ws_io_tick for timers; when the connection ends, ws_io_release
 * destroys its pool, which closes the socket and tells mpm_event.
 *
 * Own thread (worker, prefork, HTTP/2 streams, WebSocketIOMode Thread).
 * The handler keeps the request's thread and loops: read, work, write,
 * then wait in a small pollset for input (the socket, or for an HTTP/2
 * stream the pipe mod_http2 signals its input on), a wake-up from another
 * thread's send, or the next timer tick.
 *
 * Either way a turn reads with APR_NONBLOCK_READ through c->input_filters
 * (bytes mod_ssl already decrypted never wake a poll), at most
 * WS_READ_BUDGET bytes before others get their turn, and writes without
 * blocking (ws_session_push).  Must not interpret WebSocket bytes (ws_conn
 * does) nor touch handler state (ws_session does).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "apr_poll.h"
#include "apr_portable.h"
#include "ap_mpm.h"
#include "http_core.h"
#include "http_connection.h"
#include "http_ssl.h"
#include "mpm_common.h"
#include "util_filter.h"

#include "ws_private.h"
#include "ws_io.h"
#include "ws_stats.h"
#include "ws_registry.h"
#include "ws_loop.h"

/* Bytes read per ap_get_brigade call. */
#define WS_READ_CHUNK 65536

/* Most bytes one turn reads from one connection: a client streaming large
 * messages must not hold its event loop (every other connection on it
 * waits meanwhile); the rest is read on its next turn, after the others
 * had theirs. */
#define WS_READ_BUDGET (4 * WS_READ_CHUNK)

/* While reading, output is written once this much is queued, and reading
 * pauses while the network holds this much unsent (flow control: a client
 * that sends faster than it reads its answers is slowed down, not
 * buffered without end).  The connection then waits for writability. */
#define WS_PUSH_AT     (64 * 1024)
#define WS_READ_PAUSE  (1024 * 1024)

static ap_filter_rec_t *kick_filter_handle;
static int mpm_can_suspend = -1;

typedef enum {
    WS_IO_AGAIN,                /* nothing more to read now */
    WS_IO_BUSY,                 /* the budget is spent; more may wait */
    WS_IO_EOF,                  /* the peer closed or the read failed */
    WS_IO_DONE                  /* the engine reached CLOSED */
} ws_io_result_e;

/* One read buffer per thread, not per connection: an idle connection
 * must not hold 64 KB.  One spare byte: ws_conn_feed NUL-terminates
 * messages in place. */
static uint8_t *read_buffer(void)
{
    static __thread uint8_t *buf;

    if (!buf) {
        buf = malloc(WS_READ_CHUNK + 1);
    }
    return buf;
}

/* Read until EAGAIN or the budget, feeding the engine. */
static ws_io_result_e read_input(ws_session_t *ws)
{
    conn_rec *c = ws->c;
    uint8_t *buf = read_buffer();
    apr_size_t budget = WS_READ_BUDGET;

    if (!buf) {
        return WS_IO_EOF;
    }
    ws->read_more = 0;
    for (;;) {
        apr_size_t len = WS_READ_CHUNK;
        apr_status_t rv;

        if (budget == 0) {
            /* Filters may hold more input: the next turn reads even if
             * the socket does not say so. */
            ws->read_more = 1;
            return WS_IO_BUSY;
        }
        apr_brigade_cleanup(ws->ibb);
        rv = ap_get_brigade(c->input_filters, ws->ibb, AP_MODE_READBYTES,
                            APR_NONBLOCK_READ, WS_READ_CHUNK);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            return WS_IO_AGAIN;
        }
        if (rv != APR_SUCCESS) {
            ap_log_cerror(APLOG_MARK, APLOG_TRACE1, rv, c,
                          "[ws %lu] read ended", ws->id);
            return WS_IO_EOF;
        }
        if (!APR_BRIGADE_EMPTY(ws->ibb) && ws->upgrade_eos
            && APR_BUCKET_IS_EOS(APR_BRIGADE_FIRST(ws->ibb))) {
            /* An HTTP/2 stream's input opens with an EOS that ends the
             * upgrade request's (empty) body (mod_http2, h2_c2.c); the
             * WebSocket follows. */
            ws->upgrade_eos = 0;
            apr_bucket_delete(APR_BRIGADE_FIRST(ws->ibb));
        }
        if (APR_BRIGADE_EMPTY(ws->ibb)) {
            return WS_IO_AGAIN;
        }
        if (APR_BUCKET_IS_EOS(APR_BRIGADE_FIRST(ws->ibb))) {
            return WS_IO_EOF;
        }
        rv = apr_brigade_flatten(ws->ibb, (char *)buf, &len);
        apr_brigade_cleanup(ws->ibb);
        if (rv != APR_SUCCESS) {
            return WS_IO_EOF;
        }
        if (len == 0) {
            return WS_IO_AGAIN;
        }
        budget -= len < budget ? len : budget;
        ws->last_rx = apr_time_now();
        if (ws_conn_feed(&ws->engine, buf, len) == WS_STATE_CLOSED) {
            return WS_IO_DONE;
        }
        if (ws->obb_bytes >= WS_PUSH_AT) {
            ws_session_push(ws);
            if (ws->out_pending && ws->obb_bytes >= WS_READ_PAUSE) {
                /* Read again once the peer took some output. */
                ws->read_more = 1;
                return WS_IO_AGAIN;
            }
        }
        /* On a plain socket, a read shorter than one socket bucket means
         * the kernel had nothing more at that moment, and no filter holds
         * any: skip the read that would only say EAGAIN (whatever arrives
         * later wakes the poll).  Through TLS, mod_ssl may hold decrypted
         * bytes: read on until EAGAIN. */
        if (len < APR_BUCKET_BUFF_SIZE && !ws->tls) {
            return WS_IO_AGAIN;
        }
    }
}

/* One round of work for the owner: read (if readable), mail, timers,
 * write.  Returns 1 while the connection goes on; sets ws->busy if input
 * was left for the next turn. */
static int work(ws_session_t *ws, int readable, apr_time_t now)
{
    ws_io_result_e res = WS_IO_AGAIN;
    int kill;

    ws->busy = 0;
    if (readable || ws->read_more) {
        res = read_input(ws);
    }
    if (res == WS_IO_BUSY) {
        ws->busy = 1;
        res = WS_IO_AGAIN;
    }
    else if (res == WS_IO_EOF && !ws->end_reason) {
        ws->end_reason = "peer vanished";
    }
    ws_session_drain_mail(ws);
    kill = ws_session_tick(ws, now);
    ws_session_push(ws);
    if (ws->write_status != APR_SUCCESS && !ws->end_reason) {
        ws->end_reason = "write failed";
    }
    return res == WS_IO_AGAIN && !kill && ws->write_status == APR_SUCCESS
           && ws->engine.state != WS_STATE_CLOSED;
}

/* The connection is over: tell the handler, send what is left. */
static void end(ws_session_t *ws)
{
    ws_session_finish(ws);
    if (ws->write_status == APR_SUCCESS) {
        ws_session_push(ws);
    }
}

/* --- stopping a prefork child --- */

/*
 * prefork's SIGTERM and SIGHUP handler (just_die) destroys the child's
 * pools right inside the signal handler: on the very thread a WebSocket
 * runs on, wherever the signal interrupted it, locks held.  While a
 * WebSocket is being set up or run on a prefork child, those two signals
 * only set a flag and wake the connection's poll; the connection then
 * closes with 1001 in normal context, its handler gets on_close, and
 * httpd's own handler runs afterwards (ws_io_stop_signals_release).
 */
static volatile sig_atomic_t caught_signal;
static int stop_pipe[2] = { -1, -1 };
static struct sigaction saved_term, saved_hup;
static int catching;

static void on_stop_signal(int sig)
{
    int saved = errno;

    caught_signal = sig;
    if (stop_pipe[1] >= 0 && write(stop_pipe[1], "", 1) < 0) {
        /* The pipe is full: a wake-up is pending anyway. */
    }
    errno = saved;
}

static void stop_signals_child_init(apr_pool_t *pchild)
{
    int threaded = 0;

    (void)pchild;
    ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded);
    if (threaded != AP_MPMQ_NOT_SUPPORTED || stop_pipe[0] >= 0) {
        return;
    }
    if (pipe(stop_pipe) != 0) {
        stop_pipe[0] = stop_pipe[1] = -1;
        return;
    }
    fcntl(stop_pipe[0], F_SETFL, O_NONBLOCK);
    fcntl(stop_pipe[1], F_SETFL, O_NONBLOCK);
    fcntl(stop_pipe[0], F_SETFD, FD_CLOEXEC);
    fcntl(stop_pipe[1], F_SETFD, FD_CLOEXEC);
}

void ws_io_stop_signals_catch(void)
{
    struct sigaction sa;

    if (stop_pipe[0] < 0 || catching) {
        return;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, &saved_term);
    sigaction(SIGHUP, &sa, &saved_hup);
    catching = 1;
}

void ws_io_stop_signals_release(void)
{
    int sig;

    if (!catching) {
        return;
    }
    sigaction(SIGTERM, &saved_term, NULL);
    sigaction(SIGHUP, &saved_hup, NULL);
    catching = 0;
    sig = caught_signal;
    if (sig) {
        /* httpd's own handler, now that no WebSocket runs here. */
        caught_signal = 0;
        raise(sig);
    }
}

int ws_io_stop_signal_caught(void)
{
    return caught_signal != 0;
}

/* --- own thread --- */

/* Poll what carries the connection's input: its socket, or the pipe
 * mod_http2 signals an HTTP/2 stream's input on (2.4.58 and later: an h2
 * stream's "socket" is the shared connection's, owned by another
 * thread). */
static apr_status_t add_input_pollfd(ws_session_t *ws, apr_pollset_t *ps,
                                     apr_pollfd_t *pfd, apr_pool_t *p)
{
    conn_rec *c = ws->c;

    memset(pfd, 0, sizeof(*pfd));
    pfd->p = p;
    if (ap_get_pollfd_from_conn(c, pfd, NULL) != APR_SUCCESS) {
        if (c->master) {
            return APR_ENOTIMPL;
        }
        pfd->desc_type = APR_POLL_SOCKET;
        pfd->desc.s = ap_get_conn_socket(c);
    }
    if (pfd->desc_type == APR_NO_DESC) {
        return APR_SUCCESS;     /* no input (an h2 stream without a body) */
    }
    pfd->reqevents = APR_POLLIN;
    return apr_pollset_add(ps, pfd);
}

static apr_status_t add_stop_pollfd(apr_pollset_t *ps, apr_pollfd_t *pfd,
                                    apr_pool_t *p)
{
    apr_file_t *f = NULL;
    apr_status_t rv;

    if (stop_pipe[0] < 0) {
        return APR_SUCCESS;
    }
    rv = apr_os_pipe_put(&f, &stop_pipe[0], p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    memset(pfd, 0, sizeof(*pfd));
    pfd->p = p;
    pfd->desc_type = APR_POLL_FILE;
    pfd->desc.f = f;
    pfd->reqevents = APR_POLLIN;
    return apr_pollset_add(ps, pfd);
}

static void run_thread(ws_session_t *ws)
{
    conn_rec *c = ws->c;
    apr_pool_t *p;
    apr_pollset_t *ps = NULL;
    apr_pollfd_t pfd, spfd;
    apr_status_t rv;
    int input = 0;

    apr_pool_create(&p, c->pool);
    rv = apr_pollset_create(&ps, 2, p, APR_POLLSET_WAKEABLE);
    if (rv == APR_SUCCESS) {
        rv = add_input_pollfd(ws, ps, &pfd, p);
        input = (rv == APR_SUCCESS && pfd.desc_type != APR_NO_DESC);
    }
    if (rv == APR_SUCCESS) {
        rv = add_stop_pollfd(ps, &spfd, p);
    }
    if (rv != APR_SUCCESS) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, c, WSLOGNO(00031)
                      "[ws %lu %s] cannot poll the connection", ws->id,
                      ws->path);
        ws_session_acquire(ws);
        end(ws);
        apr_pool_destroy(p);
        return;
    }
    ws_session_acquire(ws);
    pthread_mutex_lock(&ws->lock);
    ws->wakeup = ps;
    pthread_mutex_unlock(&ws->lock);

    for (;;) {
        const apr_pollfd_t *out;
        apr_int32_t n;
        apr_int16_t want;

        if (ws_io_stop_signal_caught() && !ws_registry_stopping_now()) {
            char drain[16];

            while (read(stop_pipe[0], drain, sizeof(drain)) > 0) {
                continue;
            }
            ws_registry_child_stopping(NULL, 0);
        }
        if (!work(ws, 1, apr_time_now())) {
            break;
        }
        want = APR_POLLIN | (ws->out_pending ? APR_POLLOUT : 0);
        if (input && pfd.desc_type == APR_POLL_SOCKET
            && want != pfd.reqevents) {
            apr_pollset_remove(ps, &pfd);
            pfd.reqevents = want;
            apr_pollset_add(ps, &pfd);
        }
        /* Input left unread (budget, flow control) is read at once. */
        rv = apr_pollset_poll(ps, ws->busy ? 0
                                  : apr_time_from_msec(WS_TICK_MS),
                              &n, &out);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EINTR(rv)
            && !APR_STATUS_IS_TIMEUP(rv)) {
            ap_log_cerror(APLOG_MARK, APLOG_ERR, rv, c, WSLOGNO(00033)
                          "[ws %lu %s] poll failed", ws->id, ws->path);
            break;
        }
    }
    pthread_mutex_lock(&ws->lock);
    ws->wakeup = NULL;
    pthread_mutex_unlock(&ws->lock);
    end(ws);
    apr_pool_destroy(p);
}

/* --- event loop --- */

/*
 * For a SPECULATIVE read (httpd's pipelining check after the upgrade
 * request), pretend a byte is waiting, so that mpm_event goes straight
 * back into process_connection instead of keep-alive.  Our hook removes
 * the filter before anything else reads.
 */
static apr_status_t kick_filter(ap_filter_t *f, apr_bucket_brigade *bb,
                                ap_input_mode_t mode, apr_read_type_e block,
                                apr_off_t readbytes)
{
    if (mode == AP_MODE_SPECULATIVE) {
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_immortal_create(
                                        "K", 1, f->c->bucket_alloc));
        return APR_SUCCESS;
    }
    return ap_get_brigade(f->next, bb, mode, block, readbytes);
}

/*
 * Memory of idle connections.  A connection's pool allocator keeps freed
 * blocks for reuse up to MaxMemFree (2 MB by default): the upgrade
 * request's pool and the 8 KB read buffers would stay with every idle
 * connection.  While a connection is a WebSocket its allocator keeps at
 * most WS_LEAN_FREE: a turn's worth of read buffers (WS_READ_BUDGET), as
 * giving every block back costs an mmap/munmap pair (and a TLB shootdown)
 * per 8 KB block with Debian's APR; a connection only caches what it
 * freed, so one exchanging small messages keeps little.  A connection idle
 * for WS_TRIM_AFTER is trimmed to nothing (trim()).
 */
#define WS_LEAN_FREE  WS_READ_BUDGET
#define WS_TRIM_AFTER apr_time_from_sec(1)

static void allocator_lean(conn_rec *c)
{
    apr_allocator_t *a = apr_pool_allocator_get(c->pool);

    if (a) {
        apr_allocator_max_free_set(a, WS_LEAN_FREE);
    }
}

static void trim(ws_session_t *ws)
{
    apr_allocator_t *a = apr_pool_allocator_get(ws->c->pool);
    apr_memnode_t *n1, *n2;

    if (!a) {
        return;
    }
    /* APR has no "release the free list": with nothing to be kept, take
     * the (at most two) cached blocks and free them again. */
    apr_allocator_max_free_set(a, 1);
    n1 = apr_allocator_alloc(a, APR_BUCKET_BUFF_SIZE);
    n2 = apr_allocator_alloc(a, APR_BUCKET_BUFF_SIZE);
    if (n2) {
        apr_allocator_free(a, n2);
    }
    if (n1) {
        apr_allocator_free(a, n1);
    }
    apr_allocator_max_free_set(a, WS_LEAN_FREE);
}

/*
 * When the loop may destroy a connection it adopted (see
 * docs/INTERNALS.md, "The hand-off").  Our suspend_connection hook runs
 * inside mpm_event's notify_suspend(), which, after the hooks return,
 * still writes two fields of the connection's state (in the connection's
 * pool): c->sbh = NULL, then cs->suspended = 1; then the worker returns
 * and never touches the connection again.  The loop may start running the
 * connection while those stores are pending, which is harmless, but must
 * not free their memory before they are done.  So it waits until it sees
 * c->sbh == NULL (the first store: the hooks have returned), and for
 * WS_ADOPT_GUARD after adoption, which covers the one store after it by
 * many orders of magnitude.
 */
#define WS_ADOPT_GUARD apr_time_from_sec(1)

static int release_safe(ws_session_t *ws, apr_time_t now)
{
    return __atomic_load_n(&ws->c->sbh, __ATOMIC_ACQUIRE) == NULL
           && now >= ws->adopted_at + WS_ADOPT_GUARD;
}

/* How long the lingering close waits for the peer's FIN. */
#define WS_LINGER apr_time_from_sec(2)

/*
 * Closing the connection, httpd's way (ap_start_lingering_close and
 * ap_lingering_close, without blocking): write what is left; then run
 * httpd's pre_close_connection hooks and pass the End-Of-Connection bucket
 * (mod_ssl sends its TLS close_notify then); shut our side down, then read
 * and discard until the peer closes too (or WS_LINGER), so that unread
 * input does not make the kernel reset the connection before our close
 * frame arrives.  1 = not done yet.
 */
static int linger(ws_session_t *ws, apr_time_t now)
{
    conn_rec *c = ws->c;
    apr_socket_t *sock = ap_get_conn_socket(c);
    int eof = 0;

    if (ws->linger_done) {
        return !release_safe(ws, now);
    }
    if (!ws->shut_wr) {
        if (ws->out_pending && ws->write_status == APR_SUCCESS
            && now < ws->linger_until) {
            ws_session_push(ws);
            if (ws->out_pending) {
                return 1;
            }
        }
        ws->shut_wr = 1;
        ws->out_pending = 0;
        ap_prep_lingering_close(c);
        /* The socket is non-blocking: the FLUSH in it cannot stall the
         * loop (what is not written at once is dropped). */
        ap_flush_conn(c);
        apr_socket_shutdown(sock, APR_SHUTDOWN_WRITE);
    }
    for (;;) {
        char junk[512];
        apr_size_t n = sizeof(junk);
        apr_status_t rv = apr_socket_recv(sock, junk, &n);

        if (APR_STATUS_IS_EAGAIN(rv)) {
            break;
        }
        if (rv != APR_SUCCESS || n == 0) {
            eof = 1;
            break;
        }
    }
    if (eof || now >= ws->linger_until) {
        /* Nothing more to read: the loop stops polling the socket (which
         * would now be readable, at EOF, for ever) and only its tick
         * comes back, until release is safe. */
        ws->linger_done = 1;
        return !release_safe(ws, now);
    }
    return 1;
}

int ws_io_turn(ws_session_t *ws, int readable, apr_time_t now)
{
    if (ws->linger_until) {
        return linger(ws, now);
    }
    if (work(ws, readable, now)) {
        return 1;
    }
    end(ws);
    ws->busy = 0;
    ws->linger_until = now + WS_LINGER;
    return linger(ws, now);
}

int ws_io_tick(ws_session_t *ws, apr_time_t now)
{
    int keep = ws_io_turn(ws, 0, now);

    if (keep && !ws->linger_until && !ws->trimmed
        && now - ws->last_rx > WS_TRIM_AFTER
        && now - ws->last_msg > WS_TRIM_AFTER) {
        ws_conn_trim(&ws->engine);
        trim(ws);
        ws->trimmed = 1;
    }
    return keep;
}

int ws_io_adopted(ws_session_t *ws)
{
    apr_time_t now = apr_time_now();

    if (ws_session_acquire(ws) == WS_IO_DEAD) {
        ws->linger_until = now + WS_LINGER;
        return linger(ws, now);
    }
    ws_stats_add(WS_STAT_IN_LOOPS, 1);
    /* The loop never blocks: reads and writes on this socket are
     * non-blocking from now on. */
    apr_socket_timeout_set(ap_get_conn_socket(ws->c), 0);
    return ws_io_turn(ws, 1, now);
}

void ws_io_goodbye(ws_session_t *ws)
{
    if (!ws->linger_until && ws->engine.state == WS_STATE_OPEN) {
        ws_conn_close(&ws->engine, WS_CLOSE_GOING_AWAY,
                      ws_registry_stop_reason());
        ws_session_push(ws);
    }
}

void ws_io_finish_now(ws_session_t *ws)
{
    if (!ws->linger_until) {
        ws_io_goodbye(ws);
        end(ws);
    }
}

void ws_io_end_unowned(ws_session_t *ws)
{
    if (ws_session_acquire(ws) != WS_IO_DEAD) {
        ws_session_finish(ws);
    }
}

void ws_io_release(ws_session_t *ws)
{
    conn_rec *c = ws->c;

    ws_stats_add(WS_STAT_IN_LOOPS, (apr_uint64_t)-1);
    if (ws->opened) {
        /* Normally finished by the turn that ended it. */
        end(ws);
    }
    /* mpm_event's connection pool: destroying it closes the socket, runs
     * the connection's cleanups (ours among them) and updates mpm_event's
     * counts of suspended and open connections. */
    apr_pool_destroy(c->pool);
}

/* The connection's pool is going away: the session must not outlive it
 * holding pointers into it. */
static apr_status_t conn_cleanup(void *data)
{
    conn_rec *c = data;
    ws_session_t *ws = ap_get_module_config(c->conn_config,
                                            &websocket_module);

    if (ws) {
        ap_set_module_config(c->conn_config, &websocket_module, NULL);
        /* If httpd closed it before a loop adopted it (the client went
         * away during the hand-off), the handler still gets on_close. */
        ws_session_finish(ws);
        ws_session_unref(ws);
    }
    return APR_SUCCESS;
}

int ws_io_process_connection(conn_rec *c)
{
    ws_session_t *ws = ap_get_module_config(c->conn_config,
                                            &websocket_module);

    if (!ws || !c->cs) {
        return DECLINED;
    }
    ap_remove_input_filter_byhandle(c->input_filters, "WS_KICK");
    if (ws->io_state != WS_IO_HANDOFF || ws->adopted
        || !ws_loop_available()) {
        /* No loop can take it: serve it on this worker until it ends. */
        ws->async = 0;
        run_thread(ws);
        c->cs->state = CONN_STATE_LINGER;
        return OK;
    }
    /* mpm_event may still decide to close it (c->aborted) after we
     * return: a loop adopts it only in suspend_connection, when the MPM
     * has let it go. */
    ws->suspending = 1;
    c->cs->state = CONN_STATE_SUSPENDED;
    return OK;
}

void ws_io_suspend_connection(conn_rec *c, request_rec *r)
{
    ws_session_t *ws = ap_get_module_config(c->conn_config,
                                            &websocket_module);

    (void)r;
    /* mpm_event also calls this hook when it parks a connection in one of
     * its own queues (write completion, keep-alive): only a connection we
     * suspended ourselves is ours to take. */
    if (!ws || !ws->suspending || !c->cs
        || c->cs->state != CONN_STATE_SUSPENDED) {
        return;
    }
    ws->suspending = 0;
    /* After this call nothing here may touch c or ws: the loop owns them
     * (see release_safe for what mpm_event still writes). */
    if (!ws->adopted && ws->io_state == WS_IO_HANDOFF && ws->async
        && ws_loop_adopt(ws) != 0) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, 0, c, WSLOGNO(00065)
                      "[ws %lu %s] no event loop took the connection",
                      ws->id, ws->path);
    }
}

int ws_io_loops_allowed(void)
{
    if (mpm_can_suspend < 0) {
        int async = 0, waitio = 0;

        /* CONN_STATE_SUSPENDED exists since 2.4.0, but only mpm_event
         * (async) supports it; WAITIO (2.4.63) marks an mpm_event recent
         * enough to account suspended connections the way we rely on. */
        ap_mpm_query(AP_MPMQ_IS_ASYNC, &async);
#ifdef AP_MPMQ_CAN_WAITIO
        ap_mpm_query(AP_MPMQ_CAN_WAITIO, &waitio);
#endif
        mpm_can_suspend = async && waitio;
    }
    return mpm_can_suspend && ws_io_mode == WS_IO_AUTO;
}

int ws_io_uses_loops(void)
{
    return ws_io_loops_allowed() && ws_loop_available();
}

int ws_io_run(ws_session_t *ws, request_rec *r)
{
    conn_rec *c = r->connection;

    ws_stats_add(WS_STAT_OPEN, 1);
    ws_stats_add(WS_STAT_TOTAL, 1);
    ws_registry_add(ws);
    /* HTTP/2 streams (c->master) are not sockets a loop can poll. */
    if (!ws_io_uses_loops() || c->master || !c->cs) {
        ws_session_start(ws, c, 0);
        run_thread(ws);
        return 0;
    }
    ws_session_start(ws, c, 1);
    ap_add_input_filter_handle(kick_filter_handle, NULL, NULL, c);
    ap_set_module_config(c->conn_config, &websocket_module,
                         ws_session_ref(ws));
    apr_pool_cleanup_register(c->pool, c, conn_cleanup,
                              apr_pool_cleanup_null);
    c->keepalive = AP_CONN_KEEPALIVE;
    allocator_lean(c);
    return 1;
}

void ws_io_child_init(apr_pool_t *pchild)
{
    stop_signals_child_init(pchild);
}

void ws_io_register_hooks(void)
{
    kick_filter_handle = ap_register_input_filter("WS_KICK", kick_filter,
                                                  NULL, AP_FTYPE_CONNECTION);
}
