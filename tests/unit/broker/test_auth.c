/*
 * test_auth.c - moted reads Mosquitto 2's password and ACL files: entries made by Debian's
 * mosquitto_passwd (2.0.11) verify, malformed lines are errors with their line numbers, and ACL
 * rules decide read, write and subscribe as docs/auth.md says.
 */
#define _DEFAULT_SOURCE 1
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/mman.h>
#include <unistd.h>

#include "alloc.h"
#include "auth.h"
#include "mote/codec.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------------------------------
 * Helpers: parser input ends at a PROT_NONE page (an over-read crashes at once), error
 * messages land in a buffer with guard bytes after the length the parser is given.
 * ------------------------------------------------------------------------------------------- */

#define GUARD 0xA5
#define ERRLEN 200

struct guarded {
    uint8_t *map;
    size_t map_len;
    const char *text;
    size_t len;
};

static struct guarded guard_text(const char *text)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE), len = strlen(text);
    size_t pages = (len + page - 1) / page + 1;
    struct guarded g = {0};
    g.map_len = pages * page;
    g.map = mmap(NULL, g.map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(g.map != MAP_FAILED);
    assert_int_equal(mprotect(g.map + (pages - 1) * page, page, PROT_NONE), 0);
    g.text = (const char *)g.map + (pages - 1) * page - len; /* no NUL after it */
    memcpy((char *)g.text, text, len);
    g.len = len;
    return g;
}

static void guard_free(struct guarded *g)
{
    munmap(g->map, g->map_len);
}

static char errbuf[ERRLEN + 16];

static void err_reset(void)
{
    memset(errbuf, GUARD, sizeof errbuf);
    errbuf[0] = 0;
}

static void err_check_guard(void)
{
    for (size_t i = ERRLEN; i < sizeof errbuf; i++)
        assert_int_equal((uint8_t)errbuf[i], GUARD);
}

static struct moted_passwd *pw_parse(const char *text)
{
    struct guarded g = guard_text(text);
    struct moted_passwd *pf;
    err_reset();
    pf = moted__passwd_parse("pw", g.text, g.len, errbuf, ERRLEN);
    err_check_guard();
    guard_free(&g);
    return pf;
}

static struct moted_acl *acl_parse(const char *text)
{
    struct guarded g = guard_text(text);
    struct moted_acl *acl;
    err_reset();
    acl = moted__acl_parse("acl", g.text, g.len, errbuf, ERRLEN);
    err_check_guard();
    guard_free(&g);
    return acl;
}

static int check(const struct moted_passwd *pf, const char *user, const char *pw)
{
    return moted__passwd_check(pf, user, strlen(user), (const uint8_t *)pw, strlen(pw));
}

/* ---------------------------------------------------------------------------------------------
 * Password file
 * ------------------------------------------------------------------------------------------- */

/*
 * Made by Debian's mosquitto_passwd 2.0.11 (`mosquitto_passwd -b FILE USER PASSWORD`, and
 * -H sha512 for the $6$ ones), except gina and hank: PBKDF2 with other iteration counts and a
 * 16-byte salt, made with Python's hashlib, which mosquitto_passwd cannot choose.
 */
