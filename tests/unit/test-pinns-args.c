/* SPDX-License-Identifier: Apache-2.0 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "pinns-args.h"
#include "test-util.h"

/* ---- helpers ---- */

#define ARGV(...) ((char *const[]){"crio-pinns", __VA_ARGS__, NULL})
#define ARGC(argv) ((int)(sizeof(argv) / sizeof((argv)[0])) - 1)

/* Parsing must fail with EINVAL and a message containing `needle`, and leave *ret untouched. */
static void assert_parse_fails(int argc, char *const *argv, const char *needle) {
        _cleanup_error_ Error *err = NULL;
        PinnsArgs a = {.name = "untouched"};

        assert_int_equal(pinns_args_parse(argc, argv, &a, &err), -EINVAL);
        assert_non_null(err);
        assert_contains(err->message, needle);
        assert_string_equal(a.name, "untouched");
        assert_null(a.sysctls);
}

#define PARSE_FAILS(needle, ...)                                                                            \
        do {                                                                                                \
                char *const *_argv = ARGV(__VA_ARGS__);                                                     \
                assert_parse_fails(ARGC(ARGV(__VA_ARGS__)), _argv, needle);                                 \
        } while (0)

#define PARSE_OK(a, ...)                                                                                    \
        do {                                                                                                \
                _cleanup_error_ Error *_err = NULL;                                                         \
                char *const *_argv = ARGV(__VA_ARGS__);                                                     \
                assert_ok(pinns_args_parse(ARGC(ARGV(__VA_ARGS__)), _argv, (a), &_err), _err);              \
        } while (0)

static void idmap_fails(const char *spec, const char *needle) {
        _cleanup_error_ Error *err = NULL;
        IdMapping *map = (IdMapping *)0x1;
        size_t n = 77;

        assert_int_equal(idmap_parse(spec, &map, &n, &err), -EINVAL);
        assert_non_null(err);
        assert_contains(err->message, needle);
        assert_ptr_equal(map, (IdMapping *)0x1);
        assert_int_equal(n, 77);
}

static void sysctl_fails(const char *arg, const char *needle) {
        _cleanup_error_ Error *err = NULL;
        Sysctl s = {0};

        assert_int_equal(sysctl_parse(arg, &s, &err), -EINVAL);
        assert_non_null(err);
        assert_contains(err->message, needle);
        assert_null(s.key);
        assert_null(s.path);
}

/* ---- command line: success ---- */

static void test_parse_full_create(void **state) {
        _cleanup_(pinns_args_done) PinnsArgs a = {0};

        PARSE_OK(&a, "--dir", "/run/ns", "--name", "pod1", "--net", "--ipc", "--uts", "--user", "--uid-map",
                 "0 100000 65536", "--gid-map", "0 200000 1,1 300000 10", "--hostname", "web", "--sysctl",
                 "net.ipv4.ping_group_range=0 0", "--sysctl", "kernel.shmmni=2048");
        assert_string_equal(a.dir, "/run/ns");
        assert_string_equal(a.name, "pod1");
        assert_string_equal(a.hostname, "web");
        assert_true(a.kinds[PINNS_NET] && a.kinds[PINNS_IPC] && a.kinds[PINNS_UTS] && a.kinds[PINNS_USER]);
        assert_false(a.remove || a.help);
        assert_string_equal(a.uid_map, "0 100000 65536\n");
        assert_string_equal(a.gid_map, "0 200000 1\n1 300000 10\n");
        assert_int_equal(a.n_sysctls, 2);
        assert_string_equal(a.sysctls[0].key, "net.ipv4.ping_group_range");
        assert_string_equal(a.sysctls[0].value, "0 0");
        assert_string_equal(a.sysctls[0].path, "/proc/sys/net/ipv4/ping_group_range");
        assert_string_equal(a.sysctls[1].path, "/proc/sys/kernel/shmmni");
        assert_string_equal(a.sysctls[1].value, "2048");
}

static void test_parse_equals_form(void **state) {
        _cleanup_(pinns_args_done) PinnsArgs a = {0};

        PARSE_OK(&a, "--dir=/d", "--name=n", "--uts", "--hostname=h", "--sysctl=kernel.domainname=x=y");
        assert_string_equal(a.dir, "/d");
        assert_string_equal(a.name, "n");
        assert_string_equal(a.hostname, "h");
        assert_true(a.kinds[PINNS_UTS]);
        assert_false(a.kinds[PINNS_NET] || a.kinds[PINNS_IPC] || a.kinds[PINNS_USER]);
        assert_int_equal(a.n_sysctls, 1);
        assert_string_equal(a.sysctls[0].key, "kernel.domainname");
        assert_string_equal(a.sysctls[0].value, "x=y");
}

