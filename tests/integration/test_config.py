# SPDX-License-Identifier: Apache-2.0
"""Configuration: files, drop-ins, flags and environment, and what the daemon does with bad config."""

import json
import re
import signal
import tomllib
from pathlib import Path

import grpc
import pytest

import crio_helpers as h

LEVELS = {
    "crio.conf": '[crio.runtime]\nlog_level = "warn"\n',
    "01.conf": '[crio.runtime]\nlog_level = "info"\n',
    "02.conf": '[crio.runtime]\nlog_level = "debug"\n',
}


def effective(d, *extra, env=None):
    """The effective config of daemon d's files and settings, as `crio config` prints it."""
    flags = []
    for flag, value in d.settings().items():
        flags += [f"--{flag}", str(value)]
    r = h.run_crio(*flags, *extra, "config", env=env)
    assert r.returncode == 0, r.stderr
    return tomllib.loads(r.stdout)


def levels_daemon(make_daemon, **kwargs):
    return make_daemon(config=LEVELS["crio.conf"], dropins={k: v for k, v in LEVELS.items() if k != "crio.conf"},
                       log_level=None, **kwargs)


def test_later_drop_in_wins(make_daemon):
    d = levels_daemon(make_daemon)
    assert effective(d)["crio"]["runtime"]["log_level"] == "debug"
    d.start()
    assert tomllib.loads(d.http_get("/config").text)["crio"]["runtime"]["log_level"] == "debug"


def test_drop_ins_apply_in_lexical_order(make_daemon):
    d = make_daemon(dropins={"9.conf": '[crio.runtime]\nlog_level = "warn"\n',
                             "10.conf": '[crio.runtime]\nlog_level = "error"\n'}, log_level=None)
    assert effective(d)["crio"]["runtime"]["log_level"] == "warn"


def test_drop_in_overrides_only_the_keys_it_sets(make_daemon):
    d = make_daemon(config='[crio.runtime]\nlog_level = "warn"\ndefault_runtime = "crun"\n',
                    dropins={"01.conf": '[crio.runtime]\nlog_level = "error"\n'}, log_level=None)
    runtime = effective(d)["crio"]["runtime"]
    assert runtime["log_level"] == "error"
    assert runtime["default_runtime"] == "crun"


def test_flag_beats_all_files(make_daemon):
    d = levels_daemon(make_daemon)
    assert effective(d, "--log-level", "error")["crio"]["runtime"]["log_level"] == "error"
    d.log_level = "error"
    d.start()
    assert tomllib.loads(d.http_get("/config").text)["crio"]["runtime"]["log_level"] == "error"


def test_env_beats_files(make_daemon):
    d = levels_daemon(make_daemon)
    assert effective(d, env={"CONTAINER_LOG_LEVEL": "error"})["crio"]["runtime"]["log_level"] == "error"


def test_flag_beats_env(make_daemon):
    d = levels_daemon(make_daemon)
    config = effective(d, "--log-level", "warn", env={"CONTAINER_LOG_LEVEL": "error"})
    assert config["crio"]["runtime"]["log_level"] == "warn"


def test_daemon_configured_by_environment(make_daemon):
    d = make_daemon(via_env=True).start()
    with d.client() as c:
        assert c.version().runtime_name == "crio-c"
    config = tomllib.loads(d.http_get("/config").text)
    assert config["crio"]["api"]["listen"] == str(d.sock)
    assert config["crio"]["root"] == str(d.root)
    assert config["crio"]["runtime"]["log_level"] == "debug"


def test_crio_config_equals_what_the_daemon_serves(make_daemon):
    d = make_daemon(config='[crio.runtime]\ndefault_runtime = "crun"\n',
                    dropins={"01.conf": '[crio.api]\ngrpc_max_recv_msg_size = 4194304\n'})
    printed = effective(d)
    d.start()
    assert tomllib.loads(d.http_get("/config").text) == printed
    with d.client() as c:
        verbose = json.loads(c.status(verbose=True).info["config"])
    assert 4194304 in h.find_key(verbose, "grpc_max_recv_msg_size")
    assert "crun" in h.find_key(verbose, "default_runtime")


def test_key_without_effect_is_a_warning_at_start_and_reload(make_daemon):
    """CRI-O's keys that crio-c does not act on load, but an operator is told where one was set, at start
    and on SIGHUP; a reload never claims to have applied one."""
    d = make_daemon(dropins={"50-journald.conf": '[crio.runtime]\nlog_to_journald = true\n'}).start()
    want = r"50-journald\.conf:2: crio\.runtime\.log_to_journald has no effect in crio-c"
    assert re.search(want, d.log), d.log_tail()
    h.write_text(d.config_dir / "60-cpuset.conf", '[crio.runtime]\nshared_cpuset = "0"\n')
    since = d.log_offset()
    d.send_signal(signal.SIGHUP)
    d.wait_for_log(r"60-cpuset\.conf:2: crio\.runtime\.shared_cpuset has no effect in crio-c", since=since)
    assert "reload: crio.runtime.shared_cpuset" not in d.log[since:]
    assert d.running()