static const struct {
    const char *user, *password, *line;
} made[] = {
    {"alice", "secret",
     "alice:$7$101$BkczcyH+NzUW7dHI$ecpRFJef+ZfmSaWNtwzJ6Nil+iZsmQ9uTatqOaqvjgo4vXVzZ57NE9V5GFYg7"
     "CNY3hTO9d7hR406ZLo88mlpzg=="},
    {"bob", "p\xc3\xa4 ss:wd",
     "bob:$7$101$vVGCdcVLTsmb6P35$AAEE04Sy/Vl51lXuaTybMklDppc/l6Hkgh/B47PCTTN11z0rsRsyv4sFbmsBQKN"
     "g7jEHDwNhk+7E1C9T/G3ajQ=="},
    {"carol", "hunter2",
     "carol:$6$Gm5o0mX2hAc38TX5$sm1hC9b4Z6JaqEmNNr9zd5FL74hnGYrXnrqkGN7snLjNveNSlJg1u3LpQnQ72OMg"
     "zVVpghkTzhbBH1amR3CZgQ=="},
    {"dave", "",
     "dave:$7$101$5vPO3Gi/cj9Xp+VV$3YGklx5Ahwvh1dvOnhkuKGVXZWc0cUcFrx9qVj62PRChLhVm4HuOG1LIzq2QU3"
     "+K5u3P/S+AEEsUfiZnJGUc/A=="},
    {"erin",
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
     "xxxxxxxxxxxxy",
     "erin:$7$101$Bs0hxSPCF1Evn7Dt$A9Kk+U2VNrqaIBM8FUPa/xqAp2txtu0KQAeRo7JFJe/P3nzYsC8VDKwFX4MvC9C"
     "giR+qCTpQKBxuuGifX70BPw=="},
    {"frank",
     "\xc3\x9cn\xc3\xaf"
     "code pass",
     "frank:$6$u8ZSujRtnneYaC2Z$WXS2e5osXOzUbgidVh5oEkHWUlVRKMOkssl9JTg5FErkW8w8TksWG88rVdG4vd97"
     "Zf+D9cdTO0iPrHgA7u9dXg=="},
    {"gina", "thousand",
     "gina:$7$1000$AQIDBAUGBwgJCgsM$FPWc5hEeWF1y/1nS6oFYYsIRbYbsAHpNh8qEi1F70G0BsObItY80IVmImZZHf"
     "YcuCaMZTcnVZOuYIBAzj68uVA=="},
    {"hank", "pw",
     "hank:$7$7$AQIDBAUGBwgJCgsMDQ4PEA==$NCWYeBkQMlMDhFMDT2UpqY511/lDkW/p7vOJF+EYJQGHoh5uX4lByyXx"
     "TVcu4CEUxKRSYMVT3NpWFD3QgHBKvQ=="},
};

static char *made_file(void)
{
    static char text[4096];
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(made); i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s\n", made[i].line);
    return text;
}

static void mosquitto_passwd_entries_verify(void **state)
{
    struct moted_passwd *pf = pw_parse(made_file());
    (void)state;
    assert_non_null(pf);
    assert_int_equal(moted__passwd_count(pf), ARRAY_LEN(made));
    for (size_t i = 0; i < ARRAY_LEN(made); i++) {
        if (!check(pf, made[i].user, made[i].password))
            fail_msg("%s: the right password was refused", made[i].user);
    }
    moted__passwd_free(pf);
}

static void wrong_passwords_are_refused(void **state)
{
    struct moted_passwd *pf = pw_parse(made_file());
    char longer[64];
    (void)state;
    assert_non_null(pf);
    assert_false(check(pf, "alice", "Secret"));
    assert_false(check(pf, "alice", "secre"));
    assert_false(check(pf, "alice", "secret "));
    assert_false(check(pf, "alice", ""));
    assert_false(check(pf, "carol", "hunter"));
    assert_false(check(pf, "carol", "hunter22"));
    assert_false(check(pf, "dave", " "));
    assert_false(check(pf, "bob", "p\xc3\xa4 ss"));
    assert_false(check(pf, "alice", "hunter2")); /* another user's password */
    assert_false(check(pf, "Alice", "secret"));  /* user names are case-sensitive */
    assert_false(check(pf, "alic", "secret"));
    assert_false(check(pf, "alicee", "secret"));
    assert_false(check(pf, "nobody", "secret"));
    assert_false(check(pf, "", ""));
    /* A NUL inside the password is part of it (Mosquitto would cut at it). */
    memcpy(longer, "secret\0x", 8);
    assert_false(moted__passwd_check(pf, "alice", 5, (const uint8_t *)longer, 8));
    assert_false(moted__passwd_check(pf, NULL, 0, (const uint8_t *)"secret", 6));
    /* The user name is (pointer, length): no NUL needed after it. */
    assert_true(moted__passwd_check(pf, "alice-and-more", 5, (const uint8_t *)"secret", 6));
    assert_false(moted__passwd_check(NULL, "alice", 5, (const uint8_t *)"secret", 6));
    moted__passwd_free(pf);
}

static void comments_blanks_crlf_and_blanks_around_fields(void **state)
{
    char text[2048];
    struct moted_passwd *pf;
    (void)state;
    snprintf(text, sizeof text,
             "# users of the plant\r\n"
             "\r\n"
             "   \t\n"
             "  %s  \r\n"
             "   # indented comment\n"
             "%.3s  :  %s\n"
             "%s", /* no newline at the end */
             made[0].line, made[2].line, made[2].line + 6, made[1].line);
    pf = pw_parse(text);
    assert_non_null(pf);
    assert_int_equal(moted__passwd_count(pf), 3);
    assert_true(check(pf, "alice", "secret"));
    assert_true(check(pf, "car", "hunter2")); /* "car  :" is user "car", as in Mosquitto */
    assert_true(check(pf, "bob", "p\xc3\xa4 ss:wd"));
    moted__passwd_free(pf);
}