static void test_parse_single_kind(void **state) {
        _cleanup_(pinns_args_done) PinnsArgs a = {0};

        PARSE_OK(&a, "--net", "--name", "n", "--dir", "d");
        assert_true(a.kinds[PINNS_NET]);
        assert_null(a.hostname);
        assert_null(a.uid_map);
        assert_int_equal(a.n_sysctls, 0);
        assert_null(a.sysctls);
}

static void test_parse_user_only(void **state) {
        _cleanup_(pinns_args_done) PinnsArgs a = {0};

        PARSE_OK(&a, "--dir", "d", "--name", "n", "--user", "--uid-map", "0 0 1", "--gid-map", "0 0 1");
        assert_true(a.kinds[PINNS_USER]);
        assert_false(a.kinds[PINNS_NET]);
}

static void test_parse_help(void **state) {
        _cleanup_(pinns_args_done) PinnsArgs a = {0}, b = {0};

        /* --help wins over everything else that is missing. */
        PARSE_OK(&a, "--help");
        assert_true(a.help);
        PARSE_OK(&b, "-h");
        assert_true(b.help);
}

static void test_parse_remove(void **state) {
        _cleanup_(pinns_args_done) PinnsArgs a = {0}, b = {0};

        PARSE_OK(&a, "--remove", "--dir", "d", "--name", "n");
        assert_true(a.remove);
        assert_false(a.kinds[PINNS_NET]);
        PARSE_OK(&b, "--remove", "--dir", "d", "--name", "n", "--net", "--user");
        assert_true(b.kinds[PINNS_NET] && b.kinds[PINNS_USER]);
}

/* ---- command line: failures ---- */

static void test_parse_unknown_option(void **state) {
        PARSE_FAILS("unknown option '--pid'", "--dir", "d", "--name", "n", "--net", "--pid");
        PARSE_FAILS("unknown option '--netx'", "--dir", "d", "--name", "n", "--netx");
        PARSE_FAILS("unknown option '--'", "--dir", "d", "--name", "n", "--net", "--");
        PARSE_FAILS("unknown option '--di=d'", "--di=d", "--name", "n", "--net");
}

static void test_parse_positional_argument(void **state) {
        PARSE_FAILS("unexpected argument 'extra'", "--dir", "d", "--name", "n", "--net", "extra");
        PARSE_FAILS("unexpected argument '-n'", "-n", "--dir", "d", "--name", "n", "--net");
}

static void test_parse_missing_dir_or_name(void **state) {
        PARSE_FAILS("missing --dir", "--name", "n", "--net");
        PARSE_FAILS("missing --dir", "--dir=", "--name", "n", "--net");
        PARSE_FAILS("missing --name", "--dir", "d", "--net");
        PARSE_FAILS("missing --name", "--remove", "--dir", "d");
}

static void test_parse_bad_names(void **state) {
        PARSE_FAILS("not a plain file name", "--dir", "d", "--name", "a/b", "--net");
        PARSE_FAILS("not a plain file name", "--dir", "d", "--name", "/", "--net");
        PARSE_FAILS("not a plain file name", "--dir", "d", "--name", ".", "--net");
        PARSE_FAILS("not a plain file name", "--dir", "d", "--name", "..", "--net");
        PARSE_FAILS("not a plain file name", "--dir", "d", "--name", "", "--net");
        PARSE_FAILS("not a plain file name", "--dir", "d", "--name", "a\nb", "--net");
        PARSE_FAILS("not a plain file name", "--remove", "--dir", "d", "--name", "..");
}

static void test_name_validity(void **state) {
        char long_name[NAME_MAX + 2];

        assert_true(pinns_name_is_valid("pod-1234"));
        assert_true(pinns_name_is_valid("..."));
        assert_true(pinns_name_is_valid(".hidden"));
        assert_false(pinns_name_is_valid(NULL));
        assert_false(pinns_name_is_valid("a\x7f"));
        memset(long_name, 'x', sizeof(long_name) - 1);
        long_name[NAME_MAX + 1] = '\0';
        assert_false(pinns_name_is_valid(long_name));
        long_name[NAME_MAX] = '\0';
        assert_true(pinns_name_is_valid(long_name));
}

