/*
 * passwd.c - `mote passwd`: makes and updates password files in Mosquitto 2's format
 * (USER:$7$101$SALT$HASH, PBKDF2-SHA512), read by moted and by mosquitto alike. The file is
 * replaced atomically (temporary file, fsync, rename), so a broker never reads half of one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "cli.h"
#include "mote/codec.h"

#define ITERATIONS 101 /* what Mosquitto 2's mosquitto_passwd writes */
#define SALT_LEN 12
#define HASH_LEN 64
#define NAME_MAX_LEN 65535 /* an MQTT string */

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: mote passwd [-c] FILE USER             add USER or change its password\n"
            "       mote passwd [-c] -b FILE USER PASSWORD  the same, password given here\n"
            "       mote passwd -D FILE USER                delete USER\n"
            "\n"
            "Writes password files in Mosquitto 2's format (PBKDF2-SHA512, 101 iterations, as\n"
            "mosquitto_passwd does): moted's password_file, and mosquitto's too.\n"
            "\n"
            "  -c  create FILE, replacing one that exists\n"
            "  -b  take the password from the command line (it shows in `ps` and in your\n"
            "      shell's history); without -b it is asked twice, not echoed\n"
            "  -D  delete USER from FILE\n"
            "\n"
            "Other lines of FILE (comments, other users) are kept as they are. FILE is replaced\n"
            "atomically; a new file gets mode 0600, an existing one keeps its owner and group\n"
            "and loses any permission for others. docs/auth.md describes the format.\n");
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int fail(const char *fmt, ...)
{
    va_list ap;
    fputs("mote passwd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* A user name that both brokers will read back as it was written. NULL if fine. */
static const char *bad_user(const char *user)
{
    size_t len = strlen(user);
    if (!len)
        return "the user name is empty";
    if (len > NAME_MAX_LEN)
        return "the user name is longer than MQTT allows (65535 bytes)";
    if (strchr(user, ':'))
        return "the user name must not contain ':'";
    if (user[0] == '#')
        return "the user name must not start with '#' (the line would be a comment)";
    if (user[0] == ' ' || user[0] == '\t' || user[len - 1] == ' ' || user[len - 1] == '\t')
        return "the user name must not start or end with a blank (brokers trim them)";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)user[i] < 0x20 || user[i] == 0x7f)
            return "the user name must not contain control characters";
    if (mote_utf8_check((const uint8_t *)user, len) != MOTE_OK)
        return "the user name is not valid UTF-8 (MQTT user names are UTF-8 strings)";
    return NULL;
}

/* "USER:$7$101$SALT$HASH\n" in a new string, or NULL. */
static char *make_entry(const char *user, const char *pw, size_t pwlen)
{
    unsigned char salt[SALT_LEN], hash[HASH_LEN];
    char salt64[4 * ((SALT_LEN + 2) / 3) + 1], hash64[4 * ((HASH_LEN + 2) / 3) + 1];
    char *line = NULL;

    if (pwlen > INT_MAX || RAND_bytes(salt, sizeof salt) != 1 ||
        PKCS5_PBKDF2_HMAC(pw, (int)pwlen, salt, sizeof salt, ITERATIONS, EVP_sha512(), HASH_LEN,
                          hash) != 1)
        return NULL;
    EVP_EncodeBlock((unsigned char *)salt64, salt, sizeof salt);
    EVP_EncodeBlock((unsigned char *)hash64, hash, sizeof hash);
    if (asprintf(&line, "%s:$7$%d$%s$%s\n", user, ITERATIONS, salt64, hash64) < 0)
        line = NULL;
    OPENSSL_cleanse(hash, sizeof hash);
    return line;
}

/* ---------------------------------------------------------------------------------------------
 * Asking for the password
 * ------------------------------------------------------------------------------------------- */

static struct termios saved_tty;
static volatile sig_atomic_t tty_changed;

static void restore_tty(void)
{
    if (tty_changed) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tty);
        tty_changed = 0;
    }
}

/* Ctrl-C at the prompt must not leave the terminal without echo. */
static void on_signal(int sig)
{
    restore_tty();
    signal(sig, SIG_DFL);
    raise(sig);
}