static void the_last_line_of_a_user_wins(void **state)
{
    char text[2048];
    struct moted_passwd *pf;
    (void)state;
    /* alice's line, then alice with carol's hash: Mosquitto keeps the last. */
    snprintf(text, sizeof text, "%s\n%s\nalice:%s\n", made[0].line, made[1].line, made[2].line + 6);
    pf = pw_parse(text);
    assert_non_null(pf);
    assert_int_equal(moted__passwd_count(pf), 2);
    assert_false(check(pf, "alice", "secret"));
    assert_true(check(pf, "alice", "hunter2"));
    assert_true(check(pf, "bob", "p\xc3\xa4 ss:wd"));
    moted__passwd_free(pf);
}

static void an_empty_file_has_no_users(void **state)
{
    struct moted_passwd *pf = pw_parse("# nobody yet\n\n");
    (void)state;
    assert_non_null(pf);
    assert_int_equal(moted__passwd_count(pf), 0);
    assert_false(check(pf, "alice", "secret"));
    moted__passwd_free(pf);
}

static void malformed_password_lines_name_their_line(void **state)
{
    static const char *const hash = "BkczcyH+NzUW7dHI$ecpRFJef+ZfmSaWNtwzJ6Nil+iZsmQ9uTatqOaqvjgo4"
                                    "vXVzZ57NE9V5GFYg7CNY3hTO9d7hR406ZLo88mlpzg==";
    static const struct {
        const char *line, *want;
    } bad[] = {
        {"alice", "no ':'"},
        {":$7$101$%s", "empty user name"},
        {"alice:", "no password hash"},
        {"alice:secret", "unknown password hash"},
        {"alice:$5$abc$def", "unknown password hash"},
        {"alice:$7$$%s", "needs $ITERATIONS"},
        {"alice:$7$abc$%s", "not a number"},
        {"alice:$7$0$%s", "at least 1"},
        {"alice:$7$-5$%s", "not a number"},
        {"alice:$7$99999999999$%s", "too large"},
        {"alice:$7$101$onlysalt", "needs $SALT$HASH"},
        {"alice:$7$101$%s$extra", "too many '$'"},
        {"alice:$7$101$!!!!$ecpRFJef", "salt is not base64"},
        {"alice:$7$101$$ecpRFJef", "salt is not base64"},
        {"alice:$7$101$BkczcyH+NzUW7dHI$ecpRFJef", "hash is not base64 of 64 bytes"},
        {"alice:$7$101$BkczcyH+NzUW7dHI$ecpRFJef+Zf=mSaW", "hash is not base64"},
        {"alice:$6$%s$x", "too many '$'"},
        {"alice:$6$Gm5o0mX2hAc38TX5", "needs $SALT$HASH"},
        {"alice:$7$101$BkczcyH+NzUW7dHI$ecpRFJef+ZfmSaWNtwzJ6Nil+iZsmQ9uTatqOaqvjgo4vXVzZ57NE9V5G"
         "FYg7CNY3hTO9d7hR406ZLo88mlpzg== trailing",
         "hash is not base64"},
    };
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char line[512], text[1024];
        struct moted_passwd *pf;
        snprintf(line, sizeof line, bad[i].line, hash);
        /* Two good lines and a comment first: the bad one is line 4. */
        snprintf(text, sizeof text, "%s\n# comment\n%s\n%s\n%s\n", made[1].line, made[2].line, line,
                 made[3].line);
        pf = pw_parse(text);
        if (pf)
            fail_msg("accepted: %s", line);
        if (strncmp(errbuf, "pw:4: ", 6) || !strstr(errbuf, bad[i].want))
            fail_msg("line '%s': message '%s', expected 'pw:4: ...%s...'", line, errbuf,
                     bad[i].want);
    }
}

static void long_error_lines_stay_in_their_buffer(void **state)
{
    char text[2000];
    (void)state;
    memset(text, 'u', 1500);
    strcpy(text + 1500, ":plain\n");
    assert_null(pw_parse(text));
    assert_int_equal(strlen(errbuf), ERRLEN - 1);
    assert_null(
        acl_parse("topic read a/#/b\nuser uuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuuu\n"));
}