static void test_parse_missing_value(void **state) {
        PARSE_FAILS("--name needs a value", "--dir", "d", "--net", "--name");
        PARSE_FAILS("--sysctl needs a value", "--dir", "d", "--name", "n", "--net", "--sysctl");
}

static void test_parse_flag_with_value(void **state) {
        PARSE_FAILS("--net takes no value", "--dir", "d", "--name", "n", "--net=1");
        PARSE_FAILS("--remove takes no value", "--dir", "d", "--name", "n", "--remove=yes");
}

static void test_parse_given_twice(void **state) {
        PARSE_FAILS("--dir given twice", "--dir", "d", "--dir", "e", "--name", "n", "--net");
        PARSE_FAILS("--name given twice", "--dir", "d", "--name", "n", "--name=m", "--net");
        PARSE_FAILS("--uid-map given twice", "--dir", "d", "--name", "n", "--user", "--uid-map", "0 0 1",
                    "--uid-map", "0 0 1", "--gid-map", "0 0 1");
}

static void test_parse_no_namespace(void **state) {
        PARSE_FAILS("no namespace to create", "--dir", "d", "--name", "n");
        PARSE_FAILS("no namespace to create", "--dir", "d", "--name", "n", "--sysctl", "a.b=1");
}

static void test_parse_user_without_maps(void **state) {
        PARSE_FAILS("--user needs --uid-map and --gid-map", "--dir", "d", "--name", "n", "--user");
        PARSE_FAILS("--user needs --uid-map and --gid-map", "--dir", "d", "--name", "n", "--user",
                    "--uid-map", "0 0 1");
        PARSE_FAILS("--user needs --uid-map and --gid-map", "--dir", "d", "--name", "n", "--user",
                    "--gid-map", "0 0 1");
}

static void test_parse_maps_without_user(void **state) {
        PARSE_FAILS("need --user", "--dir", "d", "--name", "n", "--net", "--uid-map", "0 0 1", "--gid-map",
                    "0 0 1");
        PARSE_FAILS("need --user", "--dir", "d", "--name", "n", "--net", "--gid-map", "0 0 1");
}

static void test_parse_bad_map_names_option(void **state) {
        PARSE_FAILS("--gid-map '0 0': entry 1", "--dir", "d", "--name", "n", "--user", "--uid-map", "0 0 1",
                    "--gid-map", "0 0");
        PARSE_FAILS("--uid-map '0 0 0': entry 1 maps no IDs", "--dir", "d", "--name", "n", "--user",
                    "--uid-map", "0 0 0", "--gid-map", "0 0 1");
}

static void test_parse_hostname_rules(void **state) {
        char long_host[HOST_NAME_MAX + 2];

        PARSE_FAILS("--hostname needs --uts", "--dir", "d", "--name", "n", "--net", "--hostname", "h");
        PARSE_FAILS("--hostname must have 1 to", "--dir", "d", "--name", "n", "--uts", "--hostname", "");
        memset(long_host, 'h', sizeof(long_host) - 1);
        long_host[HOST_NAME_MAX + 1] = '\0';
        PARSE_FAILS("--hostname must have 1 to", "--dir", "d", "--name", "n", "--uts", "--hostname",
                    long_host);
}

static void test_parse_bad_sysctl_names_option(void **state) {
        PARSE_FAILS("--sysctl: sysctl key 'net/ipv4' contains '/'", "--dir", "d", "--name", "n", "--net",
                    "--sysctl", "net/ipv4=1");
        PARSE_FAILS("--sysctl: sysctl 'kernel.shmmni' is not key=value", "--dir", "d", "--name", "n",
                    "--ipc", "--sysctl", "kernel.shmmni");
        /* The bad one is named even after good ones. */
        PARSE_FAILS("'net..x' has an empty part", "--dir", "d", "--name", "n", "--net", "--sysctl", "a.b=1",
                    "--sysctl", "net..x=1");
}

static void test_parse_remove_rejects_create_options(void **state) {
        PARSE_FAILS("--remove takes only", "--remove", "--dir", "d", "--name", "n", "--sysctl", "a.b=1");
        PARSE_FAILS("--remove takes only", "--remove", "--dir", "d", "--name", "n", "--uts", "--hostname",
                    "h");
}

/* ---- ID maps ---- */

