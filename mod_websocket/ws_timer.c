/*
 * ws_timer.c -- the per-child timer thread and the registry of sessions.
 *
 * httpd 2.4 cannot wake a parked connection for us, and a parked
 * connection has no thread of its own, so one thread per child does the
 * time-driven work for all of them (see ws_timer.h).  It only ever touches
 * a session under the session's lock and only while it is PARKED, so it
 * never races the worker that runs it; everything it writes is
 * non-blocking.
 */
#include <stdlib.h>

#include "apr_thread_proc.h"
#include "apr_thread_cond.h"
#include "apr_thread_mutex.h"
#include "ap_mpm.h"
#include "http_core.h"

#include "ws_private.h"
#include "ws_timer.h"
#include "ws_session.h"
#include "ws_io.h"
#include "ws_stats.h"

static apr_thread_mutex_t *reg_lock;
static apr_thread_cond_t *reg_cond;
static ws_session_t *reg_head;
static int reg_count;
static int reg_stop;
static apr_thread_t *timer_thread;
static apr_time_t stopping_since;

apr_time_t ws_timer_stopping_since(void)
{
    return __atomic_load_n(&stopping_since, __ATOMIC_RELAXED);
}

void ws_timer_add(ws_session_t *ws)
{
    if (!reg_lock) {
        return;
    }
    ws_session_ref(ws);
    apr_thread_mutex_lock(reg_lock);
    ws->prev = NULL;
    ws->next = reg_head;
    if (reg_head) {
        reg_head->prev = ws;
    }
    reg_head = ws;
    reg_count++;
    apr_thread_mutex_unlock(reg_lock);
}

void ws_timer_remove(ws_session_t *ws)
{
    int found = 0;

    if (!reg_lock) {
        return;
    }
    apr_thread_mutex_lock(reg_lock);
    if (ws->prev || ws->next || reg_head == ws) {
        if (ws->prev) {
            ws->prev->next = ws->next;
        }
        else {
            reg_head = ws->next;
        }
        if (ws->next) {
            ws->next->prev = ws->prev;
        }
        ws->prev = ws->next = NULL;
        reg_count--;
        found = 1;
    }
    apr_thread_mutex_unlock(reg_lock);
    if (found) {
        ws_session_unref(ws);
    }
}

/* Close TCP under a parked connection: mpm_event sees the socket readable
 * (EOF) and hands it to a worker, which finds ws->kill. */
static void kill_parked(ws_session_t *ws)
{
    ws->kill = 1;
    apr_socket_shutdown(ap_get_conn_socket(ws->c), APR_SHUTDOWN_READWRITE);
}

static void visit(ws_session_t *ws, apr_time_t now)
{
    pthread_mutex_lock(&ws->lock);
    if (ws->io_state == WS_IO_PARKED && !ws->kill) {
        int kill = ws_session_tick(ws, now);

        if (!kill && (ws->out_pending || !APR_BRIGADE_EMPTY(ws->obb))) {
            kill = ws_session_push(ws) != APR_SUCCESS;
        }
        if (kill) {
            kill_parked(ws);
        }
        else if (ws->async && !ws->trimmed
                 && now - ws->last_rx > WS_TRIM_AFTER
                 && now - ws->last_msg > WS_TRIM_AFTER) {
            ws_io_trim(ws);
            ws->trimmed = 1;
        }
    }
    pthread_mutex_unlock(&ws->lock);
}

static void *APR_THREAD_FUNC timer_main(apr_thread_t *thd, void *data)
{
    ws_session_t **snap = NULL;
    int cap = 0;

    (void)data;
    apr_thread_mutex_lock(reg_lock);
    while (!reg_stop) {
        apr_time_t now;
        int state = AP_MPMQ_RUNNING, n = 0, i;
        ws_session_t *ws;

        apr_thread_cond_timedwait(reg_cond, reg_lock, WS_TIMER_TICK);
        if (reg_stop) {
            break;
        }
        now = apr_time_now();
        if (ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS
            && state == AP_MPMQ_STOPPING && !ws_timer_stopping_since()) {
            __atomic_store_n(&stopping_since, now, __ATOMIC_RELAXED);
        }
        /* Visit a snapshot, holding a reference on each, so the registry
         * lock is not held while visiting. */
        if (reg_count > cap) {
            ws_session_t **bigger = realloc(snap, sizeof(*snap)
                                                  * (size_t)reg_count * 2);

            if (!bigger) {
                continue;
            }
            snap = bigger;
            cap = reg_count * 2;
        }
        for (ws = reg_head; ws; ws = ws->next) {
            snap[n++] = ws_session_ref(ws);
        }
        apr_thread_mutex_unlock(reg_lock);
        for (i = 0; i < n; i++) {
            visit(snap[i], now);
            ws_session_unref(snap[i]);
        }
        apr_thread_mutex_lock(reg_lock);
    }
    apr_thread_mutex_unlock(reg_lock);
    free(snap);
    apr_thread_exit(thd, APR_SUCCESS);
    return NULL;
}

static apr_status_t timer_stop(void *data)
{
    apr_status_t rv;

    (void)data;
    if (!timer_thread) {
        return APR_SUCCESS;
    }
    apr_thread_mutex_lock(reg_lock);
    reg_stop = 1;
    apr_thread_cond_signal(reg_cond);
    apr_thread_mutex_unlock(reg_lock);
    apr_thread_join(&rv, timer_thread);
    timer_thread = NULL;
    return APR_SUCCESS;
}

/*
 * The child is exiting (pchild is being destroyed; under prefork from a
 * signal handler, on the very thread a connection may be waiting on).
 * Connections' pools are about to go away while handler threads may still
 * send: declare every session DEAD first, so that from here on sends
 * return WS_ECLOSED instead of touching freed memory.
 */
static apr_status_t child_exit(void *data)
{
    ws_session_t *ws;

    timer_stop(data);
    apr_thread_mutex_lock(reg_lock);
    for (ws = reg_head; ws; ws = ws->next) {
        pthread_mutex_lock(&ws->lock);
        ws->io_state = WS_IO_DEAD;
        ws->wakeup = NULL;
        pthread_mutex_unlock(&ws->lock);
    }
    apr_thread_mutex_unlock(reg_lock);
    return APR_SUCCESS;
}

void ws_timer_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_status_t rv;

    apr_thread_mutex_create(&reg_lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    apr_thread_cond_create(&reg_cond, pchild);
    rv = apr_thread_create(&timer_thread, NULL, timer_main, NULL, pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, WSLOGNO(00050)
                     "cannot start the WebSocket timer thread: parked "
                     "connections get no pings or timeouts in this child");
        timer_thread = NULL;
        return;
    }
    /* A pre-cleanup: the thread must be joined before APR destroys pchild's
     * subpools, the thread's own among them (prefork crashed otherwise). */
    apr_pool_pre_cleanup_register(pchild, NULL, child_exit);
}
