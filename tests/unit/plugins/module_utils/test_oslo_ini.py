"""oslo_ini: the parser, editor and writer behind openstack_config, as pure functions.

The round-trip tests run on the real stock configs of Debian's nova, neutron and keystone packages,
fetched by tests/fixtures/stock_configs.py (a failed download fails these tests, it never skips).
"""
import sys
from collections import Counter
from pathlib import Path

import pytest

from ansible_collections.cloudlab.openstack.plugins.module_utils import oslo_ini

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "fixtures"))
import stock_configs  # noqa: E402  (tests/fixtures is not a package)


@pytest.fixture(scope="module")
def stock():
    return stock_configs.fetch()


# --- round trip on the real files ----------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(stock_configs.FILES))
def test_stock_file_round_trips_byte_identical(stock, name):
    data = stock[name].read_bytes()
    nodes = oslo_ini.parse(data.decode("utf-8"))
    assert oslo_ini.render(nodes).encode("utf-8") == data
    # An edit that asks for nothing new writes the same bytes and reports nothing.
    new, changed = oslo_ini.edit(data.decode("utf-8"), {})
    assert new.encode("utf-8") == data and changed == []


@pytest.mark.parametrize("name, section, key, value", [
    ("nova.conf", "DEFAULT", "state_path", ["/var/lib/nova"]),
    ("nova.conf", "database", "connection", ["sqlite:////var/lib/nova/novadb"]),
    ("neutron.conf", "DEFAULT", "core_plugin", ["ml2"]),
    ("ml2_conf.ini", "ml2", "mechanism_drivers", ["openvswitch,l2population"]),
    ("keystone.conf", "DEFAULT", "log_dir", ["/var/log/keystone"]),
])
def test_stock_file_values(stock, name, section, key, value):
    assert oslo_ini.values(oslo_ini.parse(stock[name].read_text("utf-8")))[section][key] == value


def test_stock_nova_conf_guide_edit_touches_only_its_lines(stock):
    text = stock["nova.conf"].read_text("utf-8")
    settings = {
        "DEFAULT": {"my_ip": "10.0.100.145", "debug": True, "state_path": None,
                    "notification_driver": ["nova.openstack.common.notifier.rpc_notifier",
                                            "ceilometer.compute.nova_notifier"]},
        "database": {"connection": "mysql+pymysql://nova:pw@10.0.100.149/nova"},
        "libvirt": {"virt_type": "qemu"},
        "cells": {"enable": False},  # not in the file: a new section
    }
    new, changed = oslo_ini.edit(text, settings)
    assert changed == ["DEFAULT.my_ip", "DEFAULT.debug", "DEFAULT.state_path",
                       "DEFAULT.notification_driver", "database.connection", "libvirt.virt_type", "cells.enable"]
    got = oslo_ini.values(oslo_ini.parse(new))
    assert got["DEFAULT"]["my_ip"] == ["10.0.100.145"]
    assert got["DEFAULT"]["debug"] == ["True"]
    assert "state_path" not in got["DEFAULT"]
    assert got["DEFAULT"]["notification_driver"] == settings["DEFAULT"]["notification_driver"]
    assert got["cells"] == {"enable": ["False"]}
    # Every other option keeps its value, and every comment line is still there.
    before = oslo_ini.values(oslo_ini.parse(text))
    for section, opts in before.items():
        for key, value in opts.items():
            if key not in settings.get(section, {}):
                assert got[section][key] == value
    # The sample lines of the options set are replaced in place (one each); every other comment stays.
    comments_before = Counter(ln for ln in text.splitlines() if ln.startswith("#"))
    comments_after = Counter(ln for ln in new.splitlines() if ln.startswith("#"))
    assert comments_before - comments_after == Counter(["#my_ip = <host_ipv4>", "#debug = false", "#virt_type = kvm"])
    assert not comments_after - comments_before
    assert oslo_ini.edit(new, settings) == (new, [])