static void test_idmap_single_and_several(void **state) {
        _cleanup_free_ IdMapping *map = NULL;
        _cleanup_error_ Error *err = NULL;
        size_t n = 0;

        assert_ok(idmap_parse("0 100000 65536", &map, &n, &err), err);
        assert_int_equal(n, 1);
        assert_int_equal(map[0].inside, 0);
        assert_int_equal(map[0].outside, 100000);
        assert_int_equal(map[0].count, 65536);
        map = mfree(map);
        assert_ok(idmap_parse("  0   1000 1 ,1 100000 65535, 70000 4294967294 1 ", &map, &n, &err), err);
        assert_int_equal(n, 3);
        assert_int_equal(map[1].inside, 1);
        assert_int_equal(map[1].count, 65535);
        assert_int_equal(map[2].outside, 4294967294u);
}

static void test_idmap_edges_of_the_id_space(void **state) {
        _cleanup_free_ IdMapping *map = NULL;
        _cleanup_error_ Error *err = NULL;
        size_t n = 0;

        /* Ranges that touch but do not overlap, and one ending exactly at the last ID. */
        assert_ok(idmap_parse("0 0 10,10 10 10,4294967295 4294967295 1", &map, &n, &err), err);
        assert_int_equal(n, 3);
        assert_int_equal(map[2].inside, UINT32_MAX);
}

static void test_idmap_format(void **state) {
        IdMapping map[] = {{0, 100000, 65536}, {65536, 4294967295u, 1}};
        _cleanup_free_ char *text = idmap_format(map, 2);
        _cleanup_free_ char *empty = idmap_format(map, 0);

        assert_string_equal(text, "0 100000 65536\n65536 4294967295 1\n");
        assert_string_equal(empty, "");
}

static void test_idmap_max_lines(void **state) {
        _cleanup_free_ IdMapping *map = NULL;
        _cleanup_error_ Error *err = NULL;
        _cleanup_free_ char *spec = xstrdup("0 0 1");
        size_t n = 0;

        for (int i = 1; i < IDMAP_MAX_LINES; i++) {
                char *longer = xasprintf("%s,%d %d 1", spec, i, i);
                free(spec);
                spec = longer;
        }
        assert_ok(idmap_parse(spec, &map, &n, &err), err);
        assert_int_equal(n, IDMAP_MAX_LINES);
        _cleanup_free_ char *too_many = xasprintf("%s,%d %d 1", spec, IDMAP_MAX_LINES, IDMAP_MAX_LINES);
        idmap_fails(too_many, "more than 340 entries");
}

static void test_idmap_malformed(void **state) {
        idmap_fails(NULL, "empty ID map");
        idmap_fails("", "empty ID map");
        idmap_fails("0 1", "entry 1 '0 1' is not three numbers");
        idmap_fails("0 1 2 3", "entry 1");
        idmap_fails("a b c", "entry 1");
        idmap_fails("-1 0 1", "entry 1");
        idmap_fails("+1 0 1", "entry 1");
        idmap_fails("0x10 0 1", "entry 1");
        idmap_fails("0\t0 1", "entry 1");
        idmap_fails("0 0 1,", "entry 2 '' is not three numbers");
        idmap_fails(",0 0 1", "entry 1");
        idmap_fails("0 0 1,,1 1 1", "entry 2");
        idmap_fails("0 0 1;1 1 1", "entry 1");
        idmap_fails("0 0 1,1 1", "entry 2 '1 1'");
}

static void test_idmap_out_of_range(void **state) {
        idmap_fails("4294967296 0 1", "entry 1");
        idmap_fails("0 99999999999999999999 1", "entry 1");
        idmap_fails("4294967295 0 2", "entry 1 runs past ID 4294967295");
        idmap_fails("0 1 1,0 4294967295 2", "entry 2 runs past");
        idmap_fails("0 0 4294967295,5 5 0", "entry 2 maps no IDs");
}

static void test_idmap_overlap(void **state) {
        idmap_fails("0 0 10,5 100 10", "entries 1 and 2 overlap");
        idmap_fails("0 0 10,100 5 10", "entries 1 and 2 overlap");
        idmap_fails("0 0 1,10 10 1,10 20 1", "entries 2 and 3 overlap");
        idmap_fails("100 100 1,0 0 200", "entries 1 and 2 overlap");
}

/* ---- sysctls ---- */

static void test_sysctl_parse(void **state) {
        _cleanup_error_ Error *err = NULL;
        Sysctl s = {0};

        assert_ok(sysctl_parse("net.ipv4.ping_group_range=0 2147483647", &s, &err), err);
        assert_string_equal(s.key, "net.ipv4.ping_group_range");
        assert_string_equal(s.value, "0 2147483647");
        assert_string_equal(s.path, "/proc/sys/net/ipv4/ping_group_range");
        sysctl_done(&s);
        assert_null(s.key);
        assert_ok(sysctl_parse("kernel.msgmax=", &s, &err), err);
        assert_string_equal(s.value, "");
        sysctl_done(&s);
        assert_ok(sysctl_parse("net.ipv4.conf.eth-0_1.forwarding=1", &s, &err), err);
        assert_string_equal(s.path, "/proc/sys/net/ipv4/conf/eth-0_1/forwarding");
        sysctl_done(&s);
}

