# `keystone-manage bootstrap` with the admin's password read from standard input (issue 23).
#
# keystone-manage takes the bootstrap password only from --bootstrap-password or the environment
# variable OS_BOOTSTRAP_PASSWORD (keystone/cmd/cli.py, BootStrap.do_bootstrap). The option belongs to
# the `bootstrap` subcommand, which oslo.config parses from the command line alone: no
# --config-file can set it. Either way the password would sit where other users read it: the
# command line in /proc/<pid>/cmdline, or Ansible's `environment:`, which goes on the command line
# of the shell that starts the module.
#
# This runs keystone-manage's own entry point (keystone.cmd.cli.main, what /usr/bin/keystone-manage
# calls) in this interpreter with the password added to the argument list it parses: a Python list
# inside this process. /proc/<pid>/cmdline keeps the arguments the process was started with, and
# the environment is not touched.
#
# Usage (the role's task): python3 -I -c "<this file>" bootstrap --bootstrap-username admin ...
# with the password, and nothing else, on standard input.
import os
import sys

from keystone.cmd import cli

password = sys.stdin.read()
if not password:
    sys.exit("keystone bootstrap: no password on standard input")
if len(sys.argv) < 2 or sys.argv[1] != "bootstrap":
    sys.exit("keystone bootstrap: the arguments must be keystone-manage's, starting with bootstrap")
# keystone-manage prefers the environment variable to the option: no stray one may win.
os.environ.pop("OS_BOOTSTRAP_PASSWORD", None)
# --option=value: a password that starts with '-' is not taken for an option.
cli.main(argv=["keystone-manage"] + sys.argv[1:] + ["--bootstrap-password=" + password])
