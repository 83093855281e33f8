/*
 * ws_loop.c -- mod_websocket's event loops (see ws_loop.h).
 *
 * One loop = one thread + one epoll set + an eventfd for wake-ups.  A loop
 * knows only lists and readiness; what a turn does with a connection is
 * ws_io's business (ws_io_turn, ws_io_tick, ws_io_release).
 *
 * Lists (a session is on at most one of each):
 *   ready   sessions to look at because another thread posted mail, or to
 *           adopt; guarded by the loop's lock (any thread appends)
 *   again   sessions whose last turn stopped at its read budget: they get
 *           another turn next round, after everyone else had theirs, and
 *           the loop does not sleep meanwhile; loop thread only
 *   dirty   sessions that got output during this round from a callback of
 *           another session on the same loop; loop thread only
 *   owned   every session the loop runs, for the timer tick; loop thread
 *           only
 *
 * Fairness: a turn reads at most WS_READ_BUDGET bytes (ws_io.c) and writes
 * at most WS_PUSH_BUDGET (ws_session.c); a session gets at most one turn
 * per round (turn_round), however it got on the lists.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "apr_atomic.h"
#include "apr_thread_proc.h"
#include "apr_portable.h"
#include "http_core.h"

#include "ws_private.h"
#include "ws_loop.h"
#include "ws_io.h"
#include "ws_session.h"
#include "ws_stats.h"

#define WS_LOOP_EVENTS 256

struct ws_loop {
    int idx;
    int epfd;
    int evfd;
    apr_thread_t *thread;
    apr_os_thread_t tid;
    pthread_mutex_t lock;       /* ready list, stop */
    ws_session_t *ready_head;
    ws_session_t *ready_tail;
    int stop;
    int stop_sessions;          /* atomic: close every session now */
    int said_goodbye;           /* loop thread only */
    unsigned round;             /* loop thread only */
    ws_session_t *again;        /* loop thread only */
    ws_session_t *dirty;        /* loop thread only */
    ws_session_t *owned;        /* loop thread only */
    ws_session_t *leaving;      /* loop thread only: release after the round */
};


static ws_loop_t *loops;
static int nloops;
static apr_uint32_t next_loop;

int ws_loop_available(void)
{
    return nloops > 0;
}

static void wake(ws_loop_t *l)
{
    uint64_t one = 1;

    /* EAGAIN means the counter is already non-zero: awake anyway. */
    if (write(l->evfd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
        ap_log_error(APLOG_MARK, APLOG_ERR, errno, NULL, WSLOGNO(00060)
                     "cannot wake WebSocket event loop %d", l->idx);
    }
}

void ws_loop_notify(ws_session_t *ws)
{
    ws_loop_t *l = ws->loop;
    int was_empty;

    if (!l) {
        return;
    }
    pthread_mutex_lock(&l->lock);
    if (ws->in_ready) {
        pthread_mutex_unlock(&l->lock);
        return;
    }
    ws_session_ref(ws);
    ws->in_ready = 1;
    ws->ready_next = NULL;
    was_empty = l->ready_head == NULL;
    if (l->ready_tail) {
        l->ready_tail->ready_next = ws;
    }
    else {
        l->ready_head = ws;
    }
    l->ready_tail = ws;
    pthread_mutex_unlock(&l->lock);
    if (was_empty) {
        wake(l);
    }
}

int ws_loop_adopt(ws_session_t *ws)
{
    if (!nloops) {
        return -1;
    }
    ws->loop = &loops[apr_atomic_inc32(&next_loop) % (apr_uint32_t)nloops];
    ws_session_ref(ws);         /* the loop's own reference */
    ws_loop_notify(ws);
    return 0;
}

void ws_loop_dirty(ws_session_t *ws)
{
    ws_loop_t *l = ws->loop;

    if (l && !ws->in_dirty) {
        ws->in_dirty = 1;
        ws->dirty_next = l->dirty;
        l->dirty = ws;
    }
}

/* --- the loop thread --- */

static void set_events(ws_loop_t *l, ws_session_t *ws, int want_out)
{
    struct epoll_event ev;
    unsigned events = EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0);
    int fd;

    if (ws->linger_done) {
        /* Closed and drained: only the tick looks at it any more. */
        if (ws->epoll_events) {
            apr_os_sock_get(&fd, ap_get_conn_socket(ws->c));
            epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
            ws->epoll_events = 0;
        }
        return;
    }
    if (events == ws->epoll_events) {
        return;
    }
    apr_os_sock_get(&fd, ap_get_conn_socket(ws->c));
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = ws;
    if (epoll_ctl(l->epfd, ws->epoll_events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
                  fd, &ev) != 0) {
        ap_log_cerror(APLOG_MARK, APLOG_ERR, errno, ws->c, WSLOGNO(00061)
                      "[ws %lu %s] epoll_ctl failed", ws->id, ws->path);
    }
    ws->epoll_events = events;
}