# --- parser ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("[DEFAULT]\nkey=value\n", {"DEFAULT": {"key": ["value"]}}),
    ("[DEFAULT]\nkey = value\n", {"DEFAULT": {"key": ["value"]}}),
    ("[DEFAULT]\nkey: value\n", {"DEFAULT": {"key": ["value"]}}),
    ("[DEFAULT]\nkey =\n", {"DEFAULT": {"key": [""]}}),
    ("[s]\nurl = rabbit://u:p@h:5672/\n", {"s": {"url": ["rabbit://u:p@h:5672/"]}}),
    ("[s]\nquery = a=1&b=2\n", {"s": {"query": ["a=1&b=2"]}}),
    ("[s]\nfmt = %(asctime)s # not a comment\n", {"s": {"fmt": ["%(asctime)s # not a comment"]}}),
    ("[s]\nvalue = one\n    two\n\tthree\n", {"s": {"value": ["one\ntwo\nthree"]}}),
    ("[s]\na = 1\n[t]\nb = 2\n[s]\na = 3\n", {"s": {"a": ["1", "3"]}, "t": {"b": ["2"]}}),
    ("[s]\nd = x\nd = y\nd = z\n", {"s": {"d": ["x", "y", "z"]}}),
    ("[s]\nname = café ☃ naïve\n", {"s": {"name": ["café ☃ naïve"]}}),
    ("[s]\r\na = 1\r\nb = 2\r\n", {"s": {"a": ["1"], "b": ["2"]}}),
    ("[s]\na = 1", {"s": {"a": ["1"]}}),
    ("# comment\n; other\n\n[s]\n#a = sample\n;b = 2\n", {"s": {}}),
    ("[s]\na = 1\n  # indented: part of the value, as in oslo\n", {"s": {"a": ["1\n# indented: part of the value, as in oslo"]}}),
    ("[s]\n  # indented comment, no option above\na = 1\n", {"s": {"a": ["1"]}}),
    ("[s]\na = x\x0cy\n", {"s": {"a": ["x\x0cy"]}}),
    ("", {}),
])
def test_parse_values(text, expected):
    nodes = oslo_ini.parse(text)
    assert oslo_ini.values(nodes) == expected
    assert oslo_ini.render(nodes) == text


@pytest.mark.parametrize("text, lineno, reason", [
    ("[DEFAULT\nkey = value\n", 1, "closing ']'"),
    ("[]\n", 1, "without a name"),
    ("key = value\n[DEFAULT]\n", 1, "before the first [section]"),
    ("[DEFAULT]\na = 1\njust some words\n", 3, "neither 'key = value'"),
    ("[DEFAULT]\n= value\n", 2, "option without a name"),
    ("  a = 1\n[DEFAULT]\n", 1, "continues no option"),
    ("[DEFAULT]\na = 1\n\n  b\n", 4, "continues no option"),
])
def test_parse_errors_name_the_line(text, lineno, reason):
    with pytest.raises(oslo_ini.ParseError) as err:
        oslo_ini.parse(text)
    assert err.value.lineno == lineno
    assert reason in err.value.reason
    assert "line %d" % lineno in str(err.value)


# --- editor ---------------------------------------------------------------------------------------

