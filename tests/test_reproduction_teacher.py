"Table 5 (ablation_teacher) and Fig. 9 (label_quality) under papermill on a small HOI World: results.json, the shown table and the label caches agree."
import json
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import pytest

from test_reproduction import papermill, shown
from clhoi.labels import coco_objects
from clhoi.parsing import to_label_verb
from clhoi.world import load_world, world_label_space
from clhoi.world_config import WorldConfig

SMALL_WORLD = WorldConfig(n_train=40, n_test=20)      # the World of test_reproduction's SMALL parameters

def run(nb:str, tmp:Path, *params:str) -> tuple[dict, str]: return papermill(nb, tmp, list(params))

def truth_pairs(world:WorldConfig) -> dict[str, set]:
    "file name -> the train split's (verb, object) pairs, read through each triplet's hoi_category_id (another route "
    "than `gt_image_pairs`, which reads the verb id and the object box's category)."
    space, names = world_label_space(**asdict(world)), coco_objects().names
    _, gt, _ = load_world('train', world)
    return {im['file_name']: {(space.verbs[v], names[o]) for h in im['hoi_annotation']
                              for v, o in [space.hois[h['hoi_category_id'] - 1]] if space.verbs[v] != 'no_interaction'}
            for im in gt}

def cache_records(path:str) -> list[dict]:
    "The records of a label-cache file, read as plain JSON lines (header first)."
    head, *lines = Path(path).read_text().splitlines()
    assert 'clhoi_label_cache' in json.loads(head)
    return [json.loads(l) for l in lines if l.strip()]

def precision_recall(path:str, world:WorldConfig) -> tuple:
    "Pair precision and recall of a label cache against the World's ground truth (None where undefined)."
    space, truth = world_label_space(**asdict(world)), truth_pairs(world)
    hits = n_pred = n_true = 0
    for r in cache_records(path):
        pred = {(to_label_verb(v, space) or v, o) for v, o in r['pairs']}
        hits += len(pred & truth[r['file_name']]); n_pred += len(pred); n_true += len(truth[r['file_name']])
    return (hits / n_pred if n_pred else None), (hits / n_true if n_true else None)

def check_labels(q:dict, world:WorldConfig):
    "A teacher's entry in results.json against its label cache: counts by hand, precision and recall recomputed."
    recs = cache_records(q['label_cache'])
    assert q['images'] == len(recs) == world.n_train
    assert q['kept'] == sum(r['has_action'] for r in recs) and q['kept'] + q['dropped'] == world.n_train
    for got, want in zip((q['precision'], q['recall']), precision_recall(q['label_cache'], world)):
        assert (got is None) == (want is None) and (want is None or got == pytest.approx(want)), (got, want)
        assert want is None or 0 <= want <= 1

def test_ablation_teacher(tmp_path):
    res, text = papermill('ablation_teacher', tmp_path)
    assert res['table'] == 'table5' and res['seeds'] == [0, 1]
    assert list(res['runs']) == ['BLIP-2', 'InstructBLIP'] == list(res['labels'])
    for name, runs in res['runs'].items():
        q = res['labels'][name]
        check_labels(q, SMALL_WORLD)
        assert f"{q['kept']} / 40" in text
        init = [r['init']['full'] for r in runs]
        assert all(0 <= v <= 100 for v in init) and shown(init) in text
        if q['kept']:
            trained = [r['trained']['full'] for r in runs]
            assert all(0 <= v <= 100 for v in trained) and shown(trained) in text, (name, trained)
        for v in (q['precision'], q['recall']):
            assert (f"{v:.3f}" if v is not None else 'n/a') in text
    assert res['labels']['InstructBLIP']['kept'] > 0
    assert ' 9.63 ' in text and '15.62' in text and '12.98' in text   # the paper's columns beside the World's
    assert res['readings'] and all(line in text for line in res['readings'])   # kept as printed

def test_ablation_teacher_without_training_images(tmp_path):
    "A teacher that keeps no image: no student is trained, its row is the random-init student, said so."
    world = WorldConfig(n_train=30, n_test=20)
    res, text = run('ablation_teacher', tmp_path, '-y', 'seeds: [0]', '-p', 'epochs', '1', '-p', 'n_train', '30',
                    '-p', 'n_test', '20', '-y', 'teachers: {BLIP-2: world-blip2}')
    q = res['labels']['BLIP-2']
    check_labels(q, world)
    assert q['kept'] == 0, "the World BLIP-2 names no action on these 30 images (31 and 37 are its first)"
    assert all(r['trained'] is None for r in res['runs']['BLIP-2'])
    [init] = [r['init']['full'] for r in res['runs']['BLIP-2']]                # one seed: no spread shown
    assert 0 <= init <= 100 and f"not trained (0 images); random init {init:.2f}" in text
    assert 'no student could be trained' in text and 'n/a' in text   # it named no pair: no precision

def test_label_quality(tmp_path):
    res, text = run('label_quality', tmp_path, '-p', 'n_train', '40', '-p', 'n_test', '20', '-p', 'top', '5')
    assert res['table'] == 'fig9' and res['top'] == 5
    truth = truth_pairs(SMALL_WORLD)
    images_per_verb = Counter(v for pairs in truth.values() for v in {v for v, _ in pairs})
    # the five verbs shown are the five most frequent in the ground truth (ties by name)
    assert res['verbs'] == sorted(images_per_verb, key=lambda v: (-images_per_verb[v], v))[:5]
    for name in ('InstructBLIP', 'BLIP-2'):
        q = res['labels'][name]
        check_labels(q, SMALL_WORLD)
        counts = dict(zip(q['verbs']['verb'], q['verbs']['ground truth']))
        assert {v: counts[v] for v in images_per_verb} == dict(images_per_verb)
        assert sum(counts.values()) == sum(images_per_verb.values())     # no other verb has a true image
        preds = Counter(v for r in cache_records(q['label_cache'])
                        for v in {to_label_verb(v, world_label_space(**asdict(SMALL_WORLD))) or v
                                  for v, _ in r['pairs']})
        assert dict(zip(q['verbs']['verb'], q['verbs']['teacher'])) == {v: preds[v] for v in q['verbs']['verb']}
        for v in (q['precision'], q['recall']):
            assert (f"{v:.3f}" if v is not None else 'n/a') in text
    assert 'nearly double' in text and 'InstructBLIP (world-instructblip)' in text
    assert res['readings'] and all(line in text for line in res['readings'])