static void loading_from_a_file(void **state)
{
    char path[] = "/tmp/test_auth_XXXXXX";
    char err[256];
    int fd = mkstemp(path);
    struct moted_passwd *pf;
    (void)state;
    assert_true(fd >= 0);
    assert_true(write(fd, made[0].line, strlen(made[0].line)) > 0);
    close(fd);
    pf = moted__passwd_load(path, err, sizeof err);
    assert_non_null(pf);
    assert_true(check(pf, "alice", "secret"));
    moted__passwd_free(pf);
    unlink(path);
    assert_null(moted__passwd_load(path, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
    assert_non_null(strstr(err, path));
    assert_null(moted__acl_load(path, err, sizeof err));
    assert_non_null(strstr(err, "cannot open"));
}

static void out_of_memory_is_an_error_not_a_crash(void **state)
{
    (void)state;
    for (size_t limit = 1; limit < 64 * 1024; limit += 97) {
        static const char text[] = "topic a\nuser u\ntopic b\nuser v\ntopic c\nuser u\n"
                                   "topic deny d\npattern read %u/%c\n";
        struct moted_passwd *pf;
        struct moted_acl *ac;
        size_t base = moted__mem_used();
        moted__mem_set_limit(base + limit);
        pf = moted__passwd_parse("pw", made_file(), strlen(made_file()), errbuf, ERRLEN);
        if (!pf)
            assert_non_null(strstr(errbuf, "out of memory"));
        ac = moted__acl_parse("acl", text, strlen(text), errbuf, ERRLEN);
        if (!ac)
            assert_non_null(strstr(errbuf, "out of memory"));
        moted__mem_set_limit(0);
        moted__passwd_free(pf);
        moted__acl_free(ac);
        assert_int_equal(moted__mem_used(), base);
    }
}

/* ---------------------------------------------------------------------------------------------
 * Filter algebra
 * ------------------------------------------------------------------------------------------- */

static int overlap(const char *a, const char *b)
{
    return moted__filter_overlap((const uint8_t *)a, strlen(a), (const uint8_t *)b, strlen(b));
}

static int covers(const char *outer, const char *inner)
{
    return moted__filter_covers((const uint8_t *)outer, strlen(outer), (const uint8_t *)inner,
                                strlen(inner));
}

static void filters_overlap(void **state)
{
    static const struct {
        const char *a, *b;
        int want;
    } cases[] = {
        {"a/b", "a/b", 1},
        {"a/b", "a/c", 0},
        {"a/+", "a/b", 1},
        {"a/+", "+/b", 1},
        {"a/+", "b/+", 0},
        {"#", "a/b/c", 1},
        {"a/#", "a", 1},
        {"a/#", "a/b/c", 1},
        {"a/#", "b/#", 0},
        {"a/b/#", "a", 0},
        {"a/+", "a", 0},
        {"a/+", "a/b/c", 0},
        {"a/+/c", "a/#", 1},
        {"+/+", "a/b/c", 0},
        {"+/+/#", "a/b", 1},
        {"a/", "a/+", 1},
        {"a/", "a", 0},
        {"/a", "+/a", 1},
        {"+", "", 1},
        {"a//b", "a/+/b", 1},
        {"a/b/c", "a/b", 0},
        {"#", "$SYS/x", 0},
        {"+/x", "$SYS/x", 0},
        {"$SYS/#", "$SYS/broker/load", 1},
        {"$SYS/+", "$SYS/x", 1},
        {"$SYS/#", "#", 0},
        {"$SYS/#", "+/#", 0},
        {"+/#", "#", 1},
        {"$SYS", "$SYS/#", 1},
        {"$a/+", "$b/+", 0},
    };
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        if (overlap(cases[i].a, cases[i].b) != cases[i].want)
            fail_msg("overlap(%s, %s) != %d", cases[i].a, cases[i].b, cases[i].want);
        if (overlap(cases[i].b, cases[i].a) != cases[i].want)
            fail_msg("overlap(%s, %s) != %d", cases[i].b, cases[i].a, cases[i].want);
    }
}

static void filters_cover(void **state)
{
    static const struct {
        const char *outer, *inner;
        int want;
    } cases[] = {
        {"a/b", "a/b", 1},
        {"a/b", "a/c", 0},
        {"a/+", "a/b", 1},
        {"a/b", "a/+", 0},
        {"a/+", "a/+", 1},
        {"#", "a/b/#", 1},
        {"#", "+", 1},
        {"a/#", "a", 1},
        {"a/#", "a/#", 1},
        {"a/#", "a/b/+", 1},
        {"a/+", "a/#", 0},
        {"a", "a/#", 0},
        {"a/+/#", "a/#", 0},
        {"a/+/#", "a/b/#", 1},
        {"+/+", "a/b", 1},
        {"+/+", "a/b/c", 0},
        {"+/+", "a", 0},
        {"+/b", "+/+", 0},
        {"a/b/c", "a/b", 0},
        {"a/b", "a/b/c", 0},
        {"+", "", 1},
        {"#", "$SYS/x", 0},
        {"#", "$SYS/#", 0},
        {"+/#", "$SYS", 0},
        {"$SYS/#", "$SYS/a/b", 1},
        {"$SYS/+", "$SYS/#", 0},
        {"#", "+/b", 1},
        {"+/#", "#", 1}, /* neither matches '$' topics, and "+/#" matches "a" */
        {"+/+", "#", 0},
        {"+", "#", 0},
        {"+/#", "+", 1},
        {"+/#", "a/#", 1},
        {"#", "+/#", 1},
        {"+/+/#", "#", 0},
    };
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        if (covers(cases[i].outer, cases[i].inner) != cases[i].want)
            fail_msg("covers(%s, %s) != %d", cases[i].outer, cases[i].inner, cases[i].want);
}

/*
 * Every valid filter of up to 3 levels over {a, $x, "", +, #} against every other, compared with
 * what mote_topic_match says over every topic of up to 4 levels over {a, $x, "", c}: "c" is a
 * level no filter names, the fourth level one that no filter without '#' reaches.
 */
#define ALGEBRA_FILTERS 160
#define ALGEBRA_TOPICS 400

static size_t build(const char *const *alphabet, size_t n, size_t depth, char (*out)[16],
                    size_t cap, int filters)
{
    size_t count = 0, idx[4] = {0};
    for (size_t levels = 1; levels <= depth; levels++) {
        size_t total = 1;
        for (size_t i = 0; i < levels; i++)
            total *= n;
        for (size_t k = 0; k < total; k++) {
            char buf[16] = "";
            size_t v = k, len;
            for (size_t i = 0; i < levels; i++, v /= n)
                idx[i] = v % n;
            for (size_t i = 0; i < levels; i++) {
                if (i)
                    strcat(buf, "/");
                strcat(buf, alphabet[idx[i]]);
            }
            len = strlen(buf);
            if (filters ? mote_topic_check_filter((const uint8_t *)buf, len) != MOTE_OK
                        : mote_topic_check_name((const uint8_t *)buf, len) != MOTE_OK)
                continue;
            assert_true(count < cap);
            strcpy(out[count++], buf);
        }
    }
    return count;
}

static void filter_algebra_agrees_with_topic_match(void **state)
{
    static const char *const flevels[] = {"a", "$x", "", "+", "#"};
    static const char *const tlevels[] = {"a", "$x", "", "c"};
    static char filters[ALGEBRA_FILTERS][16], topics[ALGEBRA_TOPICS][16];
    static uint8_t match[ALGEBRA_FILTERS][ALGEBRA_TOPICS];
    size_t nf = build(flevels, 5, 3, filters, ALGEBRA_FILTERS, 1);
    size_t nt = build(tlevels, 4, 4, topics, ALGEBRA_TOPICS, 0);
    (void)state;
    assert_true(nf > 100 && nt > 300);
    for (size_t f = 0; f < nf; f++)
        for (size_t t = 0; t < nt; t++)
            match[f][t] = (uint8_t)mote_topic_match((const uint8_t *)filters[f], strlen(filters[f]),
                                                    (const uint8_t *)topics[t], strlen(topics[t]));
    for (size_t a = 0; a < nf; a++) {
        for (size_t b = 0; b < nf; b++) {
            int both = 0, a_only_b = 1;
            for (size_t t = 0; t < nt; t++) {
                both |= match[a][t] & match[b][t];
                if (match[b][t] && !match[a][t])
                    a_only_b = 0;
            }
            if (overlap(filters[a], filters[b]) != both)
                fail_msg("overlap('%s', '%s') should be %d", filters[a], filters[b], both);
            if (covers(filters[a], filters[b]) != a_only_b)
                fail_msg("covers('%s', '%s') should be %d", filters[a], filters[b], a_only_b);
        }
    }
}

/* ---------------------------------------------------------------------------------------------
 * ACL file
 * ------------------------------------------------------------------------------------------- */

static int acl(const struct moted_acl *a, const char *user, const char *cid, const char *topic,
               int access)
{
    return moted__acl_check(a, user, cid, (const uint8_t *)topic, strlen(topic), access);
}

#define R MOTED_ACL_READ
#define W MOTED_ACL_WRITE
#define S MOTED_ACL_SUBSCRIBE

/* Rows: user (NULL: anonymous), client id, topic, access, expected. */
struct row {
    const char *user, *cid, *topic;
    int access, want;
};

static void run_rows(const struct moted_acl *a, const struct row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        if (acl(a, r->user, r->cid, r->topic, r->access) != r->want)
            fail_msg("row %zu: user %s, client %s, %s %s: expected %s", i,
                     r->user ? r->user : "(anonymous)", r->cid, r->topic,
                     r->access == R   ? "read"
                     : r->access == W ? "write"
                                      : "subscribe",
                     r->want ? "allowed" : "denied");
    }
}