EDITS = [
    # (id, text, settings, kwargs, expected text, expected changed)
    ("add to section", "[DEFAULT]\na = 1\n\n[b]\n", {"DEFAULT": {"c": "3"}}, {},
     "[DEFAULT]\na = 1\nc = 3\n\n[b]\n", ["DEFAULT.c"]),
    ("update in place", "[DEFAULT]\n# keep\na = 1\nb = 2\n", {"DEFAULT": {"a": "9"}}, {},
     "[DEFAULT]\n# keep\na = 9\nb = 2\n", ["DEFAULT.a"]),
    ("unchanged", "[DEFAULT]\na=1\n", {"DEFAULT": {"a": 1}}, {}, "[DEFAULT]\na=1\n", []),
    ("booleans as oslo writes them", "[s]\n", {"s": {"t": True, "f": False}}, {},
     "[s]\nt = True\nf = False\n", ["s.t", "s.f"]),
    ("numbers", "[s]\n", {"s": {"i": 3, "x": 1.5}}, {}, "[s]\ni = 3\nx = 1.5\n", ["s.i", "s.x"]),
    ("empty value", "[s]\n", {"s": {"e": ""}}, {}, "[s]\ne =\n", ["s.e"]),
    ("list is MultiStrOpt, in order", "[s]\na = 1\n", {"s": {"d": ["x", "y"]}}, {},
     "[s]\na = 1\nd = x\nd = y\n", ["s.d"]),
    ("list grows after the last line", "[s]\nd = x\nz = 0\n", {"s": {"d": ["x", "y", "w"]}}, {},
     "[s]\nd = x\nd = y\nd = w\nz = 0\n", ["s.d"]),
    ("list shrinks", "[s]\nd = x\nd = y\nd = w\n", {"s": {"d": ["y"]}}, {},
     "[s]\nd = y\n", ["s.d"]),
    ("list reorders in place", "[s]\nd = x\nq = 1\nd = y\n", {"s": {"d": ["y", "x"]}}, {},
     "[s]\nd = y\nq = 1\nd = x\n", ["s.d"]),
    ("null removes every line", "[s]\nd = x\nq = 1\nd = y\n", {"s": {"d": None}}, {},
     "[s]\nq = 1\n", ["s.d"]),
    ("empty list removes", "[s]\nd = x\n", {"s": {"d": []}}, {}, "[s]\n", ["s.d"]),
    ("null of a missing option", "[s]\nq = 1\n", {"s": {"d": None}}, {}, "[s]\nq = 1\n", []),
    ("sample line replaced in place", "[s]\n# Help text.\n#d = default\n\n#e = 1\n",
     {"s": {"d": "mine"}}, {}, "[s]\n# Help text.\nd = mine\n\n#e = 1\n", ["s.d"]),
    ("sample line replaced by a list", "[s]\n#d =\n\n#e = 1\n", {"s": {"d": ["a", "b"]}}, {},
     "[s]\nd = a\nd = b\n\n#e = 1\n", ["s.d"]),
    ("prose is not a sample", "[s]\n# d = prose\n", {"s": {"d": "x"}}, {},
     "[s]\n# d = prose\nd = x\n", ["s.d"]),
    ("samples kept on request", "[s]\n#d = default\n\n#e = 1\n", {"s": {"d": "x"}},
     {"replace_samples": False}, "[s]\n#d = default\n\n#e = 1\nd = x\n", ["s.d"]),
    ("sample of another section ignored", "[s]\n#d = 1\n[t]\n", {"t": {"d": "x"}}, {},
     "[s]\n#d = 1\n[t]\nd = x\n", ["t.d"]),
    ("new section appended", "[s]\na = 1\n", {"new": {"k": "v"}}, {},
     "[s]\na = 1\n\n[new]\nk = v\n", ["new.k"]),
    ("new section after blank tail", "[s]\na = 1\n\n", {"new": {"k": "v"}}, {},
     "[s]\na = 1\n\n[new]\nk = v\n", ["new.k"]),
    ("empty new section", "[s]\n", {"new": {}}, {}, "[s]\n\n[new]\n", []),
    ("empty file", "", {"DEFAULT": {"a": 1}, "x": {"b": 2}}, {},
     "[DEFAULT]\na = 1\n\n[x]\nb = 2\n", ["DEFAULT.a", "x.b"]),
    ("no final newline", "[s]\na = 1", {"s": {"b": 2}}, {}, "[s]\na = 1\nb = 2\n", ["s.b"]),
    ("no final newline, new section", "[s]\na = 1", {"t": {"b": 2}}, {},
     "[s]\na = 1\n\n[t]\nb = 2\n", ["t.b"]),
    ("CRLF kept", "[s]\r\na = 1\r\n", {"s": {"a": 2, "b": 3}}, {},
     "[s]\r\na = 2\r\nb = 3\r\n", ["s.a", "s.b"]),
    ("duplicate sections: update where it is", "[s]\na = 1\n[t]\n[s]\nb = 2\n[u]\n",
     {"s": {"b": "9", "c": "new"}}, {}, "[s]\na = 1\n[t]\n[s]\nb = 9\nc = new\n[u]\n", ["s.b", "s.c"]),
    ("continuation value replaced", "[s]\na = one\n  two\nb = 2\n", {"s": {"a": "x"}}, {},
     "[s]\na = x\nb = 2\n", ["s.a"]),
    ("multi-line value written as continuation", "[s]\n", {"s": {"a": "one\ntwo"}}, {},
     "[s]\na = one\n    two\n", ["s.a"]),
    ("continuation value unchanged", "[s]\na = one\n  two\n", {"s": {"a": "one\ntwo"}}, {},
     "[s]\na = one\n  two\n", []),
    ("value with = and #", "[s]\n", {"s": {"u": "mysql://n:p#w=d@h/n"}}, {},
     "[s]\nu = mysql://n:p#w=d@h/n\n", ["s.u"]),
    ("values stripped as oslo.config reads them", "[s]\n", {"s": {"a": " x ", "b": "one \n  two"}}, {},
     "[s]\na = x\nb = one\n    two\n", ["s.a", "s.b"]),
    ("UTF-8 value", "[s]\n# héllo\n", {"s": {"n": "café"}}, {}, "[s]\n# héllo\nn = café\n", ["s.n"]),
    ("exclusive removes the others", "[s]\na = 1\nb = 2\nb = 3\n[t]\nz = 0\n", {"s": {"a": "1"}},
     {"exclusive": True}, "[s]\na = 1\n[t]\nz = 0\n", ["s.b"]),
    ("exclusive, nothing else", "[s]\na = 1\n", {"s": {"a": "1"}}, {"exclusive": True}, "[s]\na = 1\n", []),
    ("DEFAULT like any section", "[s]\n", {"DEFAULT": {"a": 1}}, {}, "[s]\n\n[DEFAULT]\na = 1\n", ["DEFAULT.a"]),
    ("trailing blank lines stay at the end of the section", "[s]\na = 1\n\n\n[t]\n", {"s": {"b": 2}}, {},
     "[s]\na = 1\nb = 2\n\n\n[t]\n", ["s.b"]),
    ("header-only section", "[s]\n[t]\n", {"s": {"b": 2}}, {}, "[s]\nb = 2\n[t]\n", ["s.b"]),
    # state: absent
    ("absent: all lines", "[s]\nd = x\nd = y\nq = 1\n", {"s": {"d": None}}, {"state": "absent"},
     "[s]\nq = 1\n", ["s.d"]),
    ("absent: one value", "[s]\nd = x\nd = y\n", {"s": {"d": "x"}}, {"state": "absent"},
     "[s]\nd = y\n", ["s.d"]),
    ("absent: some values", "[s]\nd = x\nd = y\nd = z\n", {"s": {"d": ["x", "z"]}}, {"state": "absent"},
     "[s]\nd = y\n", ["s.d"]),
    ("absent: value not there", "[s]\nd = x\n", {"s": {"d": "q"}}, {"state": "absent"}, "[s]\nd = x\n", []),
    ("absent: whole section, every block", "[s]\na = 1\n# c\n[t]\nb = 2\n[s]\nc = 3\n", {"s": None},
     {"state": "absent"}, "[t]\nb = 2\n", ["s.a", "s.c"]),
    ("absent: missing section", "[t]\n", {"s": None, "u": {"a": None}}, {"state": "absent"}, "[t]\n", []),
]


