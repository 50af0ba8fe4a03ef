/* test_config.c - moted reads Mosquitto's configuration format, and says where a file is wrong. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "alloc.h"
#include "config.h"

static int parse(struct moted_config *cfg, const char *text, char *err)
{
    moted__config_defaults(cfg);
    return moted__config_parse(cfg, "t.conf", text, err, 256);
}

static void a_mosquitto_file_parses(void **state)
{
    struct moted_config cfg;
    char err[256] = "";
    (void)state;
    const char *text = "# comment\n"
                       "per_listener_settings false\n"
                       "allow_anonymous false\n"
                       "listener 1883 127.0.0.1\n"
                       "max_connections 100\n"
                       "\n"
                       "listener 8883\n"
                       "certfile /etc/mosquitto/certs/server.crt\n"
                       "keyfile /etc/mosquitto/certs/server.key\n"
                       "require_certificate true\n"
                       "max_packet_size 65536\n"
                       "max_inflight_messages 10\n"
                       "max_queued_messages 500\n"
                       "log_dest stdout\n"
                       "log_type error\n"
                       "log_type warning\n"
                       "memory_limit 64MB\n";
    assert_int_equal(parse(&cfg, text, err), 0);
    assert_int_equal((int)cfg.listener_count, 2);
    assert_int_equal(cfg.listeners[0].port, 1883);
    assert_string_equal(cfg.listeners[0].bind_address, "127.0.0.1");
    assert_int_equal(cfg.listeners[0].max_connections, 100);
    assert_int_equal(cfg.listeners[1].port, 8883);
    assert_null(cfg.listeners[1].bind_address);
    assert_int_equal(cfg.listeners[1].max_connections, -1);
    assert_string_equal(cfg.listeners[1].certfile, "/etc/mosquitto/certs/server.crt");
    assert_int_equal(cfg.listeners[1].require_certificate, 1);
    assert_int_equal(cfg.allow_anonymous, 0);
    assert_int_equal((int)cfg.max_packet_size, 65536);
    assert_int_equal(cfg.max_inflight_messages, 10);
    assert_int_equal((int)cfg.max_queued_messages, 500);
    assert_int_equal(cfg.log_dest, MOTED_LOGDEST_STDOUT);
    assert_int_equal(cfg.log_type, MOTED_LOG_ERROR | MOTED_LOG_WARNING);
    assert_int_equal((int)(cfg.memory_limit >> 20), 64);
    moted__config_free(&cfg);
}

static void unknown_key_is_an_error_with_its_line(void **state)
{
    struct moted_config cfg;
    char err[256] = "";
    (void)state;
    assert_int_equal(parse(&cfg, "listener 1883\n\nmax_conections 5\n", err), -1);
    assert_string_equal(err, "t.conf:3: unknown configuration key 'max_conections'");
    moted__config_free(&cfg);
}

static void unsupported_mosquitto_key_says_what_to_do(void **state)
{
    struct moted_config cfg;
    char err[256] = "";
    (void)state;
    assert_int_equal(parse(&cfg, "connection bridge1\n", err), -1);
    assert_string_equal(err, "t.conf:1: bridges are not supported by moted");
    moted__config_free(&cfg);
}

static void bad_values_are_errors(void **state)
{
    struct moted_config cfg;
    char err[256] = "";
    (void)state;
    assert_int_equal(parse(&cfg, "allow_anonymous yes\n", err), -1);
    assert_string_equal(err, "t.conf:1: 'allow_anonymous' must be true or false");
    moted__config_free(&cfg);
    assert_int_equal(parse(&cfg, "listener 70000\n", err), -1);
    assert_string_equal(err, "t.conf:1: 'listener' needs a port number 0-65535");
    moted__config_free(&cfg);
    assert_int_equal(parse(&cfg, "max_inflight_messages -3\n", err), -1);
    assert_string_equal(err, "t.conf:1: 'max_inflight_messages' must be a number from 0 to 65535");
    moted__config_free(&cfg);
    assert_int_equal(parse(&cfg, "max_qos\n", err), -1);
    assert_string_equal(err, "t.conf:1: 'max_qos' needs a value");
    moted__config_free(&cfg);
}

static void per_listener_allow_anonymous(void **state)
{
    struct moted_config cfg;
    char err[256] = "";
    (void)state;
    assert_int_equal(parse(&cfg,
                           "per_listener_settings true\n"
                           "listener 1883 127.0.0.1\nallow_anonymous true\n"
                           "listener 8883\nallow_anonymous false\n",
                           err),
                     0);
    assert_int_equal(cfg.listeners[0].allow_anonymous, 1);
    assert_int_equal(cfg.listeners[1].allow_anonymous, 0);
    assert_int_equal(cfg.allow_anonymous, -1);
    moted__config_free(&cfg);
}

static void no_listener_means_loopback_1883(void **state)
{
    struct moted_config cfg;
    char err[256] = "";
    (void)state;
    assert_int_equal(parse(&cfg, "", err), 0);
    assert_int_equal(moted__config_finish(&cfg, err, sizeof err), 0);
    assert_int_equal((int)cfg.listener_count, 1);
    assert_int_equal(cfg.listeners[0].port, 1883);
    assert_string_equal(cfg.listeners[0].bind_address, "127.0.0.1");
    moted__config_free(&cfg);
    assert_int_equal((int)moted__mem_used(), 0);
}

static void persistence_on_by_default_and_fsync_policy(void **state)
{
    struct moted_config cfg;
    char err[256] = "";
    (void)state;
    assert_int_equal(parse(&cfg, "", err), 0);
    assert_int_equal(cfg.persistence, 1);             /* durable by default (issue 7) */
    assert_int_equal(cfg.persistence_fsync_period, 0); /* fsync every commit */
    moted__config_free(&cfg);
    assert_int_equal(parse(&cfg, "persistence_fsync periodic 5\n", err), 0);
    assert_int_equal(cfg.persistence_fsync_period, 5);
    moted__config_free(&cfg);
    assert_int_equal(parse(&cfg, "persistence_fsync periodic 5\npersistence_fsync always\n", err),
                     0);
    assert_int_equal(cfg.persistence_fsync_period, 0);
    moted__config_free(&cfg);
    static const char *const bad[] = {"persistence_fsync sometimes\n",
                                      "persistence_fsync periodic\n",
                                      "persistence_fsync periodic 0\n",
                                      "persistence_fsync periodic 5s\n",
                                      "persistence_fsync always 3\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(&cfg, bad[i], err), -1);
        assert_string_equal(err, "t.conf:1: persistence_fsync must be 'always' or 'periodic "
                                 "SECONDS' (1-3600)");
        moted__config_free(&cfg);
    }
    assert_int_equal(parse(&cfg, "autosave_interval 1800\n", err), -1);
    assert_string_equal(err, "t.conf:1: moted writes every acknowledged message as it happens");
    moted__config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_mosquitto_file_parses),
        cmocka_unit_test(unknown_key_is_an_error_with_its_line),
        cmocka_unit_test(unsupported_mosquitto_key_says_what_to_do),
        cmocka_unit_test(bad_values_are_errors),
        cmocka_unit_test(per_listener_allow_anonymous),
        cmocka_unit_test(no_listener_means_loopback_1883),
        cmocka_unit_test(persistence_on_by_default_and_fsync_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
