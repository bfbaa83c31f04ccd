/* SPDX-License-Identifier: Apache-2.0 */
#include "cmd.h"
#include "daemon.h"
#include "log.h"
#include "strv.h"

static const CliFlag wipe_flags[] = {
        {"force", 'f', false, "wipe every pod, container and image, whether or not the node restarted"},
        {"help", 'h', false, "show this help"},
};

static void wipe_usage(void) {
        printf("Usage: crio [GLOBAL FLAGS] wipe [--force]\n\n"
               "With the daemon stopped: if the node restarted since the daemon last started (version_file\n"
               "is absent), remove the pod sandboxes and containers of the previous boot. Nodes that run\n"
               "the daemon with internal_wipe (the default) need not run this.\n\n");
        for (size_t i = 0; i < ELEMENTSOF(wipe_flags); i++)
                printf("  -%c, --%s\t%s\n", wipe_flags[i].short_name, wipe_flags[i].name,
                       wipe_flags[i].help);
}

int cmd_wipe(const CliOptions *o) {
        char *values[ELEMENTSOF(wipe_flags)] = {0};
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_config_ Config *c = NULL;
        int r = 0;

        if (cli_parse_command("wipe", o->args, wipe_flags, ELEMENTSOF(wipe_flags), values, &err) < 0)
                r = usage_error("wipe", err->message);
        else if (values[1])
                wipe_usage();
        else if (config_load(&o->sources, &c, &warnings, &err) < 0) {
                fprintf(stderr, "crio wipe: %s\n", err->message);
                r = 1;
        } else {
                int level = log_level_from_string(c->log_level);
                log_set_level(level >= 0 ? (LogLevel)level : LOG_INFO);
                STRV_FOREACH(w, warnings)
                        log_warn("%s", *w);
                if (daemon_wipe(o, c, values[0] != NULL, &err) < 0) {
                        fprintf(stderr, "crio wipe: %s\n", err->message);
                        r = 1;
                }
        }
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                free(values[i]);
        return r;
}
