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

static int log_types = MOTED_LOG_ERROR | MOTED_LOG_WARNING | MOTED_LOG_NOTICE | MOTED_LOG_INFO;
static int log_dests = MOTED_LOGDEST_STDERR;
static int log_fd = -1;

void moted__log_setup(const struct moted_config *cfg)
{
    log_types = cfg->log_type;
    log_dests = cfg->log_dest;
    if ((log_dests & MOTED_LOGDEST_FILE) && cfg->log_file) {
        log_fd = open(cfg->log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (log_fd < 0)
            fprintf(stderr, "moted: cannot open log file %s: %m; logging to stderr\n",
                    cfg->log_file);
    }
    if (log_dests & MOTED_LOGDEST_SYSLOG)
        openlog("moted", LOG_PID, LOG_DAEMON);
}

void moted__log_close(void)
{
    if (log_fd >= 0)
        close(log_fd);
    log_fd = -1;
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

    if (!(log_types & type))
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

    if (log_dests & MOTED_LOGDEST_STDERR || (log_dests & MOTED_LOGDEST_FILE && log_fd < 0))
        (void)!write(STDERR_FILENO, line, n);
    if (log_dests & MOTED_LOGDEST_STDOUT)
        (void)!write(STDOUT_FILENO, line, n);
    if (log_dests & MOTED_LOGDEST_FILE && log_fd >= 0)
        (void)!write(log_fd, line, n);
    if (log_dests & MOTED_LOGDEST_SYSLOG)
        syslog(type == MOTED_LOG_ERROR ? LOG_ERR
               : type == MOTED_LOG_WARNING ? LOG_WARNING
               : type == MOTED_LOG_NOTICE  ? LOG_NOTICE
               : type == MOTED_LOG_DEBUG   ? LOG_DEBUG
                                           : LOG_INFO,
               "%.*s", (int)(n - 1), line);
}
