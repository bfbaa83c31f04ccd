/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cni-result.h"
#include "cni.h"
#include "json-util.h"
#include "process.h"
#include "strv.h"

/* Plugins answer with a result or an error object; both are small. */
#define PLUGIN_STDOUT_MAX (1 << 20)
#define PLUGIN_STDERR_MAX (64 << 10)

int cni_plugin_find(char *const *dirs, const char *type, char **ret_path) {
        STRV_FOREACH(dir, dirs) {
                char *path = xasprintf("%s/%s", *dir, type);
                if (access(path, X_OK) == 0) {
                        *ret_path = path;
                        return 0;
                }
                free(path);
        }
        return -ENOENT;
}

static void add_runtime_config(json_object *conf, json_object *plugin, json_object *runtime_config) {
        json_object *caps = NULL, *rc = NULL;
        if (!runtime_config || !json_object_object_get_ex(plugin, "capabilities", &caps) ||
            !json_object_is_type(caps, json_type_object))
                return;
        json_object_object_foreach(caps, name, enabled) {
                json_object *value = NULL;
                if (!json_object_get_boolean(enabled) ||
                    !json_object_object_get_ex(runtime_config, name, &value))
                        continue;
                if (!rc)
                        rc = json_object_new_object();
                json_object_object_add(rc, name, json_object_get(value));
        }
        if (rc)
                json_object_object_add(conf, "runtimeConfig", rc);
}

json_object *cni_plugin_netconf(const CniNetwork *n, size_t index, json_object *prev_result,
                                json_object *runtime_config) {
        json_object *plugin = cni_network_plugin(n, index);
        json_object *conf = NULL;
        json_object_deep_copy(plugin, &conf, NULL);
        json_object_object_add(conf, "name", json_object_new_string(n->name));
        json_object_object_add(conf, "cniVersion", json_object_new_string(n->cni_version));
        json_object_object_del(conf, "runtimeConfig");
        json_object_object_del(conf, "prevResult");
        if (prev_result)
                json_object_object_add(conf, "prevResult", json_object_get(prev_result));
        add_runtime_config(conf, plugin, runtime_config);
        return conf;
}

/* A plugin's environment: the request, and a PATH for the tools plugins run (iptables, ip). */
static char **plugin_env(const char *command, const CniInvocation *inv) {
        _cleanup_free_ char *path = strv_join(inv->plugin_dirs, ":");
        char **env = xcalloc(1, sizeof(char *));
        env = strv_push(env, xasprintf("CNI_COMMAND=%s", command));
        env = strv_push(env, xasprintf("CNI_CONTAINERID=%s", inv->container_id ? inv->container_id : ""));
        env = strv_push(env, xasprintf("CNI_NETNS=%s", inv->netns ? inv->netns : ""));
        env = strv_push(env, xasprintf("CNI_IFNAME=%s", inv->ifname ? inv->ifname : ""));
        env = strv_push(env, xasprintf("CNI_ARGS=%s", inv->args ? inv->args : ""));
        env = strv_push(env, xasprintf("CNI_PATH=%s", path));
        env = strv_push(env, xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
        return env;
}

/*
 * Run plugin `type` with `command` and `stdin_json`. 0 with *ret_out (the plugin's stdout, possibly
 * empty) or -errno with the plugin's error message.
 */
static int plugin_exec(const char *type, const char *command, json_object *stdin_json,
                       const CniInvocation *inv, char **ret_out, Error **reterr) {
        _cleanup_free_ char *path = NULL;
        if (cni_plugin_find(inv->plugin_dirs, type, &path) < 0) {
                _cleanup_free_ char *dirs = strv_join(inv->plugin_dirs, ", ");
                return error_set(reterr, EIO, "CNI plugin %s not found in %s", type, dirs);
        }
        _cleanup_strv_free_ char **env = plugin_env(command, inv);
        const char *input = json_object_to_json_string_ext(stdin_json, JSON_C_TO_STRING_PLAIN);
        const char *argv[] = {path, NULL};
        ProcessIO io = {.argv = argv,
                        .envp = (const char *const *)env,
                        .input = input,
                        .input_len = strlen(input),
                        .max_stdout = PLUGIN_STDOUT_MAX,
                        .max_stderr = PLUGIN_STDERR_MAX,
                        .timeout_ms = inv->timeout_ms};
        int status = 0;
        _cleanup_free_ char *out = NULL, *err = NULL;
        int r = process_run_io(&io, &status, &out, &err, reterr);
        if (r < 0)
                return error_prefix(reterr, "CNI plugin %s (%s)", type, command);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                _cleanup_free_ char *m = cni_error_message(type, out, err, status);
                return error_set(reterr, EIO, "%s: %s", command, m);
        }
        *ret_out = TAKE_PTR(out);
        return 0;
}

