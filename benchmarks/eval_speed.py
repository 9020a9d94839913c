"""Speed of the evaluators on inputs of the real test-set size, against plain-loop references.

HICO-DET: 9,546 images, 600 HOI classes, about 33k ground-truth pairs, 100 scored triplets per image (QPIC's cap),
seeded. `clhoi.evaluation.evaluate_hicodet` (vectorized) is timed against the plain per-class loop of the official
MATLAB rules in `tests/reference_hico.py` (the one the tests use), and both must agree to 1e-9 on every class. The
whole command (`python -m clhoi evaluate` on the written files, as a subprocess) is timed against stdlib `json.load`
of the same files plus the plain loop, and the ratio printed (target: at most 0.5).

    python benchmarks/eval_speed.py                  # full size (the loop reference takes a minute or two)
    python benchmarks/eval_speed.py --small          # 500 images, seconds
    python benchmarks/eval_speed.py --dataset v-coco # V-COCO test size: 4,946 images, ~300k detection dicts
    python benchmarks/eval_speed.py --dataset all    # both

Each dataset part is a function `bench_<dataset>(small, seed) -> bool` (True when the evaluator agrees with its
reference) registered in `BENCHMARKS`; `main` runs the chosen ones and exits 1 if any disagrees.
"""
import argparse, json, math, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]/'tests'))   # a script: the one plain-loop HICO reference
from reference_hico import ref_evaluate                                 # tests/reference_hico.py

# ---------------------------------------------------------------------------------------------------------------
# HICO-DET

def make_hicodet(n_images:int, seed:int=0, per_image:int=100):
    "Seeded GT and prediction lists of the HICO-DET test shape (file format of clhoi.data)."
    from clhoi.labels import coco_objects, hico_det
    H, c91 = hico_det(), coco_objects().coco91_ids
    rng = np.random.default_rng(seed)
    freq = 1 / np.arange(1, H.n_hois + 1) ** 0.8; freq = rng.permutation(freq / freq.sum())   # long tail
    verbs_of = {}
    for v, o in H.hois: verbs_of.setdefault(o, []).append(v)
    def box(n):
        xy = rng.uniform(0, 500, (n, 2)); return np.concatenate([xy, xy + rng.uniform(8, 300, (n, 2))], 1)
    gt, preds = [], []
    for i in range(n_images):
        n_pairs = int(rng.integers(1, 4))                       # (human, object) box pairs
        hb, ob = box(n_pairs), box(n_pairs)
        ann, hois, pairs = [], [], []
        for p in range(n_pairs):
            v0, o = H.hois[rng.choice(H.n_hois, p=freq)]
            vs = {v0} | set(rng.choice(verbs_of[o], int(rng.integers(0, 3))).tolist())   # 1-3 verbs per pair
            ann += [{'bbox': hb[p].round(1).tolist(), 'category_id': 1}, {'bbox': ob[p].round(1).tolist(), 'category_id': c91[o]}]
            for v in sorted(vs):
                hois.append({'subject_id': 2 * p, 'object_id': 2 * p + 1, 'category_id': v + 1})
                pairs.append((p, v, o))
        gt.append({'file_name': f'HICO_test2015_{i:08d}.jpg', 'annotations': ann, 'hoi_annotation': hois})
        # predictions: noisy copies of each GT pair (several per pair, so duplicates), then random pairs, 100 in all
        boxes, trip = [], []
        for p, v, o in pairs:
            for _ in range(int(rng.integers(1, 4))):
                if len(trip) >= per_image: break
                s = rng.choice([0.0, 0.03, 0.1, 0.3])
                h = hb[p] + rng.normal(0, s * 50, 4); b = ob[p] + rng.normal(0, s * 50, 4)
                h = np.r_[np.minimum(h[:2], h[2:]), np.maximum(h[:2], h[2:])]; b = np.r_[np.minimum(b[:2], b[2:]), np.maximum(b[:2], b[2:])]
                boxes += [{'bbox': h.round(1).tolist(), 'category_id': 1}, {'bbox': b.round(1).tolist(), 'category_id': c91[o]}]
                trip.append([len(boxes) - 2, len(boxes) - 1, v])
        # the rest: like a real model's top 100, mostly other verbs on the image's own objects (roughly localized),
        # some entirely random pairs
        n_rand = per_image - len(trip)
        rh, ro, objs = box(n_rand), box(n_rand), rng.integers(0, 80, n_rand)
        for j in range(n_rand):
            o = int(objs[j])
            if rng.random() < 0.7:
                p, _, o = pairs[int(rng.integers(len(pairs)))]
                rh[j], ro[j] = hb[p] + rng.normal(0, 15, 4), ob[p] + rng.normal(0, 15, 4)
                rh[j] = np.r_[np.minimum(rh[j][:2], rh[j][2:]), np.maximum(rh[j][:2], rh[j][2:])]
                ro[j] = np.r_[np.minimum(ro[j][:2], ro[j][2:]), np.maximum(ro[j][:2], ro[j][2:])]
            v = int(rng.choice(verbs_of[o]))
            boxes += [{'bbox': rh[j].round(1).tolist(), 'category_id': 1}, {'bbox': ro[j].round(1).tolist(), 'category_id': c91[o]}]
            trip.append([len(boxes) - 2, len(boxes) - 1, v])
        scores = rng.random(len(trip)).round(3)                 # rounded: many ties across the test set
        preds.append({'file_name': gt[-1]['file_name'], 'predictions': boxes,
                      'hoi_prediction': [{'subject_id': s, 'object_id': o, 'category_id': v + 1, 'score': float(sc)}
                                         for (s, o, v), sc in zip(trip, scores)]})
    return gt, preds

