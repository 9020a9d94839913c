"""The real-scale path end to end, offline: a miniature HICO-DET release in the real layout and tiny random
checkpoints in the hub layouts (InstructBLIP, DETR, open_clip), through `clhoi teach` -> `clhoi train` ->
`clhoi predict` -> `clhoi evaluate`, as a user runs them. The numbers mean nothing; the test proves the path runs,
each file it writes is valid, the score agrees with an independent evaluator, and a wrong setup fails in one line."""
import json, shutil

import pytest

from cli_helpers import clhoi, one_line_error
from reference_hico import ref_evaluate
from clhoi.label_cache import read_labels
from clhoi.labels import hico_det

TINY_CLIP = dict(embed_dim=32, vision_cfg=dict(image_size=64, patch_size=16, width=64, layers=1, head_width=32),
                 text_cfg=dict(context_length=32, vocab_size=49408, width=32, heads=1, layers=1))

@pytest.fixture(scope='module')
def setup(tmp_path_factory):
    "A miniature release (8 train, 4 test images), tiny checkpoints, and train labels written from its ground truth."
    from clhoi.encoders import random_clip
    from clhoi.frontend import random_detr
    from clhoi.real_scale import gt_label_cache, mini_release
    from clhoi.teacher import build_tiny_teacher
    d = tmp_path_factory.mktemp('real')
    root = mini_release(d / 'hico_20160224_det', n_train=8, n_test=4)
    ckpt = dict(detector=random_detr(d / 'detr', person_bias=8), clip=random_clip('custom', d / 'clip', TINY_CLIP),
                teacher=build_tiny_teacher(d / 'instructblip'))
    # The tiny teacher's captions are random words: labels that name actions come from the ground truth.
    gt_label_cache(root, d / 'labels.jsonl')
    return d, root, ckpt

def half_cache(labels, out):
    "A second label source unlike the first: the records of `labels`, every other image's pairs dropped (not captions)."
    from clhoi.label_cache import LabelCache, make_record
    if not out.exists():
        settings = {'teacher': 'ground-truth, half the pairs'}
        cache = LabelCache(out, for_writing=True).start(settings)
        records = read_labels(labels, keep_no_action=True)
        raw = [''.join(f'<{v}, {o}>' for v, o in r['pairs']) if i % 2 == 0 else '' for i, r in enumerate(records)]
        cache.append([make_record(r['file_name'], r['caption'], a, settings) for r, a in zip(records, raw)])
    return out

def train_args(d, root, ckpt, out, *extra):
    return ('train', '--dataset', 'hico-det', '--root', root, '--labels', d / 'labels.jsonl',
            '--detector', ckpt['detector'], '--clip', f"local-dir:{d / 'clip'}", '--qformer', ckpt['teacher'],
            '--epochs', 1, '--batch-size', 4, '--threads', 1, '--device', 'cpu', '--quiet', '--out', out, *extra)

