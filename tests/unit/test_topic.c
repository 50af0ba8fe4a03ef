/*
 * test_topic.c - topic names, topic filters, shared subscriptions and matching
 * (MQTT 3.1.1 section 4.7, MQTT 5.0 sections 4.7 and 4.8.2), alone and inside packets.
 */
#include "harness.h"

#define S(lit) (const uint8_t *)(lit), sizeof(lit) - 1

static int check_name(const char *s)
{
    return mote_topic_check_name(guard_in(s, strlen(s)), strlen(s));
}

static int check_filter(const char *s)
{
    return mote_topic_check_filter(guard_in(s, strlen(s)), strlen(s));
}

static int match(const char *filter, const char *name)
{
    size_t fl = strlen(filter), nl = strlen(name);
    const uint8_t *f = guard_in(filter, fl);

    return mote_topic_match(f, fl, guard_in(name, nl), nl);
}

static void topic_name_rules(void **state)
{
    static const struct {
        const char *name;
        int rc;
    } cases[] = {
        {"sport/tennis/player1", MOTE_OK},
        {"/", MOTE_OK},
        {"a//b", MOTE_OK},
        {"/finance", MOTE_OK},
        {"$SYS/monitor/Clients", MOTE_OK},
        {"with space", MOTE_OK},
        {"", MOTE_ERR_TOPIC_EMPTY},
        {"+", MOTE_ERR_TOPIC_WILDCARD},
        {"#", MOTE_ERR_TOPIC_WILDCARD},
        {"a/+", MOTE_ERR_TOPIC_WILDCARD},
        {"a/#", MOTE_ERR_TOPIC_WILDCARD},
        {"a+b", MOTE_ERR_TOPIC_WILDCARD},
        {"sport/tennis#", MOTE_ERR_TOPIC_WILDCARD},
    };
    size_t i;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(cases); i++) {
        int rc = check_name(cases[i].name);

        if (rc != cases[i].rc)
            fail_msg("name \"%s\": %s, expected %s", cases[i].name, mote_err_name(rc),
                     mote_err_name(cases[i].rc));
    }
}

static const struct {
    const char *filter;
    int rc;
} filter_cases[] = {
    {"sport/tennis/player1/#", MOTE_OK},
    {"sport/#", MOTE_OK},
    {"#", MOTE_OK},
    {"+", MOTE_OK},
    {"/", MOTE_OK},
    {"+/+", MOTE_OK},
    {"/+", MOTE_OK},
    {"+/tennis/#", MOTE_OK},
    {"sport/+/player1", MOTE_OK},
    {"a//b", MOTE_OK},
    {"/#", MOTE_OK},
    {"$SYS/#", MOTE_OK},
    {"$share/g/a/+/#", MOTE_OK},
    {"$share/group/#", MOTE_OK},
    {"$share/g/+", MOTE_OK},
    {"$share/g//", MOTE_OK},
    {"", MOTE_ERR_TOPIC_EMPTY},
    {"a+", MOTE_ERR_FILTER_PLUS},
    {"+a", MOTE_ERR_FILTER_PLUS},
    {"sport+", MOTE_ERR_FILTER_PLUS},
    {"a/b+/c", MOTE_ERR_FILTER_PLUS},
    {"a/++", MOTE_ERR_FILTER_PLUS},
    {"a/#/b", MOTE_ERR_FILTER_HASH},
    {"#a", MOTE_ERR_FILTER_HASH},
    {"a/b#", MOTE_ERR_FILTER_HASH},
    {"sport/tennis#", MOTE_ERR_FILTER_HASH},
    {"#/", MOTE_ERR_FILTER_HASH},
    {"##", MOTE_ERR_FILTER_HASH},
    {"$share/", MOTE_ERR_SHARE_SYNTAX},
    {"$share//a", MOTE_ERR_SHARE_SYNTAX},
    {"$share/g", MOTE_ERR_SHARE_SYNTAX},
    {"$share/g/", MOTE_ERR_SHARE_SYNTAX},
    {"$share/g+/a", MOTE_ERR_SHARE_SYNTAX},
    {"$share/g#/a", MOTE_ERR_SHARE_SYNTAX},
    {"$share/+/a", MOTE_ERR_SHARE_SYNTAX},
    {"$share/#/a", MOTE_ERR_SHARE_SYNTAX},
};

static void topic_filter_rules(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(filter_cases); i++) {
        int rc = check_filter(filter_cases[i].filter);

        if (rc != filter_cases[i].rc)
            fail_msg("filter \"%s\": %s, expected %s", filter_cases[i].filter, mote_err_name(rc),
                     mote_err_name(filter_cases[i].rc));
    }
}

