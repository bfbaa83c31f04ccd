/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "oci-spec.h"
#include "strv.h"

#define STRV(...) ((char *[]){__VA_ARGS__, NULL})

static void assert_args(char **got, char *const *want) {
        if (!strv_equal(got, want)) {
                _cleanup_free_ char *g = strv_join(got, " "), *w = strv_join(want, " ");
                print_error("args '%s', expected '%s'\n", g, w);
        }
        assert_true(strv_equal(got, want));
        strv_free(got);
}

/* The kubelet's rules for command and args against the image's Entrypoint and Cmd. */
static void test_process_args_rules(void **state) {
        ImageRunConfig img = {.entrypoint = STRV("/ep"), .cmd = STRV("c1", "c2")};
        ContainerConfig c = {};
        assert_args(oci_process_args(&c, &img), STRV("/ep", "c1", "c2"));
        c.args = STRV("a1");
        assert_args(oci_process_args(&c, &img), STRV("/ep", "a1"));
        c.command = STRV("/cmd");
        c.args = NULL;
        /* A command replaces the entrypoint and drops the image's Cmd. */
        assert_args(oci_process_args(&c, &img), STRV("/cmd"));
        c.args = STRV("x", "y");
        assert_args(oci_process_args(&c, &img), STRV("/cmd", "x", "y"));
        ImageRunConfig bare = {.cmd = STRV("sh")};
        ContainerConfig none = {};
        assert_args(oci_process_args(&none, &bare), STRV("sh"));
}

static void test_capability_names(void **state) {
        assert_int_equal(capability_from_name("NET_ADMIN"), 12);
        assert_int_equal(capability_from_name("cap_net_admin"), 12);
        assert_int_equal(capability_from_name("CAP_SYS_ADMIN"), 21);
        assert_int_equal(capability_from_name("CHECKPOINT_RESTORE"), 40);
        assert_int_equal(capability_from_name("NOPE"), -EINVAL);
        assert_int_equal(capability_from_name(""), -EINVAL);
        assert_string_equal(capability_to_name(0), "CHOWN");
        assert_null(capability_to_name(41));
        assert_null(capability_to_name(-1));
}

typedef struct Built {
        json_object *spec;
        Error *err;
} Built;

static ImageRunConfig default_image = {.cmd = (char *[]){"sh", NULL},
                                       .env = (char *[]){"PATH=/img", "A=1", NULL}};

static char *default_caps[] = {"CHOWN", "KILL", NULL};

static SpecInput base_input(const ContainerConfig *c) {
        return (SpecInput){.ctr = c,
                           .image = &default_image,
                           .rootfs = "/r",
                           .hostname = "h",
                           .pod_dir = "/pod",
                           .utsns = "/ns/uts",
                           .netns = "/ns/net",
                           .uid = 0,
                           .gid = 0,
                           .default_caps = default_caps,
                           .bounding_caps = (1ULL << 41) - 1 - (1ULL << 24), /* no SYS_RESOURCE, as here */
                           .min_oom_score_adj = -100};
}

static json_object *get(json_object *o, const char *path) {
        _cleanup_strv_free_ char **parts = strv_split(path, '.');
        STRV_FOREACH(p, parts)
                if (!json_object_object_get_ex(o, *p, &o))
                        return NULL;
        return o;
}

static bool array_has(json_object *a, const char *s) {
        for (size_t i = 0; a && i < json_object_array_length(a); i++)
                if (strcmp(json_object_get_string(json_object_array_get_idx(a, i)), s) == 0)
                        return true;
        return false;
}

static void test_env_merge_order(void **state) {
        ContainerConfig c = {.env = STRV("A=3", "B=4")};
        SpecInput in = base_input(&c);
        in.default_env = STRV("A=2", "D=5");
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        assert_non_null(spec);
        json_object *env = get(spec, "process.env");
        assert_true(array_has(env, "PATH=/img"));
        assert_true(array_has(env, "A=3")); /* the CRI's value wins over default_env and the image */
        assert_false(array_has(env, "A=1"));
        assert_false(array_has(env, "A=2"));
        assert_true(array_has(env, "D=5"));
        assert_true(array_has(env, "HOSTNAME=h"));
        json_object_put(spec);
}