def test_teach_train_predict_evaluate(setup):
    d, root, ckpt = setup
    # teach: the tiny InstructBLIP over the release's train split, into a label cache
    r = clhoi('teach', '--dataset', 'hico-det', '--root', root, '--split', 'train', '--teacher', ckpt['teacher'],
              '--out', d / 'taught.jsonl', '--batch-size', 4, '--max-new-tokens', 8, '--device', 'cpu', '--quiet',
              '--num-workers', 2, timeout=600)
    assert r.returncode == 0, r.stderr
    lines = (d / 'taught.jsonl').read_text().splitlines()
    assert len(lines) == 1 + 8, lines[:2]                                   # a header, then one record per image
    names = sorted(json.loads(l)['file_name'] for l in lines[1:])
    assert names == [f'HICO_train2015_{i:08d}.jpg' for i in range(1, 9)]
    # train: one epoch, two steps of 4 images, on the DETR + CLIP + Q-Former folders, in mixed precision
    r = clhoi(*train_args(d, root, ckpt, d / 'run', '--dtype', 'bfloat16', '--num-workers', 2), timeout=900)
    assert r.returncode == 0, r.stderr
    assert '1 epoch, final loss' in r.stdout and 'score it with clhoi predict' in r.stdout, r.stdout
    assert (d / 'run' / 'student.safetensors').is_file() and (d / 'run' / 'epoch-1.safetensors').is_file()
    # predict: the test split's images, with the saved student alone (it names its checkpoints)
    r = clhoi('predict', '--checkpoint', d / 'run' / 'student.safetensors', '--images', root / 'images' / 'test2015',
              '--out', d / 'preds.json', '--device', 'cpu', '--quiet', timeout=600)
    assert r.returncode == 0, r.stderr
    preds = json.loads((d / 'preds.json').read_text())
    assert [p['file_name'] for p in preds] == [f'HICO_test2015_{i:08d}.jpg' for i in range(1, 5)]
    # images decoded ahead on two threads (--num-workers): the same predictions, byte for byte
    r = clhoi('predict', '--checkpoint', d / 'run' / 'student.safetensors', '--images', root / 'images' / 'test2015',
              '--out', d / 'preds-2.json', '--device', 'cpu', '--quiet', '--num-workers', 2,
              timeout=600)
    assert r.returncode == 0, r.stderr
    assert (d / 'preds-2.json').read_bytes() == (d / 'preds.json').read_bytes()
    assert all(0 < len(p['hoi_prediction']) <= 100 for p in preds)
    # evaluate: the official protocol, and an independent implementation of it, agree
    r = clhoi('evaluate', '--dataset', 'hico-det', '--gt', root / 'annotations' / 'test_hico.json',
              '--pred', d / 'preds.json', '--json')
    assert r.returncode == 0, r.stderr
    ours = json.loads(r.stdout)
    ref = ref_evaluate(json.loads((root / 'annotations' / 'test_hico.json').read_text()), preds)
    for key in ('full', 'rare', 'non_rare'):
        if ours[key] is None: assert ref[key] != ref[key], key                  # NaN: no ground truth in that split
        else: assert abs(ours[key] / 100 - ref[key]) < 1e-6, (key, ours[key], ref[key])
    # predict --root: the images the test annotation file lists, which need not be the whole folder (HICO-DET's
    # test_hico.json may leave out images without pairs); here a copy of the release whose file lists three of four
    part = d / 'three'
    shutil.copytree(root, part)
    gt = json.loads((root / 'annotations' / 'test_hico.json').read_text())
    (part / 'annotations' / 'test_hico.json').write_text(json.dumps(gt[:3]))
    r = clhoi('predict', '--checkpoint', d / 'run' / 'student.safetensors', '--root', part, '--out', d / 'preds-3.json',
              '--device', 'cpu', '--quiet', timeout=600)
    assert r.returncode == 0, r.stderr
    assert [p['file_name'] for p in json.loads((d / 'preds-3.json').read_text())] == [g['file_name'] for g in gt[:3]]
    evaluate = ('evaluate', '--dataset', 'hico-det', '--gt', part / 'annotations' / 'test_hico.json', '--pred')
    assert clhoi(*evaluate, d / 'preds-3.json').returncode == 0
    one_line_error(clhoi(*evaluate, d / 'preds.json'), '1 image(s) are not in')     # the whole folder's predictions

def test_a_wrong_root_names_the_missing_file_and_its_source(setup, tmp_path):
    d, root, ckpt = setup
    (tmp_path / 'images' / 'train2015').mkdir(parents=True)
    one_line_error(clhoi(*train_args(d, tmp_path, ckpt, tmp_path / 'run')),
                   f"{tmp_path}/annotations/trainval_hico.json is missing (the QPIC-style training annotations; "
                   "from the annotation files linked from the README of github.com/hitachi-rd-cv/qpic)")
    one_line_error(clhoi('teach', '--dataset', 'hico-det', '--root', tmp_path / 'nowhere', '--teacher',
                         ckpt['teacher'], '--out', tmp_path / 'l.jsonl'), 'not a folder')