static void shared_filter_part_follows_the_filter_rules(void **state)
{
    (void)state;
    assert_rc(check_filter("$share/g/a+"), MOTE_ERR_FILTER_PLUS);
    assert_rc(check_filter("$share/g/a/#/b"), MOTE_ERR_FILTER_HASH);
}

static void topic_filter_rules_apply_in_subscribe_and_unsubscribe(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(filter_cases); i++) {
        const char *flt = filter_cases[i].filter;
        size_t len = strlen(flt), n;
        uint8_t body[64];
        struct mote_packet p;
        int rc;

        /* MQTT 5.0 SUBSCRIBE: id 1, no properties, the filter, QoS 0 */
        n = 0;
        body[n++] = 0;
        body[n++] = 1;
        body[n++] = 0;
        body[n++] = 0;
        body[n++] = (uint8_t)len;
        memcpy(body + n, flt, len);
        n += len;
        body[n++] = 0;
        decode_body(0x82, body, n, MOTE_V5, &p, &rc);
        if (rc != filter_cases[i].rc)
            fail_msg("SUBSCRIBE \"%s\": %s, expected %s", flt, mote_err_name(rc),
                     mote_err_name(filter_cases[i].rc));
        /* MQTT 5.0 UNSUBSCRIBE with the same filter */
        decode_body(0xA2, body, n - 1, MOTE_V5, &p, &rc);
        if (rc != filter_cases[i].rc)
            fail_msg("UNSUBSCRIBE \"%s\": %s, expected %s", flt, mote_err_name(rc),
                     mote_err_name(filter_cases[i].rc));
    }
}

static void topic_name_rules_apply_in_publish_and_will(void **state)
{
    (void)state;
    expect_body(MOTE_V311, MOTE_ERR_TOPIC_WILDCARD, 0x30, 0x00, 0x03, 'a', '/', '+');
    expect_body(MOTE_V311, MOTE_ERR_TOPIC_WILDCARD, 0x30, 0x00, 0x01, '#');
    expect_body(MOTE_V5, MOTE_ERR_TOPIC_WILDCARD, 0x32, 0x00, 0x02, 'a', '#', 0x00, 0x01, 0x00);
    expect_body(MOTE_V311, MOTE_ERR_TOPIC_EMPTY, 0x30, 0x00, 0x00, 'p');
    /* CONNECT 3.1.1 with will topic "+" */
    expect_body(MOTE_V311, MOTE_ERR_TOPIC_WILDCARD, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04,
                0x06, 0x00, 0x00, 0x00, 0x01, 'c', 0x00, 0x01, '+', 0x00, 0x00);
    /* CONNECT 3.1.1 with an empty will topic */
    expect_body(MOTE_V311, MOTE_ERR_TOPIC_EMPTY, 0x10, 0x00, 0x04, 'M', 'Q', 'T', 'T', 0x04, 0x06,
                0x00, 0x00, 0x00, 0x01, 'c', 0x00, 0x00, 0x00, 0x00);
}

static void empty_topic_in_v5_publish_needs_a_topic_alias(void **state)
{
    struct mote_packet p;
    struct mote_prop alias = prop_num(MOTE_PROP_TOPIC_ALIAS, 1);
    static const uint8_t raw_alias[] = {0x23, 0x00, 0x02};
    struct roundtrip r;

    (void)state;
    expect_body(MOTE_V5, MOTE_ERR_TOPIC_EMPTY, 0x30, 0x00, 0x00, 0x00, 'p');
    expect_body(MOTE_V5, MOTE_OK, 0x30, 0x00, 0x00, 0x03, 0x23, 0x00, 0x01, 'p');
    /* Encode too. */
    memset(&p, 0, sizeof p);
    p.type = MOTE_PUBLISH;
    p.u.publish.payload = MOTE_SLICE_STR("p");
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_TOPIC_EMPTY);
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_TOPIC_EMPTY);
    p.u.publish.props = props_of(&alias, 1);
    roundtrip(&p, MOTE_V5, &r);
    assert_int_equal(r.pkt.u.publish.topic.len, 0);
    /* the alias may also come in forwarded raw bytes */
    p.u.publish.props = props_of(NULL, 0);
    p.u.publish.props.raw = harness_slice_of(raw_alias, sizeof raw_alias);
    roundtrip(&p, MOTE_V5, &r);
    /* but an alias of 0 does not count */
    expect_body(MOTE_V5, MOTE_ERR_TOPIC_ALIAS_ZERO, 0x30, 0x00, 0x00, 0x03, 0x23, 0x00, 0x00);
}

