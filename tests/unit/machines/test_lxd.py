"""Pure parts of snapbuild.machines.lxd: subnet choice, preseed, command lines, state parsing."""

from __future__ import annotations

import ipaddress

import pytest
import yaml

from snapbuild.errors import ToolError
from snapbuild.machines import lxd


def net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(text)


def test_pick_subnet_takes_first_candidate_when_nothing_collides() -> None:
    first = lxd.CANDIDATE_SUBNETS[0]
    assert lxd.pick_subnet([net("192.0.2.0/24")]) == ipaddress.IPv4Interface(f"{first[1]}/24")


def test_pick_subnet_skips_overlapping_networks() -> None:
    first, second = lxd.CANDIDATE_SUBNETS[:2]
    # A /8 route would shadow every candidate; a /32 DNS server only its own /24.
    assert lxd.pick_subnet([net(f"{first[53]}/32")]).network == second
    with pytest.raises(ToolError) as err:
        lxd.pick_subnet([net("10.0.0.0/8")])
    assert "lxc network create" in err.value.resolution


def test_parse_host_networks_reads_routes_addresses_and_resolvers() -> None:
    routes = [{"dst": "default", "gateway": "192.0.2.1"}, {"dst": "192.0.2.0/24"}, {"dst": "10.255.255.53"}]
    addrs = [
        {
            "addr_info": [
                {"family": "inet", "local": "172.16.5.4", "prefixlen": 16},
                {"family": "inet6", "local": "fe80::1", "prefixlen": 64},
            ]
        }
    ]
    resolv = "# comment\nnameserver 10.9.9.9\nnameserver fd00::1\nsearch example\n"
    assert lxd.parse_host_networks(routes, addrs, resolv) == [
        net("192.0.2.0/24"),
        net("10.255.255.53/32"),
        net("172.16.0.0/16"),
        net("10.9.9.9/32"),
    ]


def test_preseed_full() -> None:
    data = yaml.safe_load(lxd.preseed("10.147.11.1/24", mtu=1400))
    assert data["storage_pools"] == [{"name": "default", "driver": "dir", "config": {}}]
    assert data["networks"] == [
        {
            "name": "lxdbr0",
            "type": "bridge",
            "config": {
                "ipv4.address": "10.147.11.1/24",
                "ipv4.nat": "true",
                "ipv6.address": "none",
                "bridge.mtu": "1400",
            },
        }
    ]
    devices = data["profiles"][0]["devices"]
    assert devices["eth0"] == {"type": "nic", "name": "eth0", "network": "lxdbr0"}
    assert devices["root"] == {"type": "disk", "path": "/", "pool": "default"}


def test_preseed_leaves_out_existing_pieces_and_default_mtu() -> None:
    data = yaml.safe_load(lxd.preseed("", pool=False, network=False, profile=True, mtu=1500))
    assert "storage_pools" not in data and "networks" not in data
    assert data["profiles"][0]["name"] == "default"
    assert "bridge.mtu" not in yaml.safe_load(lxd.preseed("10.1.2.1/24", mtu=1500))["networks"][0]["config"]


def test_profile_complete() -> None:
    good = {"devices": {"eth0": {"type": "nic", "network": "lxdbr0"}, "root": {"type": "disk"}}}
    assert lxd._profile_complete(good)
    assert not lxd._profile_complete({"devices": {}})
    assert not lxd._profile_complete(None)


def test_launch_commands_unprivileged_nesting_and_fuse() -> None:
    cmds = lxd.launch_commands("c1", "img")
    assert cmds[0] == ["lxc", "init", "img", "c1", "-c", "security.privileged=false", "-c", "security.nesting=true"]
    assert cmds[1] == [
        "lxc",
        "config",
        "device",
        "add",
        "c1",
        "fuse",
        "unix-char",
        "source=/dev/fuse",
        "path=/dev/fuse",
        "mode=0666",
    ]
    assert cmds[-1] == ["lxc", "start", "c1"]


def test_launch_commands_without_extras() -> None:
    assert lxd.launch_commands("c1", "img", nesting=False, fuse=False) == [
        ["lxc", "init", "img", "c1", "-c", "security.privileged=false"],
        ["lxc", "start", "c1"],
    ]


def test_exec_argv_sorts_env_and_separates_argv() -> None:
    argv = lxd.exec_argv("c1", ["sh", "-c", "echo --env"], env={"B": "2", "A": "x=y"}, cwd="/root")
    assert argv == [
        "lxc",
        "exec",
        "c1",
        "--mode=non-interactive",
        "--cwd",
        "/root",
        "--env",
        "A=x=y",
        "--env",
        "B=2",
        "--",
        "sh",
        "-c",
        "echo --env",
    ]


def test_ipv4_from_state() -> None:
    state = {
        "network": {
            "eth0": {
                "addresses": [
                    {"family": "inet6", "address": "fe80::1", "scope": "link"},
                    {"family": "inet", "address": "10.147.11.5", "scope": "global"},
                ]
            },
            "lo": {"addresses": [{"family": "inet", "address": "127.0.0.1", "scope": "local"}]},
        }
    }
    assert lxd.ipv4_from_state(state) == "10.147.11.5"
    assert lxd.ipv4_from_state(state, "lo") is None
    assert lxd.ipv4_from_state({"network": None}) is None


def test_tar_commands_keep_numeric_owners() -> None:
    assert lxd.tar_create("/src") == ["tar", "-C", "/src", "--numeric-owner", "-cf", "-", "."]
    assert lxd.tar_extract("/dst") == ["tar", "-C", "/dst", "--numeric-owner", "-xpf", "-"]


def test_remote_paths_must_be_absolute() -> None:
    assert lxd._remote("c1", "/etc/x") == "c1/etc/x"
    with pytest.raises(ToolError):
        lxd._remote("c1", "etc/x")


def test_tail_keeps_last_lines() -> None:
    assert lxd.tail("a\nb\nc\n", 2) == "b\nc"
