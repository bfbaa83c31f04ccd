# SPDX-License-Identifier: Apache-2.0
"""The crio command line: help, usage errors, `version`, `config` and `status`."""

import json
import re
import tomllib

import pytest

import crio_helpers as h

pytestmark = pytest.mark.usefixtures("crio_binary")

ROUND_TRIP_CONF = r'''
[crio]
storage_option = ["overlay.mountopt=nodev", "overlay.size=10G"]

[crio.api]
grpc_max_recv_msg_size = 4194304

[crio.runtime]
log_level = "warn"
default_env = ["A=1", "B=two words", 'C=quote"d \back', "D=ünïcødé"]
cgroup_manager = "cgroupfs"

[crio.runtime.runtimes.myrt]
runtime_path = "/usr/bin/true"
platform_runtime_paths = { "linux/amd64" = "/usr/bin/true" }
'''


def write_configs(tmp_path, main="", dropins=None):
    conf = h.write_text(tmp_path / "crio.conf", main)
    confdir = tmp_path / "crio.conf.d"
    confdir.mkdir(exist_ok=True)
    for name, text in (dropins or {}).items():
        h.write_text(confdir / name, text)
    return conf, confdir


def config_output(conf, confdir, *extra, env=None):
    r = h.run_crio("--config", conf, "--config-dir", confdir, *extra, "config", env=env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_help_shows_usage():
    r = h.run_crio("--help")
    assert r.returncode == 0, r.stderr
    assert "usage" in r.stdout.lower()
    assert "--listen" in r.stdout and "--config" in r.stdout


@pytest.mark.parametrize("command", ["config", "status", "version"])
def test_subcommand_help(command):
    r = h.run_crio(command, "--help")
    assert r.returncode == 0, r.stderr
    assert command in r.stdout and "usage" in r.stdout.lower(), r.stdout


def test_unknown_flag_is_usage_error():
    r = h.run_crio("--no-such-flag")
    assert r.returncode == 2
    assert "--no-such-flag" in r.stderr
    assert "--help" in r.stderr


def test_flag_missing_its_value_is_usage_error():
    r = h.run_crio("--listen")
    assert r.returncode == 2
    assert "--listen" in r.stderr


def test_positional_argument_is_usage_error():
    r = h.run_crio("foo")
    assert r.returncode == 2
    assert r.stderr.strip() != ""


def test_version_text():
    r = h.run_crio("version")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^Version:\s+0\.1\.0$", r.stdout, re.M), r.stdout


def test_version_json_agrees_with_text():
    text = h.run_crio("version").stdout
    r = h.run_crio("version", "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert isinstance(info, dict)
    assert info["version"] == re.search(r"^Version:\s+(\S+)$", text, re.M).group(1)


def test_config_prints_commented_toml_of_files(tmp_path):
    conf, confdir = write_configs(tmp_path, '[crio.runtime]\nlog_level = "warn"\ndefault_runtime = "crun"\n',
                                  {"10-api.conf": '[crio.api]\nlisten = "/tmp/x/crio.sock"\n'})
    out = config_output(conf, confdir)
    assert any(line.startswith("#") for line in out.splitlines()), "no comments in crio config output"
    config = tomllib.loads(out)
    assert config["crio"]["runtime"]["log_level"] == "warn"
    assert config["crio"]["runtime"]["default_runtime"] == "crun"
    assert config["crio"]["api"]["listen"] == "/tmp/x/crio.sock"
    assert config["crio"]["api"]["grpc_max_send_msg_size"] == 83886080
    assert set(config["crio"]["runtime"]["runtimes"]) >= {"runc", "crun"}


def test_config_round_trip_is_byte_identical(tmp_path):
    conf, confdir = write_configs(tmp_path / "a", ROUND_TRIP_CONF)
    first = config_output(conf, confdir)
    assert tomllib.loads(first)["crio"]["runtime"]["default_env"][2] == 'C=quote"d \\back'
    conf2, confdir2 = write_configs(tmp_path / "b", first)
    second = config_output(conf2, confdir2)
    assert second == first


def test_config_default_ignores_files(tmp_path):
    conf, confdir = write_configs(tmp_path, '[crio.runtime]\nlog_level = "warn"\ndefault_runtime = "crun"\n',
                                  {"01.conf": '[crio.api]\nlisten = "/tmp/elsewhere.sock"\n'})
    r = h.run_crio("--config", conf, "--config-dir", confdir, "config", "--default")
    assert r.returncode == 0, r.stderr
    config = tomllib.loads(r.stdout)
    assert config["crio"]["runtime"]["default_runtime"] == "runc"
    assert config["crio"]["runtime"]["log_level"] == "info"
    assert config["crio"]["api"]["listen"] == "/var/run/crio/crio.sock"
    assert config["crio"]["api"]["grpc_max_send_msg_size"] == 83886080


def test_short_flags(tmp_path):
    conf, confdir = write_configs(tmp_path, '[crio.runtime]\ndefault_runtime = "crun"\n',
                                  {"01.conf": '[crio.api]\nlisten = "/tmp/short.sock"\n'})
    r = h.run_crio("-c", conf, "-d", confdir, "-l", "error", "config")
    assert r.returncode == 0, r.stderr
    config = tomllib.loads(r.stdout)
    assert config["crio"]["runtime"]["default_runtime"] == "crun"
    assert config["crio"]["api"]["listen"] == "/tmp/short.sock"
    assert config["crio"]["runtime"]["log_level"] == "error"


def test_status_info_prints_info_json(crio):
    r = h.run_crio("status", "--socket", crio.sock, "info", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == crio.http_get("/info").json()


def test_status_info_prints_what_crio_prints(crio):
    r = h.run_crio("status", "--socket", crio.sock, "info")
    assert r.returncode == 0, r.stderr
    info = crio.http_get("/info").json()
    assert r.stdout.splitlines() == [
        f"cgroup driver: {info['cgroup_driver']}", f"storage driver: {info['storage_driver']}",
        f"storage graph root: {info['storage_root']}",
        "default GID mappings (format <container>:<host>:<size>):", "  0:0:4294967295",
        "default UID mappings (format <container>:<host>:<size>):", "  0:0:4294967295"]


def test_status_config_prints_toml(crio):
    r = h.run_crio("status", "--socket", crio.sock, "config")
    assert r.returncode == 0, r.stderr
    config = tomllib.loads(r.stdout)
    assert config["crio"]["api"]["listen"] == str(crio.sock)
    assert config == tomllib.loads(crio.http_get("/config").text)


def test_status_unknown_container_fails_with_message(crio):
    r = h.run_crio("status", "--socket", crio.sock, "containers", "--id", "nope")
    assert r.returncode != 0
    assert (r.stderr + r.stdout).strip() != ""


def test_status_without_daemon_fails_with_message(tmp_path):
    r = h.run_crio("status", "--socket", tmp_path / "nobody.sock", "info")
    assert r.returncode != 0
    assert "nobody.sock" in r.stderr or "connect" in r.stderr.lower(), r.stderr