static void encoder_checks_topic_names_and_filters(void **state)
{
    struct mote_packet p;
    struct mote_subscription sub;
    struct mote_slice filter;

    (void)state;
    memset(&p, 0, sizeof p);
    p.type = MOTE_PUBLISH;
    p.u.publish.topic = MOTE_SLICE_STR("a/+");
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_TOPIC_WILDCARD);

    memset(&p, 0, sizeof p);
    memset(&sub, 0, sizeof sub);
    p.type = MOTE_SUBSCRIBE;
    p.u.subscribe.packet_id = 1;
    p.u.subscribe.list = &sub;
    p.u.subscribe.count = 1;
    sub.filter = MOTE_SLICE_STR("a/b#");
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_FILTER_HASH);
    sub.filter = MOTE_SLICE_STR("a+");
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_FILTER_PLUS);
    sub.filter = MOTE_SLICE_STR("$share/g");
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_SHARE_SYNTAX);
    sub.filter = MOTE_SLICE_STR("");
    assert_encode_rc(&p, MOTE_V5, MOTE_ERR_TOPIC_EMPTY);

    memset(&p, 0, sizeof p);
    p.type = MOTE_UNSUBSCRIBE;
    p.u.unsubscribe.packet_id = 1;
    p.u.unsubscribe.list = &filter;
    p.u.unsubscribe.count = 1;
    filter = MOTE_SLICE_STR("#a");
    assert_encode_rc(&p, MOTE_V311, MOTE_ERR_FILTER_HASH);
}

static void topic_levels_count_separators_plus_one(void **state)
{
    (void)state;
    assert_int_equal(mote_topic_levels(S("")), 1);
    assert_int_equal(mote_topic_levels(S("a")), 1);
    assert_int_equal(mote_topic_levels(S("a/b")), 2);
    assert_int_equal(mote_topic_levels(S("/")), 2);
    assert_int_equal(mote_topic_levels(S("/finance")), 2);
    assert_int_equal(mote_topic_levels(S("a//b")), 3);
    assert_int_equal(mote_topic_levels(S("/a/")), 3);
    assert_int_equal(mote_topic_levels(S("sport/tennis/player1/#")), 4);
}

static void topic_share_splits_group_and_filter(void **state)
{
    struct mote_slice group, filter;

    (void)state;
    memset(&group, 0, sizeof group);
    memset(&filter, 0, sizeof filter);
    assert_int_equal(mote_topic_share(MOTE_SLICE_STR("$share/g/a/+/#"), &group, &filter), 1);
    assert_slice(group, MOTE_SLICE_STR("g"), NULL, 0);
    assert_slice(filter, MOTE_SLICE_STR("a/+/#"), NULL, 0);
    assert_int_equal(
        mote_topic_share(MOTE_SLICE_STR("$share/consumer1/sport/tennis/+"), &group, &filter), 1);
    assert_slice(group, MOTE_SLICE_STR("consumer1"), NULL, 0);
    assert_slice(filter, MOTE_SLICE_STR("sport/tennis/+"), NULL, 0);
    assert_int_equal(mote_topic_share(MOTE_SLICE_STR("$share/g//"), &group, &filter), 1);
    assert_slice(filter, MOTE_SLICE_STR("/"), NULL, 0);
}

static void topic_share_slices_point_into_the_input(void **state)
{
    static const char full[] = "$share/grp/x/y";
    const uint8_t *in = guard_in(full, sizeof full - 1);
    struct mote_slice group, filter;

    (void)state;
    assert_int_equal(mote_topic_share(harness_slice_of(in, sizeof full - 1), &group, &filter), 1);
    assert_ptr_equal(group.ptr, in + 7);
    assert_int_equal(group.len, 3);
    assert_ptr_equal(filter.ptr, in + 11);
    assert_int_equal(filter.len, 3);
}

static void topic_share_returns_0_for_ordinary_filters(void **state)
{
    struct mote_slice group, filter;

    (void)state;
    assert_int_equal(mote_topic_share(MOTE_SLICE_STR("a/b"), &group, &filter), 0);
    assert_int_equal(mote_topic_share(MOTE_SLICE_STR("#"), &group, &filter), 0);
    assert_int_equal(mote_topic_share(MOTE_SLICE_STR("$sharex/g/a"), &group, &filter), 0);
    assert_int_equal(mote_topic_share(MOTE_SLICE_STR("$SHARE/g/a"), &group, &filter), 0);
    assert_int_equal(mote_topic_share(MOTE_SLICE_STR("share/g/a"), &group, &filter), 0);
    assert_int_equal(mote_topic_share(MOTE_SLICE_STR("$SYS/g/a"), &group, &filter), 0);
}