static void test_sysctl_key_to_path(void **state) {
        _cleanup_free_ char *one = sysctl_key_to_path("kernel");
        _cleanup_free_ char *deep = sysctl_key_to_path("fs.mqueue.msg_max");

        assert_string_equal(one, "/proc/sys/kernel");
        assert_string_equal(deep, "/proc/sys/fs/mqueue/msg_max");
}

static void test_sysctl_rejects_escapes(void **state) {
        sysctl_fails("net.ipv4.ip_forward", "is not key=value");
        sysctl_fails("=1", "empty sysctl key");
        sysctl_fails("net/ipv4/ip_forward=1", "contains '/'");
        sysctl_fails("net.ipv4.conf.x/../../kernel.y=1", "contains '/'");
        sysctl_fails("..=1", "has an empty part");
        sysctl_fails(".net.ipv4=1", "has an empty part");
        sysctl_fails("net.ipv4.=1", "has an empty part");
        sysctl_fails("net..ipv4=1", "has an empty part");
        sysctl_fails("net...kernel=1", "has an empty part");
        sysctl_fails(".=1", "has an empty part");
        sysctl_fails("net .ipv4=1", "contains a space or control character");
        sysctl_fails("net.ipv4\n.x=1", "contains a space or control character");
        sysctl_fails("net\t.x=1", "contains a space or control character");
}

static void test_sysctl_rejects_huge_key(void **state) {
        _cleanup_free_ char *arg = xmalloc(PATH_MAX + 3);

        memset(arg, 'k', PATH_MAX);
        memcpy(arg + PATH_MAX, "=1", sizeof("=1"));
        sysctl_fails(arg, "is too long");
}

static void test_kind_names(void **state) {
        assert_string_equal(pinns_kind_to_string(PINNS_USER), "user");
        assert_string_equal(pinns_kind_to_string(PINNS_NET), "net");
        assert_string_equal(pinns_kind_to_string(PINNS_IPC), "ipc");
        assert_string_equal(pinns_kind_to_string(PINNS_UTS), "uts");
        assert_null(pinns_kind_to_string(_PINNS_KIND_MAX));
        assert_null(pinns_kind_to_string((PinnsKind)-1));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_full_create),
                cmocka_unit_test(test_parse_equals_form),
                cmocka_unit_test(test_parse_single_kind),
                cmocka_unit_test(test_parse_user_only),
                cmocka_unit_test(test_parse_help),
                cmocka_unit_test(test_parse_remove),
                cmocka_unit_test(test_parse_unknown_option),
                cmocka_unit_test(test_parse_positional_argument),
                cmocka_unit_test(test_parse_missing_dir_or_name),
                cmocka_unit_test(test_parse_bad_names),
                cmocka_unit_test(test_name_validity),
                cmocka_unit_test(test_parse_missing_value),
                cmocka_unit_test(test_parse_flag_with_value),
                cmocka_unit_test(test_parse_given_twice),
                cmocka_unit_test(test_parse_no_namespace),
                cmocka_unit_test(test_parse_user_without_maps),
                cmocka_unit_test(test_parse_maps_without_user),
                cmocka_unit_test(test_parse_bad_map_names_option),
                cmocka_unit_test(test_parse_hostname_rules),
                cmocka_unit_test(test_parse_bad_sysctl_names_option),
                cmocka_unit_test(test_parse_remove_rejects_create_options),
                cmocka_unit_test(test_idmap_single_and_several),
                cmocka_unit_test(test_idmap_edges_of_the_id_space),
                cmocka_unit_test(test_idmap_format),
                cmocka_unit_test(test_idmap_max_lines),
                cmocka_unit_test(test_idmap_malformed),
                cmocka_unit_test(test_idmap_out_of_range),
                cmocka_unit_test(test_idmap_overlap),
                cmocka_unit_test(test_sysctl_parse),
                cmocka_unit_test(test_sysctl_key_to_path),
                cmocka_unit_test(test_sysctl_rejects_escapes),
                cmocka_unit_test(test_sysctl_rejects_huge_key),
                cmocka_unit_test(test_kind_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
