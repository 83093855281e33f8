/*
 * ws_loop.c -- mod_websocket's event loops (see ws_loop.h).
 *
 * One loop = one thread + one epoll set + an eventfd for wake-ups.  A loop
 * knows only its lists and readiness; what a turn does with a connection
 * is ws_io's business (ws_io_turn, ws_io_tick, ws_io_release).
 *
 * A loop's record of a connection (entry_t) lives in the session's owner
 * area, so it lives as long as the session, whoever still holds it.
 * Lists (an entry is on at most one of each):
 *   ready   entries to look at because another thread posted mail, or to
 *           adopt; guarded by the loop's lock (any thread appends); each
 *           presence holds a session reference
 *   again   entries whose last turn stopped at its read budget: they get
 *           another turn next round, after everyone else had theirs, and
 *           the loop does not sleep meanwhile; loop thread only
 *   dirty   entries that got output during this round from a callback of
 *           another session on the same loop; loop thread only
 *   owned   every entry the loop runs, for the timer tick; loop thread
 *           only
 *   leaving entries to release at the end of the round (this round's
 *           epoll events may still name them); loop thread only
 *
 * Fairness: a turn reads at most 256 KB and writes at most 512 KB (ws_io),
 * and an entry gets at most one turn per round (turn_round), however it
 * got on the lists.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "apr_atomic.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"
#include "http_core.h"

#include "ws_private.h"
#include "ws_loop.h"
#include "ws_child.h"
#include "ws_config.h"
#include "ws_session.h"

#define WS_LOOP_EVENTS 256

/* Turns whose output is written together (see turn()). */
#define WS_LOOP_PUSH_BATCH 32

typedef struct ws_loop ws_loop_t;

typedef struct entry {
    ws_io_t *io;
    ws_loop_t *loop;
    struct entry *ready_next;   /* the loop's lock */
    struct entry *again_next;
    struct entry *dirty_next;
    struct entry *leave_next;
    struct entry *prev, *next;  /* owned */
    unsigned epoll_events;      /* what epoll watches; 0: not in the set */
    unsigned turn_round;        /* the round of its last turn */
    apr_time_t next_tick;       /* ticks before it have nothing to do; 0:
                                 * look at the next (ws_io_next_tick) */
    unsigned char in_ready;     /* the loop's lock */
    unsigned char in_again;
    unsigned char in_dirty;
    unsigned char adopted;
    unsigned char leaving;
} entry_t;

/* The record must fit the room a session keeps for its owner. */
typedef char entry_fits[sizeof(entry_t) <= WS_SESSION_AREA ? 1 : -1];

struct ws_loop {
    ws_owner_t owner;           /* first: a ws_owner_t * is a ws_loop_t * */
    int idx;
    int epfd;
    int evfd;
    apr_thread_t *thread;
    pthread_mutex_t lock;       /* ready list, stop */
    entry_t *ready_head;
    entry_t *ready_tail;
    int stop;
    int stop_sessions;          /* atomic: close every session now */
    int said_goodbye;           /* loop thread only */
    unsigned round;             /* loop thread only */
    entry_t *again;             /* loop thread only */
    entry_t *dirty;             /* loop thread only */
    int ndirty;                 /* entries on it */
    entry_t *owned;             /* loop thread only */
    entry_t *leaving;           /* loop thread only */
};

static ws_loop_t *loops;
static int nloops;
static apr_uint32_t next_loop;

static ws_session_t *session_of(entry_t *e)
{
    return ws_session_from_area(e, WS_AREA_OWNER);
}

int ws_loop_available(void)
{
    return nloops > 0;
}

