"""transport_url filter: oslo.messaging's own parser reads back what it builds."""
import importlib.util
import pathlib

import pytest
from ansible.errors import AnsibleFilterError

SPEC = importlib.util.spec_from_file_location(
    "transport_url", pathlib.Path(__file__).resolve().parents[4] / "plugins" / "filter" / "transport_url.py")
MODULE = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(MODULE)
transport_url = MODULE.transport_url


def test_one_host_default_vhost_is_the_guides_url():
    assert transport_url(["10.0.100.145"], "openstack", "s3cret") == "rabbit://openstack:s3cret@10.0.100.145:5672/"


def test_several_hosts_are_comma_separated_each_with_credentials():
    url = transport_url(["10.0.0.1", "10.0.0.2"], "openstack", "pw", port=5671, virtual_host="nova")
    assert url == "rabbit://openstack:pw@10.0.0.1:5671,openstack:pw@10.0.0.2:5671/nova"


def test_special_characters_are_encoded_and_ipv6_bracketed():
    url = transport_url(["fd00::1"], "open stack", "p@ss:w/o$rd%")
    assert url == "rabbit://open%20stack:p%40ss%3Aw%2Fo%24rd%25@[fd00::1]:5672/"


def test_urllib_reads_back_the_password():
    # oslo.messaging's TransportURL.parse splits with urllib.parse and unquotes the credentials.
    from urllib.parse import unquote, urlsplit
    password = "a@b:c/d$e%f"
    parts = urlsplit(transport_url(["10.0.0.1"], "openstack", password))
    assert (unquote(parts.username), unquote(parts.password), parts.hostname) == ("openstack", password, "10.0.0.1")


@pytest.mark.parametrize("hosts, user, message", [([], "openstack", "no RabbitMQ host"),
                                                   (["10.0.0.1"], "", "user is empty")])
def test_bad_input_fails_with_a_message(hosts, user, message):
    with pytest.raises(AnsibleFilterError, match=message):
        transport_url(hosts, user, "pw")