def bench_hicodet(small:bool=False, seed:int=0) -> bool:
    from clhoi.data import hoi_arrays, load_hoi_file
    from clhoi.evaluation import evaluate_hicodet
    from clhoi.labels import hico_det
    n = 500 if small else 9546
    t = time.perf_counter(); gt, preds = make_hicodet(n, seed); t_make = time.perf_counter() - t
    n_pairs = sum(len(im['hoi_annotation']) for im in gt); n_trip = sum(len(im['hoi_prediction']) for im in preds)
    print(f"HICO-DET: {n} images, {n_pairs} GT pairs, {n_trip} scored triplets, 600 classes (built in {t_make:.1f} s)")
    with tempfile.TemporaryDirectory() as d:
        gp, pp = Path(d)/'gt.json', Path(d)/'pred.json'
        gp.write_text(json.dumps(gt)); pp.write_text(json.dumps(preds)); size_mb = pp.stat().st_size / 1e6
        # the whole command, as a user runs it
        cmd = [sys.executable, '-m', 'clhoi', 'evaluate', '--dataset', 'hico-det', '--gt', str(gp), '--pred', str(pp), '--json']
        t = time.perf_counter(); out = subprocess.run(cmd, capture_output=True, text=True); t_cmd = time.perf_counter() - t
        if out.returncode != 0: print(f"  clhoi evaluate failed: {out.stderr.strip()}"); return False
        cmd_full = json.loads(out.stdout)['full']
        # the baseline: stdlib json.load of both files + the plain-loop reference
        t = time.perf_counter()
        with open(gp) as f: gt_std = json.load(f)
        with open(pp) as f: preds_std = json.load(f)
        t_json = time.perf_counter() - t
        t = time.perf_counter(); ref = np.array(ref_evaluate(gt_std, preds_std)['ap']); t_ref = time.perf_counter() - t
        del gt_std, preds_std
        t = time.perf_counter(); load_hoi_file(pp, 'pred', hico_det()); t_load = time.perf_counter() - t
    t = time.perf_counter(); hoi_arrays(preds, 'pred', hico_det()); t_check = time.perf_counter() - t
    t = time.perf_counter(); res = evaluate_hicodet(gt, preds); t_ours = time.perf_counter() - t
    ours = res['ap'] / 100
    both = ~np.isnan(ref)
    ok = bool(np.array_equal(np.isnan(ours), np.isnan(ref)) and np.allclose(ours[both], ref[both], rtol=0, atol=1e-9))
    ok &= bool(abs(cmd_full - res['full']) <= 1e-9)
    diff = float(np.max(np.abs(ours[both] - ref[both]))) if both.any() else 0.0
    ratio = t_cmd / (t_json + t_ref)
    print(f"  whole command `python -m clhoi evaluate` on the files: {t_cmd:.2f} s   stdlib json.load of both files "
          f"{t_json:.2f} s + plain-loop reference {t_ref:.2f} s = {t_json + t_ref:.2f} s   "
          f"ratio {ratio:.3f} (target <= 0.5{': met' if ratio <= 0.5 else ': NOT met'})")
    print(f"  load + validate the prediction file ({size_mb:.0f} MB of JSON): {t_load:.2f} s "
          f"(validating the already loaded list {t_check:.2f} s)")
    print(f"  evaluate_hicodet from loaded lists (validation included): {t_ours:.2f} s   "
          f"plain-loop reference (no validation): {t_ref:.2f} s   speed ratio x{t_ref / t_ours:.1f}")
    print(f"  mAP full {res['full']:.4f}  rare {res['rare']:.4f}  non-rare {res['non_rare']:.4f}   "
          f"max |AP diff| vs reference {diff:.1e}  -> {'agree' if ok else 'DISAGREE'} (tolerance 1e-9)")
    return ok

