/*
 * ws_timers.c -- the timer rules of one connection, pure (see
 * ws_timers.h).
 */
#include "ws_timers.h"
#include "ws_frame.h"

void ws_timers_init(ws_timers_t *t, apr_time_t now)
{
    t->last_rx = t->last_msg = now;
    t->ping_sent = t->close_sent = 0;
    t->ctl_window = now;
}

void ws_timers_rx(ws_timers_t *t, apr_time_t now)
{
    t->last_rx = now;
}

void ws_timers_message(ws_timers_t *t, apr_time_t now)
{
    t->last_msg = now;
}

void ws_timers_pinged(ws_timers_t *t, apr_time_t now)
{
    t->ping_sent = now;
}

void ws_timers_pong(ws_timers_t *t)
{
    t->ping_sent = 0;
}

void ws_timers_close_sent(ws_timers_t *t, apr_time_t now)
{
    if (!t->close_sent) {
        t->close_sent = now;
    }
}

int ws_timers_new_control_window(ws_timers_t *t, apr_time_t now)
{
    if (now - t->ctl_window >= apr_time_from_sec(1)) {
        t->ctl_window = now;
        return 1;
    }
    return 0;
}

int ws_timers_quiet(const ws_timers_t *t, apr_time_t now,
                    apr_interval_time_t quiet)
{
    return now - t->last_rx > quiet && now - t->last_msg > quiet;
}

static ws_timer_due_t due(ws_timer_action_e action, int code,
                          const char *reason)
{
    ws_timer_due_t d;

    d.action = action;
    d.code = code;
    d.reason = reason;
    return d;
}

ws_timer_due_t ws_timers_due(ws_timers_t *t, const ws_timer_settings_t *set,
                             ws_timer_phase_e phase,
                             const ws_timer_stop_t *stop, apr_time_t now)
{
    apr_interval_time_t close_timeout = set->close_timeout;

    if (phase == WS_TIMER_CLOSING) {
        /* Our close may have left before the timers heard of it (a
         * violation answered by the engine): the wait counts from now. */
        ws_timers_close_sent(t, now);
        if (stop->now && close_timeout > WS_TIMER_STOP_CLOSE_TIMEOUT) {
            close_timeout = WS_TIMER_STOP_CLOSE_TIMEOUT;
        }
        if (now - t->close_sent > close_timeout) {
            return due(WS_TIMER_DROP, 0, "close timeout");
        }
        return due(WS_TIMER_NONE, 0, NULL);
    }
    if (stop->now
        || (stop->graceful_since
            && now - stop->graceful_since >= set->graceful)) {
        return due(WS_TIMER_CLOSE, WS_CLOSE_CODE_GOING_AWAY, stop->reason);
    }
    if (set->idle > 0 && now - t->last_msg > set->idle) {
        return due(WS_TIMER_CLOSE, WS_CLOSE_CODE_GOING_AWAY, "idle timeout");
    }
    if (t->ping_sent && now - t->ping_sent > set->ping_timeout) {
        return due(WS_TIMER_DROP, 0, "ping timeout");
    }
    if (set->ping > 0 && !t->ping_sent && now - t->last_rx >= set->ping) {
        return due(WS_TIMER_PING, 0, NULL);
    }
    return due(WS_TIMER_NONE, 0, NULL);
}

/* The earlier of a and b. */
static apr_time_t earlier(apr_time_t a, apr_time_t b)
{
    return a < b ? a : b;
}

apr_time_t ws_timers_next(const ws_timers_t *t, const ws_timer_settings_t *set,
                          ws_timer_phase_e phase, const ws_timer_stop_t *stop)
{
    apr_time_t next = APR_INT64_MAX;

    if (phase == WS_TIMER_CLOSING) {
        if (!t->close_sent || stop->now) {
            return 0;
        }
        return t->close_sent + set->close_timeout + 1;
    }
    if (stop->now) {
        return 0;
    }
    /* The comparisons of ws_timers_due: "> limit" is due a microsecond
     * after, ">= limit" at it. */
    if (stop->graceful_since) {
        next = earlier(next, stop->graceful_since + set->graceful);
    }
    if (set->idle > 0) {
        next = earlier(next, t->last_msg + set->idle + 1);
    }
    if (t->ping_sent) {
        next = earlier(next, t->ping_sent + set->ping_timeout + 1);
    }
    else if (set->ping > 0) {
        next = earlier(next, t->last_rx + set->ping);
    }
    return next;
}