static const char *const plant_acl = "# anonymous clients: read the public tree\n"
                                     "topic read public/#\n"
                                     "\n"
                                     "user alice\n"
                                     "topic a/b\n" /* no access word: read and write */
                                     "topic read r/#\n"
                                     "topic write w/+\n"
                                     "topic deny r/secret/#\n"
                                     "topic readwrite rw/#\n"
                                     "topic read $SYS/#\n"
                                     "\n"
                                     "user bob\n"
                                     "topic readwrite #\n"
                                     "topic deny bob/private\n"
                                     "\n"
                                     "pattern read devices/%c/cmd\n"
                                     "pattern write devices/%c/state\n"
                                     "pattern readwrite users/%u/#\n"
                                     "pattern deny users/%u/locked\n"
                                     "pattern read x/pre%cpost/y\n";

static void acl_sections_access_and_deny(void **state)
{
    static const struct row rows[] = {
        /* anonymous: the lines before any `user`, and patterns without %u */
        {NULL, "c1", "public/news", R, 1},
        {NULL, "c1", "public", R, 1},
        {NULL, "c1", "public/news", W, 0},
        {NULL, "c1", "a/b", R, 0},
        {NULL, "c1", "devices/c1/cmd", R, 1},
        {NULL, "c1", "devices/c2/cmd", R, 0},
        {NULL, "c1", "users/c1/x", R, 0}, /* %u: no user name, the pattern does not apply */
        /* alice: her section, not the anonymous one */
        {"alice", "c1", "public/news", R, 0},
        {"alice", "c1", "a/b", R, 1},
        {"alice", "c1", "a/b", W, 1},
        {"alice", "c1", "a/b/c", R, 0},
        {"alice", "c1", "r/x/y", R, 1},
        {"alice", "c1", "r/x/y", W, 0},
        {"alice", "c1", "w/x", W, 1},
        {"alice", "c1", "w/x", R, 0},
        {"alice", "c1", "w/x/y", W, 0},
        {"alice", "c1", "r/secret", R, 0}, /* the deny comes after r/# in the file, and wins */
        {"alice", "c1", "r/secret/deep", R, 0},
        {"alice", "c1", "r/secretive", R, 1},
        {"alice", "c1", "rw/1", W, 1},
        {"alice", "c1", "$SYS/broker/uptime", R, 1},
        {"alice", "c1", "$SYS/broker/uptime", W, 0},
        /* bob: '#' is everything but '$' topics */
        {"bob", "c2", "anything/at/all", W, 1},
        {"bob", "c2", "$SYS/broker/uptime", R, 0},
        {"bob", "c2", "bob/private", R, 0},
        {"bob", "c2", "bob/private/x", R, 1},
        /* patterns apply to everyone, with %c and %u */
        {"alice", "c1", "devices/c1/cmd", R, 1},
        {"alice", "c1", "devices/c1/cmd", W, 0},
        {"alice", "c1", "devices/c1/state", W, 1},
        {"alice", "c1", "devices/c2/state", W, 0},
        {"alice", "c1", "users/alice/inbox", R, 1},
        {"alice", "c1", "users/alice/inbox", W, 1},
        {"alice", "c1", "users/alice", R, 1},
        {"alice", "c1", "users/bob/inbox", R, 0},
        {"alice", "c1", "users/alice/locked", R, 0},
        {"alice", "c1", "x/prec1post/y", R, 1}, /* substituted inside a level, as Mosquitto */
        /* a pattern deny beats a user's own allow (Mosquitto checks user lines first) */
        {"bob", "c2", "users/bob/locked", W, 0},
        {"bob", "c2", "users/bob/other", W, 1},
        /* a user without a section: patterns only */
        {"carol", "c3", "users/carol/x", R, 1},
        {"carol", "c3", "public/news", R, 0},
        {"carol", "c3", "a/b", R, 0},
        {"", "c3", "users//x", R, 1}, /* an empty user name is a user name */
    };
    struct moted_acl *a = acl_parse(plant_acl);
    (void)state;
    assert_non_null(a);
    assert_int_equal(moted__acl_users(a), 2);
    assert_int_equal(moted__acl_rules(a), 14);
    run_rows(a, rows, ARRAY_LEN(rows));
    moted__acl_free(a);
}