# ---------------------------------------------------------------------------------------------------------------
# V-COCO
# The input is seeded and synthetic, shaped like a UPT/PViC cache: 4,946 test images, one detection dict per
# (pair, action) with only that action's `<action>_agent` and `<action>_<role>` keys (the rest filled as UPT's
# `CacheTemplate` does). The reference is the official algorithm written as plain loops (detections grouped by
# image once, then per image, per class, per detection, as `vsrl_eval.py` does; the official code additionally
# rescans every detection for every image, which is what makes it take ~30 min). Both must agree to 1e-9.

from clhoi.labels import v_coco
from clhoi.vcoco import VCocoGroundTruth

LAB = v_coco()  # V-COCO label space for this part
FILL = [0., 0., .1, .1, 0.]


def make_vcoco(n_images, dets_per_image, seed):
    "Seeded ground truth (`VCocoGroundTruth`) and UPT-style detection dicts."
    rng = np.random.default_rng(seed)
    role_classes = [(a, r) for a, r in LAB.role_classes if LAB.actions[a] != 'point']   # UPT's 24
    ids, B, C, A, R = [], [], [], [], []
    dets = []
    for iid in range(1, n_images + 1):
        n_p, n_o = rng.integers(1, 7), rng.integers(0, 6)
        xy = rng.uniform(0, 500, (n_p + n_o, 2)); wh = rng.uniform(10, 200, (n_p + n_o, 2))
        boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
        cats = np.array([1] * n_p + list(rng.choice([37, 41, 47, 62], n_o)), dtype=np.int64)
        act = -np.ones((n_p + n_o, 26), np.int8); rid = -np.ones((n_p + n_o, 26, 2), np.int64)
        annotated = rng.random(n_p) < .85
        act[:n_p][annotated] = (rng.random((annotated.sum(), 26)) < .15).astype(np.int8)
        for g in range(n_p):
            for a in np.flatnonzero(act[g] == 1):
                for j in range(len(LAB.roles[a]) - 1):
                    if rng.random() < .8: rid[g, a, j] = rng.integers(0, n_p + n_o)
        ids.append(iid); B.append(boxes); C.append(cats); A.append(act); R.append(rid)
        for _ in range(dets_per_image):
            p = boxes[rng.integers(0, n_p)] if rng.random() < .85 else boxes[rng.integers(0, n_p + n_o)]
            o = boxes[rng.integers(0, n_p + n_o)]
            jit = lambda b: (b + rng.normal(0, 8, 4)).tolist()
            a, r = role_classes[rng.integers(0, len(role_classes))]
            k = int(np.flatnonzero((boxes == p).all(1))[0])
            true = [(b, q) for b, q in role_classes if k < n_p and act[k, b] == 1]
            if true and rng.random() < .6:                               # often one of the person's actions
                a, r = true[rng.integers(0, len(true))]
                j = LAB.roles[a].index(r) - 1
                if rid[k, a, j] >= 0 and rng.random() < .7: o = boxes[rid[k, a, j]]
            s = float(rng.random())
            dets.append({'image_id': iid, 'person_box': jit(p), f"{LAB.actions[a]}_agent": s,
                         LAB.role_key(a, r): jit(o) + [s]})
    dets.append({'image_id': n_images + 5, 'person_box': [0, 0, 10, 10]})                  # not in the split
    return VCocoGroundTruth(np.array(ids), B, C, A, R, 'synthetic'), dets


