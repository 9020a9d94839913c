"""What `--num-workers` buys: images decoded ahead while the model works on the batch before.

    python benchmarks/image_decode_speed.py [--images 64] [--batch-size 8] [--work-ms 60]

`clhoi teach`, `clhoi train` (front end) and `clhoi predict` read their images through `clhoi.core.image_batches`.
This writes --images random JPEGs of HICO-DET's usual size (640 x 480) to a temporary folder, then walks them in
batches with 0, 1, 2 and 4 decoding threads while "the model" holds each batch for --work-ms milliseconds. The
model's time is a sleep: on a GPU the forward pass leaves the CPU free, which a sleep imitates and a CPU forward
pass would not. Printed: decoding alone per image, then each setting's wall time as a ratio to workers=0. With
decoding fully hidden, the time approaches the model's alone (the last column's floor).
"""
import argparse, tempfile, time
from pathlib import Path

import numpy as np
from PIL import Image

from clhoi.core import image_batches

def walk(paths, batch_size:int, workers:int, work_s:float) -> float:
    start = time.perf_counter()
    for _ in image_batches(paths, batch_size, workers): time.sleep(work_s)
    return time.perf_counter() - start

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--images', type=int, default=64)
    ap.add_argument('--batch-size', type=int, default=8)
    ap.add_argument('--work-ms', type=float, default=60.0, help="the model's time per batch (a sleep)")
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for i in range(a.images):
            # smooth noise compresses like a photograph (pure noise would make the JPEGs unusually slow to decode)
            small = rng.integers(0, 255, (60, 80, 3), np.uint8)
            im = Image.fromarray(small).resize((640, 480), Image.BILINEAR)
            paths.append(Path(tmp) / f'{i:04d}.jpg'); im.save(paths[-1], quality=90)
        decode = walk(paths, a.batch_size, 0, 0.0) / a.images
        floor = -(-a.images // a.batch_size) * a.work_ms / 1e3
        print(f"{a.images} JPEGs 640x480, batches of {a.batch_size}, model {a.work_ms:.0f} ms per batch; "
              f"decoding alone {1e3 * decode:.1f} ms per image; the model alone {floor:.2f} s")
        base = None
        for workers in (0, 1, 2, 4):
            t = min(walk(paths, a.batch_size, workers, a.work_ms / 1e3) for _ in range(2))
            base = base or t
            print(f"  --num-workers {workers}: {t:5.2f} s  x{base / t:.2f} faster than 0  ({t / floor:.2f} x the model alone)")

if __name__ == '__main__':
    main()
