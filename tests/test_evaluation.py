"""`clhoi.evaluation.evaluate_hicodet` against an independent plain-Python implementation of the official MATLAB
rules (ywchao/ho-rcnn `VOCevaldet_bboxpair.m`): `tests/reference_hico.py`, written with loops, sharing no code with
the library and reading the HICO-DET class tables from the shipped asset files itself."""
import json, math, random, re, warnings

import numpy as np
import pytest

from clhoi.labels import LabelSpace, hico_det
from clhoi.evaluation import evaluate_hicodet
from reference_hico import COCO91, HICO_HOIS, HICO_RARE, HICO_VERBS, ref_ap, ref_evaluate, ref_iou

# ---------------------------------------------------------------------------------------------------------------
# The reference checked by hand, so that a wrong reference cannot agree with a wrong library.

def test_reference_iou_by_hand():
    "The +1-pixel convention: [0, 0, 9, 9] is 10 x 10 pixels."
    assert ref_iou([0, 0, 9, 9], [0, 0, 4, 9]) == 0.5                  # 50 / 100
    assert ref_iou([0, 0, 9, 9], [0, 0, 6, 6]) == 0.49                 # 49 / 100
    assert ref_iou([0, 0, 9, 9], [10, 0, 19, 9]) == 0.0                # touching: no shared pixel
    assert ref_iou([0, 0, 9, 9], [9, 0, 18, 9]) == 10 / 190            # one shared column

def test_reference_tables_by_hand():
    "Rows of the shipped tables checked against the official HICO-DET list (hico_list_hoi.txt, 1-based ids)."
    assert len(HICO_HOIS) == 600 and len(HICO_RARE) == 138 and HICO_VERBS[57] == 'no_interaction'
    assert COCO91[:5] == [1, 2, 3, 4, 5] and COCO91[41] == 47 and COCO91[79] == 90    # person..airplane, cup, toothbrush
    ride, motorcycle, hold, cup = HICO_VERBS.index('ride'), 3, HICO_VERBS.index('hold'), 41
    assert (ride, hold) == (76, 36)
    assert HICO_HOIS[0] == (HICO_VERBS.index('board'), 4)                # 001 airplane board
    assert HICO_HOIS[153] == (ride, motorcycle) and HICO_HOIS[297] == (hold, cup)   # 154 ride motorcycle, 298 hold cup
    assert 8 in HICO_RARE and 0 not in HICO_RARE                        # 009 is rare (first line of the rare list)

def test_library_tables_equal_the_shipped_files():
    "The library's HICO-DET label space read through clhoi.labels equals the files read with the csv module."
    H = hico_det()
    assert tuple(H.hois) == HICO_HOIS and set(H.rare) == HICO_RARE and tuple(H.verbs) == HICO_VERBS

def test_reference_on_the_golden_case():
    "The reference itself reproduces the hand-computed threshold case (npos 10, labels 1,1,1,1,1,1,0,0,0,0,1)."
    tp = [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1]
    assert round(ref_ap(tp, 10, '11p_matlab')[0], 4) == 0.6942
    assert round(ref_ap(tp, 10, '11p_numpy')[0], 4) == 0.6033
    assert [k * 0.1 for k in range(11)] == np.arange(0, 1.1, 0.1).tolist()

# ---------------------------------------------------------------------------------------------------------------
# Random inputs: a toy label space (and HICO-DET), noisy boxes, duplicates, ties, invalid pairs, empty images.

PERSON, BICYCLE, MOTORCYCLE, CUP = 0, 1, 3, 41
TOY = LabelSpace('toy', ('hold', 'ride', 'look', 'sit_on'),
                 ((0, PERSON), (0, CUP), (1, BICYCLE), (1, MOTORCYCLE), (2, CUP), (2, MOTORCYCLE), (3, BICYCLE),
                  (3, CUP)),   # class 7 (sit_on cup) never appears in the ground truth: npos 0
                 rare=frozenset({1, 4}), file_verb_offset=1)

def noisy(rng, box, scale):
    x1, y1, x2, y2 = box; w, h = x2 - x1, y2 - y1
    b = [x1 + rng.gauss(0, scale * w), y1 + rng.gauss(0, scale * h), x2 + rng.gauss(0, scale * w), y2 + rng.gauss(0, scale * h)]
    b = [min(b[0], b[2]), min(b[1], b[3]), max(b[0], b[2]), max(b[1], b[3])]
    return [round(c) for c in b] if rng.random() < 0.3 else b      # integer boxes make exact IoU ties likely

def rand_box(rng):
    x, y = rng.uniform(0, 300), rng.uniform(0, 300)
    return [round(x), round(y), round(x + rng.uniform(10, 150)), round(y + rng.uniform(10, 150))]