/* One line from stdin without its newline, echo off on a terminal. NULL at end of input. */
static char *read_secret(const char *prompt, int tty, size_t *len)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;

    if (tty) {
        struct termios quiet;
        fputs(prompt, stderr);
        fflush(stderr);
        if (tcgetattr(STDIN_FILENO, &saved_tty) == 0) {
            quiet = saved_tty;
            quiet.c_lflag &= ~(tcflag_t)ECHO;
            quiet.c_lflag |= ECHONL;
            tty_changed = 1;
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        }
    }
    n = getline(&line, &cap, stdin);
    restore_tty();
    if (n < 0) {
        free(line);
        return NULL;
    }
    if (n && line[n - 1] == '\n')
        line[--n] = 0;
    if (n && line[n - 1] == '\r')
        line[--n] = 0;
    if (memchr(line, 0, (size_t)n)) { /* a NUL cannot be typed, nor stored by mosquitto */
        OPENSSL_cleanse(line, cap);
        free(line);
        errno = EINVAL;
        return NULL;
    }
    *len = (size_t)n;
    return line;
}

static void free_secret(char *s, size_t len)
{
    if (s) {
        OPENSSL_cleanse(s, len);
        free(s);
    }
}

/* Asks twice. Returns the password (free with free_secret) or NULL after saying why. */
static char *ask_password(size_t *len)
{
    int tty = isatty(STDIN_FILENO);
    struct sigaction sa = {0}, old[4];
    static const int sigs[4] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
    char *one, *two = NULL;
    size_t n1 = 0, n2 = 0;

    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 4; i++)
        sigaction(sigs[i], &sa, &old[i]);
    one = read_secret("Password: ", tty, &n1);
    if (one)
        two = read_secret("Reenter password: ", tty, &n2);
    for (int i = 0; i < 4; i++)
        sigaction(sigs[i], &old[i], NULL);

    if (!one || !two) {
        fail(errno == EINVAL ? "the password contains a NUL byte; nothing changed"
                             : "no password given (end of input); nothing changed");
    } else if (n1 != n2 || CRYPTO_memcmp(one, two, n1)) {
        fail("the passwords do not match; nothing changed");
    } else if (n1 == 0) {
        fail("empty password; nothing changed (mote passwd -b FILE USER '' sets one anyway)");
    } else if (n1 > NAME_MAX_LEN) {
        fail("the password is longer than MQTT allows (65535 bytes); nothing changed");
    } else {
        free_secret(two, n2);
        *len = n1;
        return one;
    }
    free_secret(one, n1);
    free_secret(two, n2);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * The file
 * ------------------------------------------------------------------------------------------- */

