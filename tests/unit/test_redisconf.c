/*
 * test_redisconf.c -- WebSocketChannels redis://... parsing: what each
 * part of the URL and each option sets, and every refusal.
 */
#include <string.h>

#include "apr_pools.h"
#include "apr_strings.h"

#include "ws_redisconf.h"
#include "unit.h"

static apr_pool_t *pool;

static void setup(void)
{
    apr_initialize();
    apr_pool_create(&pool, NULL);
}

static void teardown(void)
{
    apr_pool_destroy(pool);
}

/* Parse a space-separated line; NULL or the error. */
static const char *parse(const char *line, ws_redis_conf_t *c)
{
    char *copy = apr_pstrdup(pool, line), *last, *tok;
    char *argv[8];
    int argc = 0;

    for (tok = apr_strtok(copy, " ", &last); tok && argc < 8;
         tok = apr_strtok(NULL, " ", &last)) {
        argv[argc++] = tok;
    }
    return ws_redis_conf_parse(pool, argc, argv, c);
}

START_TEST(a_host_alone_takes_the_defaults)
{
    ws_redis_conf_t c;

    ck_assert_ptr_null(parse("redis://127.0.0.1", &c));
    ck_assert_str_eq(c.host, "127.0.0.1");
    ck_assert_int_eq(c.port, 6379);
    ck_assert_int_eq(c.db, 0);
    ck_assert_str_eq(c.prefix, "ws:");
    ck_assert(c.timeout == apr_time_from_sec(2));
    ck_assert_ptr_null(c.password);
    ck_assert_ptr_null(c.user);
    ck_assert_ptr_null(c.socket_path);
    ck_assert_str_eq(c.display, "redis://127.0.0.1:6379/0");
}
END_TEST

START_TEST(every_part_of_the_url_is_read)
{
    ws_redis_conf_t c;

    ck_assert_ptr_null(parse("redis://app:s3cret@redis.example:6380/4 "
                             "prefix=site1: timeout=0.5", &c));
    ck_assert_str_eq(c.host, "redis.example");
    ck_assert_int_eq(c.port, 6380);
    ck_assert_int_eq(c.db, 4);
    ck_assert_str_eq(c.user, "app");
    ck_assert_str_eq(c.password, "s3cret");
    ck_assert_str_eq(c.prefix, "site1:");
    ck_assert(c.timeout == apr_time_from_msec(500));
    /* The password never shows in logs. */
    ck_assert_ptr_null(strstr(c.display, "s3cret"));

    ck_assert_ptr_null(parse("redis://:pw@[::1]:7000", &c));
    ck_assert_str_eq(c.host, "::1");
    ck_assert_int_eq(c.port, 7000);
    ck_assert_ptr_null(c.user);
    ck_assert_str_eq(c.password, "pw");

    ck_assert_ptr_null(parse("unix:///run/redis/redis.sock?db=2", &c));
    ck_assert_str_eq(c.socket_path, "/run/redis/redis.sock");
    ck_assert_int_eq(c.db, 2);
    ck_assert_ptr_null(c.host);
}
END_TEST

START_TEST(two_settings_compare_by_their_canonical_form)
{
    ws_redis_conf_t a, b;
    ws_redis_conf_t *copy;

    ck_assert_ptr_null(parse("redis://h:1/0", &a));
    ck_assert_ptr_null(parse("redis://h:1/0 prefix=x:", &b));
    ck_assert_str_ne(a.canonical, b.canonical);
    ck_assert_ptr_null(parse("redis://h:1", &b));
    ck_assert_str_eq(a.canonical, b.canonical);
    copy = ws_redis_conf_copy(pool, &a);
    ck_assert_str_eq(copy->canonical, a.canonical);
    ck_assert_ptr_ne(copy->host, a.host);
}
END_TEST

START_TEST(bad_settings_are_refused_with_a_reason)
{
    static const char *const bad[] = {
        "rediss://h", "http://h", "redis://", "redis://h:0", "redis://h:x",
        "redis://h:70000", "redis://h/abc", "redis://[::1", "unix://rel",
        "unix:///s?x=1", "redis://h prefix=a|b", "redis://h timeout=0",
        "redis://h timeout=abc", "redis://h color=blue", "redis://h db=-1",
        "redis://h prefix=", "redis://h/2 db=3",
    };
    ws_redis_conf_t c;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = parse(bad[i], &c);

        ck_assert_msg(err && *err, "accepted: %s", bad[i]);
    }
    ck_assert_ptr_nonnull(strstr(parse("rediss://h", &c), "TLS"));
}
END_TEST

Suite *ws_redisconf_suite(void)
{
    Suite *s = suite_create("ws_redisconf");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_host_alone_takes_the_defaults);
    tcase_add_test(tc, every_part_of_the_url_is_read);
    tcase_add_test(tc, two_settings_compare_by_their_canonical_form);
    tcase_add_test(tc, bad_settings_are_refused_with_a_reason);
    suite_add_tcase(s, tc);
    return s;
}
