/*
 * ws_io.c -- how bytes move between the network and a session (see
 * ws_io.h).
 *
 * Two ways to run a connection, one protocol engine:
 *
 * Event loop (mpm_event).  After the hand-off (ws_handoff.c) an event loop
 * (ws_loop.c) owns the connection and calls ws_io_turn when the socket is
 * readable or writable, mail arrived or a turn was cut short, and
 * ws_io_tick for timers; when the connection ends, ws_io_release destroys
 * its pool, which closes the socket and tells mpm_event.
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
 * blocking, at most WS_PUSH_BUDGET.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "apr_poll.h"
#include "apr_portable.h"
#include "ap_mpm.h"
#include "http_core.h"
#include "http_connection.h"
#include "http_ssl.h"
#include "util_filter.h"

#include "ws_private.h"
#include "ws_io.h"
#include "ws_accesslog.h"
#include "ws_child.h"
#include "ws_registry.h"
#include "ws_stats.h"

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

/* Output is handed to the filters in slices this big: the core output
 * filter only blocks above FlushMaxThreshold (64 KB by default), so a
 * slice passed while it holds nothing never blocks. */
#define WS_PUSH_SLICE (32 * 1024)

/* Most bytes one push writes: a peer that reads as fast as we write must
 * not keep its event loop to itself (the rest waits for the next turn,
 * which writability brings at once). */
#define WS_PUSH_BUDGET (512 * 1024)

/* Frames up to this size are built whole and copied once into a bucket of
 * their exact size (small ones come from the bucket allocator's free list,
 * not from malloc). */
#define WS_SMALL_FRAME 1024

struct ws_io {
    ws_session_t *ws;           /* a reference, dropped with c->pool */
    conn_rec *c;
    apr_bucket_brigade *obb;    /* output not yet passed to the filters */
    apr_size_t obb_bytes;
    apr_bucket_brigade *ibb;    /* input, reused */
    apr_bucket_brigade *tbb;    /* a slice of obb being written, reused */
    apr_status_t write_status;  /* first failed write, or APR_SUCCESS */
    int tls;                    /* filters may hold input the socket does
                                 * not show (mod_ssl, an HTTP/2 stream) */
    int direct;                 /* input read from the socket itself (see
                                 * read_direct) */
    int upgrade_eos;            /* an HTTP/2 stream: its input opens with
                                 * the EOS of the upgrade request */
    int out_pending;            /* the filters or obb still hold output */
    int read_more;              /* input may be held: read next turn */
    int read_paused;            /* WS_READ_PAUSE unsent: no reading (nor
                                 * polling for input) until it is below */
    int busy;                   /* the last turn stopped at its budget */
    apr_uint64_t trimmed_at;    /* data messages + 1 when idle memory
                                 * was last given back; 0: never */
    apr_time_t adopted_at;      /* when a loop took it */
    apr_time_t linger_until;    /* closing TCP: the deadline; 0 before */
    int shut_wr;
    int drained;                /* closed and drained: waits to release */
};

typedef enum {
    WS_IO_AGAIN,                /* nothing more to read now */
    WS_IO_BUSY,                 /* the budget is spent; more may wait */
    WS_IO_EOF,                  /* the peer closed or the read failed */
    WS_IO_DONE                  /* the engine reached CLOSED */
} ws_io_result_e;

ws_session_t *ws_io_session(const ws_io_t *io)
{
    return io->ws;
}

conn_rec *ws_io_conn(const ws_io_t *io)
{
    return io->c;
}

/* --- output --- */

/*
 * Without a FLUSH, mod_ssl's coalescing filter keeps small writes and the
 * core output filter keeps less than 4 KB.  A FLUSH would make the core
 * block on a slow reader.  Any metadata bucket ends the coalescing run, and
 * the core's own non-blocking write is triggered afterwards (core_push), so
 * this bucket carries no data and means nothing else.
 */
static apr_status_t push_bucket_read(apr_bucket *b, const char **str,
                                     apr_size_t *len, apr_read_type_e block)
{
    (void)b; (void)block;
    *str = NULL;
    *len = 0;
    return APR_SUCCESS;
}

