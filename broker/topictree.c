/*
 * topictree.c - subscription tree. Each node keeps its children in an open-addressing hash
 * table (linear probing, backward-shift deletion), so a level with 100k device ids still finds
 * a child in O(1). Empty nodes are pruned on removal, so the tree never outgrows what is
 * subscribed.
 */
#include "topictree.h"

#include <string.h>

#include "alloc.h"
#include "mote/codec.h"

struct moted_tree_node {
    struct moted_tree_node *parent;
    uint8_t *level;
    size_t level_len;
    uint32_t hash;
    struct moted_tree_node **slots; /* children, NULL = empty; capacity a power of two */
    size_t slot_cap, child_count;
    struct moted_sub *subs;
    struct moted_share *shares;
};

static uint32_t hash_level(const uint8_t *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 16777619u;
    return h;
}

static struct moted_tree_node *node_new(struct moted_tree_node *parent, const uint8_t *level,
                                        size_t len, uint32_t hash)
{
    struct moted_tree_node *n = moted__calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->level = moted__malloc(len ? len : 1);
    if (!n->level) {
        moted__free(n);
        return NULL;
    }
    memcpy(n->level, level, len);
    n->level_len = len;
    n->hash = hash;
    n->parent = parent;
    return n;
}

static struct moted_tree_node *child_find(const struct moted_tree_node *n, const uint8_t *level,
                                          size_t len, uint32_t hash)
{
    if (!n->child_count)
        return NULL;
    for (size_t i = hash & (n->slot_cap - 1);; i = (i + 1) & (n->slot_cap - 1)) {
        struct moted_tree_node *c = n->slots[i];
        if (!c)
            return NULL;
        if (c->hash == hash && c->level_len == len && !memcmp(c->level, level, len))
            return c;
    }
}

static void slots_put(struct moted_tree_node **slots, size_t cap, struct moted_tree_node *c)
{
    size_t i = c->hash & (cap - 1);
    while (slots[i])
        i = (i + 1) & (cap - 1);
    slots[i] = c;
}

static int child_insert(struct moted_tree_node *n, struct moted_tree_node *c)
{
    if ((n->child_count + 1) * 4 > n->slot_cap * 3) { /* keep the load under 3/4 */
        size_t cap = n->slot_cap ? n->slot_cap * 2 : 4;
        struct moted_tree_node **slots = moted__calloc(cap, sizeof *slots);
        if (!slots)
            return -1;
        for (size_t i = 0; i < n->slot_cap; i++)
            if (n->slots[i])
                slots_put(slots, cap, n->slots[i]);
        moted__free(n->slots);
        n->slots = slots;
        n->slot_cap = cap;
    }
    slots_put(n->slots, n->slot_cap, c);
    n->child_count++;
    return 0;
}

static void child_erase(struct moted_tree_node *n, struct moted_tree_node *c)
{
    size_t mask = n->slot_cap - 1, i = c->hash & mask, j;
    while (n->slots[i] != c)
        i = (i + 1) & mask;
    /* Backward-shift deletion: move later members of the probe run into the hole. */
    for (j = (i + 1) & mask; n->slots[j]; j = (j + 1) & mask) {
        size_t home = n->slots[j]->hash & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            n->slots[i] = n->slots[j];
            i = j;
        }
    }
    n->slots[i] = NULL;
    n->child_count--;
}

static void sub_free(const struct moted_tree *t, struct moted_sub *s)
{
    if (t->release)
        t->release(s->owner);
    moted__free(s);
}

static void node_free(const struct moted_tree *t, struct moted_tree_node *n)
{
    for (size_t i = 0; i < n->slot_cap; i++)
        if (n->slots[i])
            node_free(t, n->slots[i]);
    for (struct moted_sub *s = n->subs, *next; s; s = next) {
        next = s->next;
        sub_free(t, s);
    }
    for (struct moted_share *g = n->shares, *gnext; g; g = gnext) {
        gnext = g->next;
        for (struct moted_sub *s = g->members, *next; s; s = next) {
            next = s->next;
            sub_free(t, s);
        }
        moted__free(g->group);
        moted__free(g);
    }
    moted__free(n->slots);
    moted__free(n->level);
    moted__free(n);
}

int moted__tree_init(struct moted_tree *t)
{
    memset(t, 0, sizeof *t);
    t->root = node_new(NULL, (const uint8_t *)"", 0, 0);
    return t->root ? 0 : -1;
}

