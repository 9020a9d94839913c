"""Two gloo processes under torchrun train the student like one process trained on the same global batches, and
teach like one process teaching every image."""
import json, subprocess, sys
from pathlib import Path

import pytest
import safetensors.torch
import torch

from cli_helpers import CLHOI


HERE = Path(__file__).resolve().parent
TORCHRUN = [sys.executable, '-m', 'torch.distributed.run', '--standalone']

def job(out:Path, processes:int) -> None:
    r = subprocess.run([*TORCHRUN, '--nproc_per_node', str(processes), str(HERE / 'distributed_worker.py'), str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]

@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    one, two = tmp_path_factory.mktemp('one'), tmp_path_factory.mktemp('two')
    job(one, 1); job(two, 2)
    return one, two

def test_both_ranks_end_with_the_same_weights(runs):
    _, two = runs
    a = safetensors.torch.load_file(two / 'world2-rank0.safetensors')
    b = safetensors.torch.load_file(two / 'world2-rank1.safetensors')
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), 'the ranks drifted apart'

def test_two_processes_equal_one_on_the_same_global_batches(runs):
    one, two = runs
    single = safetensors.torch.load_file(one / 'world1-rank0.safetensors')
    double = safetensors.torch.load_file(two / 'world2-rank0.safetensors')
    with torch.random.fork_rng():                      # the initial weights, as the worker seeds rank 0
        from clhoi.core import seeded
        from clhoi.icn import IcnConfig
        from clhoi.model import Student, StudentConfig
        from clhoi.vlt import VltConfig
        with seeded(10): init = Student(StudentConfig(icn=IcnConfig(dropout=0.0), vlt=VltConfig(dropout=0.0)))
    init = init.state_dict()
    moved = max((single[k] - init[k]).abs().max().item() for k in single)
    apart = max((single[k] - double[k]).abs().max().item() for k in single)
    assert moved > 1e-4, 'training did not move the weights: nothing compared'
    assert apart < 1e-5, (apart, moved)
    h1 = json.loads((one / 'world1-rank0.json').read_text())['history']
    h2 = json.loads((two / 'world2-rank0.json').read_text())['history']
    for e1, e2 in zip(h1, h2, strict=True):
        for k in e1: assert e2[k] == pytest.approx(e1[k], rel=1e-5, abs=1e-7), k

def test_only_rank0_writes_checkpoints(runs):
    _, two = runs
    assert sorted(p.name for p in (two / 'checkpoints').iterdir()) == ['epoch-1.safetensors', 'epoch-2.safetensors']
    saved = safetensors.torch.load_file(two / 'checkpoints' / 'epoch-2.safetensors')
    final = safetensors.torch.load_file(two / 'world2-rank0.safetensors')
    assert all(torch.equal(saved[f'student.{k}'], final[k]) for k in final if f'student.{k}' in saved)

def test_clhoi_train_under_torchrun(tmp_path):
    r = subprocess.run([*TORCHRUN, '--nproc_per_node', '2', '-m', 'clhoi', 'train', '--out', str(tmp_path / 'run'),
                        '--n-train', '24', '--n-test', '8', '--epochs', '1', '--batch-size', '8', '--threads', '1',
                        '--quiet'], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count('HOI World test mAP') == 1, r.stdout          # one score line: rank 0's
    assert sorted(p.name for p in (tmp_path / 'run').iterdir()) == ['epoch-1.safetensors', 'student.safetensors']

def test_clhoi_teach_under_torchrun_equals_one_process(tmp_path):
    "Each rank teaches its shard into its part; rank 0 merges them into the cache one process would have written."
    world = ['--dataset', 'world', '--root', str(tmp_path / 'world'), '--teacher', 'world-captions', '--quiet']
    made = subprocess.run([*CLHOI, 'world', '--out', str(tmp_path / 'world'), '--n-train', '24', '--n-test', '8',
                           '--n-pretrain', '0', '--quiet'], capture_output=True, text=True, timeout=600)
    assert made.returncode == 0, made.stderr
    one = subprocess.run([*CLHOI, 'teach', *world, '--out', str(tmp_path / 'one.jsonl')], capture_output=True,
                         text=True, timeout=600)
    assert one.returncode == 0, one.stderr
    r = subprocess.run([*TORCHRUN, '--nproc_per_node', '2', '-m', 'clhoi', 'teach', *world,
                        '--out', str(tmp_path / 'two.jsonl')], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    assert 'two.jsonl: 24 images, merged from the 2 parts' in r.stdout, r.stdout
    assert (tmp_path / 'two.jsonl').read_bytes() == (tmp_path / 'one.jsonl').read_bytes()
    assert {p.name for p in tmp_path.glob('two.jsonl.part*')} == {'two.jsonl.part0-of-2', 'two.jsonl.part1-of-2'}
    again = subprocess.run([*TORCHRUN, '--nproc_per_node', '2', '-m', 'clhoi', 'teach', *world,
                            '--out', str(tmp_path / 'two.jsonl'), '--shard', '1/2'], capture_output=True, text=True,
                           timeout=600)
    assert again.returncode != 0 and 'under torchrun each process teaches its own' in again.stderr
    # the same job again: the merged cache is whole, nothing is taught or rewritten
    before = (tmp_path / 'two.jsonl').read_bytes()
    rerun = subprocess.run([*TORCHRUN, '--nproc_per_node', '2', '-m', 'clhoi', 'teach', *world,
                            '--out', str(tmp_path / 'two.jsonl')], capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0 and 'two.jsonl: complete already' in rerun.stdout, rerun.stderr[-3000:]
    assert (tmp_path / 'two.jsonl').read_bytes() == before
    # an unfinished one-process cache is not torchrun's to merge into: refused, untouched
    cut = subprocess.run([*CLHOI, 'teach', *world, '--out', str(tmp_path / 'cut.jsonl'), '--limit', '5'],
                         capture_output=True, text=True, timeout=600)
    assert cut.returncode == 0, cut.stderr
    before = (tmp_path / 'cut.jsonl').read_bytes()
    mixed = subprocess.run([*TORCHRUN, '--nproc_per_node', '2', '-m', 'clhoi', 'teach', *world,
                            '--out', str(tmp_path / 'cut.jsonl')], capture_output=True, text=True, timeout=600)
    assert mixed.returncode != 0 and 'unfinished cache from a run without torchrun' in mixed.stderr, mixed.stderr
    assert (tmp_path / 'cut.jsonl').read_bytes() == before and not list(tmp_path.glob('cut.jsonl.part*'))