static void own(ws_loop_t *l, ws_session_t *ws)
{
    ws->lprev = NULL;
    ws->lnext = l->owned;
    if (l->owned) {
        l->owned->lprev = ws;
    }
    l->owned = ws;
}

static void disown(ws_loop_t *l, ws_session_t *ws)
{
    int fd;

    apr_os_sock_get(&fd, ap_get_conn_socket(ws->c));
    if (ws->epoll_events) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        ws->epoll_events = 0;
    }
    if (ws->lprev) {
        ws->lprev->lnext = ws->lnext;
    }
    else {
        l->owned = ws->lnext;
    }
    if (ws->lnext) {
        ws->lnext->lprev = ws->lprev;
    }
    ws->lprev = ws->lnext = NULL;
}

/* After a turn: keep polling, or let the connection go -- at the end of
 * the round, since this round's epoll events may still name it. */
static void settle(ws_loop_t *l, ws_session_t *ws, int keep)
{
    if (ws->leaving) {
        return;
    }
    if (keep) {
        /* Writability only while output waits: EPOLLOUT is level-triggered
         * and would otherwise wake us without end. */
        set_events(l, ws, ws->out_pending);
        return;
    }
    ws->leaving = 1;
    ws->leave_next = l->leaving;
    l->leaving = ws;
}

/* One turn of ws, at most one per round. */
static void turn(ws_loop_t *l, ws_session_t *ws, int readable, apr_time_t now,
                 int tick)
{
    int keep;

    if (ws->turn_round == l->round && !tick) {
        return;
    }
    ws->turn_round = l->round;
    keep = tick ? ws_io_tick(ws, now) : ws_io_turn(ws, readable, now);
    settle(l, ws, keep);
    if (keep && ws->busy && !ws->in_again) {
        ws->in_again = 1;
        ws->again_next = l->again;
        l->again = ws;
    }
}

/* The turns cut short last round, now that everyone had one. */
static void run_again(ws_loop_t *l, apr_time_t now)
{
    ws_session_t *ws = l->again, *next;

    l->again = NULL;
    for (; ws; ws = next) {
        next = ws->again_next;
        ws->in_again = 0;
        if (!ws->leaving) {
            turn(l, ws, 0, now, 0);
        }
    }
}

static void release_leaving(ws_loop_t *l)
{
    ws_session_t *ws = l->leaving, *next;

    l->leaving = NULL;
    for (; ws; ws = next) {
        next = ws->leave_next;
        disown(l, ws);
        ws_io_release(ws);      /* destroys the connection */
        ws_session_unref(ws);   /* the loop's reference */
    }
}

static void take_ready(ws_loop_t *l, apr_time_t now)
{
    ws_session_t *ws, *next;

    pthread_mutex_lock(&l->lock);
    ws = l->ready_head;
    l->ready_head = l->ready_tail = NULL;
    pthread_mutex_unlock(&l->lock);

    for (; ws; ws = next) {
        /* Read the link and clear the flag together, under the lock: from
         * here another thread may queue ws again (on the new list), which
         * rewrites ws->ready_next. */
        pthread_mutex_lock(&l->lock);
        next = ws->ready_next;
        ws->in_ready = 0;
        pthread_mutex_unlock(&l->lock);
        if (!ws->adopted) {
            ws->adopted = 1;
            ws->adopted_at = now;
            ws->turn_round = l->round;
            own(l, ws);
            settle(l, ws, ws_io_adopted(ws));
        }
        else if (!ws->leaving) {
            turn(l, ws, 0, now, 0);
        }
        ws_session_unref(ws);   /* the ready list's reference */
    }
}

static void push_dirty(ws_loop_t *l)
{
    ws_session_t *ws = l->dirty, *next;

    l->dirty = NULL;
    for (; ws; ws = next) {
        next = ws->dirty_next;
        ws->in_dirty = 0;
        if (!ws->linger_until && !ws->leaving) {
            ws_session_push(ws);
            set_events(l, ws, ws->out_pending);
        }
    }
}

static void tick(ws_loop_t *l, apr_time_t now)
{
    ws_session_t *ws = l->owned, *next;

    for (; ws; ws = next) {
        next = ws->lnext;
        if (!ws->leaving) {
            turn(l, ws, 0, now, 1);
        }
    }
}

/* The child stops at once (child_stopping, not graceful): every session
 * closes with 1001 now; the closing handshakes go on normally. */