static const struct {
    const char *filter, *name;
    int match;
} match_cases[] = {
    /* MQTT 3.1.1 section 4.7.1.2 / 5.0 section 4.7.1.2 (multi-level wildcard) */
    {"sport/tennis/player1/#", "sport/tennis/player1", 1},
    {"sport/tennis/player1/#", "sport/tennis/player1/ranking", 1},
    {"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", 1},
    {"sport/tennis/player1/#", "sport/tennis/player2", 0},
    {"sport/tennis/player1/#", "sport/tennis", 0},
    {"sport/#", "sport", 1},
    {"sport/#", "sport/", 1},
    {"sport/#", "sports", 0},
    {"#", "sport", 1},
    {"#", "/", 1},
    {"#", "a/b/c", 1},
    {"#", "/finance", 1},
    /* section 4.7.1.3 (single-level wildcard) */
    {"sport/tennis/+", "sport/tennis/player1", 1},
    {"sport/tennis/+", "sport/tennis/player2", 1},
    {"sport/tennis/+", "sport/tennis/player1/ranking", 0},
    {"sport/+", "sport", 0},
    {"sport/+", "sport/", 1},
    {"+", "a", 1},
    {"+", "/finance", 0},
    {"+/+", "/finance", 1},
    {"/+", "/finance", 1},
    {"+/tennis/#", "sport/tennis/player1", 1},
    {"+/tennis/#", "sport/tennis", 1},
    {"sport/+/player1", "sport/tennis/player1", 1},
    {"a/+/b", "a//b", 1},
    {"+/+/+", "a//b", 1},
    {"+", "/", 0},
    {"+/+", "/", 1},
    /* exact and case */
    {"/", "/", 1},
    {"a/b", "a/b", 1},
    {"a/b", "a/b/", 0},
    {"a/b", "a", 0},
    {"ACCOUNTS", "Accounts", 0},
    {"a/#", "ab", 0},
    {"a/b/#", "a/bc", 0},
    /* section 4.7.2: topics beginning with $ */
    {"$SYS/#", "$SYS/x", 1},
    {"$SYS/#", "$SYS", 1},
    {"#", "$SYS/x", 0},
    {"#", "$SYS", 0},
    {"+/monitor/Clients", "$SYS/monitor/Clients", 0},
    {"$SYS/monitor/+", "$SYS/monitor/Clients", 1},
    {"+", "$x", 0},
    {"a/+", "a/$x", 1},
    {"a/#", "a/$x", 1},
    /* '+' needs its level to exist; '#' then matches the parent */
    {"a/+/#", "a", 0},
    {"a/+/#", "a/", 1},
    {"a/+/#", "a/x", 1},
    {"a/+/#", "a/x/y/z", 1},
    {"sport/tennis/#", "sport/tennis/", 1},
    {"/#", "/", 1},
    {"/#", "a", 0},
    {"+/+", "a", 0},
    {"+/#", "$SYS/x", 0},
    {"a/b", "a/c", 0},
    {"a/bc", "a/b", 0},
};

static void topic_match_table_from_the_spec(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < HARNESS_ARRAY_LEN(match_cases); i++) {
        int m = match(match_cases[i].filter, match_cases[i].name);

        if (m != match_cases[i].match)
            fail_msg("\"%s\" %s \"%s\"", match_cases[i].filter,
                     match_cases[i].match ? "should match" : "should not match",
                     match_cases[i].name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(topic_name_rules),
        cmocka_unit_test(topic_filter_rules),
        cmocka_unit_test(shared_filter_part_follows_the_filter_rules),
        cmocka_unit_test(topic_filter_rules_apply_in_subscribe_and_unsubscribe),
        cmocka_unit_test(topic_name_rules_apply_in_publish_and_will),
        cmocka_unit_test(empty_topic_in_v5_publish_needs_a_topic_alias),
        cmocka_unit_test(encoder_checks_topic_names_and_filters),
        cmocka_unit_test(topic_levels_count_separators_plus_one),
        cmocka_unit_test(topic_share_splits_group_and_filter),
        cmocka_unit_test(topic_share_slices_point_into_the_input),
        cmocka_unit_test(topic_share_returns_0_for_ordinary_filters),
        cmocka_unit_test(topic_match_table_from_the_spec),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
