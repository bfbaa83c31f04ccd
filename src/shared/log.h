/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>

#include "error.h"

/* Levels as CRI-O names them; "panic" is accepted as an alias of fatal. */
typedef enum LogLevel {
        LOG_TRACE,
        LOG_DEBUG,
        LOG_INFO,
        LOG_WARN,
        LOG_ERROR,
        LOG_FATAL,
} LogLevel;

typedef enum LogFormat {
        LOG_FORMAT_TEXT,
        LOG_FORMAT_JSON,
} LogFormat;

int log_level_from_string(const char *s); /* LogLevel or -EINVAL */
const char *log_level_to_string(LogLevel level);
int log_format_from_string(const char *s); /* LogFormat or -EINVAL */

/*
 * Process-wide logger writing one line per message to stderr (or a file set with log_open_file).
 * Thread-safe. Level and filter can change at run time (SIGHUP reload).
 */
void log_set_level(LogLevel level);
LogLevel log_get_level(void);
void log_set_format(LogFormat format);
int log_open_file(const char *path, Error **reterr);

/* Only messages matching this POSIX extended regex are written; NULL or "" lets all through. */
int log_set_filter(const char *regex, Error **reterr);

/* Validate a filter without installing it. */
int log_check_filter(const char *regex, Error **reterr);

void log_msg(LogLevel level, const char *fmt, ...) _printf_(2, 3);

static inline bool log_enabled(LogLevel level) {
        return level >= log_get_level();
}

#define log_trace(...) (log_enabled(LOG_TRACE) ? log_msg(LOG_TRACE, __VA_ARGS__) : (void)0)
#define log_debug(...) (log_enabled(LOG_DEBUG) ? log_msg(LOG_DEBUG, __VA_ARGS__) : (void)0)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
