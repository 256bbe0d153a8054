"""openstack_config and openstack_config_info: main() run in-process on real temporary files.

The module's argument handling, check mode, backup, modes, failures and secret masking; the
parser itself is tested in tests/unit/plugins/module_utils/test_oslo_ini.py, and real
ansible-playbook runs are in tests/integration/test_openstack_config.py.
"""
import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.cloudlab.openstack.plugins.module_utils import oslo_ini
from ansible_collections.cloudlab.openstack.plugins.modules import openstack_config, openstack_config_info

SECRET = "Sup3r-Secr3t-Pw"
BASE = "[DEFAULT]\n# keep me\n#my_ip = <host_ipv4>\ndebug = false\n\n[database]\nconnection = sqlite:////old.db\n"


def run(module, args, capsys, check=False, diff=False):
    """Run a module's main() and return its JSON result."""
    if check:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def conf(tmp_path):
    path = tmp_path / "nova.conf"
    path.write_text(BASE)
    return path


def test_apply_then_idempotent(conf, capsys):
    args = {"path": str(conf), "settings": {"DEFAULT": {"my_ip": "10.0.100.145", "debug": True},
                                            "vnc": {"enabled": True}}}
    result = run(openstack_config, dict(args), capsys)
    assert result["changed"] is True
    assert result["changed_options"] == ["DEFAULT.my_ip", "DEFAULT.debug", "vnc.enabled"]
    assert conf.read_text() == ("[DEFAULT]\n# keep me\nmy_ip = 10.0.100.145\ndebug = True\n\n"
                                "[database]\nconnection = sqlite:////old.db\n\n[vnc]\nenabled = True\n")
    again = run(openstack_config, dict(args), capsys)
    assert again["changed"] is False and again["changed_options"] == []


def test_check_mode_predicts_and_writes_nothing(conf, capsys):
    args = {"path": str(conf), "settings": {"DEFAULT": {"debug": True}}}
    predicted = run(openstack_config, dict(args), capsys, check=True, diff=True)
    assert conf.read_text() == BASE
    assert predicted["changed"] is True
    real = run(openstack_config, dict(args), capsys, diff=True)
    assert real["changed"] is True
    assert predicted["diff"] == real["diff"]
    written = oslo_ini.parse(conf.read_text())
    assert real["diff"]["after"] == oslo_ini.mask_text(written, oslo_ini.DEFAULT_SECRET_OPTIONS)
    converged = run(openstack_config, dict(args), capsys, check=True)
    assert converged["changed"] is False


def test_secrets_masked_in_diff_and_result(conf, capsys):
    url = "mysql+pymysql://nova:%s@10.0.100.149/nova" % SECRET
    args = {"path": str(conf), "settings": {"database": {"connection": url},
                                            "keystone_authtoken": {"password": SECRET, "username": "nova"}}}
    result = run(openstack_config, args, capsys, diff=True)
    assert SECRET in conf.read_text()
    dumped = json.dumps(result)
    assert SECRET not in dumped and "sqlite:////old.db" not in dumped
    assert "connection = ******** (changed)" in result["diff"]["after"]
    assert "connection = ********\n" in result["diff"]["before"]
    assert "username = nova" in result["diff"]["after"]  # the rest of the diff stays visible
    assert result["changed_options"] == ["database.connection", "keystone_authtoken.password",
                                         "keystone_authtoken.username"]


def test_custom_secret_options(conf, capsys):
    args = {"path": str(conf), "secret_options": ["DEFAULT.debug"], "settings": {"DEFAULT": {"debug": "yes-sir"}}}
    result = run(openstack_config, args, capsys, diff=True)
    assert "yes-sir" not in json.dumps(result)
    assert "debug = ******** (changed)" in result["diff"]["after"]
    assert "connection = sqlite:////old.db" in result["diff"]["after"]  # not secret any more


def test_absent_and_exclusive(conf, capsys):
    conf.write_text("[DEFAULT]\nd = x\nd = y\nkeep = 1\n[vnc]\nenabled = True\n")
    result = run(openstack_config, {"path": str(conf), "state": "absent",
                                    "settings": {"DEFAULT": {"d": "x"}, "vnc": None}}, capsys)
    assert result["changed"] is True
    assert conf.read_text() == "[DEFAULT]\nd = y\nkeep = 1\n"
    result = run(openstack_config, {"path": str(conf), "exclusive": True,
                                    "settings": {"DEFAULT": {"keep": 1}}}, capsys)
    assert result["changed_options"] == ["DEFAULT.d"]
    assert conf.read_text() == "[DEFAULT]\nkeep = 1\n"