static const apr_bucket_type_t push_bucket_type = {
    "WS_PUSH", 5, APR_BUCKET_METADATA,
    apr_bucket_destroy_noop,
    push_bucket_read,
    apr_bucket_setaside_noop,
    apr_bucket_split_notimpl,
    apr_bucket_simple_copy
};

static apr_bucket *push_bucket_create(apr_bucket_alloc_t *list)
{
    apr_bucket *b = apr_bucket_alloc(sizeof(*b), list);

    APR_BUCKET_INIT(b);
    b->free = apr_bucket_free;
    b->list = list;
    b->length = 0;
    b->start = 0;
    b->data = NULL;
    b->type = &push_bucket_type;
    return b;
}

/* Ask the core output filter to write what it holds, without blocking
 * (what event.c does in write completion). */
static apr_status_t core_push(conn_rec *c)
{
    ap_filter_t *f = c->output_filters;

    while (f->next) {
        f = f->next;
    }
    return f->frec->filter_func.out_func(f, NULL);
}

/* The session's sink: the engine's frames go into obb, copied (or, for
 * an owned payload, handed over).  Only push writes, in slices that
 * cannot block. */
static int sink_frame(void *sink, const uint8_t *hdr, size_t hlen,
                      const uint8_t *payload, size_t plen, uint8_t *owned)
{
    ws_io_t *io = sink;
    apr_bucket_alloc_t *list = io->c->bucket_alloc;

    if (io->write_status != APR_SUCCESS) {
        return -1;
    }
    if (!owned && hlen + plen <= WS_SMALL_FRAME) {
        char frame[WS_SMALL_FRAME];

        memcpy(frame, hdr, hlen);
        if (plen) {
            memcpy(frame + hlen, payload, plen);
        }
        APR_BRIGADE_INSERT_TAIL(io->obb, apr_bucket_heap_create(
                                             frame, hlen + plen, NULL, list));
    }
    else {
        APR_BRIGADE_INSERT_TAIL(io->obb, apr_bucket_heap_create(
                                             (const char *)hdr, hlen, NULL,
                                             list));
        APR_BRIGADE_INSERT_TAIL(io->obb, apr_bucket_heap_create(
                                             (const char *)(owned ? owned
                                                            : payload),
                                             plen, owned ? free : NULL,
                                             list));
    }
    io->obb_bytes += hlen + plen;
    return 0;
}

static const ws_sink_ops_t sink_ops = { sink_frame };

/*
 * Writing the socket ourselves.  A plain connection whose only output
 * filter is httpd's core, while the core holds nothing, gets obb written
 * with one writev() of its frames: the same system call the core would
 * make, without passing each frame through the filter, holding it there
 * (the core keeps less than 4 KB until told to write) and asking again.
 * mod_logio counts what is written, as the core does.  Anything else (TLS,
 * HTTP/2 streams, other filters, the core still holding output) goes
 * through the filters.
 */
static APR_OPTIONAL_FN_TYPE(ap_logio_add_bytes_out) *logio_add_bytes_out;

/* At most this many frames' pieces in one writev(). */
#define WS_PUSH_IOVS 64

/* Is c's output chain only httpd's core? */
static int out_filters_plain(conn_rec *c)
{
    return !c->output_filters->next
           && !strcasecmp(c->output_filters->frec->name, "core");
}

/* One writev() of obb's first frames (within *budget).  *more: the socket
 * took all of it (the caller may go on). */