static void test_caps_privileged_and_all_stay_in_the_bounding_set(void **state) {
        ContainerConfig c = {.cap_add = STRV("ALL")};
        SpecInput in = base_input(&c);
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        json_object *eff = get(spec, "process.capabilities.effective");
        assert_true(array_has(eff, "CAP_SYS_ADMIN"));
        assert_false(array_has(eff, "CAP_SYS_RESOURCE"));
        json_object_put(spec);

        ContainerConfig d = {.cap_drop = STRV("ALL"), .cap_add = STRV("NET_RAW")};
        in = base_input(&d);
        spec = oci_spec_build(&in, &err);
        eff = get(spec, "process.capabilities.effective");
        assert_int_equal(json_object_array_length(eff), 1);
        assert_true(array_has(eff, "CAP_NET_RAW"));
        json_object_put(spec);

        ContainerConfig bad = {.cap_add = STRV("WIZARD")};
        in = base_input(&bad);
        assert_null(oci_spec_build(&in, &err));
        assert_int_equal(err->code, EINVAL);
        assert_non_null(strstr(err->message, "WIZARD"));
        error_free(err);
}

static void test_oom_score_adj_is_clamped(void **state) {
        ContainerConfig c = {.resources = {.oom_score_adj = -999}};
        SpecInput in = base_input(&c);
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        assert_int_equal(json_object_get_int(get(spec, "process.oomScoreAdj")), -100);
        json_object_put(spec);
        c.resources.oom_score_adj = 500;
        spec = oci_spec_build(&in, &err);
        assert_int_equal(json_object_get_int(get(spec, "process.oomScoreAdj")), 500);
        json_object_put(spec);
}

static void test_masked_paths_default_custom_and_privileged(void **state) {
        ContainerConfig c = {};
        SpecInput in = base_input(&c);
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        assert_true(array_has(get(spec, "linux.maskedPaths"), "/proc/kcore"));
        assert_true(array_has(get(spec, "linux.readonlyPaths"), "/proc/sys"));
        json_object_put(spec);
        c.masked_paths = STRV("/only");
        c.has_masked_paths = true;
        spec = oci_spec_build(&in, &err);
        assert_int_equal(json_object_array_length(get(spec, "linux.maskedPaths")), 1);
        json_object_put(spec);
        c.privileged = true;
        spec = oci_spec_build(&in, &err);
        assert_null(get(spec, "linux.maskedPaths"));
        assert_null(get(spec, "linux.readonlyPaths"));
        json_object_put(spec);
}

/* The path of each entry of linux.devices. */
static bool has_device(json_object *spec, const char *path) {
        json_object *devs = get(spec, "linux.devices");
        for (size_t i = 0; devs && i < json_object_array_length(devs); i++) {
                json_object *p = NULL;
                if (json_object_object_get_ex(json_object_array_get_idx(devs, i), "path", &p) &&
                    strcmp(json_object_get_string(p), path) == 0)
                        return true;
        }
        return false;
}

/* additional_devices reach every container; a privileged one gets the node's unless its handler says no. */
static void test_additional_and_host_devices(void **state) {
        ContainerConfig c = {};
        SpecInput in = base_input(&c);
        in.extra_devices = STRV("/dev/null:/dev/extra-null:rw");
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        assert_true(has_device(spec, "/dev/extra-null"));
        assert_false(has_device(spec, "/dev/zero"));
        json_object_put(spec);
        c.privileged = true;
        spec = oci_spec_build(&in, &err);
        assert_true(has_device(spec, "/dev/zero"));
        json_object_put(spec);
        in.no_host_devices = true;
        spec = oci_spec_build(&in, &err);
        assert_false(has_device(spec, "/dev/zero"));
        assert_true(has_device(spec, "/dev/extra-null"));
        json_object_put(spec);
        in.extra_devices = STRV("/etc/passwd");
        assert_null(oci_spec_build(&in, &err));
        assert_non_null(strstr(err->message, "additional_devices"));
        error_free(err);
}

