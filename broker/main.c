/*
 * main.c - moted's entry: flags, configuration, listening sockets, worker threads, signals.
 * The main thread only waits for signals (signalfd): SIGINT/SIGTERM stop the workers cleanly,
 * SIGHUP reloads what can be reloaded.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "tls_record.h"

static const char usage[] =
    "Usage: moted [-c FILE] [-p PORT] [-v] [--test-config]\n"
    "\n"
    "moted is the MQTT broker of mote: MQTT 3.1, 3.1.1 and 5.0, one worker thread per core.\n"
    "\n"
    "  -c, --config-file FILE  read the configuration from FILE (Mosquitto's format)\n"
    "  -p, --port PORT         listen on PORT (127.0.0.1 only without a configuration file;\n"
    "                          with one, on all addresses); may be given more than once\n"
    "  -v, --verbose           log everything (log_type all)\n"
    "      --test-config       check the configuration, print what it means, and exit\n"
    "  -h, --help              print this help and exit\n"
    "      --version           print the version and exit\n"
    "\n"
    "Without a configuration file moted listens on 127.0.0.1:1883 only and allows anonymous\n"
    "clients there, as Mosquitto 2 does. It keeps sessions, queued and retained messages in\n"
    "./moted.db (persistence true, persistence_location, persistence_file; docs/persistence.md)\n"
    "and acknowledges nothing before it is there. Configuration keys: docs/moted.md.\n";

static int listen_on(const struct moted_listener *l, char *err, size_t errlen)
{
    struct addrinfo hints = {0}, *res = NULL, *ai;
    char port[8];
    int fd = -1, one = 1, rc;

    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    snprintf(port, sizeof port, "%u", l->port);
    rc = getaddrinfo(l->bind_address, port, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "cannot resolve bind address %s: %s",
                 l->bind_address ? l->bind_address : "*", gai_strerror(rc));
        return -1;
    }
    /* Without a bind address: IPv6 any, which takes IPv4 too; else the first that works. */
    for (ai = res; ai; ai = ai->ai_next) {
        if (!l->bind_address && ai->ai_family != AF_INET6 && ai->ai_next)
            continue;
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        if (ai->ai_family == AF_INET6) {
            int zero = 0;
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        }
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 1024) == 0)
            break;
        snprintf(err, errlen, "cannot listen on %s:%u: %s", l->bind_address ? l->bind_address : "*",
                 l->port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0 && !err[0])
        snprintf(err, errlen, "cannot listen on port %u", l->port);
    return fd;
}

/*
 * SIGHUP: reads the file again. Limits, logging and memory_limit change at once (a new
 * snapshot); listeners, workers and persistence need a restart, and a broken file changes
 * nothing. Every outcome is one log line.
 */
static void reload(struct moted_broker *b, const char *config_file, int verbose)
{
    struct moted_config *cfg, **retired;
    const struct moted_config *old = moted__cfg(b);
    char err[512] = "";
    int same_listeners;

    if (!config_file) {
        moted__log(MOTED_LOG_NOTICE, "SIGHUP: no configuration file to reload");
        return;
    }
    cfg = moted__malloc(sizeof *cfg);
    retired = moted__realloc(b->retired, (b->retired_count + 1) * sizeof *retired);
    if (!cfg || !retired) {
        moted__free(cfg);
        moted__log(MOTED_LOG_WARNING, "SIGHUP: out of memory: configuration not reloaded");
        return;
    }
    b->retired = retired;
    moted__config_defaults(cfg);
    if (moted__config_load(cfg, config_file, err, sizeof err) ||
        moted__config_finish(cfg, err, sizeof err)) {
        moted__log(MOTED_LOG_WARNING, "SIGHUP: %s; keeping the configuration in force", err);
        moted__config_free(cfg);
        moted__free(cfg);
        return;
    }
    if (verbose)
        cfg->log_type = MOTED_LOG_ALL;
    same_listeners = cfg->listener_count == b->cfg.listener_count;
    for (size_t i = 0; same_listeners && i < cfg->listener_count; i++) {
        const struct moted_listener *n = &cfg->listeners[i], *o = &b->cfg.listeners[i];
        same_listeners = n->port == o->port &&
                         !strcmp(n->bind_address ? n->bind_address : "",
                                 o->bind_address ? o->bind_address : "");
    }
    moted__mem_set_limit(cfg->memory_limit);
    moted__log_setup(cfg);
    for (size_t i = 0; same_listeners && i < b->listener_count; i++)
        if (b->listeners[i].tls)
            moted__tls_listener_reload(&b->listeners[i], &cfg->listeners[i]);
    atomic_store_explicit(&b->live_cfg, cfg, memory_order_release);
    if (old != &b->cfg)
        b->retired[b->retired_count++] = (struct moted_config *)old;
    moted__log(MOTED_LOG_NOTICE, "SIGHUP: %s reloaded (limits and logging)%s", config_file,
               same_listeners ? "" : "; listener changes take effect at the next start");
}

