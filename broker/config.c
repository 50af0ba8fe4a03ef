/*
 * config.c - Mosquitto-format configuration: one table row per key says where it may stand
 * (global or in a listener section), how its value is read, and where it goes.
 */
#define _GNU_SOURCE
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "auth.h"

enum kind { K_BOOL, K_INT, K_U32, K_LONG, K_SIZE, K_STR, K_LOGDEST, K_LOGTYPE, K_FSYNC, K_LISTENER, K_PORT,
            K_UNSUPPORTED };
enum scope { GLOBAL, LISTENER };

struct key {
    const char *name;
    enum kind kind;
    enum scope scope;
    size_t offset; /* into moted_config (GLOBAL) or moted_listener (LISTENER) */
    long min, max;
    const char *why; /* K_UNSUPPORTED: what to do instead */
};

#define G(name, kind, field, min, max) {name, kind, GLOBAL, offsetof(struct moted_config, field), min, max, NULL}
#define L(name, kind, field, min, max) {name, kind, LISTENER, offsetof(struct moted_listener, field), min, max, NULL}
#define NO(name, why) {name, K_UNSUPPORTED, GLOBAL, 0, 0, 0, why}

static const struct key keys[] = {
    {"listener", K_LISTENER, GLOBAL, 0, 0, 0, NULL},
    {"port", K_PORT, GLOBAL, 0, 0, 0, NULL},
    L("bind_address", K_STR, bind_address, 0, 0),
    L("max_connections", K_INT, max_connections, -1, 10000000),
    L("certfile", K_STR, certfile, 0, 0),
    L("keyfile", K_STR, keyfile, 0, 0),
    L("cafile", K_STR, cafile, 0, 0),
    L("capath", K_STR, capath, 0, 0),
    L("crlfile", K_STR, crlfile, 0, 0),
    L("tls_version", K_STR, tls_version, 0, 0),
    L("ciphers", K_STR, ciphers, 0, 0),
    L("ciphers_tls1.3", K_STR, ciphers_tls13, 0, 0),
    L("require_certificate", K_BOOL, require_certificate, 0, 1),
    L("use_identity_as_username", K_BOOL, use_identity_as_username, 0, 1),
    L("use_subject_as_username", K_BOOL, use_subject_as_username, 0, 1),
    G("per_listener_settings", K_BOOL, per_listener_settings, 0, 1),
    G("allow_anonymous", K_BOOL, allow_anonymous, 0, 1), /* see listener_allow_anonymous */
    G("allow_zero_length_clientid", K_BOOL, allow_zero_length_clientid, 0, 1),
    G("auto_id_prefix", K_STR, auto_id_prefix, 0, 0),
    G("max_packet_size", K_U32, max_packet_size, 0, 268435460L),
    G("message_size_limit", K_U32, message_size_limit, 0, 268435455L),
    G("max_inflight_messages", K_INT, max_inflight_messages, 0, 65535),
    G("max_queued_messages", K_LONG, max_queued_messages, 0, 1000000000L),
    G("max_queued_bytes", K_LONG, max_queued_bytes, 0, 0x7FFFFFFFL),
    G("max_keepalive", K_INT, max_keepalive, 0, 65535),
    G("max_qos", K_INT, max_qos, 0, 2),
    G("retain_available", K_BOOL, retain_available, 0, 1),
    G("queue_qos0_messages", K_BOOL, queue_qos0_messages, 0, 1),
    G("upgrade_outgoing_qos", K_BOOL, upgrade_outgoing_qos, 0, 1),
    G("max_topic_levels", K_INT, max_topic_levels, 0, 65535),
    G("max_subscriptions", K_INT, max_subscriptions, 0, 10000000),
    G("workers", K_INT, workers, 0, 1024),
    G("handshake_timeout", K_INT, handshake_timeout, 1, 3600),
    G("memory_limit", K_SIZE, memory_limit, 0, 0),
    G("persistent_client_expiration", K_LONG, persistent_client_expiration, 0, 0x7FFFFFFFL),
    G("persistence", K_BOOL, persistence, 0, 1),
    G("persistence_location", K_STR, persistence_location, 0, 0),
    G("persistence_file", K_STR, persistence_file, 0, 0),
    G("persistence_fsync", K_FSYNC, persistence_fsync_period, 0, 0),
    G("password_file", K_STR, password_file, 0, 0),
    G("acl_file", K_STR, acl_file, 0, 0),
    G("log_dest", K_LOGDEST, log_dest, 0, 0),
    G("log_type", K_LOGTYPE, log_type, 0, 0),
    G("set_tcp_nodelay", K_BOOL, set_tcp_nodelay, 0, 1),
    G("pid_file", K_STR, pid_file, 0, 0),
    G("sys_interval", K_INT, sys_interval, 0, 65535),
    NO("connection", "bridges are not supported by moted"),
    NO("address", "bridges are not supported by moted"),
    NO("protocol", "only plain MQTT listeners are supported (no websockets)"),
    NO("plugin", "plugins are not supported by moted; use password_file and acl_file"),
    NO("auth_plugin", "plugins are not supported by moted; use password_file and acl_file"),
    NO("psk_hint", "TLS-PSK is not supported by moted; use certificates"),
    NO("psk_file", "TLS-PSK is not supported by moted; use certificates"),
    NO("include_dir", "include_dir is not supported yet; put the settings in one file"),
    NO("user", "moted does not drop privileges itself; run it as the user it should be"),
    NO("autosave_interval", "moted writes every acknowledged message as it happens"),
};