def test_a_checkpoint_folder_of_the_wrong_kind_says_what_it_holds(setup, tmp_path):
    d, root, ckpt = setup
    clip = f"local-dir:{d / 'clip'}"
    as_detr = [a if a != ckpt['detector'] else d / 'clip' for a in train_args(d, root, ckpt, tmp_path / 'a')]
    one_line_error(clhoi(*as_detr), "this folder holds a 'open_clip' checkpoint, not DETR detector")
    as_clip = [a if a != clip else f"local-dir:{ckpt['detector']}" for a in train_args(d, root, ckpt, tmp_path / 'b')]
    one_line_error(clhoi(*as_clip), "this folder holds a 'detr' checkpoint, not CLIP")
    as_qformer = [a if a != ckpt['teacher'] else ckpt['detector'] for a in train_args(d, root, ckpt, tmp_path / 'c')]
    one_line_error(clhoi(*as_qformer), "this folder holds a 'detr' checkpoint, not BLIP-2 Q-Former")
    one_line_error(clhoi('teach', '--dataset', 'hico-det', '--root', root, '--teacher', ckpt['detector'],
                         '--out', tmp_path / 'l.jsonl'), "model_type 'detr' is neither InstructBLIP nor BLIP-2")

def test_cuda_without_a_gpu_says_so(setup, tmp_path):
    import torch
    if torch.cuda.is_available(): pytest.skip('this machine has a GPU')
    d, root, ckpt = setup
    args = [a if a != 'cpu' else 'cuda' for a in train_args(d, root, ckpt, tmp_path / 'run')]
    one_line_error(clhoi(*args), "torch sees no CUDA GPU here")

def release_params(d, root, ckpt) -> list[str]:
    "Papermill parameters that point a reproduction notebook at the miniature release and its tiny checkpoints."
    return ['-p', 'dataset', 'hico-det', '-p', 'root', str(root), '-p', 'labels', str(d / 'labels.jsonl'),
            '-p', 'detector', str(ckpt['detector']), '-p', 'clip', f"local-dir:{d / 'clip'}",
            '-p', 'qformer', str(ckpt['teacher']), '-p', 'device', 'cpu', '-y', 'seeds: [0]', '-p', 'epochs', '1',
            '-p', 'batch_size', '4']

def fulls(runs) -> list[float]:
    "Every 'full' mAP in a notebook's `runs`, however they nest (by setting, by seed, by evaluation setting)."
    if isinstance(runs, dict): return ([runs['full']] if isinstance(runs.get('full'), float)
                                       else [v for x in runs.values() for v in fulls(x)])
    return [v for x in runs for v in fulls(x)] if isinstance(runs, list) else []

