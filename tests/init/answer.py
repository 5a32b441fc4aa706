#!/usr/bin/env python3
"""Answers a program's questions on a pseudo-terminal, as a person at the keyboard would.

answer.py STEPS_JSON PROGRAM ARGS...: STEPS_JSON is a list of [prompt, answer]. For each step it
reads the terminal until `prompt` appears in what came after the previous step's prompt (so a
question asked again is seen again), then types `answer` and Enter; an answer of null is Ctrl-D.
Prints one JSON object: the whole transcript (prompts, echoed answers, messages, all as the
terminal showed them) and the exit code; "stuck" names a prompt that never came.
"""
import json
import os
import pty
import select
import sys
import time

TIMEOUT = 20.0


def main():
    steps = json.loads(sys.argv[1])
    program = sys.argv[2:]
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(program[0], program)
    seen = b""
    mark = 0
    stuck = None

    def read(deadline):
        nonlocal seen
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return False
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the program closed the terminal
            return None
        if not chunk:
            return None
        seen += chunk
        return True

    for prompt, answer in steps:
        wanted = prompt.encode()
        deadline = time.monotonic() + TIMEOUT
        while wanted not in seen[mark:]:
            if time.monotonic() > deadline or read(deadline) is None:
                stuck = prompt
                break
        if stuck is not None:
            break
        mark = seen.index(wanted, mark) + len(wanted)
        # A person reads the question before typing: only after it is on the screen.
        os.write(fd, b"\x04" if answer is None else answer.encode() + b"\r")
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if read(deadline) is None:
            break
    else:
        os.kill(pid, 9)
        stuck = stuck or "(the end: it did not exit)"
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    transcript = seen.decode("utf-8", "replace").replace("\r\n", "\n")
    print(json.dumps({"transcript": transcript, "code": code, "stuck": stuck}))


main()
