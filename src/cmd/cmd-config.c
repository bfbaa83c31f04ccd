/* SPDX-License-Identifier: Apache-2.0 */
#include "cmd.h"
#include "strv.h"

static const CliFlag config_flags[] = {
        {"default", 0, false, "print the built-in defaults, ignoring configuration files and flags"},
        {"help", 'h', false, "show this help"},
};

static void config_usage(void) {
        printf("Usage: crio [GLOBAL FLAGS] config [--default]\n\n"
               "Print the effective configuration as commented TOML (crio.conf(5)). The output can be\n"
               "saved as /etc/crio/crio.conf and parses back to the same configuration.\n\n");
        for (size_t i = 0; i < ELEMENTSOF(config_flags); i++)
                printf("  --%s\t%s\n", config_flags[i].name, config_flags[i].help);
}

int cmd_config(const CliOptions *o) {
        char *values[ELEMENTSOF(config_flags)] = {0};
        _cleanup_error_ Error *err = NULL;
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_config_ Config *c = NULL;
        int r = 0;

        if (cli_parse_command("config", o->args, config_flags, ELEMENTSOF(config_flags), values, &err) < 0)
                r = usage_error("config", err->message);
        else if (values[1])
                config_usage();
        else if (values[0])
                c = config_new_default();
        else if (config_load(&o->sources, &c, &warnings, &err) < 0) {
                fprintf(stderr, "crio config: %s\n", err->message);
                r = 1;
        }
        STRV_FOREACH(w, warnings)
                fprintf(stderr, "warning: %s\n", *w);
        if (c)
                config_write_toml(c, stdout);
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                free(values[i]);
        return r;
}
