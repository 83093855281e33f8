/*
 * ws_child.c -- how this httpd child is stopping (see ws_child.h).
 */
#include "ap_mpm.h"
#include "httpd.h"
#include "scoreboard.h"

#include "ws_child.h"

static apr_time_t graceful_since;       /* atomic */
static apr_time_t last_query;           /* atomic */
static int stop_now;                    /* atomic */

void ws_child_stopping(apr_pool_t *pchild, int graceful)
{
    apr_time_t zero = 0;

    (void)pchild;
    if (graceful) {
        __atomic_compare_exchange_n(&graceful_since, &zero, apr_time_now(),
                                    0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    }
    else {
        __atomic_store_n(&stop_now, 1, __ATOMIC_RELEASE);
    }
}

int ws_child_stopping_now(void)
{
    return __atomic_load_n(&stop_now, __ATOMIC_ACQUIRE);
}

const char *ws_child_stop_reason(void)
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

/* When a graceful stop was first seen, else 0.  Called on every turn of
 * every connection: ask the MPM (a hook run) at most once per tick; races
 * only cost an extra query. */
static apr_time_t graceful_stop_since(apr_time_t now)
{
    apr_time_t t = __atomic_load_n(&graceful_since, __ATOMIC_RELAXED);
    int state = AP_MPMQ_RUNNING;

    if (t || now - __atomic_load_n(&last_query, __ATOMIC_RELAXED)
             < apr_time_from_msec(WS_TIMER_TICK_MS)) {
        return t;
    }
    __atomic_store_n(&last_query, now, __ATOMIC_RELAXED);
    if (ap_mpm_query(AP_MPMQ_MPM_STATE, &state) == APR_SUCCESS
        && state == AP_MPMQ_STOPPING) {
        apr_time_t zero = 0;

        t = now;
        if (!__atomic_compare_exchange_n(&graceful_since, &zero, t, 0,
                                         __ATOMIC_RELAXED,
                                         __ATOMIC_RELAXED)) {
            t = zero;
        }
    }
    return t;
}

void ws_child_stop_state(ws_timer_stop_t *out, apr_time_t now)
{
    out->now = ws_child_stopping_now();
    out->graceful_since = graceful_stop_since(now);
    out->reason = (out->now || out->graceful_since) ? ws_child_stop_reason()
                                                    : NULL;
}
