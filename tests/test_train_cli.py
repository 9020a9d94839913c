"`clhoi train` on a small HOI World: a run killed after its first epoch and resumed ends with the uninterrupted run's weights."
import os, signal, subprocess, sys, time
from pathlib import Path

import pytest
import safetensors.torch

from cli_helpers import CLHOI, clhoi, one_line_error

SMALL = ['--n-train', 24, '--n-test', 8, '--epochs', 2, '--batch-size', 8, '--threads', 1, '--quiet']

def test_killed_and_resumed_equals_uninterrupted(tmp_path):
    whole, cut = tmp_path / 'whole', tmp_path / 'cut'
    r = clhoi('train', '--out', whole, *SMALL, timeout=900)
    assert r.returncode == 0, r.stderr
    assert 'HOI World test mAP' in r.stdout
    # the same run, killed once its first checkpoint is written
    p = subprocess.Popen([*CLHOI, 'train', '--out', str(cut), *map(str, SMALL)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 900
    while not (cut / 'epoch-1.safetensors').exists() and p.poll() is None and time.time() < deadline: time.sleep(0.05)
    p.send_signal(signal.SIGKILL); p.wait()
    assert (cut / 'epoch-1.safetensors').exists() and not (cut / 'student.safetensors').exists()
    one_line_error(clhoi('train', '--out', cut, *SMALL), 'already holds a run; pass --resume')
    r = clhoi('train', '--out', cut, *SMALL, '--resume', timeout=900)
    assert r.returncode == 0, r.stderr
    a = safetensors.torch.load_file(whole / 'student.safetensors')
    b = safetensors.torch.load_file(cut / 'student.safetensors')
    assert a.keys() == b.keys()
    assert all((a[k] == b[k]).all() for k in a)

def test_train_refuses_bad_options(tmp_path):
    one_line_error(clhoi('train', '--out', tmp_path / 'x', '--lr', '-1'), '--lr -1.0: must be above 0')
    one_line_error(clhoi('train', '--out', tmp_path / 'x', '--stages', 'most'), '--stages most')
    one_line_error(clhoi('train', '--out', tmp_path / 'x', '--dtype', 'fp8'), "dtype 'fp8': use float32, bfloat16")
    assert not (tmp_path / 'x').exists()
