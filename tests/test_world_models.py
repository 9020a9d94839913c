"""World models outside the notebook: loading by name, the one-line missing-weights error, open_clip's local-dir
round trip, a training step that learns, and (when the weights are shipped) the card matching the weights."""
import math, os, subprocess, sys

import numpy as np
import pytest
import torch

from clhoi.core import ClhoiError, seeded
from clhoi.world_models import WORLD_MODELS, WORLD_MODELS_ENV, read_card, world_model_dir, write_card
from clhoi.world_clip import (WEIGHTS, WORLD_CLIP_CONFIG, WorldClipTraining, _optimizer, _step, load_world_clip,
                              save_world_clip)

TINY = dict(embed_dim=32, vision_cfg=dict(image_size=32, patch_size=16, width=64, layers=1, head_width=32,
                                          no_ln_pre=True),
            text_cfg=dict(context_length=32, vocab_size=49408, width=32, heads=1, layers=1))

def tiny_clip(seed=0):
    "A random tiny CLIP whose weights are exactly representable in fp16 (what save_world_clip stores)."
    import open_clip
    with seeded(seed): model = open_clip.CLIP(**TINY)
    return model.half().float().eval()

@pytest.fixture
def models_root(tmp_path, monkeypatch):
    "An empty stand-in for clhoi/assets as the home of the World models."
    monkeypatch.setenv(WORLD_MODELS_ENV, str(tmp_path))
    return tmp_path

def test_missing_weights_is_one_line_naming_the_notebook(models_root):
    for call in (lambda: world_model_dir('world-clip'), lambda: load_world_clip('world-clip'),
                 lambda: read_card('world-clip')):
        with pytest.raises(ClhoiError) as e: call()
        msg = str(e.value)
        assert '\n' not in msg and str(models_root / 'world-clip' / WEIGHTS) in msg, msg
        assert 'nbs/04a_world_clip.ipynb (parameter retrain=True)' in msg, msg

def test_unknown_name_lists_the_known_ones(models_root):
    with pytest.raises(ClhoiError, match="unknown World model 'clip'; the shipped ones are "
                                         "world-blip2, world-clip, world-instructblip, world-student$"):
        world_model_dir('clip')

def test_local_dir_round_trip_gives_identical_outputs(tmp_path):
    model = tiny_clip()
    save_world_clip(model, tmp_path, TINY)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['open_clip_config.json', WEIGHTS]
    back, preprocess, tokenizer = load_world_clip(str(tmp_path))
    g = torch.Generator().manual_seed(0)
    images, tokens = torch.randn(3, 3, 32, 32, generator=g), tokenizer(['a person rides a horse', 'a cup'])
    with torch.no_grad():
        assert torch.equal(back.encode_image(images), model.encode_image(images))
        assert torch.equal(back.encode_text(tokens), model.encode_text(tokens))
    assert tokens.shape == (2, 32) and preprocess.transforms[0].size == 32

def test_loading_by_name_reads_the_models_folder(models_root):
    model = tiny_clip(seed=1)
    save_world_clip(model, models_root / 'world-clip', TINY)
    write_card(models_root / 'world-clip', {'seed': 1}, WEIGHTS)
    back, _, _ = load_world_clip('world-clip')
    assert torch.equal(back.visual.conv1.weight, model.visual.conv1.weight)
    assert read_card('world-clip')['seed'] == 1