static apr_status_t push_direct(ws_io_t *io, apr_off_t *budget, int *more)
{
    struct iovec vec[WS_PUSH_IOVS];
    apr_socket_t *sock = ap_get_conn_socket(io->c);
    apr_interval_time_t timeout;
    apr_size_t total = 0, written = 0, left;
    apr_bucket *b;
    apr_status_t rv;
    int n = 0;

    *more = 0;
    for (b = APR_BRIGADE_FIRST(io->obb);
         b != APR_BRIGADE_SENTINEL(io->obb) && n < WS_PUSH_IOVS
         && (apr_off_t)total < *budget;
         b = APR_BUCKET_NEXT(b)) {
        const char *data;
        apr_size_t len;

        rv = apr_bucket_read(b, &data, &len, APR_BLOCK_READ);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (len) {
            vec[n].iov_base = (void *)data;
            vec[n].iov_len = len;
            n++;
            total += len;
        }
    }
    if (n == 0) {
        apr_brigade_cleanup(io->obb);
        return APR_SUCCESS;
    }
    apr_socket_timeout_get(sock, &timeout);
    apr_socket_timeout_set(sock, 0);
    rv = apr_socket_sendv(sock, vec, n, &written);
    apr_socket_timeout_set(sock, timeout);
    if (rv != APR_SUCCESS && !APR_STATUS_IS_EAGAIN(rv)) {
        return rv;
    }
    for (left = written; left > 0;) {
        b = APR_BRIGADE_FIRST(io->obb);
        if (b->length > left) {
            apr_bucket_split(b, left);
            left = 0;
        }
        else {
            left -= b->length;
        }
        apr_bucket_delete(b);
    }
    if (written) {
        io->obb_bytes -= written;
        ws_session_written(io->ws, written);
        if (logio_add_bytes_out) {
            logio_add_bytes_out(io->c, (apr_off_t)written);
        }
        *budget -= (apr_off_t)written;
    }
    *more = rv == APR_SUCCESS && written == total;
    return APR_SUCCESS;
}

/* Write queued output without blocking, at most WS_PUSH_BUDGET; sets
 * out_pending if some is left for later. */
static apr_status_t push(ws_io_t *io)
{
    conn_rec *c = io->c;
    apr_status_t rv = io->write_status;
    apr_off_t budget = WS_PUSH_BUDGET;
    int more = 1;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!io->tls && !c->data_in_output_filters && out_filters_plain(c)) {
        while (rv == APR_SUCCESS && more && budget > 0
               && !APR_BRIGADE_EMPTY(io->obb)) {
            rv = push_direct(io, &budget, &more);
        }
        more = 0;               /* the filters have nothing to do */
    }
    while (rv == APR_SUCCESS && more) {
        apr_bucket *after;
        apr_off_t len = 0;

        /* Let the core write what it holds first; hand it more only when
         * it holds nothing, so it never has a reason to block. */
        rv = core_push(c);
        if (rv != APR_SUCCESS || c->data_in_output_filters
            || APR_BRIGADE_EMPTY(io->obb) || budget <= 0) {
            break;
        }
        rv = apr_brigade_partition(io->obb, WS_PUSH_SLICE, &after);
        if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
            break;
        }
        while (APR_BRIGADE_FIRST(io->obb) != after) {
            apr_bucket *b = APR_BRIGADE_FIRST(io->obb);

            len += (apr_off_t)b->length;
            APR_BUCKET_REMOVE(b);
            APR_BRIGADE_INSERT_TAIL(io->tbb, b);
        }
        APR_BRIGADE_INSERT_TAIL(io->tbb, push_bucket_create(c->bucket_alloc));
        rv = ap_pass_brigade(c->output_filters, io->tbb);
        apr_brigade_cleanup(io->tbb);
        io->obb_bytes -= (apr_size_t)len;
        ws_session_written(io->ws, (apr_size_t)len);
        budget -= len;
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    if (rv != APR_SUCCESS) {
        io->write_status = rv;
        WS_SLOG(io->ws, APLOG_DEBUG, rv, 00025, "write failed");
        ws_session_note_end(io->ws, "write failed");
        return rv;
    }
    io->out_pending = c->data_in_output_filters
                      || !APR_BRIGADE_EMPTY(io->obb);
    if (io->read_paused
        && (!io->out_pending || io->obb_bytes < WS_READ_PAUSE)) {
        io->read_paused = 0;
    }
    return APR_SUCCESS;
}

void ws_io_push(ws_io_t *io)
{
    if (!io->linger_until) {
        push(io);
    }
}

/* --- input --- */

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