#define KEY_COUNT (sizeof keys / sizeof keys[0])

/* With per_listener_settings, allow_anonymous belongs to the listener section it stands in. */
static const struct key listener_allow_anonymous =
    L("allow_anonymous", K_BOOL, allow_anonymous, 0, 1);

void moted__config_defaults(struct moted_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->allow_anonymous = -1;
    cfg->max_inflight_messages = 20;
    cfg->max_queued_messages = 1000;
    cfg->max_keepalive = 65535;
    cfg->max_qos = 2;
    cfg->retain_available = 1;
    cfg->log_dest = MOTED_LOGDEST_STDERR;
    cfg->log_type = MOTED_LOG_ERROR | MOTED_LOG_WARNING | MOTED_LOG_NOTICE | MOTED_LOG_INFO;
    cfg->set_tcp_nodelay = 1;
    cfg->persistence = 1;
    cfg->allow_zero_length_clientid = 1;
    cfg->handshake_timeout = 10;
}

static void listener_defaults(struct moted_listener *l)
{
    memset(l, 0, sizeof *l);
    l->max_connections = -1;
    l->allow_anonymous = -1;
}

static int fail(char *err, size_t errlen, const char *name, int line, const char *fmt,
                const char *arg)
{
    char msg[256];
    snprintf(msg, sizeof msg, fmt, arg);
    snprintf(err, errlen, "%s:%d: %s", name, line, msg);
    return -1;
}

static struct moted_listener *add_listener(struct moted_config *cfg)
{
    struct moted_listener *l =
        moted__realloc(cfg->listeners, (cfg->listener_count + 1) * sizeof *cfg->listeners);
    if (!l)
        return NULL;
    cfg->listeners = l;
    l = &cfg->listeners[cfg->listener_count++];
    listener_defaults(l);
    return l;
}

static int parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    long v;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* "10", "64kB", "2MB", "1GB" (Mosquitto's memory_limit takes plain bytes; we accept both). */
static int parse_size(const char *s, size_t *out)
{
    char *end;
    unsigned long long v;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return -1;
    if (!strcasecmp(end, "kb") || !strcasecmp(end, "k"))
        v *= 1024ull;
    else if (!strcasecmp(end, "mb") || !strcasecmp(end, "m"))
        v *= 1024ull * 1024ull;
    else if (!strcasecmp(end, "gb") || !strcasecmp(end, "g"))
        v *= 1024ull * 1024ull * 1024ull;
    else if (*end)
        return -1;
    *out = (size_t)v;
    return 0;
}

static int set_str(char **field, const char *value)
{
    char *s = moted__strndup(value, strlen(value));
    if (!s)
        return -1;
    moted__free(*field);
    *field = s;
    return 0;
}

static int log_type_bits(const char *v)
{
    static const struct {
        const char *name;
        int bits;
    } types[] = {
        {"error", MOTED_LOG_ERROR},       {"warning", MOTED_LOG_WARNING},
        {"notice", MOTED_LOG_NOTICE},     {"information", MOTED_LOG_INFO},
        {"debug", MOTED_LOG_DEBUG},       {"subscribe", MOTED_LOG_SUBSCRIBE},
        {"unsubscribe", MOTED_LOG_UNSUBSCRIBE}, {"websockets", 0},
        {"none", 0},                      {"all", MOTED_LOG_ALL},
    };
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(v, types[i].name))
            return types[i].bits;
    return -1;
}