static void test_namespaces_and_host_network(void **state) {
        ContainerConfig c = {};
        SpecInput in = base_input(&c);
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        json_object *ns = get(spec, "linux.namespaces");
        bool saw_net_path = false;
        for (size_t i = 0; i < json_object_array_length(ns); i++) {
                json_object *n = json_object_array_get_idx(ns, i), *path = NULL;
                if (strcmp(json_object_get_string(get(n, "type")), "network") == 0 &&
                    json_object_object_get_ex(n, "path", &path))
                        saw_net_path = strcmp(json_object_get_string(path), "/ns/net") == 0;
        }
        assert_true(saw_net_path);
        assert_string_equal(json_object_get_string(get(spec, "hostname")), "h");
        json_object_put(spec);
        /* With the node's network there is no UTS namespace of our own, so no hostname to set. */
        in.host_net = true;
        in.netns = in.utsns = NULL;
        spec = oci_spec_build(&in, &err);
        assert_null(get(spec, "hostname"));
        json_object_put(spec);
}

/* The type of the mount at `dest`, and whether its options include `opt`. */
static const char *mount_type(json_object *spec, const char *dest, const char *opt, bool *ret_has_opt) {
        json_object *mounts = get(spec, "mounts");
        for (size_t i = 0; i < json_object_array_length(mounts); i++) {
                json_object *m = json_object_array_get_idx(mounts, i);
                if (strcmp(json_object_get_string(get(m, "destination")), dest) == 0) {
                        *ret_has_opt = array_has(get(m, "options"), opt);
                        return json_object_get_string(get(m, "type"));
                }
        }
        return NULL;
}

static void assert_sys_mount(const SpecInput *in, const char *type, bool rbind) {
        Error *err = NULL;
        bool has_rbind = false;
        json_object *spec = oci_spec_build(in, &err);
        assert_non_null(spec);
        assert_string_equal(mount_type(spec, "/sys", "rbind", &has_rbind), type);
        assert_int_equal(has_rbind, rbind);
        json_object_put(spec);
}

/*
 * A fresh sysfs, with the node's network too; the node's /sys with the node's network only for a
 * privileged container or one in a user-namespace pod.
 */
static void test_sysfs_mount(void **state) {
        ContainerConfig c = {};
        SpecInput in = base_input(&c);
        assert_sys_mount(&in, "sysfs", false);
        in.host_net = true;
        in.netns = NULL;
        assert_sys_mount(&in, "sysfs", false);
        c.privileged = true;
        assert_sys_mount(&in, "bind", true);
        c.privileged = false;
        NamespaceConfig maps = {};
        in.userns = "/ns/user";
        in.userns_maps = &maps;
        assert_sys_mount(&in, "bind", true);
        in.host_net = false;
        in.netns = "/ns/net";
        assert_sys_mount(&in, "sysfs", false);
}

/* The mount at `dest`, or NULL. */
static json_object *mount_at(json_object *spec, const char *dest) {
        json_object *mounts = get(spec, "mounts");
        for (size_t i = 0; i < json_object_array_length(mounts); i++) {
                json_object *m = json_object_array_get_idx(mounts, i);
                if (strcmp(json_object_get_string(get(m, "destination")), dest) == 0)
                        return m;
        }
        return NULL;
}

static bool mount_has(json_object *spec, const char *dest, const char *type, const char *opt) {
        json_object *m = mount_at(spec, dest);
        return m && strcmp(json_object_get_string(get(m, "type")), type) == 0 &&
               (!opt || array_has(get(m, "options"), opt));
}

/* read_only: a read-only rootfs and pod files, tmpfs where programs write; privileged containers keep
 * theirs. */
