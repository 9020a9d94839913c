"One process of `tests/test_distributed.py`'s training job (run by torchrun, or alone): writes its final weights."
import json, sys
from pathlib import Path

import safetensors.torch
import torch.distributed as dist

from clhoi.core import seeded
from clhoi.distributed import init_distributed
from clhoi.icn import IcnConfig
from clhoi.model import Student, StudentConfig
from clhoi.train import TrainConfig, train, world_training_set
from clhoi.vlt import VltConfig
from clhoi.world_config import WorldConfig

out = Path(sys.argv[1])
ranks = init_distributed('cpu')
small = WorldConfig(n_train=40, n_test=20, n_pretrain=0)            # 16_train's small World: its caches are shared
cfg = TrainConfig(epochs=2, batch_size=7, lr_drop_after=1, threads=1)  # 7: shares of 4 and 3 on two processes
if not ranks.main: dist.barrier()                                    # rank 0 fills the caches first
data = world_training_set(small, cfg=cfg, progress=False)
if ranks.main and ranks.world > 1: dist.barrier()
no_dropout = StudentConfig(icn=IcnConfig(dropout=0.0), vlt=VltConfig(dropout=0.0))
with seeded(10 + ranks.rank): student = Student(no_dropout)          # ranks start apart: rank 0's weights must win
history = train(student, data, cfg, out=out / 'checkpoints', progress=False)
name = f"world{ranks.world}-rank{ranks.rank}"
safetensors.torch.save_file({k: v.contiguous() for k, v in student.state_dict().items()}, out / f"{name}.safetensors")
(out / f"{name}.json").write_text(json.dumps(dict(history=history, images=len(data))))