static void wildcards_in_names_disable_patterns(void **state)
{
    static const struct row rows[] = {
        /* CVE-2017-7650: "#" as client id would make devices/#/cmd */
        {NULL, "#", "devices/x/cmd", R, 0},
        {NULL, "+", "devices/x/cmd", R, 0},
        {NULL, "a+b", "devices/a+b/cmd", R, 0},
        {"u#", "c1", "users/u#/x", R, 0},
        {"u#", "c1", "devices/c1/cmd", R, 0},   /* every pattern, not only %u ones */
        {"bob", "#", "x/y", R, 1},              /* the user's own lines still apply */
        {"bob", "#", "users/bob/locked", R, 1}, /* ...and pattern denies no longer do */
        /* '/' is allowed, as in Mosquitto: it lands in deeper levels */
        {NULL, "site/7", "devices/site/7/cmd", R, 1},
        {NULL, "site/7", "devices/site/cmd", R, 0},
        {"team/a", "c1", "users/team/a/x", R, 1},
    };
    struct moted_acl *a = acl_parse(plant_acl);
    (void)state;
    assert_non_null(a);
    run_rows(a, rows, ARRAY_LEN(rows));
    moted__acl_free(a);
}

static void subscribe_checks_the_filter(void **state)
{
    static const struct row rows[] = {
        /* some topic the filter matches is readable */
        {"alice", "c1", "r/#", S, 1},
        {"alice", "c1", "r/+/y", S, 1},
        {"alice", "c1", "#", S, 1},   /* r/... readable: granted, deliveries filtered */
        {"alice", "c1", "+/b", S, 1}, /* a/b */
        {"alice", "c1", "a/b", S, 1},
        {"alice", "c1", "a/b/c", S, 0}, /* nothing under it is readable */
        {"alice", "c1", "w/+", S, 0},   /* write only */
        {"alice", "c1", "zzz/#", S, 0},
        /* a deny that covers all of the filter refuses it */
        {"alice", "c1", "r/secret/#", S, 0},
        {"alice", "c1", "r/secret/+", S, 0},
        {"alice", "c1", "r/secret", S, 0},
        {"alice", "c1", "r/+", S, 1}, /* r/secret is denied, r/other is not */
        /* '$' topics: only from lines that start with '$' */
        {"alice", "c1", "$SYS/#", S, 1},
        {"bob", "c2", "$SYS/#", S, 0},
        {"bob", "c2", "#", S, 1},
        {"bob", "c2", "bob/private", S, 0},
        {"bob", "c2", "bob/+", S, 1},
        /* patterns */
        {NULL, "c1", "devices/c1/cmd", S, 1},
        {NULL, "c1", "devices/+/cmd", S, 1},
        {NULL, "c1", "devices/c1/state", S, 0}, /* write only */
        {NULL, "c1", "public/#", S, 1},
        {NULL, "c1", "#", S, 1},
        {"carol", "c3", "users/carol/#", S, 1},
        {"carol", "c3", "users/carol/locked", S, 0},
        {"carol", "c3", "users/+/x", S, 1},
        {"carol", "c3", "devices/c1/cmd", S, 0},
        /* shared subscriptions: the filter after the group */
        {"alice", "c1", "$share/g/r/#", S, 1},
        {"alice", "c1", "$share/g/zzz", S, 0},
        {"alice", "c1", "$share/g/r/secret", S, 0},
    };
    struct moted_acl *a = acl_parse(plant_acl);
    (void)state;
    assert_non_null(a);
    run_rows(a, rows, ARRAY_LEN(rows));
    moted__acl_free(a);
}

