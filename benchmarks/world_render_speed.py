"""HOI World rendering throughput on one core.

    python benchmarks/world_render_speed.py            # 300 images at 224 px
    python benchmarks/world_render_speed.py --n 1000 --size 320

Prints images per second for each stage: sampling scene graphs (no pixels), rendering them, and rendering plus PNG
encoding (what `build_world` does per image), with torch and the process pinned to one thread/core where possible.
"""
import argparse, io, os, time

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=300, help='images to time')
    ap.add_argument('--size', type=int, default=224, help='image side in pixels')
    ap.add_argument('--supersample', type=int, default=2, help='drawing scale before the anti-aliasing downsample')
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    if hasattr(os, 'sched_setaffinity'): os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from clhoi.world_config import WorldConfig
    from clhoi.world_scene import sample_scene, render_scene
    cfg = WorldConfig(seed=args.seed, image_size=args.size, supersample=args.supersample, n_train=args.n)
    t0 = time.perf_counter(); graphs = [sample_scene(cfg, 'train', i) for i in range(args.n)]; t_sample = time.perf_counter() - t0
    t0 = time.perf_counter(); images = [render_scene(g, cfg.supersample) for g in graphs]; t_render = time.perf_counter() - t0
    t0 = time.perf_counter()
    for im in images: im.save(io.BytesIO(), format='PNG')
    t_png = time.perf_counter() - t0
    n = args.n
    print(f"HOI World v{cfg.version[1:]}, {n} images of {args.size} px, supersample {args.supersample}, one core")
    print(f"  sample scene graphs   {n / t_sample:8.0f} images/s")
    print(f"  render                {n / t_render:8.0f} images/s")
    print(f"  render + PNG encode   {n / (t_render + t_png):8.0f} images/s")
    print(f"  sample + render + PNG {n / (t_sample + t_render + t_png):8.0f} images/s")
    return 0

if __name__ == '__main__': raise SystemExit(main())
