/*
 * test_timers.c -- unit tests for ws_timers.c, on a fake clock: pings to
 * a silent peer, the pong timeout, the idle timeout, the close timeout,
 * and closing when the child stops (gracefully, or at once).
 */
#include <check.h>

#include "ws_timers.h"

#define SEC(n) apr_time_from_sec(n)
#define MS(n) apr_time_from_msec(n)

/* The clock starts at an arbitrary, large time. */
#define T0 ((apr_time_t)1700000000 * APR_USEC_PER_SEC)

static ws_timer_settings_t settings(void)
{
    ws_timer_settings_t s;

    s.ping = SEC(30);
    s.ping_timeout = SEC(20);
    s.idle = 0;
    s.close_timeout = SEC(5);
    s.graceful = SEC(5);
    return s;
}

static const ws_timer_stop_t running = { 0, 0, NULL };

static ws_timer_due_t at(ws_timers_t *t, const ws_timer_settings_t *s,
                         apr_time_t now)
{
    return ws_timers_due(t, s, WS_TIMER_OPEN, &running, now);
}

START_TEST(a_silent_peer_is_pinged_after_the_interval)
{
    ws_timer_settings_t s = settings();
    ws_timers_t t;

    ws_timers_init(&t, T0);
    ck_assert_int_eq(at(&t, &s, T0 + SEC(29)).action, WS_TIMER_NONE);
    ck_assert_int_eq(at(&t, &s, T0 + SEC(30)).action, WS_TIMER_PING);
    ws_timers_pinged(&t, T0 + SEC(30));
    /* One ping at a time. */
    ck_assert_int_eq(at(&t, &s, T0 + SEC(31)).action, WS_TIMER_NONE);
}
END_TEST

START_TEST(input_postpones_the_ping)
{
    ws_timer_settings_t s = settings();
    ws_timers_t t;

    ws_timers_init(&t, T0);
    ws_timers_rx(&t, T0 + SEC(20));
    ck_assert_int_eq(at(&t, &s, T0 + SEC(45)).action, WS_TIMER_NONE);
    ck_assert_int_eq(at(&t, &s, T0 + SEC(50)).action, WS_TIMER_PING);
}
END_TEST

START_TEST(an_unanswered_ping_drops_the_peer)
{
    ws_timer_settings_t s = settings();
    ws_timers_t t;
    ws_timer_due_t d;

    ws_timers_init(&t, T0);
    ws_timers_pinged(&t, T0 + SEC(30));
    ck_assert_int_eq(at(&t, &s, T0 + SEC(50)).action, WS_TIMER_NONE);
    d = at(&t, &s, T0 + SEC(50) + 1);
    ck_assert_int_eq(d.action, WS_TIMER_DROP);
    ck_assert_str_eq(d.reason, "ping timeout");
}
END_TEST

START_TEST(a_pong_clears_the_ping)
{
    ws_timer_settings_t s = settings();
    ws_timers_t t;

    ws_timers_init(&t, T0);
    ws_timers_pinged(&t, T0 + SEC(30));
    ws_timers_rx(&t, T0 + SEC(31));
    ws_timers_pong(&t);
    ck_assert_int_eq(at(&t, &s, T0 + SEC(55)).action, WS_TIMER_NONE);
    ck_assert_int_eq(at(&t, &s, T0 + SEC(61)).action, WS_TIMER_PING);
}
END_TEST

START_TEST(pings_can_be_turned_off)
{
    ws_timer_settings_t s = settings();
    ws_timers_t t;

    s.ping = 0;
    ws_timers_init(&t, T0);
    ck_assert_int_eq(at(&t, &s, T0 + SEC(3600)).action, WS_TIMER_NONE);
}
END_TEST

START_TEST(idle_timeout_counts_messages_not_pings)
{
    ws_timer_settings_t s = settings();
    ws_timers_t t;
    ws_timer_due_t d;

    s.idle = SEC(60);
    s.ping = SEC(10);
    ws_timers_init(&t, T0);
    ws_timers_message(&t, T0 + SEC(30));
    /* Pongs keep arriving (input) but no message. */
    ws_timers_rx(&t, T0 + SEC(85));
    ck_assert_int_eq(at(&t, &s, T0 + SEC(90)).action, WS_TIMER_NONE);
    d = at(&t, &s, T0 + SEC(90) + 1);
    ck_assert_int_eq(d.action, WS_TIMER_CLOSE);
    ck_assert_int_eq(d.code, 1001);
    ck_assert_str_eq(d.reason, "idle timeout");
}
END_TEST