void moted__tree_free(struct moted_tree *t)
{
    if (t->root)
        node_free(t, t->root);
    memset(t, 0, sizeof *t);
}

/* Splits off the level that starts at *pos; returns its length and moves *pos past the '/'. */
static size_t next_level(const uint8_t *s, size_t len, size_t *pos, const uint8_t **level)
{
    size_t start = *pos, end = start;
    while (end < len && s[end] != '/')
        end++;
    *level = s + start;
    *pos = end + 1; /* past the '/', or past the end when there is none */
    return end - start;
}

/* Walks to (creating when `create`) the node of a plain filter. */
static struct moted_tree_node *node_at(struct moted_tree *t, const uint8_t *f, size_t len,
                                       int create)
{
    struct moted_tree_node *n = t->root;
    size_t pos = 0;
    while (pos <= len) {
        const uint8_t *level;
        size_t ll = next_level(f, len, &pos, &level);
        uint32_t h = hash_level(level, ll);
        struct moted_tree_node *c = child_find(n, level, ll, h);
        if (!c) {
            if (!create)
                return NULL;
            c = node_new(n, level, ll, h);
            if (!c || child_insert(n, c)) {
                if (c)
                    node_free(t, c);
                return NULL;
            }
            t->node_count++;
        }
        n = c;
    }
    return n;
}

static void prune(struct moted_tree *t, struct moted_tree_node *n)
{
    while (n && n->parent && !n->subs && !n->shares && !n->child_count) {
        struct moted_tree_node *parent = n->parent;
        child_erase(parent, n);
        node_free(t, n);
        t->node_count--;
        n = parent;
    }
}

/* Adds or replaces key's entry in a list; returns 0 new, 1 replaced, -1 no memory. */
static int list_put(const struct moted_tree *t, struct moted_sub **list,
                    const struct moted_sub *sub)
{
    struct moted_sub *s;
    for (s = *list; s; s = s->next) {
        if (s->key == sub->key) {
            struct moted_sub *next = s->next;
            if (t->release && s->owner != sub->owner)
                t->release(s->owner);
            *s = *sub;
            s->next = next;
            return 1;
        }
    }
    s = moted__malloc(sizeof *s);
    if (!s)
        return -1;
    *s = *sub;
    s->next = *list;
    *list = s;
    return 0;
}

static int list_take(const struct moted_tree *t, struct moted_sub **list, uintptr_t key)
{
    for (struct moted_sub **pp = list; *pp; pp = &(*pp)->next) {
        if ((*pp)->key == key) {
            struct moted_sub *s = *pp;
            *pp = s->next;
            sub_free(t, s);
            return 1;
        }
    }
    return 0;
}

int moted__tree_add(struct moted_tree *t, const uint8_t *filter, size_t len,
                    const struct moted_sub *sub)
{
    struct mote_slice group = {0}, plain = {filter, len};
    struct moted_tree_node *n;
    struct moted_share *g;
    int rc;

    mote_topic_share((struct mote_slice){filter, len}, &group, &plain);
    n = node_at(t, plain.ptr, plain.len, 1);
    if (!n)
        return -1;
    if (!group.ptr) {
        rc = list_put(t, &n->subs, sub);
    } else {
        for (g = n->shares; g; g = g->next)
            if (g->group_len == group.len && !memcmp(g->group, group.ptr, group.len))
                break;
        if (!g) {
            g = moted__calloc(1, sizeof *g);
            if (!g || !(g->group = moted__strndup((const char *)group.ptr, group.len))) {
                moted__free(g);
                prune(t, n);
                return -1;
            }
            g->group_len = group.len;
            g->next = n->shares;
            n->shares = g;
        }
        rc = list_put(t, &g->members, sub);
        if (rc == 0)
            g->count++;
    }
    if (rc < 0) {
        prune(t, n);
        return -1;
    }
    if (rc == 0)
        t->sub_count++;
    return rc;
}

