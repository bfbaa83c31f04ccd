# SPDX-License-Identifier: Apache-2.0
"""crio-pinns on its own: it creates and pins a pod's namespaces, sets them up from inside, and leaves
nothing behind when it fails. Needs root."""

import fcntl
import os
import re
import subprocess
from pathlib import Path

import pytest

from static_helpers import helper_binary

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="namespaces and mounts need root")

KINDS = ("net", "ipc", "uts", "user")
NS_GET_USERNS = 0xB701  # ioctl on a namespace fd: the user namespace that owns it


PINNS = helper_binary("crio-pinns")


@pytest.fixture(scope="module", autouse=True)
def _helpers_built():
    if not PINNS.is_file():
        pytest.fail(f"{PINNS} not found: build the project or set BUILD", pytrace=False)


def mounts_under(path):
    """Mount points at or below `path`, from /proc/self/mountinfo."""
    prefix = str(path)
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == prefix or point.startswith(prefix + "/"):
                points.append(point)
    return points


def files_under(path):
    return sorted(str(p.relative_to(path)) for p in Path(path).rglob("*") if not p.is_dir())


def helper_processes():
    """PIDs of running (or zombie) crio-pinns processes of this build."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "exe") == str(PINNS.resolve()):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.fixture
def pin_dir(tmp_path):
    """A pin directory that is emptied after the test: every pin unmounted and removed."""
    d = tmp_path / "ns"
    yield d
    for point in sorted(mounts_under(d), reverse=True):
        subprocess.run(["umount", "--lazy", point], check=False)
    for f in files_under(d) if d.exists() else []:
        os.unlink(d / f)


def pinns(*args, check=None):
    """Run crio-pinns ARGS...; with check=0 (or another code) the exit code must match."""
    r = subprocess.run([str(PINNS), *map(str, args)], capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL)
    if check is not None:
        assert r.returncode == check, f"crio-pinns exited {r.returncode}, stderr: {r.stderr}"
    return r


def pin_path(d, kind, name):
    return d / f"{kind}ns" / name


def in_ns(kind, path, *argv):
    """Output of ARGV run by nsenter inside the pinned namespace."""
    r = subprocess.run(["nsenter", f"--{kind}={path}", *argv], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, f"nsenter --{kind}={path} {argv}: {r.stderr}"
    return r.stdout


def assert_failed_cleanly(r, d, code, *needles):
    """Exit `code`, one 'crio-pinns: ' line naming the problem, and no pin file or mount under d."""
    assert r.returncode == code, f"exit {r.returncode}, stderr: {r.stderr}"
    assert r.stdout == ""
    assert r.stderr.startswith("crio-pinns: ")
    first = r.stderr.splitlines()[0]
    for needle in needles:
        assert needle in first, f"{needle!r} not in {first!r}"
    if d.exists():
        assert files_under(d) == []
    assert mounts_under(d) == []
    assert helper_processes() == []


# ---------------------------------------------------------------------------------------------------------
# crio-pinns: success


def test_pin_net_ipc_uts_with_hostname_and_sysctls(pin_dir):
    host_range = Path("/proc/sys/net/ipv4/ping_group_range").read_text()
    host_shmmni = Path("/proc/sys/kernel/shmmni").read_text()
    host_name = os.uname().nodename

    r = pinns("--dir", pin_dir, "--name", "pod1", "--net", "--ipc", "--uts", "--hostname", "pod1-host",
              "--sysctl", "net.ipv4.ping_group_range=0 0", "--sysctl", "kernel.shmmni=2048", check=0)
    assert r.stdout == "" and r.stderr == ""

    assert files_under(pin_dir) == ["ipcns/pod1", "netns/pod1", "utsns/pod1"]
    pins = {kind: pin_path(pin_dir, kind, "pod1") for kind in ("net", "ipc", "uts")}
    assert sorted(mounts_under(pin_dir)) == sorted(map(str, pins.values()))
    for kind in ("net", "ipc", "uts"):
        assert os.stat(pin_path(pin_dir, kind, "pod1")).st_ino != os.stat(f"/proc/self/ns/{kind}").st_ino
    assert (pin_dir / "netns").stat().st_mode & 0o777 == 0o755

    lo = in_ns("net", pin_path(pin_dir, "net", "pod1"), "ip", "-o", "link", "show", "lo")
    assert re.search(r"<[^>]*\bUP\b[^>]*>", lo), lo
    assert in_ns("uts", pin_path(pin_dir, "uts", "pod1"), "hostname").strip() == "pod1-host"
    assert in_ns("net", pins["net"], "cat", "/proc/sys/net/ipv4/ping_group_range").split() == ["0", "0"]
    assert in_ns("ipc", pins["ipc"], "cat", "/proc/sys/kernel/shmmni").strip() == "2048"

    # The host kept its own values.
    assert Path("/proc/sys/net/ipv4/ping_group_range").read_text() == host_range
    assert Path("/proc/sys/kernel/shmmni").read_text() == host_shmmni
    assert os.uname().nodename == host_name
    assert helper_processes() == []


def test_pin_net_only(pin_dir):
    pinns("--dir", pin_dir, "--name", "solo", "--net", check=0)
    assert files_under(pin_dir) == ["netns/solo"]
    lo = in_ns("net", pin_path(pin_dir, "net", "solo"), "ip", "-o", "link", "show", "lo")
    assert "UP" in lo


def test_two_pods_get_different_namespaces(pin_dir):
    pinns("--dir", pin_dir, "--name", "a", "--net", "--uts", "--hostname", "a", check=0)
    pinns("--dir", pin_dir, "--name", "b", "--net", "--uts", "--hostname", "b", check=0)
    assert os.stat(pin_path(pin_dir, "net", "a")).st_ino != os.stat(pin_path(pin_dir, "net", "b")).st_ino
    assert in_ns("uts", pin_path(pin_dir, "uts", "a"), "hostname").strip() == "a"
    assert in_ns("uts", pin_path(pin_dir, "uts", "b"), "hostname").strip() == "b"


def test_user_namespace_with_mapping_owns_the_others(pin_dir):
    pinns("--dir", pin_dir, "--name", "u", "--user", "--uid-map", "0 100000 65536",
          "--gid-map", "0 200000 1000,1000 300000 64536", "--net", "--uts", "--hostname", "userpod",
          "--sysctl", "net.ipv4.ping_group_range=0 1", check=0)
    user = pin_path(pin_dir, "user", "u")
    assert files_under(pin_dir) == ["netns/u", "userns/u", "utsns/u"]
    assert os.stat(user).st_ino != os.stat("/proc/self/ns/user").st_ino

    assert in_ns("user", user, "cat", "/proc/self/uid_map").split() == ["0", "100000", "65536"]
    assert in_ns("user", user, "cat", "/proc/self/gid_map").split() == \
        ["0", "200000", "1000", "1000", "300000", "64536"]

    # The net and uts namespaces were created inside the user namespace, so it owns them.
    for kind in ("net", "uts"):
        fd = os.open(pin_path(pin_dir, kind, "u"), os.O_RDONLY | os.O_CLOEXEC)
        try:
            owner = fcntl.ioctl(fd, NS_GET_USERNS)
            try:
                assert os.fstat(owner).st_ino == os.stat(user).st_ino
            finally:
                os.close(owner)
        finally:
            os.close(fd)
    # The sysctl was written by the pod's root, so its group IDs are the pod's: 0 and 1 inside, the
    # mapped 200000 and 200001 seen from the host.
    net = pin_path(pin_dir, "net", "u")
    inside = subprocess.run(["nsenter", f"--user={user}", f"--net={net}", "cat",
                             "/proc/sys/net/ipv4/ping_group_range"],
                            capture_output=True, text=True, timeout=10, check=True).stdout
    assert inside.split() == ["0", "1"]
    assert in_ns("net", net, "cat", "/proc/sys/net/ipv4/ping_group_range").split() == ["200000", "200001"]
    assert in_ns("uts", pin_path(pin_dir, "uts", "u"), "hostname").strip() == "userpod"


def test_remove_unpins_and_is_idempotent(pin_dir):
    pinns("--dir", pin_dir, "--name", "r", "--net", "--ipc", check=0)
    assert len(mounts_under(pin_dir)) == 2
    pinns("--remove", "--dir", pin_dir, "--name", "r", check=0)
    assert files_under(pin_dir) == []
    assert mounts_under(pin_dir) == []
    pinns("--remove", "--dir", pin_dir, "--name", "r", "--net", check=0)


def test_help_goes_to_stdout():
    r = pinns("--help", check=0)
    assert r.stdout.startswith("Usage: crio-pinns") and r.stderr == ""


# ---------------------------------------------------------------------------------------------------------
# crio-pinns: failures leave nothing behind


def test_nonexistent_sysctl_fails_cleanly(pin_dir):
    r = pinns("--dir", pin_dir, "--name", "p", "--net", "--ipc", "--uts",
              "--sysctl", "net.ipv4.ping_group_range=0 0", "--sysctl", "net.ipv4.no_such_sysctl=1")
    assert_failed_cleanly(r, pin_dir, 1, "net.ipv4.no_such_sysctl", "No such file or directory")


def test_invalid_sysctl_value_fails_cleanly(pin_dir):
    r = pinns("--dir", pin_dir, "--name", "p", "--ipc", "--sysctl", "kernel.shmmni=lots")
    assert_failed_cleanly(r, pin_dir, 1, "kernel.shmmni", "Invalid argument")


@pytest.mark.parametrize("key", ["net/ipv4/ip_forward", "net..ipv4", "../kernel.hostname", ".net.ipv4", ""])
def test_bad_sysctl_key_is_refused(pin_dir, key):
    r = pinns("--dir", pin_dir, "--name", "p", "--net", "--sysctl", f"{key}=1")
    assert_failed_cleanly(r, pin_dir, 2, "--sysctl")
    assert "Usage: crio-pinns" in r.stderr
    assert not pin_dir.exists()


@pytest.mark.parametrize("name", ["a/b", ".", "..", "", "../escape"])
def test_bad_name_is_refused(pin_dir, name):
    r = pinns("--dir", pin_dir, "--name", name, "--net")
    assert_failed_cleanly(r, pin_dir, 2, "--name")
    assert not pin_dir.exists()


@pytest.mark.parametrize("args, needle", [
    (["--net", "--bogus"], "unknown option '--bogus'"),
    (["--user"], "--user needs --uid-map and --gid-map"),
    (["--user", "--uid-map", "0 0 1"], "--user needs --uid-map and --gid-map"),
    (["--user", "--uid-map", "0 0 1", "--gid-map", "0 0"], "--gid-map"),
    (["--net", "--hostname", "h"], "--hostname needs --uts"),
    ([], "no namespace to create"),
])
def test_usage_errors(pin_dir, args, needle):
    r = pinns("--dir", pin_dir, "--name", "p", *args)
    assert_failed_cleanly(r, pin_dir, 2, needle)


def test_missing_dir_or_name(pin_dir):
    assert_failed_cleanly(pinns("--name", "p", "--net"), pin_dir, 2, "missing --dir")
    assert_failed_cleanly(pinns("--dir", pin_dir, "--net"), pin_dir, 2, "missing --name")


def test_failure_after_some_pins_undoes_them(pin_dir):
    # net and ipc get pinned first; the uts pin file already exists, belongs to someone else and stays.
    (pin_dir / "utsns").mkdir(parents=True)
    taken = pin_dir / "utsns" / "p"
    taken.write_text("not ours")
    r = pinns("--dir", pin_dir, "--name", "p", "--net", "--ipc", "--uts")
    assert r.returncode == 1
    assert r.stderr.startswith("crio-pinns: ") and str(taken) in r.stderr and "File exists" in r.stderr
    assert files_under(pin_dir) == ["utsns/p"]
    assert taken.read_text() == "not ours"
    assert mounts_under(pin_dir) == []
    assert helper_processes() == []


def test_mapping_past_the_last_id_is_refused(pin_dir):
    r = pinns("--dir", pin_dir, "--name", "p", "--user", "--uid-map", "0 4294967295 2", "--gid-map", "0 0 1")
    assert_failed_cleanly(r, pin_dir, 2, "--uid-map", "runs past")
