"The loss ablation (Fig. 3) and the qualitative comparison (Figs. 4 and 8) under papermill on a small HOI World: results.json, the printed table and an independent recount agree."
import json
from collections import defaultdict
from pathlib import Path

import numpy as np

from test_reproduction import papermill, shown

TERMS = ('ctx', 'i2t', 't2i', 'sr')

def test_ablation_losses(tmp_path):
    res, text = papermill('ablation_losses', tmp_path)
    assert res['table'] == 'fig3' and res['seeds'] == [0, 1] and res['epochs'] == 1
    settings = ['sr', 'sr+ctx', 'sr+ctx+i2t', 'sr+ctx+t2i', 'all']
    assert list(res['runs']) == settings
    mean = {}
    for setting, runs in res['runs'].items():
        full = [r['trained']['full'] for r in runs]
        assert all(0 <= v <= 100 for v in full), (setting, full)
        assert shown(full) in text, (setting, full)
        mean[setting] = sum(full) / len(full)
        on = set(TERMS) if setting == 'all' else set(setting.split('+'))
        assert set(res['losses'][setting]) == on
        for r in runs:                           # the losses switched off were never computed (0 in every epoch)
            for epoch in r['history']: assert {t for t in TERMS if epoch[t] != 0} == on, (setting, epoch)
    for v in ('12.42', '13.30', '15.07', '15.40', '17.55'): assert v in text   # the paper's column
    assert 'paper (hico-det, Swin-L, %)' in text and 'HOI World mAP (%)' in text
    assert f"sr -> sr+ctx: World {mean['sr+ctx'] - mean['sr']:+.2f}" in text
    assert f"sr -> all: World {mean['all'] - mean['sr']:+.2f}" in text

QUALITATIVE = ['-p', 'seed', '0', '-p', 'epochs', '1', '-p', 'n_train', '40', '-p', 'n_test', '30',
               '-p', 'n_show', '2', '-p', 'n_attention', '2']

def run_qualitative(tmp:Path) -> tuple[dict, str]:
    "Run `nbs/qualitative.ipynb` with small parameters; (results.json, the text of every output)."
    return papermill('qualitative', tmp, QUALITATIVE)

def iou(a, b) -> float:
    "IoU of two xyxy boxes, +1-pixel convention (as the official HICO-DET evaluator)."
    w = min(a[2], b[2]) - max(a[0], b[0]) + 1; h = min(a[3], b[3]) - max(a[1], b[1]) + 1
    inter = max(w, 0) * max(h, 0)
    area = lambda x: (x[2] - x[0] + 1) * (x[3] - x[1] + 1)
    return inter / (area(a) + area(b) - inter)

def top_verbs(gt:dict, pred:dict) -> dict:
    "For each ground-truth pair (h, o): (its verb ids, the verb id the prediction ranks first on its best match)."
    verbs, rows = defaultdict(set), defaultdict(list)
    for t in gt['hoi_annotation']: verbs[t['subject_id'], t['object_id']].add(t['category_id'])
    for t in pred['hoi_prediction']: rows[t['subject_id'], t['object_id']].append((t['score'], t['category_id']))
    box, pbox = gt['annotations'], pred['predictions']
    out = {}
    for (h, o), vs in verbs.items():
        best = max(((min(iou(box[h]['bbox'], pbox[ph]['bbox']), iou(box[o]['bbox'], pbox[po]['bbox'])), (ph, po))
                    for ph, po in rows if pbox[po]['category_id'] == box[o]['category_id']), default=(0, None))
        if best[0] >= 0.5: out[h, o] = (vs, max(rows[best[1]])[1])
    return out

def test_qualitative(tmp_path):
    from clhoi.evaluation import evaluate_hicodet
    from clhoi.labels import label_space
    from clhoi.world import load_world
    from clhoi.world_config import WorldConfig
    res, text = run_qualitative(tmp_path)
    assert res['table'] == 'fig4-fig8' and res['seeds'] == [0] and res['epochs'] == 1
    world = WorldConfig(n_train=40, n_test=30)
    _, truth, _ = load_world('test', world)
    labels = label_space('world', n_train=40, n_test=30)
    preds = {k: json.loads((tmp_path / f).read_text()) for k, f in res['predictions'].items()}
    assert list(preds) == ['baseline', 'CL-HOI']
    for k, p in preds.items():                  # the table's mAP is the saved predictions' score
        full = evaluate_hicodet(truth, p, labels)['full']
        assert abs(full - res['runs'][k]['full']) < 1e-9 and f"{full:.2f}" in text
    # the disagreements, recounted from the saved predictions with a plain loop
    counts, only = defaultdict(int), defaultdict(set)
    for gt, b, c in zip(truth, preds['baseline'], preds['CL-HOI']):
        tb, tc = top_verbs(gt, b), top_verbs(gt, c)
        for pair in tb.keys() & tc.keys():
            right = (tb[pair][1] in tb[pair][0], tc[pair][1] in tc[pair][0])
            counts[right] += 1
            if right[0] != right[1]: only[right].add(gt['file_name'])
    d = res['disagreements']
    assert d == dict(matched=sum(counts.values()), both_right=counts[True, True], both_wrong=counts[False, False],
                     baseline_right=counts[True, False], clhoi_right=counts[False, True]), (d, dict(counts))
    assert d['matched'] > 0
    assert f"CL-HOI right on {d['clhoi_right']}, baseline on {d['baseline_right']}" in text
    assert set(res['drawn']) <= only[True, False] | only[False, True]
    assert len(res['drawn']) == min(2, len(only[True, False]) + len(only[False, True]))   # one per image and kind
    assert len(res['attention']['files']) == 2
    mass = res['attention']['mass_on_pairs']
    assert all(0 < mass[k] < 100 for k in ('trained', 'untrained', 'uniform')), mass
    assert f"trained VLT {mass['trained']:.1f}%" in text
    assert '9.42' in text and '15.62' in text   # Table 4's two rows beside the World's
