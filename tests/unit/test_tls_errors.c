/*
 * test_tls_errors.c - the TLS rows of the one error table (lib/codec/error.c): every code from
 * -100 down has its identifier as name and a sentence of its own, distinct from every other code
 * in the table, so a TLS failure can never read like another one (say, "untrusted").
 */
#include "harness.h"

#define ERR(code)                                                                                  \
    {                                                                                              \
        code, #code                                                                                \
    }

static const struct {
    int code;
    const char *name;
} tls_errors[] = {
    ERR(MOTE_ERR_TLS_UNTRUSTED),       ERR(MOTE_ERR_TLS_HOSTNAME),
    ERR(MOTE_ERR_TLS_EXPIRED),         ERR(MOTE_ERR_TLS_NOT_YET_VALID),
    ERR(MOTE_ERR_TLS_NO_CLOCK),        ERR(MOTE_ERR_TLS_BAD_SIGNATURE),
    ERR(MOTE_ERR_TLS_UNSUPPORTED_KEY), ERR(MOTE_ERR_TLS_NO_COMMON_CIPHER),
    ERR(MOTE_ERR_TLS_ALERT),           ERR(MOTE_ERR_TLS_RECORD_TOO_LARGE),
    ERR(MOTE_ERR_TLS_CHAIN_TOO_LARGE), ERR(MOTE_ERR_TLS_PIN_MISMATCH),
    ERR(MOTE_ERR_TLS_NO_ENTROPY),      ERR(MOTE_ERR_TLS_OTHER),
};

static void tls_codes_are_named_and_in_their_range(void **state)
{
    size_t i, j;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(tls_errors); i++) {
        assert_string_equal(mote_err_name(tls_errors[i].code), tls_errors[i].name);
        assert_true(tls_errors[i].code <= -100 && tls_errors[i].code >= -119);
        for (j = 0; j < i; j++)
            assert_int_not_equal(tls_errors[i].code, tls_errors[j].code);
    }
}

/* Against every code the table knows, whoever added it. */
static void tls_messages_are_distinct_from_every_other(void **state)
{
    size_t i;
    int code;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(tls_errors); i++) {
        const char *msg = mote_strerror(tls_errors[i].code);

        assert_true(strncmp(msg, "TLS: ", 5) == 0);
        for (code = -200; code <= 2; code++) {
            if (code == tls_errors[i].code || strcmp(mote_err_name(code), "MOTE_ERR_UNKNOWN") == 0)
                continue;
            if (strcmp(msg, mote_strerror(code)) == 0)
                fail_msg("%s and %s share the message \"%s\"", tls_errors[i].name,
                         mote_err_name(code), msg);
        }
    }
    assert_string_equal(mote_err_name(-113), "MOTE_ERR_UNKNOWN"); /* room left in the range */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tls_codes_are_named_and_in_their_range),
        cmocka_unit_test(tls_messages_are_distinct_from_every_other),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
