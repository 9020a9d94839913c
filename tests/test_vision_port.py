"""The open_clip ViT -> transformers BLIP vision tower port (nbs/04b_vision_port): the same features to 1e-5 over
several sizes and both kinds, one-line refusals of what the map can't carry, and a save/load round trip offline."""
import pytest
import torch
import transformers as T

from clhoi.core import ClhoiError
from clhoi.vision_port import (BlipSizes, build_ported_blip, check_portable, freeze_vision_tower, open_clip_tokens,
                               port_open_clip_vision, random_open_clip_vision)

torch.set_num_threads(1)
KINDS = ('instructblip', 'blip2')
SIZES = {  # widths, depths, heads and image / patch sizes unlike the notebook's
    'w64-l2-h4': dict(),
    'w96-l3-h6': dict(image_size=48, patch_size=16, width=96, layers=3, heads=6, mlp_ratio=2.0, seed=1),
    'w32-l1-h2': dict(image_size=30, patch_size=8, width=32, layers=1, heads=2, seed=2),  # 30 px: a 3x3 grid
}

def images_for(visual, n=2, seed=0):
    size = visual.image_size[0]
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))  # (B, 3, H, W)

@torch.no_grad()
def features(model, images): return model(pixel_values=images).last_hidden_state        # (B, 1+HW, D)

@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('name', SIZES)
def test_the_ported_tower_gives_open_clips_features(name, kind):
    visual = random_open_clip_vision(**SIZES[name])
    grid = visual.image_size[0] // visual.patch_size[0]
    images = images_for(visual)
    want = open_clip_tokens(visual, images)
    assert want.shape == (2, 1 + grid * grid, visual.transformer.width)
    got = features(port_open_clip_vision(visual, kind), images)
    assert got.shape == want.shape
    assert (got - want).abs().max() < 1e-5
    # the tower really has the biases the port drops or zeroes: a port that ignored them would not pass this
    D = visual.transformer.width
    assert all(b.attn.in_proj_bias[D:2 * D].abs().max() > 0.1 for b in visual.transformer.resblocks)

@pytest.mark.parametrize('kind', KINDS)
def test_the_full_model_sees_the_same_features_and_freezes_only_the_tower(kind):
    visual = random_open_clip_vision(**SIZES['w96-l3-h6'])
    images = images_for(visual, seed=3)
    model = build_ported_blip(visual, BlipSizes(text_model='llama' if kind == 'instructblip' else 'opt'), kind)
    assert (features(model.vision_model, images) - open_clip_tokens(visual, images)).abs().max() < 1e-5
    vision = set(map(id, model.vision_model.parameters()))
    assert all(p.requires_grad == (id(p) not in vision) for p in model.parameters())
    assert not model.vision_model.training

def _with_patch_bias(v): v.conv1.bias = torch.nn.Parameter(torch.ones(v.transformer.width)); return v
def _with_other_eps(v): v.transformer.resblocks[0].ln_2.eps = 1e-6; return v
def _with_bias_kv(v):
    attn = v.transformer.resblocks[0].attn
    attn.bias_k = torch.nn.Parameter(torch.zeros(1, 1, attn.embed_dim)); return v

