/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "cmd.h"
#include "daemon.h"
#include "log.h"
#include "strv.h"

int usage_error(const char *command, const char *message) {
        fprintf(stderr, "crio%s%s: %s\nRun 'crio %s%s--help' for usage.\n", command ? " " : "",
                strempty(command), message, strempty(command), command ? " " : "");
        return 2;
}

static int run_daemon(const CliOptions *o) {
        _cleanup_strv_free_ char **warnings = NULL;
        _cleanup_error_ Error *err = NULL;
        Config *config = NULL;

        if (config_load(&o->sources, &config, &warnings, &err) < 0) {
                fprintf(stderr, "crio: invalid configuration: %s\n", err->message);
                return 1;
        }
        int level = log_level_from_string(config->log_level);
        log_set_level(level >= 0 ? (LogLevel)level : LOG_INFO);
        if (o->log_file && log_open_file(o->log_file, &err) < 0) {
                fprintf(stderr, "crio: %s\n", err->message);
                config_free(config);
                return 1;
        }
        STRV_FOREACH(w, warnings)
                log_warn("%s", *w);

        if (daemon_run(o, config, &err) < 0) {
                log_error("%s", err->message);
                fprintf(stderr, "crio: %s\n", err->message);
                return 1;
        }
        return 0;
}

int main(int argc, char **argv) {
        CliOptions o = {0};
        _cleanup_error_ Error *err = NULL;
        int r;

        if (cli_parse(argc, argv, &o, &err) < 0)
                return usage_error(NULL, err->message);
        r = log_format_from_string(o.log_format);
        if (r < 0) {
                _cleanup_free_ char *msg = xasprintf("--log-format: '%s' is not text or json", o.log_format);
                cli_options_done(&o);
                return usage_error(NULL, msg);
        }
        log_set_format((LogFormat)r);

        if (o.help || streq_ptr(o.command, "help")) {
                cli_write_usage(stdout);
                r = 0;
        } else if (o.version || streq_ptr(o.command, "version"))
                r = cmd_version(&o);
        else if (streq_ptr(o.command, "config"))
                r = cmd_config(&o);
        else if (streq_ptr(o.command, "status"))
                r = cmd_status(&o);
        else if (streq_ptr(o.command, "wipe"))
                r = cmd_wipe(&o);
        else
                r = run_daemon(&o);
        cli_options_done(&o);
        return r;
}
