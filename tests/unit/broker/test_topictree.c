/* test_topictree.c - moted's subscription tree: matching rules, replace, remove and pruning. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "alloc.h"
#include "topictree.h"

struct hits {
    int n;
    void *owners[64];
    uint8_t qos[64];
    int shares;
};

static void on_sub(void *ctx, const struct moted_sub *s)
{
    struct hits *h = ctx;
    h->owners[h->n] = s->owner;
    h->qos[h->n++] = s->qos;
}

static void on_share(void *ctx, struct moted_share *g)
{
    struct hits *h = ctx;
    h->shares += (int)g->count;
}

static int add(struct moted_tree *t, const char *f, void *owner, uint8_t qos)
{
    struct moted_sub s = {.key = (uintptr_t)owner, .owner = owner, .qos = qos};
    return moted__tree_add(t, (const uint8_t *)f, strlen(f), &s);
}

static struct hits match(struct moted_tree *t, const char *topic)
{
    struct hits h = {0};
    struct moted_match_cb cb = {on_sub, on_share, &h};
    moted__tree_match(t, (const uint8_t *)topic, strlen(topic), &cb);
    return h;
}

static int A, B, C;

static void wildcards_match_as_the_spec_examples_say(void **state)
{
    struct moted_tree t;
    (void)state;
    assert_int_equal(moted__tree_init(&t), 0);
    add(&t, "sport/tennis/player1/#", &A, 0);
    assert_int_equal(match(&t, "sport/tennis/player1").n, 1);
    assert_int_equal(match(&t, "sport/tennis/player1/ranking").n, 1);
    assert_int_equal(match(&t, "sport/tennis/player1/score/wimbledon").n, 1);
    assert_int_equal(match(&t, "sport/tennis/player2").n, 0);
    add(&t, "sport/+", &B, 0);
    assert_int_equal(match(&t, "sport").n, 0);
    assert_int_equal(match(&t, "sport/").n, 1);
    add(&t, "+/+", &C, 0);
    assert_int_equal(match(&t, "/finance").n, 1);
    moted__tree_free(&t);
}

static void dollar_topics_are_not_matched_by_leading_wildcards(void **state)
{
    struct moted_tree t;
    (void)state;
    moted__tree_init(&t);
    add(&t, "#", &A, 0);
    add(&t, "+/monitor/Clients", &B, 0);
    add(&t, "$SYS/monitor/+", &C, 0);
    struct hits h = match(&t, "$SYS/monitor/Clients");
    assert_int_equal(h.n, 1);
    assert_ptr_equal(h.owners[0], &C);
    assert_int_equal(match(&t, "a/monitor/Clients").n, 2);
    moted__tree_free(&t);
}

static void overlapping_filters_each_report_once(void **state)
{
    struct moted_tree t;
    (void)state;
    moted__tree_init(&t);
    add(&t, "a/b", &A, 1);
    add(&t, "a/+", &A, 2);
    add(&t, "a/#", &A, 0);
    add(&t, "#", &B, 0);
    assert_int_equal(match(&t, "a/b").n, 4);
    assert_int_equal(match(&t, "a").n, 2); /* a/# via the parent rule, and # */
    moted__tree_free(&t);
}

static void same_owner_and_filter_replaces_the_subscription(void **state)
{
    struct moted_tree t;
    (void)state;
    moted__tree_init(&t);
    assert_int_equal(add(&t, "x/y", &A, 0), 0);
    assert_int_equal(add(&t, "x/y", &A, 2), 1);
    struct hits h = match(&t, "x/y");
    assert_int_equal(h.n, 1);
    assert_int_equal(h.qos[0], 2);
    assert_int_equal((int)t.sub_count, 1);
    moted__tree_free(&t);
}