/* Whether a line of a password file is USER's entry (read as the brokers read it). */
static int line_is_user(const char *line, size_t len, const char *user)
{
    const char *colon;
    size_t ulen;
    while (len && (*line == ' ' || *line == '\t'))
        line++, len--;
    if (!len || *line == '#')
        return 0;
    colon = memchr(line, ':', len);
    if (!colon)
        return 0;
    ulen = (size_t)(colon - line);
    while (ulen && (line[ulen - 1] == ' ' || line[ulen - 1] == '\t'))
        ulen--;
    return ulen == strlen(user) && !memcmp(line, user, ulen);
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, got;
    if (!f)
        return NULL;
    do {
        if (cap - n < 4096) {
            char *more = realloc(buf, cap ? cap * 2 : 8192);
            if (!more) {
                free(buf);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            buf = more;
            cap = cap ? cap * 2 : 8192;
        }
        got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
    } while (got);
    if (ferror(f)) {
        int e = errno;
        free(buf);
        fclose(f);
        errno = e;
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

/* Replaces `path` with `data`: a temporary file beside it, fsync, rename, fsync the folder. */
static int write_atomic(const char *path, const char *data, size_t len)
{
    char target[PATH_MAX], tmp[PATH_MAX + 16], dir[PATH_MAX];
    struct stat st;
    int fd, existed, dfd;
    mode_t mode = 0600;

    /* Through a symbolic link: replace what it points to, keep the link. */
    if (realpath(path, target) == NULL) {
        if (errno != ENOENT || strlen(path) >= sizeof target)
            return fail("%s: %s", path, strerror(errno));
        strcpy(target, path);
    }
    existed = stat(target, &st) == 0;
    snprintf(tmp, sizeof tmp, "%s.XXXXXX", target);
    fd = mkstemp(tmp);
    if (fd < 0)
        return fail("cannot create a file beside %s: %s", target, strerror(errno));
    if (existed) {
        /* Keep who may read it (moted or mosquitto may run as another user), less others. */
        mode = (st.st_mode & 0640) | 0600;
        if (fchown(fd, st.st_uid, st.st_gid) != 0 && errno != EPERM)
            goto broken;
    }
    if (fchmod(fd, mode) != 0)
        goto broken;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            goto broken;
        off += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        fd = -1;
        goto broken;
    }
    fd = -1;
    if (rename(tmp, target) != 0)
        goto broken;
    strcpy(dir, target);
    dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
broken : {
    int e = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return fail("cannot write %s: %s; it is unchanged", target, strerror(e));
}
}

int mote_cmd_passwd(int argc, char **argv)
{
    int create = 0, batch = 0, delete = 0, i, rc, found = 0;
    const char *path, *user;
    char *old = NULL, *out = NULL, *entry = NULL, *pw = NULL;
    size_t old_len = 0, out_len = 0, pwlen = 0;
    const char *why;

    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "--")) {
            i++;
            break;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        for (const char *f = argv[i] + 1; *f; f++) {
            if (*f == 'c')
                create = 1;
            else if (*f == 'b')
                batch = 1;
            else if (*f == 'D')
                delete = 1;
            else {
                fprintf(stderr, "mote passwd: unknown option '-%c'%s\n\n", *f,
                        *f == 'U' || *f == 'H' ? " (mote passwd writes PBKDF2-SHA512 entries only)"
                                               : "");
                usage(stderr);
                return 2;
            }
        }
    }
    if (create && delete) {
        fprintf(stderr, "mote passwd: -c and -D cannot be used together\n\n");
        usage(stderr);
        return 2;
    }
    if (delete &&batch) {
        fprintf(stderr, "mote passwd: -D takes no password\n\n");
        usage(stderr);
        return 2;
    }
    if (argc - i != (batch ? 3 : 2)) {
        fprintf(stderr, "mote passwd: expected FILE USER%s\n\n", batch ? " PASSWORD" : "");
        usage(stderr);
        return 2;
    }
    path = argv[i];
    user = argv[i + 1];
    if ((why = bad_user(user)) != NULL)
        return fail("%s", why);

    if (!create) {
        old = read_all(path, &old_len);
        if (!old)
            return fail("%s: cannot read: %s%s", path, strerror(errno),
                        errno == ENOENT ? " (-c creates it)" : "");
        if (memchr(old, 0, old_len)) {
            free(old);
            return fail("%s contains a NUL byte: not a password file; nothing changed", path);
        }
    }

    if (!delete) {
        if (batch) {
            pwlen = strlen(argv[i + 2]);
            if (pwlen > NAME_MAX_LEN) {
                free(old);
                return fail("the password is longer than MQTT allows (65535 bytes)");
            }
            pw = strdup(argv[i + 2]);
        } else {
            pw = ask_password(&pwlen);
            if (!pw) {
                free(old);
                return 1;
            }
        }
        entry = pw ? make_entry(user, pw, pwlen) : NULL;
        free_secret(pw, pwlen);
        if (!entry) {
            free(old);
            return fail("cannot make the password hash (OpenSSL or memory failed)");
        }
    }

    /* The file again, with USER's first line replaced (or dropped) and any later ones dropped. */
    out = malloc(old_len + (entry ? strlen(entry) : 0) + 2);
    if (!out) {
        free(old);
        free(entry);
        return fail("out of memory");
    }
    for (size_t p = 0; p < old_len;) {
        const char *nl = memchr(old + p, '\n', old_len - p);
        size_t n = nl ? (size_t)(nl - (old + p)) + 1 : old_len - p;
        if (line_is_user(old + p, nl ? n - 1 : n, user)) {
            if (!found && entry) {
                memcpy(out + out_len, entry, strlen(entry));
                out_len += strlen(entry);
            }
            found = 1;
        } else {
            memcpy(out + out_len, old + p, n);
            out_len += n;
            if (!nl) /* the last line had no newline: give it one */
                out[out_len++] = '\n';
        }
        p += n;
    }
    if (!found && entry) {
        memcpy(out + out_len, entry, strlen(entry));
        out_len += strlen(entry);
    }
    if (delete &&!found) {
        rc = fail("user '%s' is not in %s; nothing changed", user, path);
    } else {
        rc = write_atomic(path, out, out_len);
    }
    free(old);
    free(out);
    free(entry);
    return rc;
}
