/*
 * auth.h - moted's password file and ACL file, both in Mosquitto 2's formats so that existing
 * files keep working (docs/auth.md says what is checked when). Both are loaded whole and then
 * never change: any thread may check against one at the same time; SIGHUP loads new ones.
 */
#ifndef MOTED_AUTH_H
#define MOTED_AUTH_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------------
 * Password file: `user:$7$ITERATIONS$SALT$HASH` (PBKDF2-SHA512) or `user:$6$SALT$HASH`
 * (SHA-512 of password then salt), base64; `#` comments and blank lines.
 * ------------------------------------------------------------------------------------------- */

struct moted_passwd;

/*
 * Reads a password file. On error returns NULL and writes one line into err (size errlen):
 * "PATH:LINE: what is wrong", or "PATH: cannot open: ..." / "out of memory".
 */
struct moted_passwd *moted__passwd_load(const char *path, char *err, size_t errlen);

/* The same from text in memory (`name` is used in messages). */
struct moted_passwd *moted__passwd_parse(const char *name, const char *text, size_t len, char *err,
                                         size_t errlen);

/*
 * 1 when `user` is in the file and `pw` is its password, else 0. The hashes are compared in
 * constant time, and an unknown user costs one PBKDF2 too, so the time taken does not tell
 * whether a user exists. PBKDF2 runs here, in the caller's thread (101 rounds: tens of us).
 */
int moted__passwd_check(const struct moted_passwd *pf, const char *user, size_t ulen,
                        const uint8_t *pw, size_t pwlen);

/* Number of users in the file. */
size_t moted__passwd_count(const struct moted_passwd *pf);

void moted__passwd_free(struct moted_passwd *pf);

/* ---------------------------------------------------------------------------------------------
 * ACL file: `topic [read|write|readwrite|deny] TOPIC` (anonymous clients before any `user`,
 * that user's after `user NAME`), `pattern [ACCESS] TOPIC` for everyone with %c (client id) and
 * %u (user name) substituted; `#` comments.
 * ------------------------------------------------------------------------------------------- */

#define MOTED_ACL_READ 0x01      /* receive a message on TOPIC (a topic name) */
#define MOTED_ACL_WRITE 0x02     /* publish a message (or a will) on TOPIC (a topic name) */
#define MOTED_ACL_SUBSCRIBE 0x04 /* subscribe to TOPIC (a topic filter, "$share/G/" allowed) */

struct moted_acl;

/* Reads an ACL file; NULL on error with "PATH:LINE: what is wrong" in err. */
struct moted_acl *moted__acl_load(const char *path, char *err, size_t errlen);

/* The same from text in memory (`name` is used in messages). */
struct moted_acl *moted__acl_parse(const char *name, const char *text, size_t len, char *err,
                                   size_t errlen);

/*
 * 1 if the client may do `access` (one MOTED_ACL_*) on `topic`, else 0. `acl` NULL (no
 * acl_file) allows everything. `user` is the CONNECT user name (NULL: none, an anonymous
 * client); `client_id` its client identifier. Both are NUL-terminated.
 *
 * READ and WRITE: denied if any `deny` line (the user's section, or a pattern) matches the
 * topic, else allowed if a line with that access matches it, else denied.
 * SUBSCRIBE: denied if a `deny` line covers every topic the filter can match, else allowed if
 * a line with read access can match a topic the filter matches too, else denied. Messages
 * are still checked with READ one by one as they are delivered.
 *
 * A user name or client id with '+' or '#' in it makes every `pattern` line unusable for that
 * client (Mosquitto's CVE-2017-7650 rule).
 */
int moted__acl_check(const struct moted_acl *acl, const char *user, const char *client_id,
                     const uint8_t *topic, size_t len, int access);

/* Counts, for logs: user sections, and topic/pattern lines. */
size_t moted__acl_users(const struct moted_acl *acl);
size_t moted__acl_rules(const struct moted_acl *acl);

void moted__acl_free(struct moted_acl *acl);

/*
 * Topic filter algebra (exported for the unit tests). Both arguments are valid filters
 * without "$share/". A first-level wildcard never matches a topic that starts with '$'.
 * overlap: 1 if some topic name is matched by both filters.
 * covers:  1 if every topic name matched by `inner` is matched by `outer`.
 */
int moted__filter_overlap(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
int moted__filter_covers(const uint8_t *outer, size_t olen, const uint8_t *inner, size_t ilen);

#endif /* MOTED_AUTH_H */