START_TEST(a_peer_not_answering_our_close_is_dropped)
{
    ws_timer_settings_t s = settings();
    ws_timers_t t;
    ws_timer_due_t d;

    ws_timers_init(&t, T0);
    ws_timers_close_sent(&t, T0 + SEC(1));
    d = ws_timers_due(&t, &s, WS_TIMER_CLOSING, &running, T0 + SEC(6));
    ck_assert_int_eq(d.action, WS_TIMER_NONE);
    d = ws_timers_due(&t, &s, WS_TIMER_CLOSING, &running,
                      T0 + SEC(6) + 1);
    ck_assert_int_eq(d.action, WS_TIMER_DROP);
    ck_assert_str_eq(d.reason, "close timeout");
}
END_TEST

START_TEST(closing_without_a_noted_close_counts_from_the_first_look)
{
    ws_timer_settings_t s = settings();
    ws_timers_t t;

    /* The engine answered a violation with a close the timers did not
     * hear of: the wait starts when they first see CLOSING. */
    ws_timers_init(&t, T0);
    ck_assert_int_eq(ws_timers_due(&t, &s, WS_TIMER_CLOSING, &running,
                                   T0 + SEC(100)).action, WS_TIMER_NONE);
    ck_assert_int_eq(ws_timers_due(&t, &s, WS_TIMER_CLOSING, &running,
                                   T0 + SEC(105) + 1).action,
                     WS_TIMER_DROP);
}
END_TEST

START_TEST(a_graceful_stop_closes_after_the_graceful_timeout)
{
    ws_timer_settings_t s = settings();
    ws_timer_stop_t stop = { T0 + SEC(10), 0, "server restarting" };
    ws_timers_t t;
    ws_timer_due_t d;

    ws_timers_init(&t, T0);
    d = ws_timers_due(&t, &s, WS_TIMER_OPEN, &stop, T0 + SEC(14));
    ck_assert_int_eq(d.action, WS_TIMER_NONE);
    d = ws_timers_due(&t, &s, WS_TIMER_OPEN, &stop, T0 + SEC(15));
    ck_assert_int_eq(d.action, WS_TIMER_CLOSE);
    ck_assert_int_eq(d.code, 1001);
    ck_assert_str_eq(d.reason, "server restarting");
}
END_TEST

START_TEST(an_immediate_stop_closes_now_and_waits_little)
{
    ws_timer_settings_t s = settings();
    ws_timer_stop_t stop = { 0, 1, "server stopping" };
    ws_timers_t t;
    ws_timer_due_t d;

    ws_timers_init(&t, T0);
    d = ws_timers_due(&t, &s, WS_TIMER_OPEN, &stop, T0 + MS(1));
    ck_assert_int_eq(d.action, WS_TIMER_CLOSE);
    ck_assert_str_eq(d.reason, "server stopping");
    ws_timers_close_sent(&t, T0 + MS(1));
    /* WebSocketCloseTimeout is 5 s, but a stopping child waits 500 ms. */
    d = ws_timers_due(&t, &s, WS_TIMER_CLOSING, &stop, T0 + MS(400));
    ck_assert_int_eq(d.action, WS_TIMER_NONE);
    d = ws_timers_due(&t, &s, WS_TIMER_CLOSING, &stop, T0 + MS(502));
    ck_assert_int_eq(d.action, WS_TIMER_DROP);
}
END_TEST

START_TEST(control_rate_windows_are_one_second)
{
    ws_timers_t t;

    ws_timers_init(&t, T0);
    ck_assert_int_eq(ws_timers_new_control_window(&t, T0 + MS(999)), 0);
    ck_assert_int_eq(ws_timers_new_control_window(&t, T0 + MS(1000)), 1);
    ck_assert_int_eq(ws_timers_new_control_window(&t, T0 + MS(1500)), 0);
    ck_assert_int_eq(ws_timers_new_control_window(&t, T0 + MS(2000)), 1);
}
END_TEST