def vcoco_overlap(boxes, ref):
    "vsrl_eval.get_overlap: +1 pixel IoU of each row of `boxes` with `ref`."
    iw = np.maximum(np.minimum(boxes[:, 2], ref[2]) - np.maximum(boxes[:, 0], ref[0]) + 1., 0.)
    ih = np.maximum(np.minimum(boxes[:, 3], ref[3]) - np.maximum(boxes[:, 1], ref[1]) + 1., 0.)
    inter = iw * ih
    return inter / ((ref[2] - ref[0] + 1.) * (ref[3] - ref[1] + 1.) + (boxes[:, 2] - boxes[:, 0] + 1.) * (boxes[:, 3] - boxes[:, 1] + 1.) - inter)


def reference_vcoco(gt, dets, thr=.5):
    "The official algorithm as plain loops (ties: stable by descending score, the 'input' order)."
    by_image = {}
    for d in dets: by_image.setdefault(d['image_id'], []).append(d)
    f32 = lambda x: np.asarray(x, dtype=np.float32).astype(np.float64)
    classes = [(a, -1) for a in range(26)] + [(a, j) for a in range(26) for j in range(len(LAB.roles[a]) - 1)]
    res = {(s, c): ([], [], []) for c in classes for s in ((1,) if c[1] < 0 else (1, 2))}
    npos = np.zeros(26)
    for iid, boxes, cats, acts, rids in zip(gt.image_ids, gt.boxes, gt.category_ids, gt.actions, gt.role_ids):
        persons = np.flatnonzero(cats == 1)
        gb, ga = boxes[persons].astype(np.float64), acts[persons]
        ignore = (ga == -1).any(1)
        npos += (ga == 1).sum(0)
        mine = by_image.get(int(iid), [])
        pboxes = [f32(d['person_box']) for d in mine]
        for a, j in classes:
            key = f"{LAB.actions[a]}_agent" if j < 0 else LAB.role_key(a, LAB.roles[a][j + 1])
            fill = 0. if j < 0 else FILL
            vals = [f32(d.get(key, fill)) for d in mine]
            scores = [float(v) if j < 0 else float(v[4]) for v in vals]
            for s in ((1,) if j < 0 else (1, 2)):
                tp, fp, sc = res[(s, (a, j))]
                covered = np.zeros(len(gb), bool)
                for k in sorted(range(len(mine)), key=lambda k: -scores[k]):
                    if math.isnan(scores[k]): continue
                    ov = vcoco_overlap(gb, pboxes[k])
                    jmax = int(ov.argmax()); ovmax = ov[jmax]
                    if ignore[jmax]: continue
                    ok = ga[jmax, a] == 1 and ovmax >= thr
                    if ok and j >= 0:
                        r = rids[persons[jmax], a, j]
                        if r < 0: ov_role = 1. if s == 2 or np.all(vals[k][:4] == 0) or np.all(np.isnan(vals[k][:4])) else 0.
                        else: ov_role = vcoco_overlap(boxes[r:r + 1].astype(np.float64), vals[k][:4])[0]
                        ok = ov_role >= thr
                    sc.append(scores[k])
                    if ok and not covered[jmax]: tp.append(1); fp.append(0); covered[jmax] = True
                    else: tp.append(0); fp.append(1)
    out = {}
    for (s, (a, j)), (tp, fp, sc) in res.items():
        order = sorted(range(len(sc)), key=lambda k: -sc[k])
        ctp, cfp = np.cumsum(np.array(tp, float)[order]), np.cumsum(np.array(fp, float)[order])
        out[(s, a, j)] = voc_ap_plain(ctp / npos[a], ctp / np.maximum(ctp + cfp, np.finfo(np.float64).eps)) if npos[a] else math.nan
    return out


