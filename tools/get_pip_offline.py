"""Stand-in for ansible-test's get-pip bootstrap script.

ansible-test downloads get-pip.py from ci-files.testing.ansible.com, which this workplace cannot
reach. It runs the cached script as __main__ inside a fresh venv with pip's own arguments (e.g.
``pip==24.2 --no-setuptools``). We get the same result with the standard library: ensurepip puts
the pip bundled with Python into the venv, then that pip installs the requested packages from PyPI.
"""
import ensurepip
import os
import runpy
import sys

# ensurepip blanks pip's configuration in os.environ (PIP_CONFIG_FILE=/dev/null) while it works;
# the real install below must see the machine's pip.conf again (index mirror, CA bundle).
saved_environ = dict(os.environ)
ensurepip.bootstrap(upgrade=True)
os.environ.clear()
os.environ.update(saved_environ)
# get-pip.py's own switches; plain pip does not know them (and installs neither anyway).
args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
sys.argv = ["pip", "install"] + args
runpy.run_module("pip", run_name="__main__", alter_sys=True)