static void test_read_only_key(void **state) {
        MountConfig tmp = {.container_path = "/tmp", .host_path = "/data"};
        ContainerConfig c = {.mounts = &tmp, .n_mounts = 1};
        SpecInput in = base_input(&c);
        in.read_only = true;
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        assert_true(json_object_get_boolean(get(spec, "root.readonly")));
        assert_true(mount_has(spec, "/etc/hosts", "bind", "ro"));
        assert_true(mount_has(spec, "/run", "tmpfs", "tmpcopyup"));
        assert_true(mount_has(spec, "/run", "tmpfs", "noexec"));
        assert_true(mount_has(spec, "/var/tmp", "tmpfs", "mode=1777"));
        assert_false(mount_has(spec, "/var/tmp", "tmpfs", "noexec"));
        assert_true(mount_has(spec, "/tmp", "bind", NULL)); /* the kubelet's mount, not a tmpfs */
        assert_false(mount_has(spec, "/tmp", "tmpfs", NULL));
        json_object_put(spec);
        c.privileged = true;
        spec = oci_spec_build(&in, &err);
        assert_false(json_object_get_boolean(get(spec, "root.readonly")));
        assert_null(mount_at(spec, "/run"));
        assert_true(mount_has(spec, "/etc/hosts", "bind", "rw"));
        json_object_put(spec);
}

static void test_inheritable_capabilities(void **state) {
        ContainerConfig c = {};
        SpecInput in = base_input(&c);
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        assert_null(get(spec, "process.capabilities.inheritable"));
        json_object_put(spec);
        in.inheritable_caps = true;
        spec = oci_spec_build(&in, &err);
        json_object *inh = get(spec, "process.capabilities.inheritable");
        assert_int_equal(json_object_array_length(inh), 2);
        assert_true(array_has(inh, "CAP_CHOWN") && array_has(inh, "CAP_KILL"));
        json_object_put(spec);
}

static int64_t device_field(json_object *spec, const char *path, const char *field) {
        json_object *devs = get(spec, "linux.devices");
        for (size_t i = 0; devs && i < json_object_array_length(devs); i++) {
                json_object *d = json_object_array_get_idx(devs, i);
                if (strcmp(json_object_get_string(get(d, "path")), path) == 0)
                        return json_object_get_int64(get(d, field));
        }
        return -2;
}

/* device_ownership_from_security_context: runAsUser/runAsGroup own the CRI's devices where given. */
static void test_device_ownership_from_security_context(void **state) {
        /* A node owned by 0:5 (a copy of /dev/null): a non-root group shows whether the owners are kept. */
        char node[] = "/tmp/crio-c-test-node-XXXXXX";
        int fd = mkstemp(node);
        assert_true(fd >= 0);
        close(fd);
        assert_int_equal(unlink(node), 0);
        assert_int_equal(mknod(node, S_IFCHR | 0660, makedev(1, 3)), 0);
        assert_int_equal(chown(node, 0, 5), 0);
        struct stat st;
        assert_int_equal(stat(node, &st), 0);
        DeviceConfig dev = {.host_path = node, .container_path = "/dev/mine"};
        ContainerConfig c = {.devices = &dev, .n_devices = 1, .run_as_user = 1000, .run_as_group = -1};
        SpecInput in = base_input(&c);
        _cleanup_free_ char *extra = xasprintf("%s:/dev/extra", node);
        in.extra_devices = STRV(extra);
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        assert_int_equal(device_field(spec, "/dev/mine", "uid"), st.st_uid); /* the node's owners */
        assert_int_equal(device_field(spec, "/dev/mine", "gid"), st.st_gid);
        json_object_put(spec);
        in.device_owner_from_ctx = true;
        spec = oci_spec_build(&in, &err);
        assert_int_equal(device_field(spec, "/dev/mine", "uid"), 1000);
        assert_int_equal(device_field(spec, "/dev/mine", "gid"), st.st_gid); /* no runAsGroup: the node's */
        assert_int_equal(device_field(spec, "/dev/extra", "uid"),
                         st.st_uid); /* additional_devices keep theirs */
        json_object_put(spec);
        c.run_as_group = 2000;
        spec = oci_spec_build(&in, &err);
        assert_int_equal(device_field(spec, "/dev/mine", "gid"), 2000);
        json_object_put(spec);
        c.run_as_user = c.run_as_group = 0; /* root: the node's owners stay, as in CRI-O */
        spec = oci_spec_build(&in, &err);
        assert_int_equal(device_field(spec, "/dev/mine", "uid"), 0);
        assert_int_equal(device_field(spec, "/dev/mine", "gid"), 5);
        json_object_put(spec);
        unlink(node);
}