START_TEST(quiet_needs_neither_input_nor_messages)
{
    ws_timers_t t;

    ws_timers_init(&t, T0);
    ck_assert(ws_timers_quiet(&t, T0 + SEC(2), SEC(1)));
    ws_timers_rx(&t, T0 + SEC(2));
    ck_assert(!ws_timers_quiet(&t, T0 + SEC(2) + MS(500), SEC(1)));
    ws_timers_message(&t, T0 + SEC(3));
    ck_assert(!ws_timers_quiet(&t, T0 + SEC(3) + MS(500), SEC(1)));
    ck_assert(ws_timers_quiet(&t, T0 + SEC(5), SEC(1)));
}
END_TEST

/* ws_timers_next says exactly when ws_timers_due first finds something:
 * nothing a microsecond before, something at it. */
static void next_is_first_due(ws_timers_t *t, const ws_timer_settings_t *s,
                              ws_timer_phase_e phase,
                              const ws_timer_stop_t *stop,
                              ws_timer_action_e want)
{
    apr_time_t next = ws_timers_next(t, s, phase, stop);

    ck_assert(next > T0 && next < APR_INT64_MAX);
    ck_assert_int_eq(ws_timers_due(t, s, phase, stop, next - 1).action,
                     WS_TIMER_NONE);
    ck_assert_int_eq(ws_timers_due(t, s, phase, stop, next).action, want);
}

START_TEST(next_is_when_the_first_timer_falls_due)
{
    ws_timer_settings_t s = settings();
    ws_timer_stop_t graceful = { T0 + SEC(3), 0, "server restarting" };
    ws_timer_stop_t now = { 0, 1, "server stopping" };
    ws_timers_t t;

    /* The ping, moved by input. */
    ws_timers_init(&t, T0);
    next_is_first_due(&t, &s, WS_TIMER_OPEN, &running, WS_TIMER_PING);
    ws_timers_rx(&t, T0 + SEC(7));
    ck_assert_int_eq(ws_timers_next(&t, &s, WS_TIMER_OPEN, &running),
                     T0 + SEC(37));
    /* The pong awaited. */
    ws_timers_pinged(&t, T0 + SEC(37));
    next_is_first_due(&t, &s, WS_TIMER_OPEN, &running, WS_TIMER_DROP);
    /* The idle timeout comes first. */
    s.idle = SEC(10);
    ws_timers_init(&t, T0);
    next_is_first_due(&t, &s, WS_TIMER_OPEN, &running, WS_TIMER_CLOSE);
    /* A graceful stop, before any of them. */
    next_is_first_due(&t, &s, WS_TIMER_OPEN, &graceful, WS_TIMER_CLOSE);
    /* Our close awaiting the peer's. */
    ws_timers_close_sent(&t, T0 + SEC(1));
    next_is_first_due(&t, &s, WS_TIMER_CLOSING, &running, WS_TIMER_DROP);
    /* Now: closing without a close noted, or an immediate stop. */
    ws_timers_init(&t, T0);
    ck_assert_int_eq(ws_timers_next(&t, &s, WS_TIMER_CLOSING, &running), 0);
    ck_assert_int_eq(ws_timers_next(&t, &s, WS_TIMER_OPEN, &now), 0);
    /* Never: no ping, no idle timeout, nothing outstanding. */
    s.ping = 0;
    s.idle = 0;
    ck_assert(ws_timers_next(&t, &s, WS_TIMER_OPEN, &running)
              == APR_INT64_MAX);
}
END_TEST

Suite *ws_timers_suite(void)
{
    Suite *s = suite_create("ws_timers");
    TCase *tc = tcase_create("core");

    tcase_add_test(tc, a_silent_peer_is_pinged_after_the_interval);
    tcase_add_test(tc, input_postpones_the_ping);
    tcase_add_test(tc, an_unanswered_ping_drops_the_peer);
    tcase_add_test(tc, a_pong_clears_the_ping);
    tcase_add_test(tc, pings_can_be_turned_off);
    tcase_add_test(tc, idle_timeout_counts_messages_not_pings);
    tcase_add_test(tc, a_peer_not_answering_our_close_is_dropped);
    tcase_add_test(tc, closing_without_a_noted_close_counts_from_the_first_look);
    tcase_add_test(tc, a_graceful_stop_closes_after_the_graceful_timeout);
    tcase_add_test(tc, an_immediate_stop_closes_now_and_waits_little);
    tcase_add_test(tc, control_rate_windows_are_one_second);
    tcase_add_test(tc, quiet_needs_neither_input_nor_messages);
    tcase_add_test(tc, next_is_when_the_first_timer_falls_due);
    suite_add_tcase(s, tc);
    return s;
}