@pytest.mark.parametrize('nb, extra, runs, reading', [
    ('ablation_chain', [], ['none', 'spatial', 'spatial+visual', 'all'], 'hico-det, gain of each added cognition'),
    ('ablation_losses', [], ['sr', 'sr+ctx', 'sr+ctx+i2t', 'sr+ctx+t2i', 'all'], 'hico-det orders the settings'),
    ('main_results', [], ['vllm', 'full'], 'without annotation the hico-det student reaches'),
    ('ablation_init', [], None, 'training multiplies hico-det mAP by'),
    ('weak_captions', ['captions'], ['CL-HOI, teacher captions', 'CL-HOI, COCO captions'], 'hico-det: '),
    ('ablation_teacher', ['teachers'], ['BLIP-2', 'InstructBLIP'], 'InstructBLIP over BLIP-2: hico-det'),
    ('label_quality', ['teachers'], None, 'ground truth has'),
    ('qualitative', ['-p', 'n_show', '2', '-p', 'n_attention', '2'], ['baseline', 'CL-HOI'], 'CL-HOI right on'),
])
def test_reproduction_notebook_runs_on_a_release(setup, tmp_path, nb, extra, runs, reading):
    "A reproduction notebook with dataset='hico-det': the release's labels, checkpoints and test split."
    from test_reproduction import papermill
    d, root, ckpt = setup
    # Ground-truth label caches stand in for the label sources (the tiny teacher's captions name no action): all the
    # pairs for one source, every other image's for the other, so that a notebook mixing them up shows.
    gt, half = str(d / 'labels.jsonl'), str(half_cache(d / 'labels.jsonl', d / 'half.jsonl'))
    more = {'captions': ['-p', 'captions', half],
            'teachers': ['-y', f"teachers: {{BLIP-2: {half}, InstructBLIP: {gt}}}"]}
    params = [x for e in extra for x in more.get(e, [e])]
    kept = {p: len(read_labels(p)) for p in (gt, half)}        # images whose labels name an action (A.2)
    assert kept[half] < kept[gt], kept
    res, text = papermill(nb, tmp_path, release_params(d, root, ckpt) + params)
    if nb == 'label_quality':                    # no model: the teachers' labels against the release's annotations
        assert res['dataset'] == 'hico-det' and res['bench'] == 'hico-det at hico_20160224_det, train split (8)'
        pairs = [len(r['pairs']) for r in read_labels(gt, keep_no_action=True)]
        expect = {'InstructBLIP': 1.0, 'BLIP-2': sum(pairs[::2]) / sum(pairs)}     # every other image's pairs
        assert expect['BLIP-2'] < 1, pairs
        for name, q in res['labels'].items():
            assert (q['images'], q['precision'], q['recall']) == (8, 1.0, expect[name]), (name, q)
            n = kept[half if name == 'BLIP-2' else gt]
            assert (q['kept'], q['dropped']) == (n, 8 - n), (name, q)
        assert set(res['verbs']) <= set(hico_det().verbs), res['verbs']
        return
    last = half if nb == 'weak_captions' else gt                # the bench of the last source trained is shown
    assert res['dataset'] == 'hico-det', res['dataset']
    assert res['bench'] == f'hico-det at hico_20160224_det ({kept[last]} train images)', res['bench']
    assert 'hico-det mAP (%), measured' in res['shown']['columns'], res['shown']['columns']
    if runs is not None: assert list(res['runs']) == runs
    scores = fulls(res['runs']) + fulls(res.get('supervised', []))
    assert scores and all(0 <= v <= 100 for v in scores), scores
    assert reading in text
    assert 'World' not in ' '.join(map(str, res['shown']['columns'] + res['readings']))