/* runc refuses a private root without pivot_root; a host-to-container or shared mount still wins. */
static void test_no_pivot_root_propagation(void **state) {
        ContainerConfig c = {};
        SpecInput in = base_input(&c);
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        assert_string_equal(json_object_get_string(get(spec, "linux.rootfsPropagation")), "rprivate");
        json_object_put(spec);
        in.no_pivot = true;
        spec = oci_spec_build(&in, &err);
        assert_string_equal(json_object_get_string(get(spec, "linux.rootfsPropagation")), "rslave");
        json_object_put(spec);
        MountConfig shared = {.container_path = "/m", .host_path = "/m", .propagation = PROPAGATION_RSHARED};
        c.mounts = &shared;
        c.n_mounts = 1;
        spec = oci_spec_build(&in, &err);
        assert_string_equal(json_object_get_string(get(spec, "linux.rootfsPropagation")), "rshared");
        json_object_put(spec);
}

static void test_pids_limit(void **state) {
        ContainerConfig c = {};
        SpecInput in = base_input(&c);
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        assert_null(get(spec, "linux.resources.pids"));
        json_object_put(spec);
        in.pids_limit = 4096;
        spec = oci_spec_build(&in, &err);
        assert_int_equal(json_object_get_int64(get(spec, "linux.resources.pids.limit")), 4096);
        json_object_put(spec);
}

/* default_mounts_file entries whose source exists, and timezone's /etc/localtime; the kubelet's win. */
static void test_node_mounts(void **state) {
        MountsFileEntry entries[] = {{.source = "/etc/passwd", .destination = "/run/secrets/passwd"},
                                     {.source = "/nonexistent/x", .destination = "/run/secrets/x"}};
        ContainerConfig c = {};
        SpecInput in = base_input(&c);
        in.default_mounts = entries;
        in.n_default_mounts = 2;
        in.localtime = "/usr/share/zoneinfo/Europe/Paris";
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        assert_true(mount_has(spec, "/run/secrets/passwd", "bind", "ro"));
        assert_string_equal(json_object_get_string(get(mount_at(spec, "/run/secrets/passwd"), "source")),
                            "/etc/passwd");
        assert_null(mount_at(spec, "/run/secrets/x"));
        assert_true(mount_has(spec, "/etc/localtime", "bind", "ro"));
        assert_string_equal(json_object_get_string(get(mount_at(spec, "/etc/localtime"), "source")),
                            "/usr/share/zoneinfo/Europe/Paris");
        json_object_put(spec);
        MountConfig own = {.container_path = "/etc/localtime", .host_path = "/etc/localtime"};
        c.mounts = &own;
        c.n_mounts = 1;
        spec = oci_spec_build(&in, &err);
        json_object *mounts = get(spec, "mounts");
        size_t seen = 0;
        for (size_t i = 0; i < json_object_array_length(mounts); i++)
                seen += strcmp(json_object_get_string(
                                       get(json_object_array_get_idx(mounts, i), "destination")),
                               "/etc/localtime") == 0;
        assert_int_equal(seen, 1);
        json_object_put(spec);
}

static void test_bind_mount_prefix(void **state) {
        _cleanup_free_ char *a = oci_mount_source("/host", "/data"),
                            *b = oci_mount_source("/host//", "/data"), *c = oci_mount_source("", "/data"),
                            *d = oci_mount_source("/", "/data"), *e = oci_mount_source(NULL, "/data");
        assert_string_equal(a, "/host/data");
        assert_string_equal(b, "/host/data");
        assert_string_equal(c, "/data");
        assert_string_equal(d, "/data");
        assert_string_equal(e, "/data");
        MountConfig m = {.container_path = "/d", .host_path = "/data"};
        ContainerConfig ctr = {.mounts = &m, .n_mounts = 1};
        SpecInput in = base_input(&ctr);
        in.mount_sources = STRV("/host/resolved/data");
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        assert_string_equal(json_object_get_string(get(mount_at(spec, "/d"), "source")),
                            "/host/resolved/data");
        json_object_put(spec);
}

