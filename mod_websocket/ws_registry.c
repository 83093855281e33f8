/*
 * ws_registry.c -- every session of this httpd child, and its stopping
 * (see ws_registry.h).
 *
 * How the child's end reaches each session, by MPM:
 *   event, loops   child_stopping (ungraceful) -> every loop closes its
 *                  sessions with 1001 now; the loops' pchild pre-cleanup
 *                  ends what is left (ws_loop.c).
 *   worker, event  the MPM closes its workers' sockets, then calls
 *   (own thread)   child_stopping; each session's thread sees EOF or the
 *                  stop flag and ends it; the MPM joins its workers
 *                  before destroying pchild.
 *   prefork        SIGTERM is caught while a WebSocket runs (ws_io.c), so
 *                  the session ends in normal context before httpd's own
 *                  handler runs the pchild cleanups from the signal.
 *   HTTP/2         the stream's h2 worker sees the stop flag.
 * child_exit (a pchild pre-cleanup, after the loops') then waits, briefly
 * and bounded, for what is left, and never takes a lock when nothing is
 * left: under prefork it runs inside a signal handler.
 */
#include <unistd.h>

#include "apr_thread_mutex.h"
#include "ap_mpm.h"
#include "http_core.h"
#include "scoreboard.h"

#include "ws_private.h"
#include "ws_registry.h"
#include "ws_io.h"
#include "ws_loop.h"
#include "ws_session.h"

/* How long child exit waits for sessions whose owner is still running
 * (an HTTP/2 stream's worker, say) to end them. */
#define WS_EXIT_WAIT apr_time_from_sec(2)

static apr_thread_mutex_t *reg_lock;
static ws_session_t *reg_head;
static apr_uint32_t reg_count;          /* atomic */
static apr_time_t stopping_since;       /* atomic */
static apr_time_t last_query;           /* atomic */
static int stop_now;                    /* atomic */

apr_time_t ws_registry_stopping_since(apr_time_t now)
{
    apr_time_t t = __atomic_load_n(&stopping_since, __ATOMIC_RELAXED);
    int state = AP_MPMQ_RUNNING;

    /* Called on every turn of every connection: ask the MPM (a hook run)
     * at most once per tick.  Races here only cost an extra query.
     * child_stopping tells event and worker; prefork's graceful stop is
     * only visible here. */
    if (t || now - __atomic_load_n(&last_query, __ATOMIC_RELAXED)
             < apr_time_from_msec(WS_TICK_MS)) {
        return t;
    }
    __atomic_store_n(&last_query, now, __ATOMIC_RELAXED);
    if (ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS
        && state == AP_MPMQ_STOPPING) {
        apr_time_t zero = 0;

        t = now;
        if (!__atomic_compare_exchange_n(&stopping_since, &zero, t, 0,
                                         __ATOMIC_RELAXED,
                                         __ATOMIC_RELAXED)) {
            t = zero;
        }
    }
    return t;
}

int ws_registry_stopping_now(void)
{
    return __atomic_load_n(&stop_now, __ATOMIC_ACQUIRE);
}

const char *ws_registry_stop_reason(void)
{
    int mine = 0;

    /* A graceful restart starts a new generation of children. */
    if (ap_scoreboard_image
        && ap_mpm_query(AP_MPMQ_GENERATION, &mine) == APR_SUCCESS
        && ap_scoreboard_image->global->running_generation != mine) {
        return "server restarting";
    }
    return "server stopping";
}

void ws_registry_child_stopping(apr_pool_t *pchild, int graceful)
{
    apr_time_t zero = 0;

    (void)pchild;
    if (graceful) {
        __atomic_compare_exchange_n(&stopping_since, &zero, apr_time_now(),
                                    0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
        return;
    }
    __atomic_store_n(&stop_now, 1, __ATOMIC_RELEASE);
    ws_loop_stop_sessions();
}

void ws_registry_add(ws_session_t *ws)
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
    ws->registered = 1;
    __atomic_add_fetch(&reg_count, 1, __ATOMIC_RELEASE);
    apr_thread_mutex_unlock(reg_lock);
}

void ws_registry_remove(ws_session_t *ws)
{
    int found = 0;

    if (!reg_lock) {
        return;
    }
    apr_thread_mutex_lock(reg_lock);
    if (ws->registered) {
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
        ws->registered = 0;
        __atomic_sub_fetch(&reg_count, 1, __ATOMIC_RELEASE);
        found = 1;
    }
    apr_thread_mutex_unlock(reg_lock);
    if (found) {
        ws_session_unref(ws);
    }
}

/* Wake every session's owner so that it sees the stop flag. */
static void wake_all(void)
{
    ws_session_t *ws;

    apr_thread_mutex_lock(reg_lock);
    for (ws = reg_head; ws; ws = ws->next) {
        ws_session_wake(ws);
    }
    apr_thread_mutex_unlock(reg_lock);
}

/* The first session nobody runs (still being handed to a loop that has
 * stopped), with a reference; NULL if none. */
static ws_session_t *take_unowned(void)
{
    ws_session_t *ws;

    apr_thread_mutex_lock(reg_lock);
    for (ws = reg_head; ws; ws = ws->next) {
        if (ws->io_state == WS_IO_HANDOFF) {
            ws_session_ref(ws);
            break;
        }
    }
    apr_thread_mutex_unlock(reg_lock);
    return ws;
}

/*
 * The child is exiting (pchild is being destroyed), after the event loops
 * ended their sessions.  What is left belongs to threads still running
 * (an HTTP/2 stream's, say) or to nobody (a hand-off the stopped loops
 * never took).  Handlers' fini runs after this: end every session first.
 */
static apr_status_t child_exit(void *data)
{
    apr_time_t deadline = apr_time_now() + WS_EXIT_WAIT;
    ws_session_t *ws;
    int left;

    (void)data;
    /* Nothing left (always so under prefork, whose exit runs here from a
     * signal handler): no lock is taken. */
    if (__atomic_load_n(&reg_count, __ATOMIC_ACQUIRE) == 0) {
        return APR_SUCCESS;
    }
    __atomic_store_n(&stop_now, 1, __ATOMIC_RELEASE);
    while ((ws = take_unowned()) != NULL) {
        ws_io_end_unowned(ws);
        ws_session_unref(ws);
    }
    wake_all();
    while (__atomic_load_n(&reg_count, __ATOMIC_ACQUIRE) > 0
           && apr_time_now() < deadline) {
        apr_sleep(apr_time_from_msec(10));
    }
    left = (int)__atomic_load_n(&reg_count, __ATOMIC_ACQUIRE);
    if (left == 0) {
        return APR_SUCCESS;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, NULL, WSLOGNO(00069)
                 "child exiting with %d WebSocket connection(s) still "
                 "running: their handlers get no on_close, and sends to "
                 "them fail from now on", left);
    apr_thread_mutex_lock(reg_lock);
    for (ws = reg_head; ws; ws = ws->next) {
        ws_session_kill(ws);
    }
    apr_thread_mutex_unlock(reg_lock);
    return APR_SUCCESS;
}

void ws_registry_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)s;
    apr_thread_mutex_create(&reg_lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    /* A pre-cleanup, so it runs before pchild's subpools are destroyed and
     * before the handlers' fini (a plain cleanup); registered before the
     * loops' pre-cleanup, so it runs after it. */
    apr_pool_pre_cleanup_register(pchild, NULL, child_exit);
}
