/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

/*
 * Child processes of a multi-threaded daemon. Children start with posix_spawn (nothing runs between
 * fork and exec), with a clean signal mask and default dispositions. One reaper thread reaps every
 * child, including orphans re-parented to the daemon (a child subreaper): a child started with
 * process_spawn() keeps its exit status for process_wait(); any other is reaped and forgotten.
 */

/* Start the reaper thread. Call once, before the first spawn. */
int process_reaper_start(void);

/* What the reaper tells about each orphan it reaps (a child of no process_spawn() of ours). */
typedef struct OrphanExit {
        pid_t pid;
        int status; /* as waitpid gives it */
} OrphanExit;

/*
 * Write an OrphanExit to `fd` (a non-blocking pipe; -1: stop) for every orphan reaped from now on, so
 * that a container whose monitor died before it gets its exit recorded. A full pipe drops the record.
 */
void process_report_orphans(int fd);

typedef struct SpawnOptions {
        const char *const *argv; /* argv[0] is the path of the program */
        const char *const *envp; /* NULL: the daemon's environment */
        int stdin_fd;            /* -1: /dev/null */
        int stdout_fd;           /* -1: /dev/null */
        int stderr_fd;           /* -1: /dev/null */
        const int *pass_fds;     /* these become fds 3, 4, ... in the child */
        size_t n_pass_fds;
        bool new_session; /* setsid(): no controlling terminal, own process group */
        const char *cwd;  /* the child's working directory; NULL: the daemon's */
        /*
         * > 2: run the program in this fd (a sealed copy of argv[0]) instead of argv[0]'s path; it is passed
         * after pass_fds and executed as /proc/self/fd/N. 0 (the default): run argv[0].
         */
        int program_fd;
} SpawnOptions;

/* Start a child and register it for process_wait(). -errno (message names argv[0]) on failure. */
int process_spawn(const SpawnOptions *o, pid_t *ret_pid, Error **reterr);

/*
 * Wait until a spawned child exits and return its wait status (as waitpid gives it); the child is
 * forgotten. timeout_ms < 0 waits forever; -ETIMEDOUT when it is still running (it stays registered).
 * Blocks.
 */
int process_wait(pid_t pid, int64_t timeout_ms, int *ret_status);

/*
 * Take on a process that a child of ours started and left behind (it is, or will be, re-parented to
 * us as a subreaper): afterwards process_wait() gives its status, even if it was reaped already.
 * Call only after the child that started it has exited.
 */
void process_adopt(pid_t pid);

/* Kill a spawned child with SIGKILL and wait for it (use on failure paths). */
void process_kill_and_wait(pid_t pid);

/* Stop caring about a spawned child's status: the reaper reaps it whenever it exits. */
void process_forget(pid_t pid);

/*
 * Run a program to completion, collecting up to `max_output` bytes of stdout+stderr together into
 * *ret_output (NUL-terminated, may be NULL). 0 with *ret_status (wait status) or -errno; on timeout
 * the child is killed and -ETIMEDOUT returned. Blocks.
 */
int process_run(const char *const *argv, int64_t timeout_ms, size_t max_output, int *ret_status,
                char **ret_output, Error **reterr);

/* One run of a program that reads a request on stdin and answers on stdout (CNI plugins). */
typedef struct ProcessIO {
        const char *const *argv;
        const char *const *envp; /* NULL: the daemon's environment */
        const char *input;       /* written to stdin, then stdin is closed; NULL: /dev/null */
        size_t input_len;
        size_t max_stdout, max_stderr; /* bytes kept of each; the rest is read and dropped */
        int64_t timeout_ms;            /* < 0: none */
} ProcessIO;

/*
 * Run io->argv to completion: 0 with *ret_status (wait status), *ret_stdout and *ret_stderr (both
 * NUL-terminated, never NULL), or -errno; on timeout the child is killed and -ETIMEDOUT returned.
 * Blocks.
 */
int process_run_io(const ProcessIO *io, int *ret_status, char **ret_stdout, char **ret_stderr,
                   Error **reterr);

/* A pid written as decimal text (pid files): > 0, or -EINVAL for anything else. */
int parse_pid(const char *text);

/*
 * The state letter of a /proc/<pid>/stat line ('R', 'S', 'Z', ...), or 0 when it is not one. The
 * command name in parentheses may hold spaces and ')', so the state follows the last ')'.
 */
char proc_stat_state(const char *stat_line);

/* "exit status 3", "killed by signal 9" for a wait status. Caller frees. */
char *process_status_to_string(int status);