static void test_no_command_is_an_error(void **state) {
        ImageRunConfig empty = {};
        ContainerConfig c = {};
        SpecInput in = base_input(&c);
        in.image = &empty;
        Error *err = NULL;
        assert_null(oci_spec_build(&in, &err));
        assert_non_null(strstr(err->message, "command"));
        error_free(err);
}

static void test_ulimits(void **state) {
        ContainerConfig c = {};
        SpecInput in = base_input(&c);
        in.default_ulimits = STRV("nofile=1024:2048", "RLIMIT_NPROC=99");
        Error *err = NULL;
        json_object *spec = oci_spec_build(&in, &err);
        json_object *rl = get(spec, "process.rlimits");
        assert_int_equal(json_object_array_length(rl), 2);
        json_object *first = json_object_array_get_idx(rl, 0);
        assert_string_equal(json_object_get_string(get(first, "type")), "RLIMIT_NOFILE");
        assert_int_equal(json_object_get_int64(get(first, "hard")), 2048);
        assert_int_equal(json_object_get_int64(get(json_object_array_get_idx(rl, 1), "hard")), 99);
        json_object_put(spec);
        in.default_ulimits = STRV("bogus=1");
        assert_null(oci_spec_build(&in, &err));
        assert_non_null(strstr(err->message, "bogus"));
        error_free(err);
}

static void test_image_run_config_parse(void **state) {
        const char *json = "{\"config\":{\"Env\":[\"A=1\"],\"Entrypoint\":[\"/e\"],\"Cmd\":[\"c\"],"
                           "\"WorkingDir\":\"/w\",\"User\":\"1:2\",\"StopSignal\":\"SIGQUIT\","
                           "\"Volumes\":{\"/v\":{}}}}";
        ImageRunConfig c = {};
        assert_int_equal(image_run_config_parse(json, strlen(json), &c, NULL), 0);
        assert_string_equal(c.entrypoint[0], "/e");
        assert_string_equal(c.cmd[0], "c");
        assert_string_equal(c.working_dir, "/w");
        assert_string_equal(c.user, "1:2");
        assert_string_equal(c.stop_signal, "SIGQUIT");
        assert_string_equal(c.volumes[0], "/v");
        image_run_config_done(&c);
        Error *err = NULL;
        assert_int_equal(image_run_config_parse("[1]", 3, &c, &err), -EINVAL);
        error_free(err);
        assert_int_equal(image_run_config_parse("{}", 2, &c, NULL), 0);
        assert_null(c.cmd);
        image_run_config_done(&c);
}

static void test_seccomp_default_profile_denies_kernel_reach(void **state) {
        json_object *p = seccomp_default_profile(true);
        assert_string_equal(json_object_get_string(get(p, "defaultAction")), "SCMP_ACT_ALLOW");
        json_object *rule = json_object_array_get_idx(get(p, "syscalls"), 0);
        assert_true(array_has(get(rule, "names"), "kexec_load"));
        assert_true(array_has(get(rule, "names"), "init_module"));
        assert_true(array_has(get(rule, "names"), "io_uring_setup"));
        assert_false(array_has(get(rule, "names"), "read"));
        assert_false(array_has(get(rule, "names"), "mount"));
        assert_int_equal(json_object_array_length(get(p, "syscalls")), 1); /* mounts allowed */
        json_object_put(p);
        p = seccomp_default_profile(false);
        rule = json_object_array_get_idx(get(p, "syscalls"), 1);
        assert_true(array_has(get(rule, "names"), "mount") && array_has(get(rule, "names"), "unshare"));
        json_object_put(p);
}