def test_unknown_key_is_a_warning_naming_file_line_and_key(make_daemon):
    d = make_daemon(dropins={"50-extra.conf": '# extra\n[crio.runtime]\nno_such_key = 1\n'}).start()
    with d.client() as c:
        assert c.version().runtime_name == "crio-c"
    lines = [line for line in d.log.splitlines() if "no_such_key" in line]
    assert lines, d.log_tail()
    assert any("50-extra.conf" in line and re.search(r"\b3\b", line) for line in lines), lines


CRIO_126_DEFAULT = Path(__file__).resolve().parents[1] / "unit" / "data" / "crio-1.26-default.conf"


def test_crio_1_26_default_config_starts_the_daemon(make_daemon, tmp_path):
    """A node's existing CRI-O 1.26 crio.conf (storage_driver = "", keys crio-c ignores) is accepted. A
    drop-in keeps the node's own directories (/var/run/crio) out of the test's way."""
    paths = (f'[crio.runtime]\ncontainer_exits_dir = "{tmp_path}/exits"\n'
             f'container_attach_socket_dir = "{tmp_path}/attach"\nnamespaces_dir = "{tmp_path}/ns"\n')
    d = make_daemon(config=CRIO_126_DEFAULT.read_text(), dropins={"99-test-paths.conf": paths},
                    log_level=None).start()
    with d.client() as c:
        assert c.version().runtime_name == "crio-c"
    assert d.http_get("/info").json()["storage_driver"] == "overlay"
    assert "seccomp_use_default_when_empty" in d.log, d.log_tail()


@pytest.mark.parametrize("conf,key", [
    ('[crio.runtime]\nlog_level = 5\n', "log_level"),
    ('[crio.runtime]\nlog_level = "loud"\n', "log_level"),
    ('[crio.runtime]\ncgroup_manager = "bogus"\n', "cgroup_manager"),
    ('[crio.api]\ngrpc_max_recv_msg_size = "big"\n', "grpc_max_recv_msg_size"),
    ('[crio.runtime]\ndefault_runtime = "nosuch"\n', "default_runtime"),
])
def test_bad_value_stops_daemon_before_it_listens(make_daemon, conf, key):
    d = make_daemon(config=conf, log_level=None).start(wait_ready=False)
    assert d.wait(5) != 0
    assert key in d.log, d.log_tail()
    assert not d.sock.exists()


def test_bad_value_from_flag_is_rejected(make_daemon):
    d = make_daemon(log_level="loud").start(wait_ready=False)
    assert d.wait(5) != 0
    assert "loud" in d.log or "log_level" in d.log or "log-level" in d.log, d.log_tail()
    assert not d.sock.exists()


@pytest.mark.parametrize("where", ["main", "drop-in"])
def test_syntax_error_names_file_line_and_column(make_daemon, where):
    bad = '[crio.runtime]\nlog_level = "info"\nfoo = = 1\n'
    if where == "main":
        d = make_daemon(config=bad)
        name = "crio.conf"
    else:
        d = make_daemon(dropins={"20-bad.conf": bad})
        name = "20-bad.conf"
    d.start(wait_ready=False)
    assert d.wait(5) != 0
    assert re.search(re.escape(name) + r":3:\d+", d.log), d.log_tail()
    assert not d.sock.exists()


def test_runtime_handler_table_adds_a_handler(make_daemon):
    d = make_daemon(config='[crio.runtime.runtimes.myrt]\nruntime_path = "/usr/bin/true"\n').start()
    with d.client() as c:
        names = [rh.name for rh in c.status().runtime_handlers]
    assert sorted(names) == sorted(["runc", "crun", "myrt", ""]), names


def test_systemd_cgroup_manager_is_reported(make_daemon):
    d = make_daemon(config='[crio.runtime]\ncgroup_manager = "systemd"\n').start()
    with d.client() as c:
        r = c.runtime_config()
    assert r.HasField("linux")
    assert r.linux.cgroup_driver == h.pb().SYSTEMD


def test_log_filter_lets_only_matching_lines_through(make_daemon):
    d = make_daemon(config='[crio.runtime]\nlog_filter = "Version"\n').start()
    since = d.log_offset()
    with d.client() as c:
        c.version()
        c.status()
        c.runtime_config()
    d.wait_for_log("Version", since=since)
    new_lines = [line for line in d.log[since:].splitlines() if line.strip()]
    assert all("Version" in line for line in new_lines), new_lines


def test_json_log_format(make_daemon):
    d = make_daemon(args=["--log-format", "json"]).start()
    with d.client() as c:
        c.version()
    assert d.stop() == 0
    lines = [line for line in d.log.splitlines() if line.strip()]
    assert lines
    for line in lines:
        record = json.loads(line)
        assert isinstance(record, dict) and "level" in record and "msg" in record, line


def test_rpcs_are_logged_at_debug_with_method_and_duration(crio, client):
    since = crio.log_offset()
    client.runtime_config()
    line = crio.wait_for_log("RuntimeConfig", since=since).string
    assert re.search(r"debu", line, re.I), line
    assert re.search(r"\d+(\.\d+)?\s*(ns|us|µs|ms|s)\b|duration", line), line
