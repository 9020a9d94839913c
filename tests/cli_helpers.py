"How the tests start the `clhoi` command: as the user's interpreter has it, never by a bare name on PATH."
import subprocess, sys

# `python -m clhoi` with the interpreter running the tests: the README's `.venv/bin/python -m pytest` works
# without the venv on PATH (a bare `clhoi` would find nothing, or another install).
CLHOI = [sys.executable, '-m', 'clhoi']

def clhoi(*args, timeout:float=300, **kw) -> subprocess.CompletedProcess:
    "Run `clhoi ARGS...` and capture its output as text."
    return subprocess.run([*CLHOI, *map(str, args)], capture_output=True, text=True, timeout=timeout, **kw)

def one_line_error(r:subprocess.CompletedProcess, contains:str|None=None) -> str:
    "Assert a user error: exit code 2, exactly one line on stderr, no traceback; return the line."
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert 'Traceback' not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    if contains is not None: assert contains in lines[0], (contains, lines[0])
    return lines[0]