/* The built-in profile follows the capabilities the container ends up with. */
static void test_seccomp_default_follows_sys_admin(void **state) {
        ContainerConfig ctr = {.seccomp = SECCOMP_RUNTIME_DEFAULT};
        SpecInput in = base_input(&ctr);
        in.seccomp_default = true;
        json_object *spec = oci_spec_build(&in, NULL);
        size_t plain = json_object_array_length(get(get(get(spec, "linux"), "seccomp"), "syscalls"));
        json_object_put(spec);
        ContainerConfig admin = {.seccomp = SECCOMP_RUNTIME_DEFAULT, .cap_add = STRV("SYS_ADMIN")};
        in = base_input(&admin);
        in.seccomp_default = true;
        spec = oci_spec_build(&in, NULL);
        assert_int_equal(json_object_array_length(get(get(get(spec, "linux"), "seccomp"), "syscalls")), 1);
        assert_true(plain > 1);
        json_object_put(spec);
}

static void assert_resources(Resources r, int expect, const char *field) {
        Error *err = NULL;
        assert_int_equal(resources_validate(&r, &err), expect);
        if (expect < 0) {
                assert_non_null(strstr(err->message, field));
                error_free(err);
        }
}

static void test_resources_validate(void **state) {
        assert_resources((Resources){}, 0, NULL);
        assert_resources((Resources){.cpu_shares = 1024,
                                     .cpu_period = 100000,
                                     .cpu_quota = 50000,
                                     .oom_score_adj = -999,
                                     .cpuset_cpus = "0-3,5,7-9",
                                     .cpuset_mems = "0"},
                         0, NULL);
        assert_resources((Resources){.cpu_quota = -1}, 0, NULL);
        assert_resources((Resources){.cpu_shares = 1}, -EINVAL, "cpu_shares");
        assert_resources((Resources){.cpu_shares = 262145}, -EINVAL, "cpu_shares");
        assert_resources((Resources){.cpu_period = 999}, -EINVAL, "cpu_period");
        assert_resources((Resources){.cpu_quota = 999}, -EINVAL, "cpu_quota");
        assert_resources((Resources){.oom_score_adj = 1001}, -EINVAL, "oom_score_adj");
        assert_resources((Resources){.memory_limit = -2}, -EINVAL, "memory_limit_in_bytes");
        const char *bad_lists[] = {"", "a", "1-", "-1", "1,", ",1", "3-1", "1 2", "1\n2", "0-3,,4"};
        for (size_t i = 0; i < ELEMENTSOF(bad_lists); i++)
                assert_resources((Resources){.cpuset_cpus = (char *)bad_lists[i]}, -EINVAL, "cpuset_cpus");
        HugepageLimit ok = {.page_size = "2MB"}, bad = {.page_size = "../x"};
        assert_resources((Resources){.hugepages = &ok, .n_hugepages = 1}, 0, NULL);
        assert_resources((Resources){.hugepages = &bad, .n_hugepages = 1}, -EINVAL, "page_size");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_process_args_rules),
                cmocka_unit_test(test_capability_names),
                cmocka_unit_test(test_env_merge_order),
                cmocka_unit_test(test_caps_privileged_and_all_stay_in_the_bounding_set),
                cmocka_unit_test(test_oom_score_adj_is_clamped),
                cmocka_unit_test(test_masked_paths_default_custom_and_privileged),
                cmocka_unit_test(test_additional_and_host_devices),
                cmocka_unit_test(test_namespaces_and_host_network),
                cmocka_unit_test(test_sysfs_mount),
                cmocka_unit_test(test_read_only_key),
                cmocka_unit_test(test_inheritable_capabilities),
                cmocka_unit_test(test_device_ownership_from_security_context),
                cmocka_unit_test(test_no_pivot_root_propagation),
                cmocka_unit_test(test_pids_limit),
                cmocka_unit_test(test_node_mounts),
                cmocka_unit_test(test_bind_mount_prefix),
                cmocka_unit_test(test_no_command_is_an_error),
                cmocka_unit_test(test_ulimits),
                cmocka_unit_test(test_image_run_config_parse),
                cmocka_unit_test(test_seccomp_default_profile_denies_kernel_reach),
                cmocka_unit_test(test_seccomp_default_follows_sys_admin),
                cmocka_unit_test(test_resources_validate),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