/* One "key value" line. `cur` is the listener section the line stands in (NULL: none yet). */
static int apply(struct moted_config *cfg, struct moted_listener **cur, const struct key *k,
                 char *value, const char *name, int line, char *err, size_t errlen)
{
    char *base;
    long n;

    if (k->kind == K_UNSUPPORTED)
        return fail(err, errlen, name, line, "%s", k->why);
    if (k->kind != K_LISTENER && !*value)
        return fail(err, errlen, name, line, "'%s' needs a value", k->name);

    if (k->kind == K_LISTENER || k->kind == K_PORT) {
        char *port = strtok(value, " \t"), *addr = strtok(NULL, " \t"), *extra = strtok(NULL, " \t");
        struct moted_listener *l;
        if (!port || parse_long(port, 0, 65535, &n))
            return fail(err, errlen, name, line, "'%s' needs a port number 0-65535", k->name);
        if (extra || (k->kind == K_PORT && addr))
            return fail(err, errlen, name, line, "too many values for '%s'", k->name);
        if (k->kind == K_PORT) {
            /* Mosquitto's deprecated default listener: the first listener, made if need be. */
            l = cfg->listener_count ? &cfg->listeners[0] : add_listener(cfg);
        } else {
            l = add_listener(cfg);
        }
        if (!l)
            return fail(err, errlen, name, line, "%s", "out of memory");
        l->port = (uint16_t)n;
        l->line = line;
        if (addr && set_str(&l->bind_address, addr))
            return fail(err, errlen, name, line, "%s", "out of memory");
        if (k->kind == K_LISTENER)
            *cur = l;
        return 0;
    }

    if (k->scope == LISTENER) {
        if (!*cur) /* before any listener: Mosquitto applies it to the default listener */
            *cur = cfg->listener_count ? &cfg->listeners[0] : add_listener(cfg);
        if (!*cur)
            return fail(err, errlen, name, line, "%s", "out of memory");
        base = (char *)*cur;
    } else {
        base = (char *)cfg;
        if (!strcmp(k->name, "allow_anonymous") && cfg->per_listener_settings && *cur)
            base = (char *)*cur, k = &listener_allow_anonymous;
    }

    switch (k->kind) {
    case K_BOOL:
        if (!strcmp(value, "true"))
            n = 1;
        else if (!strcmp(value, "false"))
            n = 0;
        else
            return fail(err, errlen, name, line, "'%s' must be true or false", k->name);
        *(int *)(base + k->offset) = (int)n;
        return 0;
    case K_INT:
    case K_U32:
    case K_LONG:
        if (parse_long(value, k->min, k->max, &n)) {
            char range[96];
            snprintf(range, sizeof range, "'%s' must be a number from %ld to %ld", k->name, k->min,
                     k->max);
            return fail(err, errlen, name, line, "%s", range);
        }
        if (k->kind == K_INT)
            *(int *)(base + k->offset) = (int)n;
        else if (k->kind == K_U32)
            *(uint32_t *)(base + k->offset) = (uint32_t)n;
        else
            *(long *)(base + k->offset) = n;
        return 0;
    case K_SIZE:
        if (parse_size(value, (size_t *)(base + k->offset)))
            return fail(err, errlen, name, line, "'%s' must be a size in bytes (or kB, MB, GB)",
                        k->name);
        return 0;
    case K_STR:
        if (set_str((char **)(base + k->offset), value))
            return fail(err, errlen, name, line, "%s", "out of memory");
        return 0;
    case K_FSYNC: {
        char *what = strtok(value, " \t"), *arg = strtok(NULL, " \t"), *end = NULL;
        long secs = arg ? strtol(arg, &end, 10) : 0;
        if (what && !strcmp(what, "always") && !arg) {
            cfg->persistence_fsync_period = 0;
        } else if (what && !strcmp(what, "periodic") && arg && !*end && secs >= 1 && secs <= 3600) {
            cfg->persistence_fsync_period = (int)secs;
        } else {
            return fail(err, errlen, name, line, "%s",
                        "persistence_fsync must be 'always' or 'periodic SECONDS' (1-3600)");
        }
        return 0;
    }
    case K_LOGDEST: {
        char *what = strtok(value, " \t"), *arg = strtok(NULL, "");
        int bit = !strcmp(what, "stdout")   ? MOTED_LOGDEST_STDOUT
                  : !strcmp(what, "stderr") ? MOTED_LOGDEST_STDERR
                  : !strcmp(what, "syslog") ? MOTED_LOGDEST_SYSLOG
                  : !strcmp(what, "file")   ? MOTED_LOGDEST_FILE
                  : !strcmp(what, "none")   ? 0
                                            : -1;
        if (bit < 0 || (bit == MOTED_LOGDEST_FILE && !arg))
            return fail(err, errlen, name, line, "%s",
                        "log_dest must be stdout, stderr, syslog, none or file PATH");
        if (bit == MOTED_LOGDEST_FILE && set_str(&cfg->log_file, arg))
            return fail(err, errlen, name, line, "%s", "out of memory");
        /* Mosquitto: the first log_dest line replaces the default, later ones add. */
        if (!(cfg->log_dest & 0x100))
            cfg->log_dest = 0x100;
        cfg->log_dest |= bit;
        return 0;
    }
    case K_LOGTYPE: {
        int bits = log_type_bits(value);
        if (bits < 0)
            return fail(err, errlen, name, line, "unknown log_type '%s'", value);
        if (!cfg->log_type_set)
            cfg->log_type = 0;
        cfg->log_type_set = 1;
        cfg->log_type |= bits;
        return 0;
    }
    default:
        return fail(err, errlen, name, line, "%s", "internal error: unhandled key kind");
    }
}