def make_case(seed, labels=TOY, n_images=300, offset=None):
    rng = random.Random(seed)
    offset = labels.file_verb_offset if offset is None else offset
    c91 = COCO91
    objs = sorted({o for _, o in labels.hois} - {PERSON}) or [PERSON]
    by_obj = {}
    for k, (v, o) in enumerate(labels.hois):
        if not (labels is TOY and k == 7): by_obj.setdefault(o, []).append(v)
    gt, preds = [], []
    for i in range(n_images):
        people = [rand_box(rng) for _ in range(rng.randint(1, 2))]
        things = [(rng.choice(objs), rand_box(rng)) for _ in range(rng.randint(0, 3))]
        if rng.random() < 0.3: things.append((PERSON, rand_box(rng)))
        boxes = [{'bbox': b, 'category_id': 1} for b in people] + [{'bbox': b, 'category_id': c91[o]} for o, b in things]
        pairs = []
        if rng.random() > 0.1:                                   # about 10% of images have no pair at all
            for _ in range(rng.randint(0, 4)):
                s = rng.randrange(len(people)); o = rng.randrange(len(boxes))
                if o == s: continue
                o80 = PERSON if o < len(people) else things[o - len(people)][0]
                if o80 not in by_obj: continue
                pairs.append({'subject_id': s, 'object_id': o, 'category_id': rng.choice(by_obj[o80]) + offset})
            if pairs and rng.random() < 0.1: pairs.append(dict(pairs[0]))    # a duplicated GT pair
        gt.append({'file_name': f'img_{i:05d}.jpg', 'annotations': boxes, 'hoi_annotation': pairs})
        if rng.random() < 0.1: continue                          # some images get no predictions at all
        pboxes, trip = [], []
        def add(hb, hc, ob, oc, verb):
            pboxes.extend([{'bbox': hb, 'category_id': hc}, {'bbox': ob, 'category_id': oc}])
            score = round(rng.random(), 1) if rng.random() < 0.5 else rng.random()     # many ties
            trip.append({'subject_id': len(pboxes) - 2, 'object_id': len(pboxes) - 1, 'category_id': verb, 'score': score})
        for p in pairs:                                          # noisy detections of the true pairs
            for _ in range(rng.randint(0, 3)):
                scale = rng.choice([0.0, 0.02, 0.08, 0.2])
                add(noisy(rng, boxes[p['subject_id']]['bbox'], scale), 1, noisy(rng, boxes[p['object_id']]['bbox'], scale),
                    boxes[p['object_id']]['category_id'], p['category_id'])
        for _ in range(rng.randint(0, 6)):                       # random triplets, some of invalid (verb, object)
            o = rng.choice(objs + [PERSON])
            add(rand_box(rng), 1, rand_box(rng), c91[o], rng.randrange(labels.n_verbs) + offset)
        if trip and rng.random() < 0.3: trip.append(dict(trip[rng.randrange(len(trip))]))   # exact duplicate
        preds.append({('filename' if rng.random() < 0.1 else 'file_name'): f'img_{i:05d}.jpg', 'predictions': pboxes, 'hoi_prediction': trip})
    rng.shuffle(preds)                                           # the prediction file's image order is its own
    return gt, preds

def add_engineered(gt, preds, offset=1):
    """Ten images of class 7 (sit_on cup, absent from the random part) where the options must differ: ranked
    TP x6 (recall exactly 0.6), FP x4, a detection of IoU exactly 0.5 (TP under '>=', FP under '>'), TP."""
    c91, P, C, half, miss = COCO91, [0, 0, 99, 199], [50, 50, 69, 69], [50, 50, 59, 69], [200, 0, 299, 99]
    for i in range(10):
        fn = f'eng_{i}.jpg'
        gt.append({'file_name': fn, 'annotations': [{'bbox': P, 'category_id': 1}, {'bbox': C, 'category_id': c91[CUP]}],
                   'hoi_annotation': [{'subject_id': 0, 'object_id': 1, 'category_id': 3 + offset}]})
        trip = ([(C, 0.9)] if i < 6 else [(miss, 0.8)]) + ([(half, 0.75)] if i == 7 else []) + ([(C, 0.7)] if i == 6 else [])
        boxes = [{'bbox': P, 'category_id': 1}] + [{'bbox': b, 'category_id': c91[CUP]} for b, _ in trip]
        preds.append({'file_name': fn, 'predictions': boxes, 'hoi_prediction': [
            {'subject_id': 0, 'object_id': j + 1, 'category_id': 3 + offset, 'score': sc} for j, (_, sc) in enumerate(trip)]})
    return gt, preds