REFUSALS = {  # what a tower has -> (how to build it, what the message must name)
    'ln_pre': (lambda: random_open_clip_vision(no_ln_pre=False), 'no_ln_pre=True'),
    'patch bias': (lambda: _with_patch_bias(random_open_clip_vision()), 'patch conv has a bias'),
    'attentional pooler': (lambda: random_open_clip_vision(attentional_pool=True), 'attentional_pool=False'),
    'average pooling': (lambda: random_open_clip_vision(pool_type='avg'), "pool_type='tok'"),
    'ln after pool': (lambda: random_open_clip_vision(final_ln_after_pool=True), 'final_ln_after_pool=False'),
    'patch dropout': (lambda: random_open_clip_vision(patch_dropout=0.3), 'patch_dropout=0'),
    'layer scale': (lambda: random_open_clip_vision(ls_init_value=0.1), 'ls_init_value=None'),
    'custom block': (lambda: random_open_clip_vision(qk_norm=True), 'default block type'),
    'quick gelu': (lambda: random_open_clip_vision(act_layer=__import__('open_clip').transformer.QuickGELU),
                   'not exact GELU'),
    'tanh gelu': (lambda: random_open_clip_vision(act_layer=lambda: torch.nn.GELU(approximate='tanh')),
                  'not exact GELU'),
    'other eps': (lambda: _with_other_eps(random_open_clip_vision()), 'LayerNorm eps differs'),
    'extra key token': (lambda: _with_bias_kv(random_open_clip_vision()), 'no extra key/value tokens'),
    'non-square image': (lambda: random_open_clip_vision(image_size=(32, 48)), 'not square'),
    'non-square patch': (lambda: random_open_clip_vision(patch_size=(8, 16)), 'not square'),
    'a ResNet': (lambda: __import__('open_clip').model.ModifiedResNet([1, 1, 1, 1], 64, 2, 64, 16), 'only ViT'),
}

@pytest.mark.parametrize('case', REFUSALS)
def test_a_tower_the_map_cannot_carry_is_refused_in_one_line(case):
    build, contains = REFUSALS[case]
    visual = build()
    for call in (check_portable, port_open_clip_vision, build_ported_blip):
        with pytest.raises(ClhoiError) as e: call(visual)
        message = str(e.value)
        assert contains in message and '\n' not in message, message
        assert message.startswith('open_clip vision tower: '), message

@pytest.mark.parametrize('call, contains', [
    (lambda v: port_open_clip_vision(v, 'blip3'), "kind='blip3': use 'instructblip' or 'blip2'"),
    (lambda v: build_ported_blip(v, BlipSizes(text_model='t5')), "BlipSizes.text_model='t5': use 'opt' or 'llama'"),
])
def test_bad_options_are_refused_in_one_line(call, contains):
    with pytest.raises(ClhoiError, match='^[^\n]*$') as e: call(random_open_clip_vision())
    assert contains in str(e.value)

@pytest.mark.parametrize('kind', KINDS)
def test_the_ported_tower_round_trips_through_save_pretrained_offline(kind, tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    visual = random_open_clip_vision(**SIZES['w96-l3-h6'])
    images = images_for(visual, seed=4)
    ported = port_open_clip_vision(visual, kind)
    ported.save_pretrained(tmp_path / 'vision')
    loaded = type(ported).from_pretrained(tmp_path / 'vision').eval()
    assert loaded.config.layer_norm_eps == 1e-5 and loaded.config.hidden_act == 'gelu'
    assert torch.equal(features(loaded, images), features(ported, images))

@pytest.mark.parametrize('kind', KINDS)
def test_the_full_model_round_trips_and_refreezes(kind, tmp_path, monkeypatch):
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    visual = random_open_clip_vision()
    images = images_for(visual, seed=5)
    model = build_ported_blip(visual, kind=kind, seed=7)
    model.save_pretrained(tmp_path / 'blip')
    model_class = {'instructblip': T.InstructBlipForConditionalGeneration, 'blip2': T.Blip2ForConditionalGeneration}
    loaded = model_class[kind].from_pretrained(tmp_path / 'blip')
    want, got = model.state_dict(), loaded.state_dict()
    assert want.keys() == got.keys() and all(torch.equal(want[k], got[k]) for k in want)
    assert torch.equal(features(loaded.vision_model.eval(), images), features(model.vision_model, images))
    assert all(p.requires_grad for p in loaded.vision_model.parameters())   # from_pretrained forgets the freeze...
    freeze_vision_tower(loaded)                                                # ...so loaders freeze again
    assert not any(p.requires_grad for p in loaded.vision_model.parameters()) and not loaded.vision_model.training