static void no_acl_allows_everything_and_bad_calls_deny(void **state)
{
    struct moted_acl *a = acl_parse("topic read x\n");
    (void)state;
    assert_true(acl(NULL, NULL, "c", "any/thing", W));
    assert_true(acl(NULL, "u", "c", "#", S));
    assert_non_null(a);
    assert_false(acl(a, NULL, "c", "", R));
    assert_false(acl(a, NULL, "c", "x", 0));
    assert_false(acl(a, NULL, "c", "x", R | W));
    assert_false(moted__acl_check(a, NULL, "c", NULL, 1, R));
    moted__acl_free(a);
    /* An empty file denies everything. */
    a = acl_parse("# nothing\n");
    assert_non_null(a);
    assert_false(acl(a, NULL, "c", "x", R));
    assert_false(acl(a, "u", "c", "x", S));
    moted__acl_free(a);
}

static void acl_file_details(void **state)
{
    static const struct row rows[] = {
        {"al ice", "c", "with space/x", R, 1}, /* user names and topics may hold spaces */
        {"al ice", "c", "read", W, 1},         /* `topic read` alone is the topic "read" */
        {"al ice", "c", "sp", R, 1},
        {"dup", "c", "one", R, 1}, /* a user's sections are merged */
        {"dup", "c", "two", W, 1},
        {"dup", "c", "one/x", R, 0}, /* the second section's deny applies to the first's */
        {"dup", "c", "one/y", R, 1},
        {NULL, "c", "anon", R, 1},
        {NULL, "c", "sp", R, 0},
    };
    struct moted_acl *a = acl_parse("topic anon\r\n"
                                    "  user   al ice  \r\n"
                                    "topic read with space/x\n"
                                    "topic read\n"
                                    "\ttopic\tread\tsp\n"
                                    "user dup\n"
                                    "topic read one\n"
                                    "topic read one/+\n"
                                    "user other\n"
                                    "topic read nothing\n"
                                    "user dup\n"
                                    "topic write two\n"
                                    "topic deny one/x\n"
                                    "pattern read nothing/without/substitution\n");
    (void)state;
    assert_non_null(a);
    assert_int_equal(moted__acl_users(a), 3);
    run_rows(a, rows, ARRAY_LEN(rows));
    moted__acl_free(a);
}

