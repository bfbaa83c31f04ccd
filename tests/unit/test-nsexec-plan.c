/* SPDX-License-Identifier: Apache-2.0 */
/* crio-nsexec's plan: built by the daemon from an OCI spec (exec-plan.c), parsed by the helper. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>

#include <cmocka.h>

#include "exec-plan.h"
#include "nsexec-plan.h"
#include "test-util.h"

static const char spec_text[] =
        "{\"process\": {\"args\": [\"sleep\", \"1\"], \"env\": [\"PATH=/bin:/usr/bin\", \"A=b c\"],"
        " \"cwd\": \"/work\", \"user\": {\"uid\": 1000, \"gid\": 3000, \"additionalGids\": [4, 5], "
        "\"umask\": 18},"
        " \"capabilities\": {\"bounding\": [\"CAP_CHOWN\", \"CAP_NET_ADMIN\"], \"effective\": "
        "[\"CAP_CHOWN\"],"
        "   \"permitted\": [\"CAP_CHOWN\"], \"inheritable\": [], \"ambient\": []},"
        " \"rlimits\": [{\"type\": \"RLIMIT_NOFILE\", \"soft\": 1024, \"hard\": 4096}],"
        " \"noNewPrivileges\": true, \"oomScoreAdj\": 5, \"apparmorProfile\": \"crio-default\"},"
        " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"user\"}]}}";

static json_object *spec_from(const char *text) {
        json_object *o = json_tokener_parse(text);
        assert_non_null(o);
        return o;
}

static void build(json_object *spec, const ExecRequest *req, char **buf, size_t *len) {
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(exec_plan_build(spec, req, buf, len, &err), 0);
}

/* The plan the daemon builds, as the helper reads it; returns the buffer the plan points into. */
static char *round_trip(const char *spec_json, const ExecRequest *req, ExecPlan *p) {
        json_object *spec = spec_from(spec_json);
        char *buf = NULL;
        size_t len = 0;
        _cleanup_error_ Error *err = NULL;
        build(spec, req, &buf, &len);
        assert_int_equal(exec_plan_parse(buf, len, p, &err), 0);
        json_object_put(spec);
        return buf;
}

static void test_spec_round_trip(void **state) {
        char *argv[] = {"sh", "-c", "echo hi", NULL};
        ExecRequest req = {.argv = argv, .cgroup = "/crio-c/crio-x", .tty = true, .width = 80, .height = 24};
        ExecPlan p = {};
        char *buf = round_trip(spec_text, &req, &p);
        assert_int_equal(p.n_args, 3);
        assert_string_equal(p.args[2], "echo hi");
        assert_null(p.args[3]);
        assert_string_equal(exec_plan_getenv(p.env, "A"), "b c");
        assert_string_equal(p.cwd, "/work");
        assert_int_equal(p.uid, 1000);
        assert_int_equal(p.gid, 3000);
        assert_int_equal(p.n_groups, 2);
        assert_int_equal(p.groups[1], 5);
        assert_true(p.has_umask && p.umask == 022);
        assert_int_equal(p.cap_bounding, (1ULL << 0) | (1ULL << 12));
        assert_int_equal(p.cap_effective, 1);
        assert_int_equal(p.cap_inheritable, 0);
        assert_int_equal(p.n_rlimits, 1);
        assert_int_equal(p.rlimits[0].resource, RLIMIT_NOFILE);
        assert_int_equal(p.rlimits[0].hard, 4096);
        assert_true(p.no_new_privs && p.user_namespace);
        assert_true(p.has_oom_score_adj && p.oom_score_adj == 5);
        assert_string_equal(p.apparmor, "crio-default");
        assert_string_equal(p.cgroup, "/crio-c/crio-x");
        assert_true(p.tty && p.width == 80 && p.height == 24);
        exec_plan_done(&p);
        free(buf);
}

static void test_spec_defaults(void **state) {
        char *argv[] = {"true", NULL};
        ExecRequest req = {.argv = argv};
        ExecPlan p = {};
        char *buf = round_trip("{\"process\": {}}", &req, &p);
        assert_string_equal(p.cwd, "/");
        assert_int_equal(p.uid, 0);
        assert_int_equal(p.n_env, 0);
        assert_non_null(p.env);
        assert_false(p.tty || p.user_namespace || p.no_new_privs || p.has_oom_score_adj || p.cgroup);
        exec_plan_done(&p);
        free(buf);
}