/*
 * Reading the socket ourselves.  httpd's core input filter, asked in
 * AP_MODE_READBYTES for more than one read returned, reads the socket
 * again at once to see whether more came: on a quiet socket, every
 * message costs a second read() that says EAGAIN (a third of the system
 * calls of a small echo).  A plain connection whose only input filters
 * left are httpd's core (and mod_logio's count) is read with recv()
 * instead, once a filtered read came back short: the core filter then
 * holds nothing (it read until EAGAIN), so no byte is left behind it.
 * mod_logio still counts what is read (its optional function), as its
 * filter would have.  TLS and HTTP/2 streams always go through their
 * filters.
 */
static APR_OPTIONAL_FN_TYPE(ap_logio_add_bytes_in) *logio_add_bytes_in;

void ws_io_post_config(void)
{
    logio_add_bytes_in = APR_RETRIEVE_OPTIONAL_FN(ap_logio_add_bytes_in);
    logio_add_bytes_out = APR_RETRIEVE_OPTIONAL_FN(ap_logio_add_bytes_out);
}

/* Are c's input filters only httpd's core and mod_logio's count? */
static int filters_plain(conn_rec *c)
{
    ap_filter_t *f;

    for (f = c->input_filters; f; f = f->next) {
        if (strcasecmp(f->frec->name, "core_in")
            && strcasecmp(f->frec->name, "log_input_output")) {
            return 0;
        }
    }
    return 1;
}

/* One non-blocking recv() into buf (*len: its size, then what came). */
static apr_status_t read_direct(ws_io_t *io, uint8_t *buf, apr_size_t *len)
{
    apr_socket_t *sock = ap_get_conn_socket(io->c);
    apr_interval_time_t timeout;
    apr_status_t rv;

    /* httpd's Timeout stays the socket's for its blocking writes; a read
     * here never waits (both are >= 0: no system call, APR only keeps
     * the value). */
    apr_socket_timeout_get(sock, &timeout);
    apr_socket_timeout_set(sock, 0);
    rv = apr_socket_recv(sock, (char *)buf, len);
    apr_socket_timeout_set(sock, timeout);
    if (rv == APR_SUCCESS && *len > 0 && logio_add_bytes_in) {
        logio_add_bytes_in(io->c, (apr_off_t)*len);
    }
    if (rv == APR_SUCCESS && *len == 0) {
        return APR_EOF;
    }
    return rv;
}

/* One non-blocking read through c's input filters into buf (*len: its
 * size, then what came): APR_EAGAIN when nothing came, APR_EOF at the
 * end of the input. */
static apr_status_t read_filtered(ws_io_t *io, uint8_t *buf, apr_size_t *len)
{
    apr_status_t rv;

    apr_brigade_cleanup(io->ibb);
    rv = ap_get_brigade(io->c->input_filters, io->ibb, AP_MODE_READBYTES,
                        APR_NONBLOCK_READ, *len);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!APR_BRIGADE_EMPTY(io->ibb) && io->upgrade_eos
        && APR_BUCKET_IS_EOS(APR_BRIGADE_FIRST(io->ibb))) {
        /* An HTTP/2 stream's input opens with an EOS that ends the
         * upgrade request's (empty) body (mod_http2, h2_c2.c); the
         * WebSocket follows. */
        io->upgrade_eos = 0;
        apr_bucket_delete(APR_BRIGADE_FIRST(io->ibb));
    }
    if (APR_BRIGADE_EMPTY(io->ibb)) {
        return APR_EAGAIN;
    }
    if (APR_BUCKET_IS_EOS(APR_BRIGADE_FIRST(io->ibb))) {
        return APR_EOF;
    }
    rv = apr_brigade_flatten(io->ibb, (char *)buf, len);
    apr_brigade_cleanup(io->ibb);
    if (rv == APR_SUCCESS && *len == 0) {
        return APR_EAGAIN;
    }
    return rv;
}