def test_a_training_step_reduces_the_loss_on_a_toy_batch():
    torch.manual_seed(0)
    model = tiny_clip().train()
    opt = _optimizer(model, WorldClipTraining(lr=1e-3, warmup=1))
    assert opt.param_groups[2]['params'] == [model.logit_scale] and opt.param_groups[2]['weight_decay'] == 0
    pixels = torch.randint(0, 256, (4, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    import open_clip
    tokens = open_clip.SimpleTokenizer(context_length=32)(['a cup', 'a kite', 'a horse', 'a book'])
    positives = torch.eye(4, dtype=torch.bool)
    losses = [_step(model, opt, pixels, tokens, positives) for _ in range(6)]
    assert losses[0] > math.log(4) - 0.5                     # starts near chance: log(batch size)
    assert losses[-1] < losses[0] - 0.2, losses

def test_the_shipped_clip_follows_the_port_constraints_and_its_card():
    "Skipped unless the weights are shipped: the card's hash matches, and the tower is what the teachers port."
    try: folder = world_model_dir('world-clip')
    except ClhoiError: pytest.skip('World CLIP weights are not shipped in this checkout')
    card = read_card('world-clip')                      # checks the sha256 against the weights file
    assert card['architecture'] == WORLD_CLIP_CONFIG
    model, _, _ = load_world_clip()
    assert model.visual.conv1.bias is None and type(model.visual.ln_pre).__name__ == 'Identity'
    assert (folder / WEIGHTS).stat().st_size < 25e6

TEACHERS = ('world-instructblip', 'world-blip2')

def test_a_missing_world_teacher_is_one_line_naming_the_notebook(models_root):
    from clhoi.teacher import make_teacher, resolve_teacher
    for name in TEACHERS:
        for call in (lambda: resolve_teacher(name), lambda: make_teacher(name)):
            with pytest.raises(ClhoiError) as e: call()
            msg = str(e.value)
            assert '\n' not in msg and str(models_root / name / 'model.safetensors') in msg, msg
            assert 'nbs/10e_world_teacher.ipynb (parameter retrain=True)' in msg, msg

def test_a_missing_world_teacher_stops_clhoi_teach_with_exit_2(models_root, tmp_path):
    from cli_helpers import clhoi, one_line_error
    out = tmp_path / 'labels.jsonl'
    r = clhoi('teach', '--teacher', 'world-instructblip', '--out', out, env={**os.environ})
    one_line_error(r, 'nbs/10e_world_teacher.ipynb')
    assert not out.exists()

@pytest.mark.parametrize('name', TEACHERS)
def test_a_shipped_world_teacher_loads_offline_by_name_and_matches_its_card(name, tmp_path):
    "Skipped unless shipped: the card's hash matches; a fresh interpreter loads it offline and captions an image."
    try: folder = world_model_dir(name)
    except ClhoiError: pytest.skip(f'{name} weights are not shipped in this checkout')
    card = read_card(name)                              # checks the sha256 against the weights file
    assert card['model'] == name and card['weights']['bytes'] < 25e6
    code = ("from clhoi.teacher import make_teacher\n"
            "from clhoi.world import load_world\n"
            f"t = make_teacher({name!r}, device='cpu')\n"
            "folder, _, caps = load_world('test')\n"
            "print(t.caption([folder / sorted(caps)[0]])[0])\n")
    env = {**os.environ, 'HF_HUB_OFFLINE': '1', 'HF_HUB_CACHE': str(tmp_path), 'NO_PROXY': '*',
           'HTTPS_PROXY': 'http://127.0.0.1:9', 'HTTP_PROXY': 'http://127.0.0.1:9'}
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    words = r.stdout.split()
    assert len(words) >= 3 and set(words) & {'person', 'people', 'someone'}, r.stdout
    assert (folder / 'qformer' / 'config.json').is_file() and (folder / 'qformer' / 'query_tokens.safetensors').is_file()

def test_clhoi_teach_runs_the_shipped_instructblip_on_world_images(tmp_path):
    "Skipped unless shipped: `clhoi teach --teacher world-instructblip` writes one record per image, resumably."
    try: world_model_dir('world-instructblip')
    except ClhoiError: pytest.skip('world-instructblip weights are not shipped in this checkout')
    from cli_helpers import clhoi
    from clhoi.label_cache import read_labels
    out = tmp_path / 'labels.jsonl'
    for limit in (2, 3):                                  # the second run adds one image to the first two
        r = clhoi('teach', '--teacher', 'world-instructblip', '--dataset', 'world', '--split', 'test',
                  '--out', out, '--limit', limit, '--quiet', '--device', 'cpu')
        assert r.returncode == 0, r.stderr[-2000:]
    records = read_labels(out, keep_no_action=True)
    assert len(records) == 5 and all(r['caption'] and r['teacher'].startswith('InstructBlipTeacher') for r in records)
