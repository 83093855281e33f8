/*
 * ws_registry.c -- every session of this httpd child (see ws_registry.h).
 */
#include "apr_thread_mutex.h"
#include "ap_mpm.h"
#include "http_core.h"

#include "ws_private.h"
#include "ws_registry.h"
#include "ws_loop.h"
#include "ws_session.h"

static apr_thread_mutex_t *reg_lock;
static ws_session_t *reg_head;
static apr_time_t stopping_since;
static apr_time_t last_query;

apr_time_t ws_registry_stopping_since(apr_time_t now)
{
    apr_time_t t = __atomic_load_n(&stopping_since, __ATOMIC_RELAXED);
    int state = AP_MPMQ_RUNNING;

    /* Called on every turn of every connection: ask the MPM (a hook run)
     * at most once per tick.  Races here only cost an extra query. */
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
        found = 1;
    }
    apr_thread_mutex_unlock(reg_lock);
    if (found) {
        ws_session_unref(ws);
    }
}

/*
 * The child is exiting (pchild is being destroyed; under prefork from a
 * signal handler, on the very thread a connection may be waiting on).
 * Connections' pools are about to go away while handler threads may still
 * send: declare every session DEAD first.
 */
static apr_status_t child_exit(void *data)
{
    ws_session_t *ws;

    (void)data;
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

void ws_registry_child_init(apr_pool_t *pchild, server_rec *s)
{
    (void)s;
    apr_thread_mutex_create(&reg_lock, APR_THREAD_MUTEX_DEFAULT, pchild);
    /* A pre-cleanup, so it runs before pchild's subpools are destroyed. */
    apr_pool_pre_cleanup_register(pchild, NULL, child_exit);
}