/* Read until EAGAIN or the budget, feeding the session. */
static ws_io_result_e read_input(ws_io_t *io)
{
    conn_rec *c = io->c;
    uint8_t *buf = read_buffer();
    apr_size_t budget = WS_READ_BUDGET;

    if (!buf) {
        return WS_IO_EOF;
    }
    io->read_more = 0;
    for (;;) {
        apr_size_t len = WS_READ_CHUNK;
        apr_status_t rv;

        if (budget == 0) {
            /* Filters may hold more input: the next turn reads even if
             * the socket does not say so. */
            io->read_more = 1;
            return WS_IO_BUSY;
        }
        rv = io->direct ? read_direct(io, buf, &len)
                        : read_filtered(io, buf, &len);
        if (APR_STATUS_IS_EAGAIN(rv)) {
            return WS_IO_AGAIN;
        }
        if (rv != APR_SUCCESS) {
            ap_log_cerror(APLOG_MARK, APLOG_TRACE1, rv, c,
                          "[ws %lu] read ended", ws_session_id(io->ws));
            return WS_IO_EOF;
        }
        if (!io->direct && len < WS_READ_CHUNK && !io->tls
            && filters_plain(c)) {
            /* The core filter read until EAGAIN: it holds nothing. */
            io->direct = 1;
        }
        budget -= len < budget ? len : budget;
        if (ws_session_feed(io->ws, buf, len, apr_time_now())
            == WS_STATE_CLOSED) {
            return WS_IO_DONE;
        }
        if (io->obb_bytes >= WS_PUSH_AT) {
            push(io);
            if (io->out_pending && io->obb_bytes >= WS_READ_PAUSE) {
                /* Read again once the peer took some output: until then
                 * the owner polls its socket for writability only
                 * (level-triggered readability would bring a turn, and a
                 * read, at once: a client that never reads would have its
                 * answers queued up to WebSocketMaxQueuedOutput).  An
                 * HTTP/2 stream's input is a pipe its owner keeps
                 * polling: it reads on. */
                io->read_paused = !c->master;
                io->read_more = 1;
                return WS_IO_AGAIN;
            }
        }
        /* On a plain socket, a read shorter than asked (one socket bucket
         * through the filters) means the kernel had nothing more at that
         * moment, and no filter holds any: skip the read that would only
         * say EAGAIN (whatever arrives later wakes the poll).  Through
         * TLS, mod_ssl may hold decrypted bytes: read on until EAGAIN. */
        if (!io->tls && len < (io->direct ? WS_READ_CHUNK
                                          : APR_BUCKET_BUFF_SIZE)) {
            return WS_IO_AGAIN;
        }
    }
}

/* One round of work for the owner: read (if readable), mail, timers,
 * write (unless push_now is 0: the owner pushes later, ws_io_push).
 * Returns 1 while the connection goes on; sets busy if input was left for
 * the next turn. */
static int work(ws_io_t *io, int readable, apr_time_t now, int push_now)
{
    ws_io_result_e res = WS_IO_AGAIN;
    int drop;

    io->busy = 0;
    if ((readable || io->read_more) && !io->read_paused) {
        res = read_input(io);
    }
    if (res == WS_IO_BUSY) {
        io->busy = 1;
        res = WS_IO_AGAIN;
    }
    else if (res == WS_IO_EOF) {
        ws_session_note_end(io->ws, "peer vanished");
    }
    ws_session_take_mail(io->ws, now);
    drop = ws_session_timers(io->ws, now);
    if (push_now) {
        push(io);
    }
    return res == WS_IO_AGAIN && !drop && io->write_status == APR_SUCCESS
           && ws_session_engine_state(io->ws) != WS_STATE_CLOSED;
}

/* The connection is over: tell the handler, send what is left, then
 * log the session -- after that write, which is the only one an event
 * loop's last turn gets (its turns leave writing to the loop, which
 * skips a session that ended): the session line counts the answers and
 * the close frame sent with it. */
static void end(ws_io_t *io)
{
    ws_session_end(io->ws);
    if (io->write_status == APR_SUCCESS) {
        push(io);
    }
    ws_accesslog_write(io->ws, io->c);
    ws_registry_remove(io->ws);
}

/* --- the connection --- */

static void allocator_lean(conn_rec *c);

/* The connection's pool is going away: the session must not outlive it
 * holding pointers into it.  If httpd closed the connection before anyone
 * ran it (the client left during the hand-off), the handler still gets
 * on_close. */
