/*
 * check_main.c -- runs every unit suite (one file per unit beside it).
 */
#include <stdlib.h>
#include <check.h>

Suite *ws_utf8_suite(void);
Suite *ws_frame_suite(void);
Suite *ws_handshake_suite(void);
Suite *ws_conn_suite(void);
Suite *ws_config_suite(void);
Suite *ws_mailbox_suite(void);
Suite *ws_outq_suite(void);
Suite *ws_snapshot_suite(void);
Suite *ws_timers_suite(void);
Suite *ws_hubproto_suite(void);
Suite *ws_hubstore_suite(void);
Suite *ws_redisconf_suite(void);
Suite *ws_pmd_suite(void);

int main(void)
{
    SRunner *sr = srunner_create(ws_utf8_suite());
    int failed;

    srunner_add_suite(sr, ws_frame_suite());
    srunner_add_suite(sr, ws_handshake_suite());
    srunner_add_suite(sr, ws_conn_suite());
    srunner_add_suite(sr, ws_config_suite());
    srunner_add_suite(sr, ws_mailbox_suite());
    srunner_add_suite(sr, ws_outq_suite());
    srunner_add_suite(sr, ws_snapshot_suite());
    srunner_add_suite(sr, ws_timers_suite());
    srunner_add_suite(sr, ws_hubproto_suite());
    srunner_add_suite(sr, ws_hubstore_suite());
    srunner_add_suite(sr, ws_redisconf_suite());
    srunner_add_suite(sr, ws_pmd_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
