/* SPDX-License-Identifier: Apache-2.0 */
/*
 * crio-pause: PID 1 of a pod's shared PID namespace. It holds the namespace open, reaps every process
 * the kernel reparents to it, and exits 0 when asked to stop. See docs/helpers.md.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

static void on_signal(int sig) {
        /* Never runs: the signals stay blocked and are taken by sigwaitinfo(). */
}

/* PID 1 of a namespace only receives signals it has a handler for (the kernel drops the rest at send
 * time), so each signal we act on gets one, while staying blocked. */
static int install_handlers(const sigset_t *set) {
        struct sigaction sa = {.sa_handler = on_signal};

        sigfillset(&sa.sa_mask);
        for (int sig = 1; sig < NSIG; sig++)
                if (sigismember(set, sig) == 1 && sigaction(sig, &sa, NULL) < 0)
                        return -errno;
        return 0;
}

static void reap_children(void) {
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

int main(int argc, char **argv) {
        sigset_t all, handled;

        if (argc == 2 && (strcmp(argv[1], "-v") == 0 || strcmp(argv[1], "--version") == 0)) {
                printf("crio-pause %s\n", CRIO_VERSION);
                return 0;
        }
        if (argc > 1) {
                fprintf(stderr, "Usage: crio-pause [-v]\n");
                return 2;
        }
        /* Everything else stays blocked: a stray SIGHUP or SIGUSR1 must not end the pod. */
        sigfillset(&all);
        sigprocmask(SIG_BLOCK, &all, NULL);
        sigemptyset(&handled);
        sigaddset(&handled, SIGCHLD);
        sigaddset(&handled, SIGINT);
        sigaddset(&handled, SIGTERM);
        int r = install_handlers(&handled);
        if (r < 0) {
                fprintf(stderr, "crio-pause: sigaction: %s\n", strerror(-r));
                return 1;
        }
        /* Children may have exited before the handler existed. */
        reap_children();
        for (;;) {
                int sig = sigwaitinfo(&handled, NULL);
                if (sig == SIGINT || sig == SIGTERM)
                        return 0;
                if (sig == SIGCHLD)
                        reap_children();
        }
}