static apr_status_t io_cleanup(void *data)
{
    ws_io_t *io = data;

    ws_session_end(io->ws);
    /* The connection is being destroyed, but c and its pool's memory are
     * still there (the later cleanups -- the socket's, mod_ssl's -- were
     * registered before this one and run after it). */
    ws_accesslog_write(io->ws, io->c);
    ws_registry_remove(io->ws);
    ws_session_unref(io->ws);
    return APR_SUCCESS;
}

ws_io_t *ws_io_create(ws_session_t *ws, conn_rec *c)
{
    ws_io_t *io = apr_pcalloc(c->pool, sizeof(*io));

    io->ws = ws_session_ref(ws);
    io->c = c;
    /* TLS filters (mod_ssl, mod_tls) and HTTP/2 streams may hold input
     * the socket does not show: read those until EAGAIN. */
    io->tls = ap_ssl_conn_is_ssl(c) || c->master != NULL;
    io->upgrade_eos = c->master != NULL;
    io->write_status = APR_SUCCESS;
    io->obb = apr_brigade_create(c->pool, c->bucket_alloc);
    io->ibb = apr_brigade_create(c->pool, c->bucket_alloc);
    io->tbb = apr_brigade_create(c->pool, c->bucket_alloc);
    ws_session_attach(ws, &sink_ops, io, apr_time_now());
    apr_pool_cleanup_register(c->pool, io, io_cleanup,
                              apr_pool_cleanup_null);
    allocator_lean(c);
    return io;
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

void ws_io_child_init(apr_pool_t *pchild)
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

/* A stop signal came while the connection ran: stop the child's sessions
 * (this one) now, in normal context. */
static void take_stop_signal(void)
{
    char drain[16];

    if (!caught_signal || ws_child_stopping_now()) {
        return;
    }
    while (read(stop_pipe[0], drain, sizeof(drain)) > 0) {
        continue;
    }
    ws_child_stopping(NULL, 0);
}

/* --- own thread --- */

/* The owner of one connection run on its own thread: a wake-up interrupts
 * its poll; there is no other session to be dirty. */
typedef struct {
    ws_owner_t owner;
    apr_pollset_t *ps;
    int woken;                  /* atomic: a wake-up is pending */
} thread_owner_t;

/* Called with the session's lock held, from any thread.  One wake-up
 * pending at most: the pollset's wake-up pipe (4 KB when the user has many
 * pipes) must never fill -- a sender blocked writing to it while holding
 * the session's lock would stop the owner, which may no longer be polling
 * (ending the session, it takes that lock), for good. */
static void thread_wake(ws_owner_t *owner, ws_session_t *ws, void *slot)
{
    thread_owner_t *me = (thread_owner_t *)owner;

    (void)ws; (void)slot;
    if (!__atomic_exchange_n(&me->woken, 1, __ATOMIC_ACQ_REL)) {
        apr_pollset_wakeup(me->ps);
    }
}

/* Poll what carries the connection's input: its socket, or the pipe
 * mod_http2 signals an HTTP/2 stream's input on (2.4.58 and later: an h2
 * stream's "socket" is the shared connection's, owned by another
 * thread). */
static apr_status_t add_input_pollfd(conn_rec *c, apr_pollset_t *ps,
                                     apr_pollfd_t *pfd, apr_pool_t *p)
{
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

void ws_io_run_thread(ws_io_t *io)
{
    conn_rec *c = io->c;
    thread_owner_t me;
    apr_pool_t *p;
    apr_pollfd_t pfd, spfd;
    apr_status_t rv;
    int input = 0;

    memset(&me, 0, sizeof(me));
    me.owner.wake = thread_wake;
    apr_pool_create(&p, c->pool);
    rv = apr_pollset_create(&me.ps, 2, p, APR_POLLSET_WAKEABLE);
    if (rv == APR_SUCCESS) {
        rv = add_input_pollfd(c, me.ps, &pfd, p);
        input = (rv == APR_SUCCESS && pfd.desc_type != APR_NO_DESC);
    }
    if (rv == APR_SUCCESS) {
        rv = add_stop_pollfd(me.ps, &spfd, p);
    }
    if (rv != APR_SUCCESS) {
        WS_SLOG(io->ws, APLOG_ERR, rv, 00031, "cannot poll the connection");
        end(io);
        apr_pool_destroy(p);
        return;
    }
    ws_owner_enter(&me.owner);
    if (ws_session_run(io->ws, &me.owner, NULL) == 0) {
        for (;;) {
            const apr_pollfd_t *out;
            apr_int32_t n;
            apr_int16_t want;

            take_stop_signal();
            if (!work(io, 1, apr_time_now(), 1)) {
                break;
            }
            want = (io->read_paused ? 0 : APR_POLLIN)
                   | (io->out_pending ? APR_POLLOUT : 0);
            if (input && pfd.desc_type == APR_POLL_SOCKET
                && want != pfd.reqevents) {
                apr_pollset_remove(me.ps, &pfd);
                pfd.reqevents = want;
                apr_pollset_add(me.ps, &pfd);
            }
            /* Input left unread (budget, flow control) is read at once. */
            rv = apr_pollset_poll(me.ps, io->busy ? 0
                                  : apr_time_from_msec(WS_TIMER_TICK_MS),
                                  &n, &out);
            /* The poll drained the wake-up pipe (if it woke us); mail
             * posted from now on wakes it again. */
            __atomic_store_n(&me.woken, 0, __ATOMIC_RELEASE);
            if (rv != APR_SUCCESS && !APR_STATUS_IS_EINTR(rv)
                && !APR_STATUS_IS_TIMEUP(rv)) {
                WS_SLOG(io->ws, APLOG_ERR, rv, 00033, "poll failed");
                break;
            }
        }
    }
    end(io);
    ws_owner_leave();
    apr_pool_destroy(p);
}

/* --- event loops --- */

/*
 * Memory of idle connections.  A connection's pool allocator keeps freed
 * blocks for reuse up to MaxMemFree (2 MB by default): the upgrade
 * request's pool and the 8 KB read buffers would stay with every idle
 * connection.  From the upgrade on (before the request's pool is freed)
 * its allocator keeps at most WS_LEAN_FREE, two 8 KB blocks: reads go
 * through one buffer at a time and are freed at once, so a busy
 * connection reuses the same blocks instead of paying an mmap/munmap pair
 * per block (Debian's APR maps each block).  A connection quiet for
 * WS_TRIM_AFTER gives those back too (trim()); it trims again after a
 * busy spell that carried data messages (not after pings and pongs).
 * `make bench` (idle) measures what this keeps.
 */
#define WS_LEAN_FREE  (2 * 8192)
#define WS_TRIM_AFTER apr_time_from_sec(1)

/* Keep at most WS_LEAN_FREE cached; called at the upgrade. */
static void allocator_lean(conn_rec *c)
{
    apr_allocator_t *a = apr_pool_allocator_get(c->pool);

    if (a) {
        apr_allocator_max_free_set(a, WS_LEAN_FREE);
    }
}

static void trim(ws_io_t *io)
{
    apr_allocator_t *a = apr_pool_allocator_get(io->c->pool);
    apr_memnode_t *held[WS_LEAN_FREE / 8192];
    int i, n = 0;

    if (!a) {
        return;
    }
    /* APR has no "release the free list": with nothing to be kept, take
     * as many blocks as may be cached and free them again. */
    apr_allocator_max_free_set(a, 1);
    for (i = 0; i < (int)(sizeof(held) / sizeof(held[0])); i++) {
        if ((held[n] = apr_allocator_alloc(a, APR_BUCKET_BUFF_SIZE))) {
            n++;
        }
    }
    while (n > 0) {
        apr_allocator_free(a, held[--n]);
    }
    apr_allocator_max_free_set(a, WS_LEAN_FREE);
}

/*
 * When the loop may destroy a connection it adopted (see
 * docs/INTERNALS.md, "The life of a connection", step 3).  Our
 * suspend_connection hook runs inside mpm_event's notify_suspend(), which,
 * after the hooks return,
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

static int release_safe(ws_io_t *io, apr_time_t now)
{
    return __atomic_load_n(&io->c->sbh, __ATOMIC_ACQUIRE) == NULL
           && now >= io->adopted_at + WS_ADOPT_GUARD;
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
static int linger(ws_io_t *io, apr_time_t now)
{
    conn_rec *c = io->c;
    apr_socket_t *sock = ap_get_conn_socket(c);
    int eof = 0;

    if (io->drained) {
        return !release_safe(io, now);
    }
    if (!io->shut_wr) {
        if (io->out_pending && io->write_status == APR_SUCCESS
            && now < io->linger_until) {
            push(io);
            if (io->out_pending) {
                return 1;
            }
        }
        io->shut_wr = 1;
        io->out_pending = 0;
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
    if (eof || now >= io->linger_until) {
        /* Nothing more to read: the loop stops polling the socket (which
         * would now be readable, at EOF, for ever) and only its tick
         * comes back, until release is safe. */
        io->drained = 1;
        return !release_safe(io, now);
    }
    return 1;
}

