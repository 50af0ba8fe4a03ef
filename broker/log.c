/*
 * log.c - one line per event, to the destinations log_dest names, filtered by log_type.
 * Lines are written whole with one write() so workers' lines never interleave.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "broker.h"

/* Set by the main thread (start, SIGHUP), read by every worker: atomics. */
static atomic_int log_types = MOTED_LOG_ERROR | MOTED_LOG_WARNING | MOTED_LOG_NOTICE | MOTED_LOG_INFO;
static atomic_int log_dests = MOTED_LOGDEST_STDERR;
static atomic_int log_fd = -1;

void moted__log_setup(const struct moted_config *cfg)
{
    if ((cfg->log_dest & MOTED_LOGDEST_FILE) && cfg->log_file) {
        int fd = open(cfg->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        int old = atomic_load(&log_fd);
        if (fd < 0) {
            fprintf(stderr, "moted: cannot open log file %s: %m; logging to stderr\n",
                    cfg->log_file);
        } else if (old >= 0) {
            /* Reopen (after log rotation) in place: writers never see a closed fd. */
            dup2(fd, old);
            close(fd);
        } else {
            atomic_store(&log_fd, fd);
        }
    }
    if (cfg->log_dest & MOTED_LOGDEST_SYSLOG)
        openlog("moted", LOG_PID, LOG_DAEMON);
    atomic_store(&log_types, cfg->log_type);
    atomic_store(&log_dests, cfg->log_dest);
}

void moted__log_close(void)
{
    int fd = atomic_exchange(&log_fd, -1);
    if (fd >= 0)
        close(fd);
}

static const char *type_name(int type)
{
    switch (type) {
    case MOTED_LOG_ERROR:
        return "error";
    case MOTED_LOG_WARNING:
        return "warning";
    case MOTED_LOG_NOTICE:
        return "notice";
    case MOTED_LOG_DEBUG:
        return "debug";
    default:
        return "info";
    }
}

void moted__log(int type, const char *fmt, ...)
{
    char line[1024];
    size_t n;
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int dests = atomic_load_explicit(&log_dests, memory_order_relaxed);
    int fd = atomic_load_explicit(&log_fd, memory_order_relaxed);

    if (!(atomic_load_explicit(&log_types, memory_order_relaxed) & type))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    n = strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof line - n, " moted %s: ", type_name(type));
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - n, fmt, ap);
    va_end(ap);
    n = strlen(line);
    if (n > sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';

    if (dests & MOTED_LOGDEST_STDERR || (dests & MOTED_LOGDEST_FILE && fd < 0))
        (void)!write(STDERR_FILENO, line, n);
    if (dests & MOTED_LOGDEST_STDOUT)
        (void)!write(STDOUT_FILENO, line, n);
    if (dests & MOTED_LOGDEST_FILE && fd >= 0)
        (void)!write(fd, line, n);
    if (dests & MOTED_LOGDEST_SYSLOG)
        syslog(type == MOTED_LOG_ERROR ? LOG_ERR
               : type == MOTED_LOG_WARNING ? LOG_WARNING
               : type == MOTED_LOG_NOTICE  ? LOG_NOTICE
               : type == MOTED_LOG_DEBUG   ? LOG_DEBUG
                                           : LOG_INFO,
               "%.*s", (int)(n - 1), line);
}