int cni_network_verify(const CniNetwork *n, char *const *dirs, int64_t timeout_ms, Error **reterr) {
        CniInvocation inv = {.plugin_dirs = dirs, .timeout_ms = timeout_ms};
        for (size_t i = 0; i < n->n_plugins; i++) {
                const char *type = cni_network_plugin_type(n, i);
                json_object *req = json_object_new_object();
                json_object_object_add(req, "cniVersion", json_object_new_string(n->cni_version));
                _cleanup_free_ char *out = NULL;
                int r = plugin_exec(type, "VERSION", req, &inv, &out, reterr);
                json_object_put(req);
                if (r < 0)
                        return r;
                json_object *v = NULL;
                _cleanup_error_ Error *ignored = NULL;
                bool ok = json_parse_object(out, strlen(out), "VERSION", &v, &ignored) == 0;
                json_object *list = ok ? json_object_object_get(v, "supportedVersions") : NULL;
                bool found = false;
                for (size_t k = 0; list && k < json_object_array_length(list); k++)
                        found |= strcmp(json_object_get_string(json_object_array_get_idx(list, k)),
                                        n->cni_version) == 0;
                json_object_put(v);
                if (!found)
                        return error_set(reterr, EINVAL, "CNI plugin %s does not support cniVersion %s",
                                         type, n->cni_version);
        }
        return 0;
}

/* One plugin call of a chain; *ret_result gets its parsed stdout (NULL when it printed nothing). */
static int plugin_call(const CniNetwork *n, size_t i, const char *command, json_object *prev,
                       const CniInvocation *inv, json_object **ret_result, Error **reterr) {
        const char *type = cni_network_plugin_type(n, i);
        json_object *conf = cni_plugin_netconf(n, i, prev, inv->runtime_config);
        _cleanup_free_ char *out = NULL;
        int r = plugin_exec(type, command, conf, inv, &out, reterr);
        json_object_put(conf);
        if (r < 0 || !ret_result)
                return r;
        *ret_result = NULL;
        if (!*out)
                return 0;
        r = json_parse_object(out, strlen(out), "CNI plugin result", ret_result, reterr);
        return r < 0 ? error_prefix(reterr, "CNI plugin %s (%s)", type, command) : 0;
}

int cni_add(const CniNetwork *n, const CniInvocation *inv, json_object **ret_result, Error **reterr) {
        json_object *result = NULL;
        for (size_t i = 0; i < n->n_plugins; i++) {
                json_object *next = NULL;
                int r = plugin_call(n, i, "ADD", result, inv, &next, reterr);
                if (r >= 0 && !next)
                        r = error_set(reterr, EIO, "CNI plugin %s (ADD) returned no result",
                                      cni_network_plugin_type(n, i));
                json_object_put(result);
                if (r < 0)
                        return r;
                result = next;
        }
        *ret_result = result;
        return 0;
}

/* DEL and CHECK carry the ADD result from spec 0.4.0 on; earlier plugins do not expect it. */
static json_object *prev_for(const CniNetwork *n, json_object *prev_result) {
        return cni_version_compare(n->cni_version, "0.4.0") >= 0 ? prev_result : NULL;
}

int cni_del(const CniNetwork *n, const CniInvocation *inv, json_object *prev_result, Error **reterr) {
        int first = 0;
        for (size_t i = n->n_plugins; i > 0; i--) {
                int r = plugin_call(n, i - 1, "DEL", prev_for(n, prev_result), inv, NULL, reterr);
                if (r < 0 && first == 0)
                        first = r;
        }
        return first;
}

int cni_check(const CniNetwork *n, const CniInvocation *inv, json_object *prev_result, Error **reterr) {
        if (n->disable_check || cni_version_compare(n->cni_version, "0.4.0") < 0)
                return 0;
        for (size_t i = 0; i < n->n_plugins; i++) {
                int r = plugin_call(n, i, "CHECK", prev_for(n, prev_result), inv, NULL, reterr);
                if (r < 0)
                        return r;
        }
        return 0;
}