@pytest.mark.parametrize('nb', ['label_quality', 'ablation_chain'])
def test_a_release_root_without_its_dataset_is_refused(setup, tmp_path, nb):
    "`-p root R` without `-p dataset hico-det`: the notebook stops in one line, not quietly running the World."
    import subprocess, sys
    from test_reproduction import ROOT
    d, root, _ = setup
    r = subprocess.run([sys.executable, '-m', 'papermill', f'nbs/{nb}.ipynb', str(tmp_path / 'out.ipynb'),
                        '-p', 'root', str(root), '-p', 'out', str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode != 0, r.stderr[-2000:]
    assert f"root={str(root)!r} is given but dataset='world'" in r.stderr, r.stderr[-2000:]
    assert not (tmp_path / 'results.json').exists()

# A script that runs `clhoi` with one function made to fail as a GPU does when its memory is full, on its Nth call.
OOM = """
import os, sys
os.environ['HF_HUB_DISABLE_PROGRESS_BARS'] = '1'   # what clhoi's --quiet sets, before this script imports transformers
import importlib, torch
module, name, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
owner, _, attr = name.rpartition('.')
target = importlib.import_module(module)
holder = getattr(target, owner) if owner else target
real, calls = getattr(holder, attr), [0]
def failing(*args, **kw):
    calls[0] += 1
    if calls[0] == n: raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 20.00 GiB')
    return real(*args, **kw)
setattr(holder, attr, failing)
from clhoi.cli import main
sys.exit(main(sys.argv[4:]))
"""

def with_oom(module, name, n, *args):
    import subprocess, sys
    return subprocess.run([sys.executable, '-c', OOM, module, name, str(n), *map(str, args)],
                          capture_output=True, text=True, timeout=600)

def test_out_of_memory_while_teaching_names_the_option_and_resumes(setup, tmp_path):
    d, root, ckpt = setup
    out = tmp_path / 'taught.jsonl'
    args = ['teach', '--dataset', 'hico-det', '--root', root, '--teacher', ckpt['teacher'], '--out', out,
            '--max-new-tokens', 4, '--device', 'cpu', '--quiet']
    r = with_oom('clhoi.teacher', 'HFTeacher.caption', 2, *args, '--batch-size', 4)   # the second batch fails
    line = one_line_error(r, 'out of memory teaching batches of 4 images (CUDA out of memory. Tried to allocate')
    assert f"run the same command with a lower --batch-size (e.g. 2): it resumes after the images in {out}" in line
    first = out.read_text().splitlines()
    assert len(first) == 1 + 4                                      # the header and the first batch, kept
    r = clhoi(*args, '--batch-size', 2, timeout=600)
    assert r.returncode == 0, r.stderr
    whole = out.read_text().splitlines()
    assert whole[:5] == first and len(whole) == 1 + 8               # resumed after them: nothing taught twice

def test_out_of_memory_while_training_names_the_option_and_resumes(setup, tmp_path):
    d, root, ckpt = setup
    args = train_args(d, root, ckpt, tmp_path / 'run', '--epochs', 2)
    r = with_oom('clhoi.train', '_run_epoch', 2, *args)                                  # the second epoch fails
    line = one_line_error(r, 'out of memory training on batches of 4 images')
    assert 'lower --batch-size in a new --out' in line
    assert "--resume (and --dtype bfloat16, which halves the activations) continues after the last epoch" in line
    run = tmp_path / 'run'
    assert (run / 'epoch-1.safetensors').is_file() and not (run / 'epoch-2.safetensors').exists()
    r = clhoi(*args, '--resume', '--dtype', 'bfloat16', timeout=900)                # as the message suggests
    assert r.returncode == 0, r.stderr
    assert '2 epochs' in r.stdout and (tmp_path / 'run' / 'student.safetensors').is_file()

def test_vcoco_teach_train_predict_evaluate(setup, tmp_path):
    "The same path on a miniature V-COCO release: QPIC's 29 verbs, agent-only actions, role AP."
    from clhoi.real_scale import gt_label_cache, mini_release
    d, _, ckpt = setup
    root = mini_release(tmp_path / 'v-coco', 'v-coco', n_train=6, n_test=3)
    r = clhoi('teach', '--dataset', 'v-coco', '--root', root, '--teacher', ckpt['teacher'], '--out',
              tmp_path / 'taught.jsonl', '--max-new-tokens', 4, '--device', 'cpu', '--quiet', timeout=600)
    assert r.returncode == 0, r.stderr
    assert len((tmp_path / 'taught.jsonl').read_text().splitlines()) == 1 + 6
    gt_label_cache(root, tmp_path / 'labels.jsonl', 'v-coco')
    args = [a if a != d / 'labels.jsonl' else tmp_path / 'labels.jsonl'
            for a in train_args(d, root, ckpt, tmp_path / 'run')]
    args[args.index('hico-det')] = 'v-coco'
    r = clhoi(*args, timeout=900)
    assert r.returncode == 0, r.stderr
    assert 'clhoi evaluate --dataset v-coco' in r.stdout, r.stdout
    r = clhoi('predict', '--checkpoint', tmp_path / 'run' / 'student.safetensors', '--dataset', 'v-coco',
              '--images', root / 'images' / 'val2014', '--out', tmp_path / 'preds.json', '--device', 'cpu', '--quiet',
              timeout=600)
    assert r.returncode == 0, r.stderr
    preds = json.loads((tmp_path / 'preds.json').read_text())
    assert [p['file_name'] for p in preds] == [f'COCO_val2014_{i:012d}.jpg' for i in range(1, 4)]
    assert any(h['object_id'] == -1 for p in preds for h in p['hoi_prediction'])      # agent-only actions
    r = clhoi('evaluate', '--dataset', 'v-coco', '--gt', root / 'annotations' / 'test_vcoco.json',
              '--pred', tmp_path / 'preds.json', '--json')
    assert r.returncode == 0, r.stderr
    res = json.loads(r.stdout)
    assert {'role_ap_s1', 'role_ap_s2', 'agent_ap'} <= set(res)
    assert all(v is None or 0 <= v <= 100 for k, v in res.items() if k.startswith(('role_ap', 'agent')))