def voc_ap_plain(rec, prec):
    "VOC2010 all-point AP written out as the official `voc_ap` loop (independent of clhoi.evaluation.average_precision)."
    mrec = [0.0] + list(rec) + [1.0]; mpre = [0.0] + list(prec) + [0.0]
    for i in range(len(mpre) - 2, -1, -1): mpre[i] = max(mpre[i], mpre[i + 1])
    return sum((mrec[i + 1] - mrec[i]) * mpre[i + 1] for i in range(len(mrec) - 1) if mrec[i + 1] != mrec[i])

def bench_vcoco(small:bool=False, seed:int=0, dets_per_image:int=60) -> bool:
    from clhoi.vcoco_evaluate import evaluate_vcoco
    n = 300 if small else 4946
    t = time.perf_counter()
    gt, dets = make_vcoco(n, dets_per_image, seed)
    print(f"V-COCO: {len(gt)} images, {len(dets):,} detection dicts, UPT-cache style (built in {time.perf_counter() - t:.1f} s)")
    t = time.perf_counter(); fast = evaluate_vcoco(gt, dets); t_fast = time.perf_counter() - t
    t = time.perf_counter(); ref = reference_vcoco(gt, dets); t_ref = time.perf_counter() - t
    worst = 0.
    for (s, a, j), val in ref.items():
        if j < 0: mine = fast['agent_per_action'][LAB.actions[a]] / 100
        else: mine = fast[f'per_class_s{s}'][LAB.role_key(a, LAB.roles[a][j + 1])] / 100
        if math.isnan(val) and math.isnan(mine): continue
        worst = max(worst, abs(val - mine))
    ok = worst <= 1e-9
    print(f"  evaluate_vcoco: {t_fast:.2f} s   plain-loop reference: {t_ref:.2f} s   speed ratio x{t_ref / t_fast:.1f}")
    print(f"  agent AP {fast['agent_ap']:.3f}  role AP S1 {fast['role_ap_s1']:.3f}  S2 {fast['role_ap_s2']:.3f}  "
          f"S2/24 {fast['role_ap_s2_24']:.3f}   max |AP diff| vs reference {worst:.1e}  -> {'agree' if ok else 'DISAGREE'} (tolerance 1e-9)")
    return ok

BENCHMARKS = {'hico-det': bench_hicodet, 'v-coco': bench_vcoco}

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--dataset', choices=[*BENCHMARKS, 'all'], default='hico-det')
    ap.add_argument('--small', action='store_true', help='a quick run on a small input')
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args(argv)
    names = list(BENCHMARKS) if args.dataset == 'all' else [args.dataset]
    results = [BENCHMARKS[n](small=args.small, seed=args.seed) for n in names]
    return 0 if all(results) else 1

if __name__ == '__main__':
    sys.exit(main())