@pytest.mark.parametrize("text, settings, kwargs, expected, changed",
                         [e[1:] for e in EDITS], ids=[e[0] for e in EDITS])
def test_edit(text, settings, kwargs, expected, changed):
    new, names = oslo_ini.edit(text, settings, **kwargs)
    assert new == expected
    assert names == changed
    # Idempotent: the same edit on the result changes nothing.
    assert oslo_ini.edit(new, settings, **kwargs) == (new, [])
    # And the result is still a file oslo.config (and we) can read.
    oslo_ini.parse(new)


@pytest.mark.parametrize("value, expected", [
    (None, None), ("x", ["x"]), (True, ["True"]), (False, ["False"]), (0, ["0"]), ([], []),
    ([1, "a", True], ["1", "a", "True"]),
])
def test_normalize(value, expected):
    assert oslo_ini.normalize(value) == expected


@pytest.mark.parametrize("value", [{"a": 1}, [None], [["nested"]], "one\n\ntwo", "one\n  \ntwo"])
def test_normalize_rejects(value):
    with pytest.raises(TypeError):
        oslo_ini.normalize(value)


@pytest.mark.parametrize("section, key, ok", [
    ("DEFAULT", None, True), ("keystone_authtoken", "password", True), ("a b", "c.d-e", True),
    ("", None, False), (" DEFAULT", None, False), ("a]b", None, False), ("a\nb", None, False),
    ("s", "", False), ("s", "a=b", False), ("s", "a:b", False), ("s", "#a", False), ("s", "[a", False),
    ("s", " a", False), ("s", "a\nb", False),
])
def test_check_name(section, key, ok):
    assert (oslo_ini.check_name(section, key) is None) is ok


