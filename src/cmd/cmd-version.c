/* SPDX-License-Identifier: Apache-2.0 */
#include <sys/utsname.h>

#include <json-c/json.h>
#include <nghttp2/nghttp2.h>
#include <protobuf-c/protobuf-c.h>

#include "cmd.h"
#include "version.h"

static const CliFlag version_flags[] = {
        {"json", 'j', false, "print JSON"},
        {"help", 'h', false, "show this help"},
};

static const char *platform(void) {
#if defined(__x86_64__)
        return "linux/amd64";
#elif defined(__aarch64__)
        return "linux/arm64";
#else
        return "linux/unknown";
#endif
}

static json_object *version_info(void) {
        json_object *o = json_object_new_object();
        json_object_object_add(o, "version", json_object_new_string(CRIO_VERSION));
        json_object_object_add(o, "gitCommit", json_object_new_string(CRIO_GIT_COMMIT));
        json_object_object_add(o, "compiler", json_object_new_string("gcc " __VERSION__));
        json_object_object_add(o, "platform", json_object_new_string(platform()));
        json_object_object_add(o, "nghttp2Version", json_object_new_string(nghttp2_version(0)->version_str));
        json_object_object_add(o, "protobufCVersion", json_object_new_string(protobuf_c_version()));
        json_object_object_add(o, "criApiVersion", json_object_new_string("v1"));
        return o;
}

/* "gitCommit" -> "GitCommit:", as `crio version` has always printed it. */
static void print_text(json_object *info) {
        json_object_object_foreach(info, key, val) {
                char label[32];
                snprintf(label, sizeof(label), "%c%s:", key[0] - 'a' + 'A', key + 1);
                printf("%-18s%s\n", label, json_object_get_string(val));
        }
}

int cmd_version(const CliOptions *o) {
        char *values[ELEMENTSOF(version_flags)] = {0};
        _cleanup_error_ Error *err = NULL;
        int r = 0;

        if (cli_parse_command("version", o->args, version_flags, ELEMENTSOF(version_flags), values, &err) <
            0)
                r = usage_error("version", err->message);
        else if (values[1])
                printf("Usage: crio version [--json]\n\nPrint version information.\n");
        else {
                json_object *info = version_info();
                if (values[0])
                        printf("%s\n",
                               json_object_to_json_string_ext(info, JSON_C_TO_STRING_PRETTY |
                                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
                else
                        print_text(info);
                json_object_put(info);
        }
        for (size_t i = 0; i < ELEMENTSOF(values); i++)
                free(values[i]);
        return r;
}
