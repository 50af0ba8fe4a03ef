/*
 * topictree.h - the subscription tree: topic filters split at '/' into a tree of levels, each
 * node holding the subscriptions whose filter ends there. Matching a topic name walks only the
 * branches that can match (the exact level, '+' and '#'), so its cost grows with the depth of
 * the topic, not with the number of subscriptions. Shared subscriptions ("$share/G/F") hang off
 * the node of F as groups; the caller picks one member per group.
 */
#ifndef MOTED_TOPICTREE_H
#define MOTED_TOPICTREE_H

#include <stddef.h>
#include <stdint.h>

struct moted_tree_node;

/*
 * One subscription: who and how. `key` says who for replacing and removing (a session's
 * address); `owner` is what the caller gets back (the session, or any record of its own, which
 * the tree hands to its `release` callback when the entry goes).
 */
struct moted_sub {
    uintptr_t key;
    void *owner;
    uint8_t qos, no_local, retain_as_published, retain_handling;
    uint32_t id; /* subscription identifier, 0 = none */
    struct moted_sub *next;
};

/* Subscribers of one share group on one filter. */
struct moted_share {
    char *group;
    size_t group_len;
    struct moted_sub *members;
    size_t count;
    size_t next_pick; /* round-robin cursor, the caller's to use */
    struct moted_share *next;
};

struct moted_tree {
    struct moted_tree_node *root;
    void (*release)(void *owner); /* optional: called for each entry removed or replaced */
    size_t sub_count;
    size_t node_count;
};

/* Called for each plain subscription, and once per share group, whose filter matches. */
struct moted_match_cb {
    void (*sub)(void *ctx, const struct moted_sub *sub);
    void (*share)(void *ctx, struct moted_share *share);
    void *ctx;
};

int moted__tree_init(struct moted_tree *t);
void moted__tree_free(struct moted_tree *t);

/*
 * Adds (or replaces: same owner and same filter) a subscription. The filter must have passed
 * mote_topic_check_filter(); "$share/G/F" goes into group G of F. Returns 0 (new), 1 (replaced
 * an existing one), -1 (out of memory).
 */
int moted__tree_add(struct moted_tree *t, const uint8_t *filter, size_t len,
                    const struct moted_sub *sub);

/* Removes key's subscription to filter. Returns 1 if there was one, 0 if not. */
int moted__tree_remove(struct moted_tree *t, const uint8_t *filter, size_t len, uintptr_t key);

/* Calls cb for every subscription matching topic name `topic`. */
void moted__tree_match(struct moted_tree *t, const uint8_t *topic, size_t len,
                       const struct moted_match_cb *cb);

/*
 * The other direction, for retained messages stored by topic: calls cb->sub for every entry
 * stored under a topic name that topic filter `filter` matches (a plain filter; no "$share/").
 */
void moted__tree_match_filter(struct moted_tree *t, const uint8_t *filter, size_t len,
                              const struct moted_match_cb *cb);

#endif /* MOTED_TOPICTREE_H */