int ws_io_turn(ws_io_t *io, int readable, apr_time_t now, int push_now)
{
    if (io->linger_until) {
        return linger(io, now);
    }
    if (work(io, readable, now, push_now)) {
        return 1;
    }
    end(io);
    io->busy = 0;
    io->linger_until = now + WS_LINGER;
    return linger(io, now);
}

/* Has the connection carried data messages since it last gave memory
 * back (or never given any)?  A spell of pings and pongs leaves nothing
 * to give back (their frames come from the bucket allocator's small
 * blocks): trimming anyway maps two blocks and unmaps them, and an unmap
 * costs every CPU of the process a TLB flush; idle connections ping every
 * WebSocketPingInterval. */
static int trim_due(const ws_io_t *io)
{
    return ws_session_messages(io->ws) + 1 != io->trimmed_at;
}

int ws_io_tick(ws_io_t *io, apr_time_t now)
{
    int keep = ws_io_turn(io, 0, now, 1);

    if (keep && !io->linger_until && trim_due(io)
        && ws_session_quiet(io->ws, now, WS_TRIM_AFTER)) {
        ws_session_trim(io->ws);
        trim(io);
        io->trimmed_at = ws_session_messages(io->ws) + 1;
    }
    return keep;
}

apr_time_t ws_io_next_tick(const ws_io_t *io, apr_time_t now)
{
    if (io->linger_until || trim_due(io)) {
        return 0;
    }
    return ws_session_timers_next(io->ws, now);
}

