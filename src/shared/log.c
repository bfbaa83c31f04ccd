/* SPDX-License-Identifier: Apache-2.0 */
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "log.h"

static const char *const level_names[] = {
        [LOG_TRACE] = "trace", [LOG_DEBUG] = "debug", [LOG_INFO] = "info",
        [LOG_WARN] = "warn",   [LOG_ERROR] = "error", [LOG_FATAL] = "fatal",
};

static atomic_int current_level = LOG_INFO;
static atomic_int current_format = LOG_FORMAT_TEXT;
static atomic_int log_fd = STDERR_FILENO;

/* The filter is swapped on reload while other threads log, so it lives behind a lock. */
static pthread_rwlock_t filter_lock = PTHREAD_RWLOCK_INITIALIZER;
static regex_t filter_re;
static bool filter_set;

int log_level_from_string(const char *s) {
        if (!s)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(level_names); i++)
                if (strcmp(s, level_names[i]) == 0)
                        return (int)i;
        if (strcmp(s, "warning") == 0)
                return LOG_WARN;
        if (strcmp(s, "panic") == 0)
                return LOG_FATAL;
        return -EINVAL;
}

const char *log_level_to_string(LogLevel level) {
        if ((unsigned)level >= ELEMENTSOF(level_names))
                return "unknown";
        return level_names[level];
}

int log_format_from_string(const char *s) {
        if (streq_ptr(s, "text"))
                return LOG_FORMAT_TEXT;
        if (streq_ptr(s, "json"))
                return LOG_FORMAT_JSON;
        return -EINVAL;
}

void log_set_level(LogLevel level) {
        atomic_store(&current_level, (int)level);
}

LogLevel log_get_level(void) {
        return (LogLevel)atomic_load(&current_level);
}

void log_set_format(LogFormat format) {
        atomic_store(&current_format, (int)format);
}

int log_open_file(const char *path, Error **reterr) {
        int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0)
                return error_set(reterr, errno, "open log file '%s': %m", path);
        int old = atomic_exchange(&log_fd, fd);
        if (old != STDERR_FILENO)
                close(old);
        return 0;
}

int log_check_filter(const char *regex, Error **reterr) {
        regex_t re;
        if (!regex || !*regex)
                return 0;
        int r = regcomp(&re, regex, REG_EXTENDED | REG_NOSUB);
        if (r != 0) {
                char buf[256];
                regerror(r, &re, buf, sizeof(buf));
                return error_set(reterr, EINVAL, "invalid log_filter regex '%s': %s", regex, buf);
        }
        regfree(&re);
        return 0;
}

int log_set_filter(const char *regex, Error **reterr) {
        regex_t re;
        bool have = regex && *regex;

        if (have) {
                int r = log_check_filter(regex, reterr);
                if (r < 0)
                        return r;
                if (regcomp(&re, regex, REG_EXTENDED | REG_NOSUB) != 0)
                        return error_set(reterr, EINVAL, "invalid log_filter regex '%s'", regex);
        }
        pthread_rwlock_wrlock(&filter_lock);
        if (filter_set)
                regfree(&filter_re);
        filter_set = have;
        if (have)
                filter_re = re;
        pthread_rwlock_unlock(&filter_lock);
        return 0;
}

static bool passes_filter(const char *msg) {
        bool pass = true;
        pthread_rwlock_rdlock(&filter_lock);
        if (filter_set)
                pass = regexec(&filter_re, msg, 0, NULL, 0) == 0;
        pthread_rwlock_unlock(&filter_lock);
        return pass;
}

static void format_time(char *buf, size_t size) {
        struct timespec ts;
        struct tm tm;
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(buf + n, size - n, ".%06ldZ", ts.tv_nsec / 1000);
}

/* Quote like logrus' text formatter so that existing log scrapers keep working. */
static char *format_text(LogLevel level, const char *when, const char *msg) {
        json_object *s = json_object_new_string(msg);
        const char *quoted = json_object_to_json_string_ext(s, JSON_C_TO_STRING_NOSLASHESCAPE);
        char *line = xasprintf("time=\"%s\" level=%s msg=%s\n", when, level_names[level], quoted);
        json_object_put(s);
        return line;
}

static char *format_json(LogLevel level, const char *when, const char *msg) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "level", json_object_new_string(level_names[level]));
        json_object_object_add(o, "msg", json_object_new_string(msg));
        json_object_object_add(o, "time", json_object_new_string(when));
        char *line = xasprintf("%s\n", json_object_to_json_string_ext(
                                               o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return line;
}

void log_msg(LogLevel level, const char *fmt, ...) {
        int saved_errno = errno;
        if (!log_enabled(level))
                return;

        va_list ap;
        _cleanup_free_ char *msg = NULL;
        va_start(ap, fmt);
        int r = vasprintf(&msg, fmt, ap);
        va_end(ap);
        if (r < 0 || !passes_filter(msg)) {
                errno = saved_errno;
                return;
        }

        char when[64];
        format_time(when, sizeof(when));
        _cleanup_free_ char *line = atomic_load(&current_format) == LOG_FORMAT_JSON
                                            ? format_json(level, when, msg)
                                            : format_text(level, when, msg);
        /* One write per line keeps lines from different threads whole. */
        if (write(atomic_load(&log_fd), line, strlen(line)) < 0) {
                /* Nowhere left to report a failing log. */
        }
        errno = saved_errno;
}