def check(ours, ref, tol=1e-6):
    np.testing.assert_array_equal(ours['npos'], ref['npos'])
    np.testing.assert_allclose(ours['ap'] / 100, ref['ap'], atol=tol, rtol=0)
    np.testing.assert_allclose(ours['recall'] / 100, ref['recall'], atol=tol, rtol=0)
    for key in ('full', 'rare', 'non_rare'):
        np.testing.assert_allclose(ours[key] / 100, ref[key], atol=tol, rtol=0)

@pytest.mark.parametrize('seed', [0, 1, 2])
def test_default_agrees_with_reference(seed):
    gt, preds = make_case(seed)
    ours = evaluate_hicodet(gt, preds, TOY)
    ref = ref_evaluate(gt, preds, TOY.hois, 1, TOY.rare)
    check(ours, ref)
    assert np.isnan(ours['ap'][7])                               # no GT: left out of the means
    assert 0 < ours['full'] < 100 and ours['n_invalid'] > 0      # a real mix of TPs, FPs and dropped triplets

OPTIONS = [dict(ap_mode='11p_numpy'), dict(ap_mode='all_point'), dict(iou_cmp='>'), dict(max_per_image=3),
           dict(images='non_empty'), dict(setting='known_object'),
           dict(setting='known_object', max_per_image=2, ap_mode='all_point', iou_cmp='>', images='non_empty')]

@pytest.mark.parametrize('opts', OPTIONS, ids=lambda o: ','.join(f'{k}={v}' for k, v in o.items()))
def test_options_agree_with_reference(opts):
    gt, preds = add_engineered(*make_case(10))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        ours = evaluate_hicodet(gt, preds, TOY, **opts)
    assert any('approximation' in str(x.message) for x in w) == (opts.get('setting') == 'known_object')
    ref = ref_evaluate(gt, preds, TOY.hois, 1, TOY.rare, ap_mode=opts.get('ap_mode', '11p_matlab'),
                       iou_cmp=opts.get('iou_cmp', '>='), max_per_image=opts.get('max_per_image'),
                       images=opts.get('images', 'all'), known_object=opts.get('setting') == 'known_object')
    check(ours, ref)
    base = evaluate_hicodet(gt, preds, TOY)
    assert not np.allclose(np.nan_to_num(ours['ap']), np.nan_to_num(base['ap'])), 'the option changed nothing on this case'
    assert all(ours['options'][k] == v for k, v in opts.items())

def test_rare_override_and_verb_offset():
    "A rare list given by hand, and a label space whose files store verb ids from 0 (as a World file might)."
    zero = LabelSpace('toy0', TOY.verbs, TOY.hois, rare=TOY.rare, file_verb_offset=0)
    gt, preds = make_case(3, labels=zero)
    ours = evaluate_hicodet(gt, preds, zero, rare=[0, 2, 3])
    check(ours, ref_evaluate(gt, preds, zero.hois, 0, {0, 2, 3}))
    assert ours['options']['rare'] == 'given'

def test_hico_det_agrees_with_reference():
    "The real label space (600 classes, verb ids 1..117) on random HOIs of a few objects."
    ref = LabelSpace('hico-ref', HICO_VERBS, HICO_HOIS, HICO_RARE)   # the shipped files, not clhoi.labels' tables
    gt, preds = make_case(4, labels=ref, n_images=200)
    ours = evaluate_hicodet(gt, preds)                           # labels default to hico_det()
    check(ours, ref_evaluate(gt, preds, HICO_HOIS, 1, HICO_RARE))
    assert ours['options']['labels'] == 'hico-det' and len(ours['ap']) == 600

def test_file_paths_give_the_same_result(tmp_path):
    gt, preds = make_case(5, n_images=60)
    (tmp_path/'gt.json').write_text(json.dumps(gt)); (tmp_path/'pred.json').write_text(json.dumps(preds))
    a = evaluate_hicodet(tmp_path/'gt.json', str(tmp_path/'pred.json'), TOY)
    b = evaluate_hicodet(gt, preds, TOY)
    np.testing.assert_array_equal(a['ap'], b['ap'])

def test_order_of_ground_truth_images_does_not_matter():
    gt, preds = make_case(6, n_images=100)
    a = evaluate_hicodet(gt, preds, TOY)
    b = evaluate_hicodet(gt[::-1], preds, TOY)
    np.testing.assert_array_equal(a['ap'], b['ap'])

