"""Run a command as the terminal's foreground job, so that Ctrl-C reaches it and not `make`.

`make run` ends by running supervisord in the foreground. Ctrl-C sends SIGINT to the
terminal's whole foreground process group: supervisord stops its programs cleanly, but make,
in the same group, dies of the signal too ("Interrupt", exit 130). Here the command gets a
process group of its own and the terminal's foreground; make waits for it and exits with its
status (0 after a clean Ctrl-C). Without a terminal (CI, a pipe) nothing changes but the exec.

A hangup or SIGTERM that reaches this launcher (the terminal closed, `kill` of make's group) is
passed on as SIGTERM, so the command never outlives the session that started it.

Usage: python deploy/foreground.py COMMAND [ARG ...]
"""

from __future__ import annotations

import os
import signal
import sys
from contextlib import suppress


def main(command: list[str]) -> int:
    try:
        terminal = os.open("/dev/tty", os.O_RDWR)
    except OSError:
        terminal = -1
    if terminal < 0 or os.tcgetpgrp(terminal) != os.getpgrp():
        # No terminal, or a background job: nothing to hand over.
        os.execvp(command[0], command)  # noqa: S606  # the caller's own command line
    child = os.fork()
    if child == 0:
        os.setpgid(0, 0)
        os.execvp(command[0], command)  # noqa: S606  # the caller's own command line
    with suppress(OSError):  # the child may have done it already
        os.setpgid(child, child)
    # Changing the foreground group from a background group sends SIGTTOU to the caller.
    signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    own_group = os.getpgrp()
    os.tcsetpgrp(terminal, child)

    def pass_on(signum: int, frame: object) -> None:
        with suppress(ProcessLookupError):
            os.kill(child, signal.SIGTERM)

    for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, pass_on)
    _, status = os.waitpid(child, 0)  # retried after a handled signal (PEP 475)
    with suppress(OSError):  # the terminal may be gone
        os.tcsetpgrp(terminal, own_group)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
