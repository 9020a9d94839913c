"""Training step time from cached front-end features against running the frozen front end every step.

    python benchmarks/train_speed.py              # 12 steps of batch 16 on a small HOI World, one thread
    python benchmarks/train_speed.py --steps 30 --batch-size 8

The frozen parts (the World detector's boxes, the World CLIP grid and the union-crop embeddings the soft-relation
loss needs) never change during training, so `16_train` reads them from the feature cache. This times one training
step (forward, the four losses, backward, AdamW) both ways on the same batches and prints the ratio (goal: >= 5x).
The teacher's labels are encoded once in both, as `training_set` does.
"""
import argparse, os, time

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--steps', type=int, default=12, help='training steps to time each way')
    ap.add_argument('--batch-size', type=int, default=16)
    ap.add_argument('--seed', type=int, default=0)
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    if hasattr(os, 'sched_setaffinity'): os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    from clhoi.core import seeded
    from clhoi.features import front_end
    from clhoi.losses import distillation_loss
    from clhoi.model import Student
    from clhoi.train import TrainConfig, collate, world_training_set
    from clhoi.world import load_world
    from clhoi.world_config import WorldConfig
    from clhoi.world_detector import WorldDetector
    n = args.steps * args.batch_size
    world = WorldConfig(n_train=n, n_test=8, n_pretrain=0, seed=args.seed)
    data = world_training_set(world, progress=False)                    # labels and cached features, built once
    folder, records, _ = load_world('train', world)
    detector = WorldDetector(records)
    with seeded(args.seed): student = Student()
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=1e-4)
    def step(items, labels):
        batch, targets = collate(items, labels)
        loss = distillation_loss(student(batch), batch, targets, student.temperature, TrainConfig().losses)['total']
        opt.zero_grad(); loss.backward(); opt.step()
    chunks = [range(i, min(i + args.batch_size, len(data))) for i in range(0, len(data), args.batch_size)]
    student.train()
    t0 = time.perf_counter()
    for c in chunks: step([data.items[j] for j in c], [data.labels[j] for j in c])
    cached = (time.perf_counter() - t0) / len(chunks)
    t0 = time.perf_counter()
    for c in chunks:
        paths = [folder / data.items[j].file_name for j in c]
        step(front_end(paths, detector, detector.encoders, crops=True), [data.labels[j] for j in c])
    live = (time.perf_counter() - t0) / len(chunks)
    print(f"HOI World, {len(chunks)} steps of batch {args.batch_size}, World student (all stages, all losses), one thread")
    print(f"  from cached features    {cached * 1000:8.1f} ms/step")
    print(f"  front end every step    {live * 1000:8.1f} ms/step")
    print(f"  cached is {live / cached:.1f}x faster (goal: at least 5x)")
    return 0

if __name__ == '__main__': raise SystemExit(main())