int moted__config_parse(struct moted_config *cfg, const char *name, const char *text, char *err,
                        size_t errlen)
{
    struct moted_listener *cur = NULL;
    const char *p = text;
    int line = 0;

    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        char buf[4096], *key, *value, *end;
        const struct key *k = NULL;
        line++;
        if (len >= sizeof buf)
            return fail(err, errlen, name, line, "%s", "line longer than 4095 bytes");
        memcpy(buf, p, len);
        buf[len] = 0;
        p = eol ? eol + 1 : p + len;

        for (key = buf; isspace((unsigned char)*key); key++)
            ;
        if (!*key || *key == '#')
            continue;
        for (end = key + strlen(key); end > key && isspace((unsigned char)end[-1]); end--)
            ;
        *end = 0;
        for (value = key; *value && !isspace((unsigned char)*value); value++)
            ;
        if (*value)
            *value++ = 0;
        while (isspace((unsigned char)*value))
            value++;
        for (size_t i = 0; i < KEY_COUNT; i++)
            if (!strcmp(keys[i].name, key))
                k = &keys[i];
        if (!k)
            return fail(err, errlen, name, line, "unknown configuration key '%s'", key);
        if (apply(cfg, &cur, k, value, name, line, err, errlen))
            return -1;
    }
    cfg->log_dest &= 0xFF;
    return 0;
}

int moted__config_load(struct moted_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    char *text;
    long size;
    int rc;
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) ||
        size > 16 * 1024 * 1024) {
        fclose(f);
        snprintf(err, errlen, "%s: cannot read (or larger than 16 MB)", path);
        return -1;
    }
    text = moted__malloc((size_t)size + 1);
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        moted__free(text);
        snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    fclose(f);
    text[size] = 0;
    if (memchr(text, 0, (size_t)size)) {
        moted__free(text);
        snprintf(err, errlen, "%s: contains a NUL byte: not a configuration file", path);
        return -1;
    }
    rc = moted__config_parse(cfg, path, text, err, errlen);
    moted__free(text);
    return rc;
}

int moted__config_finish(struct moted_config *cfg, char *err, size_t errlen)
{
    if (cfg->listener_count == 0) {
        struct moted_listener *l = add_listener(cfg);
        if (!l || set_str(&l->bind_address, "127.0.0.1")) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        l->port = 1883;
    }
    if (!cfg->auto_id_prefix && set_str(&cfg->auto_id_prefix, "auto-")) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (strlen(cfg->auto_id_prefix) > 64) {
        snprintf(err, errlen, "auto_id_prefix is longer than 64 characters");
        return -1;
    }
    /* The files are part of the snapshot: SIGHUP reads them again, a bad one changes nothing. */
    if (cfg->password_file && !cfg->passwd &&
        !(cfg->passwd = moted__passwd_load(cfg->password_file, err, errlen)))
        return -1;
    if (cfg->acl_file && !cfg->acl && !(cfg->acl = moted__acl_load(cfg->acl_file, err, errlen)))
        return -1;
    return 0;
}

void moted__config_free(struct moted_config *cfg)
{
    for (size_t i = 0; i < cfg->listener_count; i++) {
        struct moted_listener *l = &cfg->listeners[i];
        char **strs[] = {&l->bind_address, &l->certfile, &l->keyfile, &l->cafile, &l->capath,
                         &l->crlfile, &l->tls_version, &l->ciphers, &l->ciphers_tls13};
        for (size_t j = 0; j < sizeof strs / sizeof strs[0]; j++)
            moted__free(*strs[j]);
    }
    moted__free(cfg->listeners);
    moted__free(cfg->auto_id_prefix);
    moted__free(cfg->persistence_location);
    moted__free(cfg->persistence_file);
    moted__free(cfg->password_file);
    moted__free(cfg->acl_file);
    moted__passwd_free(cfg->passwd);
    moted__acl_free(cfg->acl);
    moted__free(cfg->log_file);
    moted__free(cfg->pid_file);
    memset(cfg, 0, sizeof *cfg);
}