static void remove_prunes_empty_nodes(void **state)
{
    struct moted_tree t;
    (void)state;
    moted__tree_init(&t);
    add(&t, "a/b/c/d", &A, 0);
    add(&t, "a/b", &B, 0);
    size_t nodes = t.node_count;
    assert_int_equal(moted__tree_remove(&t, (const uint8_t *)"a/b/c/d", 7, (uintptr_t)&A), 1);
    assert_int_equal(moted__tree_remove(&t, (const uint8_t *)"a/b/c/d", 7, (uintptr_t)&A), 0);
    assert_true(t.node_count < nodes);
    assert_int_equal((int)t.node_count, 2);
    assert_int_equal(match(&t, "a/b/c/d").n, 0);
    assert_int_equal(match(&t, "a/b").n, 1);
    moted__tree_remove(&t, (const uint8_t *)"a/b", 3, (uintptr_t)&B);
    assert_int_equal((int)t.node_count, 0);
    assert_int_equal((int)t.sub_count, 0);
    moted__tree_free(&t);
}

static void shared_subscriptions_form_groups(void **state)
{
    struct moted_tree t;
    (void)state;
    moted__tree_init(&t);
    add(&t, "$share/g1/s/+", &A, 1);
    add(&t, "$share/g1/s/+", &B, 1);
    add(&t, "$share/g2/s/+", &C, 1);
    add(&t, "s/+", &C, 1);
    struct hits h = match(&t, "s/x");
    assert_int_equal(h.n, 1);
    assert_int_equal(h.shares, 3);
    assert_int_equal(moted__tree_remove(&t, (const uint8_t *)"$share/g1/s/+", 13, (uintptr_t)&A), 1);
    assert_int_equal(match(&t, "s/x").shares, 2);
    moted__tree_free(&t);
}

static void many_siblings_stay_findable(void **state)
{
    struct moted_tree t;
    static int owners[5000];
    char f[32];
    (void)state;
    moted__tree_init(&t);
    for (int i = 0; i < 5000; i++) {
        snprintf(f, sizeof f, "dev/%d/cmd", i);
        assert_int_equal(add(&t, f, &owners[i], 0), 0);
    }
    for (int i = 0; i < 5000; i += 2) {
        snprintf(f, sizeof f, "dev/%d/cmd", i);
        assert_int_equal(moted__tree_remove(&t, (const uint8_t *)f, strlen(f), (uintptr_t)&owners[i]), 1);
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(f, sizeof f, "dev/%d/cmd", i);
        struct hits h = match(&t, f);
        assert_int_equal(h.n, i % 2);
        if (h.n)
            assert_ptr_equal(h.owners[0], &owners[i]);
    }
    moted__tree_free(&t);
    assert_int_equal((int)moted__mem_used(), 0);
}

static struct hits stored(struct moted_tree *t, const char *filter)
{
    struct hits h = {0};
    struct moted_match_cb cb = {on_sub, NULL, &h};
    moted__tree_match_filter(t, (const uint8_t *)filter, strlen(filter), &cb);
    return h;
}

static void retained_topics_are_found_by_filter(void **state)
{
    struct moted_tree t;
    (void)state;
    moted__tree_init(&t);
    const char *topics[] = {"a/b", "a/c", "$SYS/x", "a", "b/c/d", "/x"};
    for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
        add(&t, topics[i], &A, 0);
    assert_int_equal(stored(&t, "a/+").n, 2);
    assert_int_equal(stored(&t, "#").n, 5);
    assert_int_equal(stored(&t, "a/#").n, 3);
    assert_int_equal(stored(&t, "+/+").n, 3); /* a/b a/c /x, not $SYS/x */
    assert_int_equal(stored(&t, "$SYS/#").n, 1);
    assert_int_equal(stored(&t, "+").n, 1);
    assert_int_equal(stored(&t, "b/c/d").n, 1);
    assert_int_equal(stored(&t, "b/c").n, 0);
    assert_int_equal(stored(&t, "+/c/#").n, 2); /* a/c (parent rule) and b/c/d */
    moted__tree_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(wildcards_match_as_the_spec_examples_say),
        cmocka_unit_test(dollar_topics_are_not_matched_by_leading_wildcards),
        cmocka_unit_test(overlapping_filters_each_report_once),
        cmocka_unit_test(same_owner_and_filter_replaces_the_subscription),
        cmocka_unit_test(remove_prunes_empty_nodes),
        cmocka_unit_test(shared_subscriptions_form_groups),
        cmocka_unit_test(many_siblings_stay_findable),
        cmocka_unit_test(retained_topics_are_found_by_filter),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