static void assert_build_fails(const char *text, int code, const char *needle, bool selinux) {
        json_object *spec = spec_from(text);
        char *argv[] = {"true", NULL};
        ExecRequest req = {.argv = argv, .selinux_enabled = selinux};
        char *buf = NULL;
        size_t len = 0;
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(exec_plan_build(spec, &req, &buf, &len, &err), -code);
        assert_contains(err->message, needle);
        json_object_put(spec);
}

static void test_spec_refusals(void **state) {
        assert_build_fails("{}", EINVAL, "no process", false);
        /* A NUL inside a value would cut its record short and start a forged one. */
        assert_build_fails("{\"process\": {\"env\": [\"A=1\\u0000uid=0\"]}}", EINVAL, "NUL", false);
        assert_build_fails("{\"process\": {\"user\": {\"uid\": -1}}}", EINVAL, "uid", false);
        /* What only the runtime's exec can do sends the call there. */
        assert_build_fails("{\"process\": {\"selinuxLabel\": \"system_u:r:t:s0\"}}", EOPNOTSUPP, "SELinux",
                           true);
        assert_build_fails("{\"process\": {}, \"linux\": {\"personality\": {\"domain\": \"LINUX32\"}}}",
                           EOPNOTSUPP, "personality", false);
        assert_build_fails("{\"process\": {\"capabilities\": {\"bounding\": [\"CAP_FUTURE\"]}}}", EOPNOTSUPP,
                           "CAP_FUTURE", false);
        /* A label on a host without SELinux is ignored, as runc ignores it. */
        json_object *spec = spec_from("{\"process\": {\"selinuxLabel\": \"x\"}}");
        char *argv[] = {"true", NULL}, *buf = NULL;
        size_t len = 0;
        ExecRequest req = {.argv = argv};
        build(spec, &req, &buf, &len);
        free(buf);
        json_object_put(spec);
}

static void assert_parse_fails(const char *records, size_t len, const char *needle) {
        char *buf = xmalloc(len);
        memcpy(buf, records, len);
        ExecPlan p = {};
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(exec_plan_parse(buf, len, &p, &err), -EINVAL);
        assert_contains(err->message, needle);
        assert_null(p.args);
        free(buf);
}

#define PARSE_FAILS(lit, needle) assert_parse_fails(lit, sizeof(lit) - 1, needle)

static void test_parse_refusals(void **state) {
        PARSE_FAILS("arg=true\0cwd=/", "NUL-terminated");
        PARSE_FAILS("cwd=/\0", "no arg");
        PARSE_FAILS("arg=x\0", "cwd");
        PARSE_FAILS("arg=x\0cwd=relative\0", "cwd");
        PARSE_FAILS("arg=x\0cwd=/\0bogus=1\0", "bogus");
        PARSE_FAILS("arg=x\0cwd=/\0noequals\0", "without '='");
        PARSE_FAILS("arg=x\0cwd=/\0uid=-1\0", "uid");
        PARSE_FAILS("arg=x\0cwd=/\0uid=4294967295\0", "uid"); /* (uid_t)-1: "leave unchanged" */
        PARSE_FAILS("arg=x\0cwd=/\0gid=1x\0", "gid");
        PARSE_FAILS("arg=x\0cwd=/\0rlimit=7:10:5\0", "rlimit"); /* soft above hard */
        PARSE_FAILS("arg=x\0cwd=/\0rlimit=99:1:1\0", "rlimit");
        PARSE_FAILS("arg=x\0cwd=/\0tty=80\0", "tty");
        PARSE_FAILS("arg=x\0cwd=/\0tty=70000x1\0", "tty");
        PARSE_FAILS("arg=x\0cwd=/\0oom_score_adj=1001\0", "oom_score_adj");
        PARSE_FAILS("arg=x\0cwd=/\0umask=999\0", "umask");
        PARSE_FAILS("arg=x\0cwd=/\0no_new_privs=yes\0", "no_new_privs");
        PARSE_FAILS("arg=x\0cwd=/\0cap.permitted=1\0cap.effective=3\0", "effective");
        PARSE_FAILS("arg=x\0cwd=/\0cap.permitted=1\0cap.ambient=1\0", "ambient");
        PARSE_FAILS("arg=x\0cwd=/\0cap.bogus=1\0", "cap.bogus");
}