def test_backup_and_mode(conf, capsys):
    result = run(openstack_config, {"path": str(conf), "backup": True, "mode": "0640",
                                    "settings": {"DEFAULT": {"debug": True}}}, capsys)
    assert os.path.isfile(result["backup_file"])
    with open(result["backup_file"]) as handle:
        assert handle.read() == BASE
    assert oct(conf.stat().st_mode & 0o777) == "0o640"
    # A mode change alone is a change, and check mode predicts it.
    predicted = run(openstack_config, {"path": str(conf), "mode": "0600", "settings": {}}, capsys, check=True)
    assert predicted["changed"] is True and oct(conf.stat().st_mode & 0o777) == "0o640"


def test_symlink_is_followed(conf, capsys):
    link = conf.parent / "plugin.ini"
    link.symlink_to(conf.name)
    result = run(openstack_config, {"path": str(link), "settings": {"DEFAULT": {"debug": True}}}, capsys)
    assert result["changed"] is True
    assert link.is_symlink() and "debug = True" in conf.read_text()


def test_create(tmp_path, capsys):
    path = tmp_path / "new.conf"
    predicted = run(openstack_config, {"path": str(path), "settings": {"DEFAULT": {"a": 1}}}, capsys, check=True)
    assert predicted["changed"] is True and not path.exists()
    result = run(openstack_config, {"path": str(path), "settings": {"DEFAULT": {"a": 1}}}, capsys)
    assert result["changed"] is True and path.read_text() == "[DEFAULT]\na = 1\n"


@pytest.mark.parametrize("args, message", [
    ({"create": False, "settings": {"DEFAULT": {"a": 1}}}, "does not exist; create it first or set create=true"),
    ({"settings": {"DEFAULT": None}}, "settings.DEFAULT is null"),
    ({"settings": {"DEFAULT": "x"}}, "settings.DEFAULT must be a map of options"),
    ({"settings": {"DEFAULT": {"a": {"b": 1}}}}, "settings.DEFAULT.a: a value must be a scalar"),
    ({"settings": {"DEFAULT": {"a": [None]}}}, "settings.DEFAULT.a: a list item must not be null"),
    ({"settings": {"DEFAULT": {"a=b": 1}}}, "settings: option name 'a=b' in [DEFAULT]"),
    ({"settings": {"bad]": {"a": 1}}}, "settings: section name 'bad]'"),
])
def test_failures(tmp_path, capsys, args, message):
    args["path"] = str(tmp_path / "missing.conf")
    result = run(openstack_config, args, capsys)
    assert result["failed"] is True
    assert message in result["msg"]
    assert not (tmp_path / "missing.conf").exists()


@pytest.mark.parametrize("text, line, shown", [
    ("[DEFAULT]\na = 1\nthis is not an option\n", 3, "'this is not an option'"),
    ("[DEFAULT\n", 1, "closing ']'"),
    ("[DEFAULT]\nadmin_password %s\n" % SECRET, 2, "line not shown"),
    ("[DEFAULT]\na = caf\xe9\n".encode("latin-1"), 2, "not UTF-8"),
])
def test_unparsable_file_fails_naming_the_line_and_is_left_alone(tmp_path, capsys, text, line, shown):
    path = tmp_path / "bad.conf"
    data = text if isinstance(text, bytes) else text.encode("utf-8")
    path.write_bytes(data)
    result = run(openstack_config, {"path": str(path), "settings": {"DEFAULT": {"b": 2}}}, capsys)
    assert result["failed"] is True
    assert "line %d" % line in result["msg"] and shown in result["msg"]
    assert "nothing was changed" in result["msg"]
    assert SECRET not in result["msg"]
    assert path.read_bytes() == data


def test_info_reads_lists_and_masks(conf, capsys):
    conf.write_text(BASE + "[DEFAULT]\nnotification_driver = a\nnotification_driver = b\n")
    result = run(openstack_config_info, {"path": str(conf)}, capsys)
    assert result["changed"] is False and result["exists"] is True
    assert result["values"] == {"DEFAULT": {"debug": "false", "notification_driver": ["a", "b"]},
                                "database": {"connection": "********"}}
    result = run(openstack_config_info, {"path": str(conf), "select": {"DEFAULT": ["debug", "nope"],
                                                                       "database": None}}, capsys)
    assert result["values"] == {"DEFAULT": {"debug": "false", "nope": None}, "database": {"connection": "********"}}


def test_info_missing_file_and_bad_file(tmp_path, capsys):
    result = run(openstack_config_info, {"path": str(tmp_path / "none.conf")}, capsys)
    assert result["exists"] is False and result["values"] == {}
    (tmp_path / "bad.conf").write_text("[s]\nnope\n")
    result = run(openstack_config_info, {"path": str(tmp_path / "bad.conf")}, capsys)
    assert result["failed"] is True and "line 2" in result["msg"]