# --- secrets --------------------------------------------------------------------------------------

@pytest.mark.parametrize("section, key, secret", [
    ("keystone_authtoken", "password", True),
    ("DEFAULT", "neutron_admin_password", True),
    ("DEFAULT", "metadata_proxy_shared_secret", True),
    ("keystone_authtoken", "memcache_secret_key", True),
    ("database", "connection", True),
    ("database", "slave_connection", True),
    ("DEFAULT", "transport_url", True),
    ("DEFAULT", "fernet_key", True),
    ("DEFAULT", "Admin_Password", True),
    ("DEFAULT", "my_ip", False),
    ("keystone_authtoken", "username", False),
    ("keystone_authtoken", "auth_url", False),
    ("DEFAULT", "connection_recycle_time", False),
])
def test_default_secret_options(section, key, secret):
    assert oslo_ini.is_secret(section, key, oslo_ini.DEFAULT_SECRET_OPTIONS) is secret


@pytest.mark.parametrize("patterns, section, key, secret", [
    (["database.connection"], "database", "connection", True),
    (["database.connection"], "api_database", "connection", False),
    (["token"], "s", "token", True),
    ([], "s", "password", False),
])
def test_secret_patterns(patterns, section, key, secret):
    assert oslo_ini.is_secret(section, key, patterns) is secret


@pytest.mark.parametrize("text, changed, expected", [
    ("[s]\npassword = hunter2\nuser = bob\n", (), "[s]\npassword = ********\nuser = bob\n"),
    ("[s]\npassword=hunter2\n", ("s.password",), "[s]\npassword=******** (changed)\n"),
    ("[s]\npassword = \n", (), "[s]\npassword = \n"),
    ("[s]\nconnection = mysql://a:b@h/\n  more\nx = 1\n", (), "[s]\nconnection = ********\nx = 1\n"),
    ("[s]\n#admin_password = old\n# password: prose\n", (), "[s]\n#admin_password = ********\n# password: prose\n"),
    ("[s]\r\ntransport_url = rabbit://u:p@h\r\n", (), "[s]\r\ntransport_url = ********\r\n"),
])
def test_mask_text(text, changed, expected):
    assert oslo_ini.mask_text(oslo_ini.parse(text), oslo_ini.DEFAULT_SECRET_OPTIONS, changed) == expected


def test_mask_values():
    got = oslo_ini.mask_values({"s": {"password": "p", "d": ["a"], "secret_list": ["x", "y"], "none": None},
                                "t": None}, oslo_ini.DEFAULT_SECRET_OPTIONS)
    assert got == {"s": {"password": "********", "d": ["a"], "secret_list": ["********", "********"],
                         "none": None}, "t": None}


def test_flatten():
    assert oslo_ini.flatten({"s": {"a": ["1"], "d": ["x", "y"]}, "e": {}}) == \
        {"s": {"a": "1", "d": ["x", "y"]}, "e": {}}