int ws_io_adopted(ws_io_t *io, ws_owner_t *owner, void *slot,
                  apr_time_t now)
{
    io->adopted_at = now;
    ws_stats_add(WS_STAT_IN_LOOPS, 1);
    if (ws_session_run(io->ws, owner, slot) != 0) {
        end(io);
        io->linger_until = now + WS_LINGER;
        return linger(io, now);
    }
    /* The loop never blocks: reads and writes on this socket are
     * non-blocking from now on. */
    apr_socket_timeout_set(ap_get_conn_socket(io->c), 0);
    return ws_io_turn(io, 1, now, 1);
}

int ws_io_wants_write(const ws_io_t *io)
{
    return io->out_pending;
}

int ws_io_wants_read(const ws_io_t *io)
{
    return !io->read_paused;
}

int ws_io_busy(const ws_io_t *io)
{
    return io->busy;
}

int ws_io_drained(const ws_io_t *io)
{
    return io->drained;
}

int ws_io_fd(const ws_io_t *io)
{
    int fd = -1;

    apr_os_sock_get(&fd, ap_get_conn_socket(io->c));
    return fd;
}

void ws_io_goodbye(ws_io_t *io)
{
    if (!io->linger_until
        && ws_session_engine_state(io->ws) == WS_STATE_OPEN) {
        ws_session_goodbye(io->ws);
        push(io);
    }
}

void ws_io_finish_now(ws_io_t *io)
{
    if (!io->linger_until) {
        ws_io_goodbye(io);
        end(io);
    }
}

void ws_io_release(ws_io_t *io)
{
    ws_stats_add(WS_STAT_IN_LOOPS, (apr_uint64_t)-1);
    /* mpm_event's connection pool: destroying it closes the socket, runs
     * the connection's cleanups (io_cleanup: the session ends if it had
     * not, and is let go) and updates mpm_event's counts of suspended and
     * open connections. */
    apr_pool_destroy(io->c->pool);
}