/* Cores this process may run on (taskset, cgroups' cpusets), not the machine's total. */
static int usable_cores(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static int is_loopback(const char *addr)
{
    return addr && (!strncmp(addr, "127.", 4) || !strcmp(addr, "::1") || !strcmp(addr, "localhost"));
}

static void describe(const struct moted_broker *b, FILE *out)
{
    for (size_t i = 0; i < b->cfg.listener_count; i++) {
        const struct moted_listener *l = &b->cfg.listeners[i];
        fprintf(out, "listener %s:%u (max_connections %d, anonymous %s)\n",
                l->bind_address ? l->bind_address : "*", l->port, l->max_connections,
                b->listeners && b->listeners[i].allow_anonymous ? "allowed" : "refused");
    }
    fprintf(out, "workers %d, max_packet_size %u, max_inflight_messages %d, max_queued_messages %ld\n",
            b->worker_count, b->cfg.max_packet_size, b->cfg.max_inflight_messages,
            b->cfg.max_queued_messages);
    if (b->cfg.persistence) {
        const char *dir = b->cfg.persistence_location ? b->cfg.persistence_location : "";
        fprintf(out, "persistence: store %s%s%s, fsync %s", dir,
                *dir && dir[strlen(dir) - 1] != '/' ? "/" : "",
                b->cfg.persistence_file ? b->cfg.persistence_file : "moted.db",
                b->cfg.persistence_fsync_period ? "periodic" : "always");
        if (b->cfg.persistence_fsync_period)
            fprintf(out, " (every %d s)", b->cfg.persistence_fsync_period);
        fputc('\n', out);
    } else {
        fprintf(out, "persistence: off (nothing survives a restart)\n");
    }
}

int main(int argc, char **argv)
{
    struct moted_broker b;
    const char *config_file = NULL;
    int test_config = 0, verbose = 0;
    long ports[16];
    size_t nports = 0;
    char err[512] = "";
    sigset_t sigs;
    int sfd;

    memset(&b, 0, sizeof b);
    moted__config_defaults(&b.cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if ((!strcmp(a, "-c") || !strcmp(a, "--config-file")) && i + 1 < argc) {
            config_file = argv[++i];
        } else if ((!strcmp(a, "-p") || !strcmp(a, "--port")) && i + 1 < argc) {
            char *end;
            long p = strtol(argv[++i], &end, 10);
            if (*end || p < 1 || p > 65535 || nports == 16) {
                fprintf(stderr, "moted: -p needs a port number 1-65535\n");
                return 2;
            }
            ports[nports++] = p;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            verbose = 1;
        } else if (!strcmp(a, "--test-config")) {
            test_config = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            return 0;
        } else if (!strcmp(a, "--version")) {
            printf("moted %s\n", MOTED_VERSION);
            return 0;
        } else {
            fprintf(stderr, "moted: unknown argument '%s'\n\n%s", a, usage);
            return 2;
        }
    }

    if (config_file && moted__config_load(&b.cfg, config_file, err, sizeof err)) {
        fprintf(stderr, "moted: %s\n", err);
        return 3;
    }
    for (size_t i = 0; i < nports; i++) {
        char line[64];
        snprintf(line, sizeof line, "listener %ld%s\n", ports[i], config_file ? "" : " 127.0.0.1");
        if (moted__config_parse(&b.cfg, "-p", line, err, sizeof err)) {
            fprintf(stderr, "moted: %s\n", err);
            return 2;
        }
    }
    if (moted__config_finish(&b.cfg, err, sizeof err)) {
        fprintf(stderr, "moted: %s\n", err);
        return 3;
    }
    if (verbose) {
        b.cfg.log_type = MOTED_LOG_ALL;
    }
    moted__mem_set_limit(b.cfg.memory_limit);
    atomic_init(&b.live_cfg, &b.cfg);
    b.worker_count = b.cfg.workers ? b.cfg.workers : usable_cores();
    if (b.worker_count < 1)
        b.worker_count = 1;

    /* Anonymous access: as configured, else allowed only where nobody else can reach. */
    b.listener_count = b.cfg.listener_count;
    b.listeners = moted__calloc(b.listener_count, sizeof *b.listeners);
    if (!b.listeners)
        return 4;
    for (size_t i = 0; i < b.listener_count; i++) {
        const struct moted_listener *l = &b.cfg.listeners[i];
        b.listeners[i].cfg = l;
        /* Unset: allowed only where nobody but this machine can connect. */
        b.listeners[i].allow_anonymous = l->allow_anonymous >= 0      ? l->allow_anonymous
                                         : b.cfg.allow_anonymous >= 0 ? b.cfg.allow_anonymous
                                                                      : is_loopback(l->bind_address);
        if ((l->certfile != NULL) != (l->keyfile != NULL)) {
            fprintf(stderr, "moted: listener %u: certfile and keyfile go together\n", l->port);
            return 3;
        }
        if (l->certfile && moted__tls_listener_init(&b.listeners[i], err, sizeof err)) {
            fprintf(stderr, "moted: listener %u: %s\n", l->port, err);
            return 3;
        }
    }
    if (test_config) {
        describe(&b, stdout);
        printf("%s: configuration is valid\n", config_file ? config_file : "(defaults)");
        for (size_t i = 0; i < b.listener_count; i++)
            moted__tls_listener_free(&b.listeners[i]);
        moted__free(b.listeners);
        moted__config_free(&b.cfg);
        return 0;
    }

    moted__log_setup(&b.cfg);
    /* The store before the ports: a store moted cannot trust stops it here (docs/persistence.md). */
    if (moted__store_open(&b, err, sizeof err))
        goto refused;
    {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
            rl.rlim_cur = rl.rlim_max;
            setrlimit(RLIMIT_NOFILE, &rl);
        }
    }

    /* Signals go to the main thread only; workers inherit the mask. */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN); /* past a file size limit a write fails (the store says so) */
    sfd = signalfd(-1, &sigs, SFD_CLOEXEC);

    {
        struct rlimit rl;
        int setsize = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1048576
                          ? (int)rl.rlim_cur + 64
                          : 1048576;
        b.workers = moted__calloc((size_t)b.worker_count, sizeof *b.workers);
        if (!b.workers)
            return 4;
        for (int w = 0; w < b.worker_count; w++)
            if (moted__worker_init(&b.workers[w], &b, w, setsize)) {
                moted__log(MOTED_LOG_ERROR, "cannot start worker %d: %s", w, strerror(errno));
                return 1;
            }
    }
    if (moted__store_restore(&b, err, sizeof err) || moted__store_start(&b))
        goto refused;

    /* Listen only now: a broker that refuses its store never looks started. */
    for (size_t i = 0; i < b.listener_count; i++) {
        b.listeners[i].fds = moted__calloc((size_t)b.worker_count, sizeof(int));
        if (!b.listeners[i].fds)
            return 4;
        for (int w = 0; w < b.worker_count; w++) {
            err[0] = 0;
            b.listeners[i].fds[w] = listen_on(b.listeners[i].cfg, err, sizeof err);
            if (b.listeners[i].fds[w] < 0 || moted__worker_listen(&b.workers[w], i)) {
                moted__log(MOTED_LOG_ERROR, "%s", err[0] ? err : strerror(errno));
                return 1;
            }
        }
    }

    for (size_t i = 0; i < b.listener_count; i++) {
        const struct moted_listener *l = b.listeners[i].cfg;
        const struct moted_tls_listener *tl = b.listeners[i].tls;
        moted__log(MOTED_LOG_NOTICE, "moted %s listening on %s:%u%s%s%s%s%s", MOTED_VERSION,
                   l->bind_address ? l->bind_address : "*", l->port, tl ? " (TLS, " : "",
                   tl ? tl->key_desc : "", tl ? " certificate)" : "",
                   b.listeners[i].allow_anonymous ? ", anonymous clients allowed" : "",
                   config_file ? "" : " (no configuration file: local connections only)");
    }
    moted__log(MOTED_LOG_INFO, "%d worker thread%s", b.worker_count, b.worker_count > 1 ? "s" : "");
    for (int w = 0; w < b.worker_count; w++)
        if (moted__worker_start(&b.workers[w])) {
            moted__log(MOTED_LOG_ERROR, "cannot start worker thread %d", w);
            return 1;
        }

    for (;;) {
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof si) != (ssize_t)sizeof si) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (si.ssi_signo == SIGHUP) {
            reload(&b, config_file, verbose);
            continue;
        }
        moted__log(MOTED_LOG_NOTICE, "%s: shutting down", strsignal((int)si.ssi_signo));
        break;
    }

    atomic_store(&b.stopping, 1);
    for (int w = 0; w < b.worker_count; w++) {
        struct moted_post *p = moted__calloc(1, sizeof *p);
        if (p) {
            p->kind = POST_STOP;
            pthread_mutex_lock(&b.workers[w].inbox_lock);
            p->next = b.workers[w].inbox_head;
            b.workers[w].inbox_head = p;
            if (!b.workers[w].inbox_tail)
                b.workers[w].inbox_tail = p;
            pthread_mutex_unlock(&b.workers[w].inbox_lock);
        }
        moted__loop_wake(&b.workers[w].loop);
    }
    for (int w = 0; w < b.worker_count; w++)
        pthread_join(b.workers[w].thread, NULL);
    /* Connections first on every worker (their sessions post to others), then the rest. The
     * store hears of sessions going offline; nothing after that is a change to keep. */
    for (int w = 0; w < b.worker_count; w++) {
        moted__store_bind(&b.workers[w]);
        moted__conn_close_all(&b.workers[w]);
        moted__store_sync(&b.workers[w]);
        moted__store_bind(NULL);
    }
    moted__store_close(&b); /* its thread reads the workers' batches: it stops first */
    for (int w = 0; w < b.worker_count; w++)
        moted__worker_free(&b.workers[w]);
    for (size_t i = 0; i < b.listener_count; i++) {
        for (int w = 0; w < b.worker_count; w++)
            close(b.listeners[i].fds[w]);
        moted__free(b.listeners[i].fds);
        moted__tls_listener_free(&b.listeners[i]);
    }
    moted__free(b.listeners);
    moted__free(b.workers);
    if (moted__cfg(&b) != &b.cfg) {
        b.retired = moted__realloc(b.retired, (b.retired_count + 1) * sizeof *b.retired);
        if (b.retired)
            b.retired[b.retired_count++] = (struct moted_config *)moted__cfg(&b);
    }
    for (size_t i = 0; b.retired && i < b.retired_count; i++) {
        moted__config_free(b.retired[i]);
        moted__free(b.retired[i]);
    }
    moted__free(b.retired);
    moted__config_free(&b.cfg);
    close(sfd);
    moted__tls_rl_thread_done(); /* closing TLS connections above used this thread's buffers */
    moted__log(MOTED_LOG_NOTICE, "stopped");
    moted__log_close();
    return 0;

refused: /* the store (err says why): nothing was listening yet */
    moted__log(MOTED_LOG_ERROR, "%s", err);
    for (int w = 0; b.workers && w < b.worker_count; w++)
        moted__worker_free(&b.workers[w]);
    moted__store_close(&b);
    for (size_t i = 0; i < b.listener_count; i++)
        moted__tls_listener_free(&b.listeners[i]);
    moted__free(b.listeners);
    moted__free(b.workers);
    moted__config_free(&b.cfg);
    moted__log_close();
    return 1;
}
