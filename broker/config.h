/*
 * config.h - moted's configuration, read from a file in Mosquitto's format so that a Mosquitto
 * user's file works: `key value` lines, `#` comments, `listener PORT [ADDRESS]` opening a
 * listener section that listener-scoped keys after it apply to. An unknown key is an error with
 * its line number, never silently ignored; a Mosquitto key moted does not implement says so.
 */
#ifndef MOTED_CONFIG_H
#define MOTED_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define MOTED_LOG_ERROR 0x01
#define MOTED_LOG_WARNING 0x02
#define MOTED_LOG_NOTICE 0x04
#define MOTED_LOG_INFO 0x08
#define MOTED_LOG_DEBUG 0x10
#define MOTED_LOG_SUBSCRIBE 0x20
#define MOTED_LOG_UNSUBSCRIBE 0x40
#define MOTED_LOG_ALL 0xFF

#define MOTED_LOGDEST_STDOUT 0x1
#define MOTED_LOGDEST_STDERR 0x2
#define MOTED_LOGDEST_FILE 0x4
#define MOTED_LOGDEST_SYSLOG 0x8

struct moted_listener {
    uint16_t port;
    char *bind_address;      /* NULL: all addresses */
    int max_connections;     /* -1: unlimited */
    int allow_anonymous;     /* -1: not set here (per_listener_settings) */
    int line;                /* where it was declared, for messages (0: default listener) */
    /* TLS (issue 4): stored now so a Mosquitto file with them parses; used when TLS lands. */
    char *certfile, *keyfile, *cafile, *capath, *crlfile;
    char *tls_version, *ciphers, *ciphers_tls13;
    int require_certificate, use_identity_as_username, use_subject_as_username;
};

struct moted_passwd; /* auth.h */
struct moted_acl;

struct moted_config {
    struct moted_listener *listeners;
    size_t listener_count;
    int per_listener_settings;
    int allow_anonymous;          /* -1: not set (default depends on the listeners) */
    int allow_zero_length_clientid;
    char *auto_id_prefix;
    uint32_t max_packet_size;     /* 0: protocol maximum */
    uint32_t message_size_limit;  /* 0: none */
    int max_inflight_messages;    /* 0: unlimited (MQTT 5: receive maximum 65535) */
    long max_queued_messages;     /* 0: unlimited */
    long max_queued_bytes;        /* 0: unlimited */
    int max_keepalive;            /* seconds, 65535 default */
    int max_qos;
    int retain_available;
    int queue_qos0_messages;
    int upgrade_outgoing_qos;
    int max_topic_levels;         /* moted: 0 = unlimited */
    int max_subscriptions;        /* moted: per client, 0 = unlimited */
    int workers;                  /* moted: 0 = one per core */
    int handshake_timeout;        /* moted: seconds for TLS handshake + CONNECT, default 10 */
    size_t memory_limit;          /* 0: none */
    long persistent_client_expiration; /* seconds, 0: never */
    int persistence;
    char *persistence_location;
    char *persistence_file;
    int persistence_fsync_period; /* 0: fsync every commit (always); N: a checkpoint every N s */
    char *password_file;
    char *acl_file;
    /* What moted__config_finish loaded from password_file and acl_file (auth.h); NULL: none. */
    struct moted_passwd *passwd;
    struct moted_acl *acl;
    int log_dest;                 /* MOTED_LOGDEST_* */
    char *log_file;
    int log_type;                 /* MOTED_LOG_* */
    int log_type_set;
    int set_tcp_nodelay;
    char *pid_file;
    int sys_interval;
};

/* Defaults, as Mosquitto 2 has them. */
void moted__config_defaults(struct moted_config *cfg);

/*
 * Reads `path` into cfg (which holds defaults). On error returns -1 and writes one line naming
 * the file, the line number and what is wrong into err (size errlen).
 */
int moted__config_load(struct moted_config *cfg, const char *path, char *err, size_t errlen);

/* Parses config text (for tests, and for load). `name` is used in messages. */
int moted__config_parse(struct moted_config *cfg, const char *name, const char *text, char *err,
                        size_t errlen);

/* After loading (and -p): no listener means 127.0.0.1:1883 only, as Mosquitto 2 does. */
int moted__config_finish(struct moted_config *cfg, char *err, size_t errlen);

void moted__config_free(struct moted_config *cfg);

#endif /* MOTED_CONFIG_H */
