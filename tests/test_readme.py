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

def test_ci_runs_the_readme_test_command():
    test_cmd = sh_blocks((ROOT/'README.md').read_text())[1].strip().split(' && ', 2)[2]
    ci = (ROOT/'.ci'/'run').read_text()
    for part in test_cmd.split(' && '):
        assert part.replace('.venv/bin/', '') in ci, f'.ci/run does not run {part!r}'