static void goodbye_all(ws_loop_t *l)
{
    ws_session_t *ws;

    for (ws = l->owned; ws; ws = ws->lnext) {
        if (!ws->leaving) {
            ws_io_goodbye(ws);
            set_events(l, ws, ws->out_pending);
        }
    }
}

/* The loop exits (the child's pchild is going away): every session still
 * running says goodbye and ends, its handler's on_close before the
 * handlers' fini. */
static void finish_all(ws_loop_t *l)
{
    ws_session_t *ws;

    for (ws = l->owned; ws; ws = ws->lnext) {
        if (!ws->leaving) {
            ws_io_finish_now(ws);
        }
    }
}

void ws_loop_stop_sessions(void)
{
    int i;

    for (i = 0; i < nloops; i++) {
        __atomic_store_n(&loops[i].stop_sessions, 1, __ATOMIC_RELEASE);
        wake(&loops[i]);
    }
}

static void *APR_THREAD_FUNC loop_main(apr_thread_t *thd, void *data)
{
    ws_loop_t *l = data;
    struct epoll_event evs[WS_LOOP_EVENTS];
    apr_time_t last_tick = apr_time_now();

    l->tid = apr_os_thread_current();
    for (;;) {
        int n, i, stop;
        apr_time_t now;

        /* Turns cut short wait for nothing but this round's events. */
        n = epoll_wait(l->epfd, evs, WS_LOOP_EVENTS,
                       l->again ? 0 : WS_TICK_MS);
        now = apr_time_now();
        pthread_mutex_lock(&l->lock);
        stop = l->stop;
        pthread_mutex_unlock(&l->lock);
        if (stop) {
            break;
        }
        l->round++;
        if (!l->said_goodbye
            && __atomic_load_n(&l->stop_sessions, __ATOMIC_ACQUIRE)) {
            l->said_goodbye = 1;
            goodbye_all(l);
        }
        for (i = 0; i < n; i++) {
            ws_session_t *ws = evs[i].data.ptr;

            if (!ws) {
                uint64_t count;

                if (read(l->evfd, &count, sizeof(count)) < 0) {
                    /* EAGAIN: another wake-up consumed it. */
                }
                take_ready(l, now);
                continue;
            }
            if (!ws->adopted || ws->leaving) {
                continue;
            }
            turn(l, ws, (evs[i].events & ~EPOLLOUT) != 0, now, 0);
        }
        run_again(l, now);
        push_dirty(l);
        if (now - last_tick >= apr_time_from_msec(WS_TICK_MS)) {
            last_tick = now;
            tick(l, now);
            push_dirty(l);
        }
        release_leaving(l);
    }
    take_ready(l, apr_time_now());
    finish_all(l);
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

static apr_status_t loops_stop(void *data)
{
    int i;
    apr_status_t rv;

    (void)data;
    for (i = 0; i < nloops; i++) {
        pthread_mutex_lock(&loops[i].lock);
        loops[i].stop = 1;
        pthread_mutex_unlock(&loops[i].lock);
        wake(&loops[i]);
    }
    for (i = 0; i < nloops; i++) {
        apr_thread_join(&rv, loops[i].thread);
    }
    nloops = 0;
    return APR_SUCCESS;
}

void ws_loop_child_init(apr_pool_t *pchild, server_rec *s)
{
    int want = ws_event_loops, i;

    if (want <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);

        want = cpus < 1 ? 1 : cpus > 8 ? 8 : (int)cpus;
    }
    loops = apr_pcalloc(pchild, sizeof(*loops) * (size_t)want);
    for (i = 0; i < want; i++) {
        ws_loop_t *l = &loops[i];
        struct epoll_event ev;
        apr_status_t rv;

        l->idx = i;
        pthread_mutex_init(&l->lock, NULL);
        l->epfd = epoll_create1(EPOLL_CLOEXEC);
        l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        memset(&ev, 0, sizeof(ev));
        ev.events = EPOLLIN;
        ev.data.ptr = NULL;
        if (l->epfd < 0 || l->evfd < 0
            || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->evfd, &ev) != 0) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, errno, s, WSLOGNO(00062)
                         "cannot set up WebSocket event loop %d", i);
            break;
        }
        rv = apr_thread_create(&l->thread, NULL, loop_main, l, pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, WSLOGNO(00063)
                         "cannot start WebSocket event loop %d", i);
            break;
        }
        nloops = i + 1;
    }
    if (nloops < want) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, WSLOGNO(00064)
                     "%d of %d WebSocket event loops started in this child%s",
                     nloops, want, nloops ? "" : ": connections will each "
                     "keep a thread");
    }
    /* Joined before pchild's subpools (the threads') are destroyed. */
    apr_pool_pre_cleanup_register(pchild, NULL, loops_stop);
}