/* More supplementary groups than a fixed table would hold: as many as the kernel allows pass. */
static void test_parse_many_groups(void **state) {
        size_t n = 300, cap = 64 + n * 16;
        char *buf = xmalloc(cap), *w = buf;
        w += snprintf(w, 64, "arg=x%ccwd=/%c", 0, 0); /* the count includes both NULs */
        for (size_t i = 0; i < n; i++)
                w += snprintf(w, 16, "group=%zu", i) + 1;
        ExecPlan p = {};
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(exec_plan_parse(buf, (size_t)(w - buf), &p, &err), 0);
        assert_int_equal(p.n_groups, n);
        assert_int_equal(p.groups[n - 1], n - 1);
        exec_plan_done(&p);
        free(buf);
}

static void test_parse_unlimited(void **state) {
        char buf[] = "arg=x\0cwd=/\0rlimit=4:unlimited:unlimited\0";
        ExecPlan p = {};
        _cleanup_error_ Error *err = NULL;
        assert_int_equal(exec_plan_parse(buf, sizeof(buf) - 1, &p, &err), 0);
        assert_true(p.rlimits[0].soft == RLIM_INFINITY && p.rlimits[0].hard == RLIM_INFINITY);
        exec_plan_done(&p);
}

static bool fake_executable(const char *path, void *userdata) {
        for (const char *const *p = userdata; *p; p++)
                if (strcmp(*p, path) == 0)
                        return true;
        return false;
}

static void test_find_command(void **state) {
        const char *const exist[] = {"/usr/bin/ls", "/bin/ls", "./tool", NULL};
        void *u = (void *)exist;
        char *p = exec_plan_find_command("ls", "/sbin:/bin:/usr/bin", fake_executable, u);
        assert_string_equal(p, "/bin/ls"); /* the first match wins */
        free(p);
        p = exec_plan_find_command("tool", "/bin::/usr/bin", fake_executable, u); /* "" is the cwd */
        assert_string_equal(p, "./tool");
        free(p);
        p = exec_plan_find_command("/x/y", "/bin", fake_executable, u); /* a path is taken as it is */
        assert_string_equal(p, "/x/y");
        free(p);
        errno = 0;
        assert_null(exec_plan_find_command("nosuch", "/bin:/usr/bin", fake_executable, u));
        assert_int_equal(errno, ENOENT);
        assert_null(exec_plan_find_command("ls", NULL, fake_executable, u));
        assert_null(exec_plan_find_command("tool", "", fake_executable, u)); /* not "./tool" */
}

static void test_passwd_home(void **state) {
        const char *passwd = "root:x:0:0:root:/root:/bin/sh\n"
                             "broken line\n"
                             "app:x:1000:1000::/home/app:/bin/sh\n"
                             "nohome:x:1001:1001:::/bin/sh\n"
                             "ten:x:10:10::/ten";
        char *h = exec_plan_passwd_home(passwd, 1000);
        assert_string_equal(h, "/home/app");
        free(h);
        h = exec_plan_passwd_home(passwd, 10);
        assert_string_equal(h, "/ten");
        free(h);
        assert_null(exec_plan_passwd_home(passwd, 1001)); /* empty home: the caller's default */
        assert_null(exec_plan_passwd_home(passwd, 100));  /* "10" is not a prefix match */
        assert_null(exec_plan_passwd_home("", 0));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spec_round_trip), cmocka_unit_test(test_spec_defaults),
                cmocka_unit_test(test_spec_refusals),   cmocka_unit_test(test_parse_refusals),
                cmocka_unit_test(test_parse_unlimited), cmocka_unit_test(test_parse_many_groups),
                cmocka_unit_test(test_find_command),    cmocka_unit_test(test_passwd_home),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