static void malformed_acl_lines_name_their_line(void **state)
{
    static const struct {
        const char *line, *want;
    } bad[] = {
        {"user", "'user' needs a user name"},
        {"topic", "'topic' needs a topic"},
        {"pattern   ", "'pattern' needs a topic"},
        {"topic readd x", "unknown access 'readd'"},
        {"topic read a b c", ""}, /* fine: the topic is "a b c" (checked below) */
        {"topics read x", "unknown keyword 'topics'"},
        {"TOPIC x", "unknown keyword 'TOPIC'"},
        {"foo", "unknown keyword 'foo'"},
        {"topic a/#/b", "'a/#/b' is not a valid topic filter"},
        {"topic read a+/b", "'a+/b' is not a valid topic filter"},
        {"pattern write %c#", "not a valid topic filter"},
        {"topic deny", ""}, /* fine: the topic "deny" */
    };
    (void)state;
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        char text[512];
        struct moted_acl *a;
        snprintf(text, sizeof text, "topic read x\n# c\nuser u\n%s\ntopic y\n", bad[i].line);
        a = acl_parse(text);
        if (!*bad[i].want) {
            if (!a)
                fail_msg("refused '%s': %s", bad[i].line, errbuf);
            moted__acl_free(a);
            continue;
        }
        if (a)
            fail_msg("accepted: %s", bad[i].line);
        if (strncmp(errbuf, "acl:4: ", 7) || !strstr(errbuf, bad[i].want))
            fail_msg("line '%s': message '%s', expected 'acl:4: ...%s...'", bad[i].line, errbuf,
                     bad[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mosquitto_passwd_entries_verify),
        cmocka_unit_test(wrong_passwords_are_refused),
        cmocka_unit_test(comments_blanks_crlf_and_blanks_around_fields),
        cmocka_unit_test(the_last_line_of_a_user_wins),
        cmocka_unit_test(an_empty_file_has_no_users),
        cmocka_unit_test(malformed_password_lines_name_their_line),
        cmocka_unit_test(long_error_lines_stay_in_their_buffer),
        cmocka_unit_test(loading_from_a_file),
        cmocka_unit_test(out_of_memory_is_an_error_not_a_crash),
        cmocka_unit_test(filters_overlap),
        cmocka_unit_test(filters_cover),
        cmocka_unit_test(filter_algebra_agrees_with_topic_match),
        cmocka_unit_test(acl_sections_access_and_deny),
        cmocka_unit_test(wildcards_in_names_disable_patterns),
        cmocka_unit_test(subscribe_checks_the_filter),
        cmocka_unit_test(no_acl_allows_everything_and_bad_calls_deny),
        cmocka_unit_test(acl_file_details),
        cmocka_unit_test(malformed_acl_lines_name_their_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