int moted__tree_remove(struct moted_tree *t, const uint8_t *filter, size_t len, uintptr_t key)
{
    struct mote_slice group = {0}, plain = {filter, len};
    struct moted_tree_node *n;
    int removed = 0;

    mote_topic_share((struct mote_slice){filter, len}, &group, &plain);
    n = node_at(t, plain.ptr, plain.len, 0);
    if (!n)
        return 0;
    if (!group.ptr) {
        removed = list_take(t, &n->subs, key);
    } else {
        for (struct moted_share **pg = &n->shares; *pg; pg = &(*pg)->next) {
            struct moted_share *g = *pg;
            if (g->group_len != group.len || memcmp(g->group, group.ptr, group.len))
                continue;
            removed = list_take(t, &g->members, key);
            if (removed)
                g->count--;
            if (!g->members) {
                *pg = g->next;
                moted__free(g->group);
                moted__free(g);
            }
            break;
        }
    }
    if (removed)
        t->sub_count--;
    prune(t, n);
    return removed;
}

static void report(const struct moted_tree_node *n, const struct moted_match_cb *cb)
{
    for (const struct moted_sub *s = n->subs; s; s = s->next)
        if (cb->sub)
            cb->sub(cb->ctx, s);
    for (struct moted_share *g = n->shares; g; g = g->next)
        if (cb->share)
            cb->share(cb->ctx, g);
}

static void match(const struct moted_tree_node *n, const uint8_t *topic, size_t len, size_t pos,
                  int first, const struct moted_match_cb *cb)
{
    const uint8_t *level;
    size_t ll;
    const struct moted_tree_node *c;
    /* '$' topics are not matched by a wildcard in the first level (MQTT-4.7.2-1). */
    int wild_ok = !(first && len && topic[0] == '$');

    if (wild_ok && (c = child_find(n, (const uint8_t *)"#", 1, hash_level((const uint8_t *)"#", 1))))
        report(c, cb); /* "a/#" matches "a/b/c" and, via the parent rule below, "a" */
    if (pos > len) { /* every level consumed: this node is the topic's */
        report(n, cb);
        return;
    }
    ll = next_level(topic, len, &pos, &level);
    if ((c = child_find(n, level, ll, hash_level(level, ll))))
        match(c, topic, len, pos, 0, cb);
    if (wild_ok && (c = child_find(n, (const uint8_t *)"+", 1, hash_level((const uint8_t *)"+", 1))))
        match(c, topic, len, pos, 0, cb);
}

void moted__tree_match(struct moted_tree *t, const uint8_t *topic, size_t len,
                       const struct moted_match_cb *cb)
{
    match(t->root, topic, len, 0, 1, cb);
}

/* Walks stored topics level by level along a filter ('+' any child, '#' everything below). */
static void report_all(const struct moted_tree_node *n, const struct moted_match_cb *cb, int top)
{
    /* '#' at the first level does not reach topics that start with '$' (MQTT-4.7.2-1). */
    if (!(top && n->level_len && n->level[0] == '$'))
        for (const struct moted_sub *s = n->subs; s; s = s->next)
            cb->sub(cb->ctx, s);
    if (top && n->level_len && n->level[0] == '$')
        return;
    for (size_t i = 0; i < n->slot_cap; i++)
        if (n->slots[i])
            report_all(n->slots[i], cb, 0);
}

static void match_filter(const struct moted_tree_node *n, const uint8_t *f, size_t len,
                         size_t pos, int first, const struct moted_match_cb *cb)
{
    const uint8_t *level;
    size_t ll;
    const struct moted_tree_node *c;

    if (pos > len) {
        for (const struct moted_sub *s = n->subs; s; s = s->next)
            cb->sub(cb->ctx, s);
        return;
    }
    ll = next_level(f, len, &pos, &level);
    if (ll == 1 && level[0] == '#') {
        if (!first) /* "a/#" also matches "a" itself */
            for (const struct moted_sub *s = n->subs; s; s = s->next)
                cb->sub(cb->ctx, s);
        for (size_t i = 0; i < n->slot_cap; i++)
            if (n->slots[i])
                report_all(n->slots[i], cb, first);
        return;
    }
    if (ll == 1 && level[0] == '+') {
        for (size_t i = 0; i < n->slot_cap; i++) {
            c = n->slots[i];
            if (c && !(first && c->level_len && c->level[0] == '$'))
                match_filter(c, f, len, pos, 0, cb);
        }
        return;
    }
    if ((c = child_find(n, level, ll, hash_level(level, ll))))
        match_filter(c, f, len, pos, 0, cb);
}

void moted__tree_match_filter(struct moted_tree *t, const uint8_t *filter, size_t len,
                              const struct moted_match_cb *cb)
{
    match_filter(t->root, filter, len, 0, 1, cb);
}
