"README.md opens with exactly two commands, and CI runs the second one."
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

def sh_blocks(text): return re.findall(r'```sh\n(.*?)```', text, re.S)

def test_readme_opens_with_two_commands():
    text = (ROOT/'README.md').read_text()
    head = text.split('\n## ', 2)[:2]           # the title part and the first section
    blocks = sh_blocks('\n## '.join(head))
    assert len(blocks) == 2, f'the README should open with exactly two commands, found {len(blocks)}'
    install = 'python3 -m venv .venv && .venv/bin/pip install -e ".[dev]" && '
    for b in blocks:
        assert b.count('\n') == 1 and b.startswith(install), f'one line that installs, then runs: {b!r}'

def test_ci_runs_the_readme_commands_as_written():
    "CI reads the two commands from README.md and runs them verbatim, with nothing put on PATH first."
    ci = (ROOT/'.ci'/'run').read_text()
    assert "open('README.md'" in ci and r"```sh\n(.*?)```" in ci
    assert 'bash -euo pipefail -c "${CMDS[0]}"' in ci and 'bash -euo pipefail -c "${CMDS[1]}"' in ci
    assert 'PATH=' not in ci and 'activate' not in ci, 'CI must not put the venv on PATH: the README does not'