def test_first_maximum_wins():
    "Two GT pairs tie in overlap with the first detection: it must take the first (the second detection then takes the other)."
    c91, P0, P1, M0, M1 = COCO91, [0, 0, 99, 199], [0, 0, 99, 179], [0, 100, 99, 299], [0, 100, 99, 279]
    gt = [{'file_name': 'a.jpg', 'annotations': [{'bbox': b, 'category_id': c} for b, c in [(P0, 1), (M0, c91[BICYCLE]), (P1, 1), (M1, c91[BICYCLE])]],
           'hoi_annotation': [{'subject_id': 0, 'object_id': 1, 'category_id': 2}, {'subject_id': 2, 'object_id': 3, 'category_id': 2}]}]
    box = lambda b, c=1: {'bbox': b, 'category_id': c}
    preds = [{'file_name': 'a.jpg', 'predictions': [box(P0), box(M1, c91[BICYCLE]), box(P1)],
              'hoi_prediction': [{'subject_id': 0, 'object_id': 1, 'category_id': 2, 'score': 0.9},
                                 {'subject_id': 2, 'object_id': 1, 'category_id': 2, 'score': 0.8}]}]
    ours, ref = evaluate_hicodet(gt, preds, TOY), ref_evaluate(gt, preds, TOY.hois, 1, TOY.rare)
    check(ours, ref)
    assert ours['ap'][2] == 100.0


# ---------------------------------------------------------------------------------------------------------------
# User errors that used to give silent wrong results

from clhoi.core import ClhoiError
from cli_helpers import clhoi, one_line_error

def test_ground_truth_without_pairs_is_an_error(tmp_path):
    "No pairs used to give mAP NaN (and exit 0 on the command line)."
    gt, preds = make_case(7, n_images=10, labels=hico_det())
    empty = [dict(im, hoi_annotation=[]) for im in gt]
    (tmp_path/'gt.json').write_text(json.dumps(empty)); (tmp_path/'pred.json').write_text(json.dumps(preds))
    with pytest.raises(ClhoiError, match=r"gt.json: no human-object pairs: nothing to score"):
        evaluate_hicodet(tmp_path/'gt.json', tmp_path/'pred.json')
    r = clhoi('evaluate', '--dataset', 'hico-det', '--gt', tmp_path/'gt.json', '--pred', tmp_path/'pred.json')
    one_line_error(r, 'gt.json: no human-object pairs: nothing to score')

def test_contradicting_hoi_category_id_is_an_error(tmp_path):
    "hoi_category_id used to be ignored when it disagreed with (verb, object)."
    gt, preds = make_case(8, n_images=10, labels=hico_det())
    im = next(i for i, x in enumerate(gt) if x['hoi_annotation'])
    h = gt[im]['hoi_annotation'][0]
    obj80 = COCO91.index(gt[im]['annotations'][h['object_id']]['category_id'])
    right = HICO_HOIS.index((h['category_id'] - 1, obj80)) + 1             # the class by its (verb, object), 1-based
    h['hoi_category_id'] = right % 600 + 1                               # any other class
    (tmp_path/'gt.json').write_text(json.dumps(gt)); (tmp_path/'pred.json').write_text(json.dumps(preds))
    want = (f"gt.json: image {im} ({gt[im]['file_name']}): hoi_annotation[0].hoi_category_id: {right % 600 + 1} "
            f"contradicts its (verb, object)")
    with pytest.raises(ClhoiError, match=re.escape(want)): evaluate_hicodet(tmp_path/'gt.json', tmp_path/'pred.json')
    r = clhoi('evaluate', '--dataset', 'hico-det', '--gt', tmp_path/'gt.json', '--pred', tmp_path/'pred.json')
    assert f'which is HOI class {right} of hico-det' in one_line_error(r, want)
    h['hoi_category_id'] = right
    (tmp_path/'gt.json').write_text(json.dumps(gt))
    assert evaluate_hicodet(tmp_path/'gt.json', tmp_path/'pred.json')['npos'].sum() > 0

@pytest.mark.parametrize('content,expect', [
    ('[' * 100_000 + ']' * 100_000, 'pred.json: not valid JSON'),
    ('{"a": 1}', 'pred.json: expected a JSON list with one dict per image, got dict'),
    ('[3, 4]', 'pred.json: image 0 is 3; expected a dict'),
])
def test_bad_prediction_files_are_one_line_on_the_command_line(tmp_path, content, expect):
    gt, _ = make_case(9, n_images=5, labels=hico_det())
    (tmp_path/'gt.json').write_text(json.dumps(gt)); (tmp_path/'pred.json').write_text(content)
    one_line_error(clhoi('evaluate', '--dataset', 'hico-det', '--gt', tmp_path/'gt.json', '--pred', tmp_path/'pred.json'), expect)