int ws_loop_count(void)
{
    return nloops;
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

/* Any thread: put e on l's ready list (once) and wake l. */
static void notify(ws_loop_t *l, entry_t *e)
{
    int was_empty;

    pthread_mutex_lock(&l->lock);
    if (e->in_ready) {
        pthread_mutex_unlock(&l->lock);
        return;
    }
    ws_session_ref(session_of(e));
    e->in_ready = 1;
    e->ready_next = NULL;
    was_empty = l->ready_head == NULL;
    if (l->ready_tail) {
        l->ready_tail->ready_next = e;
    }
    else {
        l->ready_head = e;
    }
    l->ready_tail = e;
    pthread_mutex_unlock(&l->lock);
    if (was_empty) {
        wake(l);
    }
}

/* ws_owner_t: another thread mailed to a session of this loop. */
static void owner_wake(ws_owner_t *owner, ws_session_t *ws, void *slot)
{
    (void)ws;
    notify((ws_loop_t *)owner, slot);
}

/* ws_owner_t: the loop thread, from another session's callback: push
 * this one's output at the end of the round. */
static void owner_dirty(ws_owner_t *owner, ws_session_t *ws, void *slot)
{
    ws_loop_t *l = (ws_loop_t *)owner;
    entry_t *e = slot;

    (void)ws;
    if (!e->in_dirty) {
        e->in_dirty = 1;
        e->dirty_next = l->dirty;
        l->dirty = e;
        l->ndirty++;
    }
}

int ws_loop_adopt(ws_io_t *io)
{
    ws_session_t *ws = ws_io_session(io);
    entry_t *e = ws_session_area(ws, WS_AREA_OWNER);
    ws_loop_t *l;

    if (!nloops) {
        return -1;
    }
    l = &loops[apr_atomic_inc32(&next_loop) % (apr_uint32_t)nloops];
    memset(e, 0, sizeof(*e));
    e->io = io;
    e->loop = l;
    ws_session_ref(ws);         /* the loop's own reference */
    notify(l, e);
    return 0;
}

/* --- the loop thread --- */

static void set_events(ws_loop_t *l, entry_t *e)
{
    struct epoll_event ev;
    unsigned events = (ws_io_wants_read(e->io) ? EPOLLIN | EPOLLRDHUP : 0)
                      | (ws_io_wants_write(e->io) ? EPOLLOUT : 0);
    int fd = ws_io_fd(e->io);

    if (ws_io_drained(e->io)) {
        /* Closed and drained: only the tick looks at it any more. */
        if (e->epoll_events) {
            epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
            e->epoll_events = 0;
        }
        return;
    }
    if (events == e->epoll_events) {
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.events = events;
    ev.data.ptr = e;
    if (epoll_ctl(l->epfd, e->epoll_events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD,
                  fd, &ev) != 0) {
        WS_SLOG(session_of(e), APLOG_ERR, errno, 00061, "epoll_ctl failed");
    }
    e->epoll_events = events;
}

static void own(ws_loop_t *l, entry_t *e)
{
    e->prev = NULL;
    e->next = l->owned;
    if (l->owned) {
        l->owned->prev = e;
    }
    l->owned = e;
}

static void disown(ws_loop_t *l, entry_t *e)
{
    if (e->epoll_events) {
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, ws_io_fd(e->io), NULL);
        e->epoll_events = 0;
    }
    if (e->prev) {
        e->prev->next = e->next;
    }
    else {
        l->owned = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    }
    e->prev = e->next = NULL;
}

/* After a turn: keep polling, or let the connection go -- at the end of
 * the round, since this round's epoll events may still name it. */
static void settle(ws_loop_t *l, entry_t *e, int keep)
{
    if (e->leaving) {
        return;
    }
    if (keep) {
        /* Writability only while output waits: EPOLLOUT is level-triggered
         * and would otherwise wake us without end. */
        set_events(l, e);
        if (ws_io_busy(e->io) && !e->in_again) {
            e->in_again = 1;
            e->again_next = l->again;
            l->again = e;
        }
        return;
    }
    e->leaving = 1;
    e->leave_next = l->leaving;
    l->leaving = e;
    if (e->in_again) {
        /* Released at the end of this round: off the list of the next. */
        entry_t **pe;

        for (pe = &l->again; *pe; pe = &(*pe)->again_next) {
            if (*pe == e) {
                *pe = e->again_next;
                break;
            }
        }
        e->in_again = 0;
    }
}

static void push_dirty(ws_loop_t *l);

/* One turn of e, at most one per round (ticks aside). */
static void turn(ws_loop_t *l, entry_t *e, int readable, apr_time_t now)
{
    if (e->turn_round == l->round) {
        return;
    }
    e->turn_round = l->round;
    e->next_tick = 0;           /* its timers may have moved */
    settle(l, e, ws_io_turn(e->io, readable, now, 0));
    /* Its output goes with others', WS_LOOP_PUSH_BATCH turns at a time
     * (or at the end of the round): a peer woken by the first answer
     * finds the next ones there, where one write per turn would wake it
     * each time; a batch keeps the sessions in the cache between their
     * turn and their write, and the first answer from waiting for a
     * whole round of thousands (a broadcast). */
    owner_dirty(&l->owner, NULL, e);
    if (l->ndirty >= WS_LOOP_PUSH_BATCH) {
        push_dirty(l);
    }
}

/* The turns cut short last round, now that everyone had one. */
static void run_again(ws_loop_t *l, apr_time_t now)
{
    entry_t *e = l->again, *next;

    l->again = NULL;
    for (; e; e = next) {
        next = e->again_next;
        e->in_again = 0;
        if (!e->leaving) {
            turn(l, e, 0, now);
        }
    }
}

static void release_leaving(ws_loop_t *l)
{
    entry_t *e = l->leaving, *next;

    l->leaving = NULL;
    for (; e; e = next) {
        ws_session_t *ws = session_of(e);

        next = e->leave_next;
        disown(l, e);
        ws_io_release(e->io);   /* destroys the connection */
        ws_session_unref(ws);   /* the loop's reference */
    }
}

static void take_ready(ws_loop_t *l, apr_time_t now)
{
    entry_t *e, *next;

    pthread_mutex_lock(&l->lock);
    e = l->ready_head;
    l->ready_head = l->ready_tail = NULL;
    pthread_mutex_unlock(&l->lock);

    for (; e; e = next) {
        ws_session_t *ws = session_of(e);

        /* Read the link and clear the flag together, under the lock: from
         * here another thread may queue e again (on the new list), which
         * rewrites e->ready_next. */
        pthread_mutex_lock(&l->lock);
        next = e->ready_next;
        e->in_ready = 0;
        pthread_mutex_unlock(&l->lock);
        if (!e->adopted) {
            e->adopted = 1;
            e->turn_round = l->round;
            own(l, e);
            settle(l, e, ws_io_adopted(e->io, &l->owner, e, now));
        }
        else if (!e->leaving) {
            turn(l, e, 0, now);
        }
        ws_session_unref(ws);   /* the ready list's reference */
    }
}

static void push_dirty(ws_loop_t *l)
{
    entry_t *e = l->dirty, *next;

    l->dirty = NULL;
    l->ndirty = 0;
    for (; e; e = next) {
        next = e->dirty_next;
        e->in_dirty = 0;
        if (!e->leaving) {
            ws_io_push(e->io);
            set_events(l, e);
        }
    }
}

/* Every WS_TIMER_TICK_MS: the timers of the sessions that may have one
 * due.  A session that had no turn since its last tick and whose timers
 * say nothing is due yet is skipped (an idle one is looked at when its
 * ping is due, not four times a second); while the child stops, all are
 * looked at (the stop moves everyone's deadline). */
static void tick(ws_loop_t *l, apr_time_t now)
{
    entry_t *e = l->owned, *next;
    ws_timer_stop_t stop;
    int stopping;

    ws_child_stop_state(&stop, now);
    stopping = stop.now || stop.graceful_since;
    for (; e; e = next) {
        next = e->next;
        if (e->leaving || (!stopping && e->next_tick > now)) {
            continue;
        }
        e->turn_round = l->round;
        settle(l, e, ws_io_tick(e->io, now));
        if (!e->leaving) {
            e->next_tick = ws_io_next_tick(e->io, now);
        }
    }
}

/* The child stops at once (child_stopping, not graceful): every session
 * closes with 1001 now; the closing handshakes go on normally. */
static void goodbye_all(ws_loop_t *l)
{
    entry_t *e;

    for (e = l->owned; e; e = e->next) {
        if (!e->leaving) {
            ws_io_goodbye(e->io);
            set_events(l, e);
        }
    }
}

/* The loop exits (the child's pchild is going away): every session still
 * running says goodbye and ends, its handler's on_close before the
 * handlers' fini. */
static void finish_all(ws_loop_t *l)
{
    entry_t *e;

    for (e = l->owned; e; e = e->next) {
        if (!e->leaving) {
            ws_io_finish_now(e->io);
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

    ws_owner_enter(&l->owner);
    for (;;) {
        int n, i, stop;
        apr_time_t now;

        /* Turns cut short wait for nothing but this round's events. */
        n = epoll_wait(l->epfd, evs, WS_LOOP_EVENTS,
                       l->again ? 0 : WS_TIMER_TICK_MS);
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
            entry_t *e = evs[i].data.ptr;

            if (!e) {
                uint64_t count;

                if (read(l->evfd, &count, sizeof(count)) < 0) {
                    /* EAGAIN: another wake-up consumed it. */
                }
                take_ready(l, now);
                continue;
            }
            if (!e->adopted || e->leaving) {
                continue;
            }
            turn(l, e, (evs[i].events & ~EPOLLOUT) != 0, now);
        }
        run_again(l, now);
        push_dirty(l);
        if (now - last_tick >= apr_time_from_msec(WS_TIMER_TICK_MS)) {
            last_tick = now;
            tick(l, now);
            push_dirty(l);
        }
        release_leaving(l);
    }
    take_ready(l, apr_time_now());
    finish_all(l);
    ws_owner_leave();
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

/* A cgroup v2 CPU quota on this process ("200000 100000" in cpu.max:
 * two CPUs' worth), rounded up; 0 if none or unknown. */
static int cgroup_cpus(void)
{
    char line[512], path[600];
    long quota, period;
    FILE *f;
    int n = 0;

    f = fopen("/proc/self/cgroup", "r");
    if (!f) {
        return 0;
    }
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "0::", 3)) {
            line[strcspn(line, "\n")] = '\0';
            apr_snprintf(path, sizeof(path), "/sys/fs/cgroup%s/cpu.max",
                         line + 3);
            n = 1;
            break;
        }
    }
    fclose(f);
    if (!n || !(f = fopen(path, "r"))) {
        return 0;
    }
    n = 0;
    if (fscanf(f, "%ld %ld", &quota, &period) == 2 && quota > 0
        && period > 0) {
        n = (int)((quota + period - 1) / period);
    }
    fclose(f);
    return n;
}

/* The CPUs this process may run on: its affinity mask (taskset, systemd's
 * CPUAffinity) and its cgroup's quota, not every CPU online -- two loops
 * on one usable CPU only take turns. */
static int usable_cpus(void)
{
    cpu_set_t set;
    int n = 0, quota = cgroup_cpus();

    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        n = CPU_COUNT(&set);
    }
    if (n < 1) {
        long online = sysconf(_SC_NPROCESSORS_ONLN);

        n = online < 1 ? 1 : (int)online;
    }
    return quota > 0 && quota < n ? quota : n;
}

void ws_loop_child_init(apr_pool_t *pchild, server_rec *s)
{
    int want = ws_event_loops, i;

    if (want <= 0) {
        int cpus = usable_cpus();

        want = cpus > 8 ? 8 : cpus;
    }
    loops = apr_pcalloc(pchild, sizeof(*loops) * (size_t)want);
    for (i = 0; i < want; i++) {
        ws_loop_t *l = &loops[i];
        struct epoll_event ev;
        apr_status_t rv;

        l->owner.wake = owner_wake;
        l->owner.dirty = owner_dirty;
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
