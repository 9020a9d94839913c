"""What one image costs: the CL-HOI student (RN50) against its teacher, InstructBLIP-Vicuna-7B, in FLOPs.

    python benchmarks/cost.py                                      # about 25 s on two CPU cores, 1.4 GB
    python benchmarks/cost.py --caption-tokens 60 --parse-out 40   # longer teacher answers

The paper's reason to distil is inference cost; this counts it. Per image, part by part (the student's parts are
what `clhoi.predict.Predictor.predict` runs per image):

* student, at the paper's RN50 settings (`StudentConfig.paper_rn50()`), front end included: DETR-R50 on one
  800 x 1200 image (UPT's test size, shorter side 800), CLIP RN50's C5 grid at 224 px (what
  `ClipEncoders.image_grid` runs: stem to layer4, no attention pool), the VLT (A1, BLIP-2's Q-Former over
  32 queries + 49 image tokens, A2, A3), the ICN on 15 humans + 15 objects (UPT's maximum, 15 * 29 = 435 pairs)
  and on a typical 3 + 3 (15 pairs), and the scoring of every pair against HICO-DET's 600 prompts (a (P, d) x
  (d, 600) matmul inside `hoi_scores`; the prompts are encoded once per run, not per image: printed as a note);
* teacher, the two calls CL-HOI makes per training image (`clhoi.teacher.HFTeacher`): the caption (EVA ViT-g/14
  at 224 px, the Q-Former with the instruction "What are the persons doing in the image?" as its text input,
  Vicuna-7B's prefill of 32 query tokens + the prompt, then greedy decoding one token at a time with the KV
  cache) and the parse (the language model alone on "caption + parse prompt", ~20 tokens out).

How: `torch.utils.flop_counter.FlopCounterMode` over each part's forward. It counts matmuls and convolutions
(mm, addmm, bmm, baddbmm, convolution, fused attention) at 2 FLOPs per multiply-add, and nothing else:
elementwise ops (norms, activations, softmax, residual adds), embedding lookups, NMS and post-processing are
not counted. CPU's fused attention kernels and `nn.MultiheadAttention`'s fast path are invisible to the counter,
so every count runs with the math SDPA backend and the fast path off: attention becomes bmm, which it sees.
Models are built on the meta device (`with torch.device('meta')`: shapes only, no weights allocated). Where
meta breaks a part (a data-dependent op), the script says so and counts it with real random weights and inputs
of the same shapes on the CPU instead; today that is DETR (transformers' mask helper asks `pixel_mask.all()`,
which a meta tensor cannot answer) and the ICN (`pairs[pair_mask]`: boolean indexing, data-dependent shape).

The teacher's sizes: transformers' `InstructBlipVisionConfig()` and `InstructBlipQFormerConfig()` defaults
(ViT: hidden 1408, 39 layers, 16 heads, MLP 6144, patch 14, 224 px; Q-Former: hidden 768, 12 layers, 12 heads,
FFN 3072, cross-attention every 2nd layer, encoder width 1408) with 32 query tokens, and a `LlamaConfig` for
Vicuna-7B (hidden 4096, 32 layers, 32 heads, FFN 11008, vocab 32064, untied head), as in the hub's config.json
of Salesforce/instructblip-vicuna-7b (https://huggingface.co/Salesforce/instructblip-vicuna-7b/blob/refs%2Fpr%2F14/
config.json: text_config as above, image_token_index 32001, Q-Former vocab 30523, vision and Q-Former sizes left
at the defaults; see https://huggingface.co/docs/transformers/model_doc/instructblip). `generate` cannot run on
meta (the same mask helpers), so the script runs what it runs itself: `get_image_features`' three steps with no
masks (one image, nothing padded: all-ones masks), the prefill forward keeping the last position's logits only
(`logits_to_keep=1`, as `generate` does), then n - 1 single-token forwards with the `DynamicCache` for n new
tokens (the prefill gives the first). No tokenizer is available offline, so token counts are estimates, set by
the options: the caption prompt is 11 Llama tokens (BOS + 10) and 11 BERT tokens for the Q-Former ([CLS] + 9 +
[SEP]); the parse prompt is 24 Llama tokens, after BOS and the caption's tokens.

The 'checks' lines set three counts beside published ones: CLIP RN50's whole image tower against open_clip's
docs/model_profile.csv (12.22 GFLOPs), the ViT against 39/40 of open_clip's EVA01-g-14 (534.06 GFLOPs, 40
layers; BLIP-2 and InstructBLIP drop the last), DETR against the DETR paper's 86 GFLOPS for R50 (detectron2's
counter, one per multiply-add, on COCO val's image sizes: about 172 in these units).
"""
import argparse, logging, os, time, traceback, warnings

def gflops(fn) -> tuple[object, float]:
    "fn()'s output and the GFLOPs it ran, attention included (math SDPA, no MHA fast path)."
    import torch
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode
    fast = torch.backends.mha.get_fastpath_enabled()
    torch.backends.mha.set_fastpath_enabled(False)
    try:
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter: out = fn()
    finally: torch.backends.mha.set_fastpath_enabled(fast)
    return out, counter.get_total_flops() / 1e9

FALLBACKS: dict[str, str] = {}   # why meta broke -> its footnote mark, filled by `meta_or_cpu`

def meta_or_cpu(build, run) -> tuple[float, str]:
    "GFLOPs of run(build(), device) on the meta device; on the CPU with real random tensors where meta breaks."
    import torch
    try:
        with torch.device('meta'): model = build()
        return gflops(lambda: run(model, 'meta'))[1], 'meta'
    except (RuntimeError, NotImplementedError) as e:   # where it broke: the last frame outside torch
        f = [f for f in traceback.extract_tb(e.__traceback__) if f'{os.sep}torch{os.sep}' not in f.filename][-1]
        msg = str(e).strip().splitlines()[0]
        msg = msg if len(msg) <= 60 else msg[:57] + '...'
        reason = f"{os.path.basename(f.filename)}:{f.lineno} {f.name}, `{f.line.split('#')[0].strip()}`: {msg}"
    torch.manual_seed(0)
    mark = FALLBACKS.setdefault(reason, f'[{len(FALLBACKS) + 1}]')
    return gflops(lambda: run(build(), 'cpu'))[1], f'cpu {mark}'

# ---------------------------------------------------------------------------------------------------------------
# the student

def student_parts(detections:list[tuple[int, int]], image_hw:tuple[int, int]) -> list[tuple[str, float, str]]:
    "(part, GFLOPs, where counted) of the RN50 student per image, for each (humans, objects) count."
    import open_clip, torch
    from transformers import Blip2QFormerConfig, Blip2QFormerModel, DetrConfig, DetrForObjectDetection
    from clhoi.encoders import grid_centres
    from clhoi.features import FrontEnd, pad_batch
    from clhoi.frontend import Detections
    from clhoi.icn import InteractionCognitionNetwork
    from clhoi.labels import hico_det
    from clhoi.model import Student, StudentConfig, hoi_scores
    from clhoi.vlt import VisualLinguisticTranslator
    cfg, (h, w) = StudentConfig.paper_rn50(), image_hw
    rows = []

    def detr_run(m, dev):   # what DetrDetector.raw runs: pixel values and the pixel mask of one resized image
        return m(pixel_values=torch.randn(1, 3, h, w, device=dev), pixel_mask=torch.ones(1, h, w, dtype=torch.long, device=dev))
    g, where = meta_or_cpu(lambda: DetrForObjectDetection(DetrConfig(use_pretrained_backbone=False)).eval(), detr_run)
    rows.append((f'DETR-R50, {h} x {w}', g, where))

    with torch.device('meta'): clip = open_clip.create_model('RN50', device='meta').eval()
    grid, g = gflops(lambda: clip.visual.forward_intermediates(    # ClipEncoders.image_grid's call
        torch.zeros(1, 3, 224, 224, device='meta'), indices=1, intermediates_only=True, normalize_intermediates=True,
        output_fmt='NCHW')['image_intermediates'][-1])              # (1, 2048, 7, 7)
    rows.append(('CLIP RN50 grid, 224 px', g, 'meta'))
    _, gh, gw = grid.shape[1:]

    with torch.device('meta'):   # nbs/15_model.ipynb's real-scale student: BLIP-2's Q-Former, random weights
        qformer = Blip2QFormerModel(Blip2QFormerConfig(hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                                                       intermediate_size=3072, encoder_hidden_size=1408))
        student = Student(cfg, VisualLinguisticTranslator(cfg.vlt, qformer, torch.zeros(1, 32, 768))).eval()
    vlt, g = gflops(lambda: student.vlt(torch.zeros(1, gh * gw, cfg.vlt.grid_dim, device='meta')))
    rows.append((f'VLT ({vlt.context.shape[1]} queries + {gh * gw} tokens)', g, 'meta'))

    labels = hico_det()
    prompts = torch.randn(labels.n_hois, cfg.icn.dim)    # (600, d), encoded once (see `prompt_note`)
    for humans, objects in detections:
        n = humans + objects
        xy = torch.rand(n, 2) * torch.tensor([w, h]) / 2
        det = Detections(torch.cat([xy, xy + 8 + torch.rand(n, 2) * torch.tensor([w, h]) / 2], 1), torch.rand(n),
                         torch.tensor([0] * humans + [1 + i % 79 for i in range(objects)]),   # coco80: 0 person
                         torch.randn(n, cfg.icn.embed_dim), (h, w))
        batch = pad_batch([FrontEnd('image.jpg', det, torch.randn(gh * gw, cfg.vlt.grid_dim), grid_centres(gh, gw))])
        P = batch['pairs'].shape[1]
        def icn_run(icn, dev, batch=batch):
            b = {k: v.to(dev) for k, v in batch.items()}
            return icn(b['embeds'], b['boxes'], b['inst_mask'], b['image_size'], b['pairs'], b['pair_mask'],
                       visual=torch.randn(1, gh * gw, cfg.icn.dim, device=dev), grid_xy=b['grid_xy'],
                       context=torch.randn(1, vlt.context.shape[1], cfg.icn.dim, device=dev))
        g, where = meta_or_cpu(lambda: InteractionCognitionNetwork(cfg.icn).eval(), icn_run)
        rows.append((f'ICN, {humans} humans + {objects} objects ({P} pairs)', g, where))
        def score_run(_, dev, batch=batch, P=P):
            return hoi_scores(torch.randn(1, P, cfg.icn.dim, device=dev), prompts.to(dev),
                              {k: v.to(dev) for k, v in batch.items()}, labels, 0.07, cfg.lambda_test)
        g, where = meta_or_cpu(lambda: None, score_run)
        rows.append((f'scoring, {P} pairs x {labels.n_hois} prompts', g, where))
    return rows

def prompt_note(n_images:int=9546) -> str:
    "The one-off cost of CLIP RN50's text tower on HICO-DET's 600 prompts, spread over the test set."
    import open_clip, torch
    with torch.device('meta'): clip = open_clip.create_model('RN50', device='meta').eval()
    _, g = gflops(lambda: clip.encode_text(torch.zeros(600, 77, dtype=torch.long, device='meta')))
    return (f"prompts: CLIP RN50's text tower on the 600 prompts is {g:.0f} GFLOPs once per run "
            f"({g / n_images:.2f} per image over HICO-DET's {n_images:,} test images): not in the totals")

# ---------------------------------------------------------------------------------------------------------------
# the teacher

def instructblip_vicuna7b():
    "InstructBLIP-Vicuna-7B on the meta device, at the sizes of the docstring."
    import torch
    from transformers import (InstructBlipConfig, InstructBlipForConditionalGeneration, InstructBlipQFormerConfig,
                              InstructBlipVisionConfig, LlamaConfig)
    text = LlamaConfig(hidden_size=4096, num_hidden_layers=32, num_attention_heads=32, num_key_value_heads=32,
                       intermediate_size=11008, vocab_size=32064, max_position_embeddings=2048, rms_norm_eps=1e-6,
                       tie_word_embeddings=False, pad_token_id=32000, bos_token_id=0, eos_token_id=1)
    cfg = InstructBlipConfig(vision_config=InstructBlipVisionConfig().to_dict(),
                             qformer_config=InstructBlipQFormerConfig(vocab_size=30523).to_dict(),
                             text_config=text.to_dict(), num_query_tokens=32, image_token_index=32001)
    with torch.device('meta'): model = InstructBlipForConditionalGeneration(cfg).eval()
    model.set_attn_implementation('eager')    # plain matmuls; the math SDPA backend would count the same
    return model

def generation(lm, prompt_len:int, new_tokens:int, prefix=None) -> tuple[float, float]:
    "GFLOPs of greedy generation: the prefill of `prompt_len` positions, then new_tokens - 1 cached one-token steps."
    import torch
    ids = lambda n: torch.zeros(1, n, dtype=torch.long, device='meta')
    if prefix is None: embeds = lm.get_input_embeddings()(ids(prompt_len))
    else: embeds = torch.cat([prefix, lm.get_input_embeddings()(ids(prompt_len - prefix.shape[1]))], 1)
    out, prefill = gflops(lambda: lm(inputs_embeds=embeds, use_cache=True, logits_to_keep=1))
    cache, decode = out.past_key_values, 0.
    for _ in range(new_tokens - 1):
        out, g = gflops(lambda: lm(input_ids=ids(1), cache=cache, use_cache=True, logits_to_keep=1))
        cache, decode = out.past_key_values, decode + g
    return prefill, decode

def teacher_parts(prompt_tokens:int, qformer_tokens:int, caption_tokens:int, parse_prompt_tokens:int,
                  parse_out:int) -> list[tuple[str, float, str]]:
    "(part, GFLOPs, where counted) of InstructBLIP-Vicuna-7B's caption and parse calls on one image."
    import torch
    model = instructblip_vicuna7b()
    image, g_vit = gflops(lambda: model.vision_model(pixel_values=torch.zeros(1, 3, 224, 224, device='meta'))[0])
    Q = model.query_tokens.shape[1]
    def qformer():   # get_image_features' steps 2 and 3: queries + instruction over the image, projected to the LM
        z = model.qformer(input_ids=torch.zeros(1, qformer_tokens, dtype=torch.long, device='meta'),
                          query_embeds=model.query_tokens, encoder_hidden_states=image)[0]
        return model.language_projection(z[:, :Q])
    queries, g_qf = gflops(qformer)
    lm, L = model.language_model, Q + prompt_tokens
    prefill, decode = generation(lm, L, caption_tokens, prefix=queries)
    parse_in = 1 + caption_tokens + parse_prompt_tokens
    parse_prefill, parse_decode = generation(lm, parse_in, parse_out)
    n_layers = model.config.vision_config.num_hidden_layers
    return [(f'EVA ViT-g/14 ({n_layers} layers), 224 px', g_vit, 'meta'),
            (f'Q-Former ({Q} queries + {qformer_tokens} instruction tokens) + projection', g_qf, 'meta'),
            (f'Vicuna-7B prefill, {Q} + {prompt_tokens} tokens', prefill, 'meta'),
            (f'Vicuna-7B decode, {caption_tokens} tokens', decode, 'meta'),
            (f'parse: Vicuna-7B prefill, {parse_in} tokens', parse_prefill, 'meta'),
            (f'parse: Vicuna-7B decode, {parse_out} tokens', parse_decode, 'meta')]

def checks() -> list[str]:
    "Counts set beside published figures (see the docstring)."
    import open_clip, torch
    from transformers import InstructBlipVisionConfig, InstructBlipVisionModel
    with torch.device('meta'):
        clip = open_clip.create_model('RN50', device='meta').eval()
        vit40 = InstructBlipVisionModel(InstructBlipVisionConfig(num_hidden_layers=40)).eval()
    _, g_clip = gflops(lambda: clip.visual(torch.zeros(1, 3, 224, 224, device='meta')))
    _, g_vit = gflops(lambda: vit40(pixel_values=torch.zeros(1, 3, 224, 224, device='meta')))
    return [f"CLIP RN50 image tower with attention pool, 224 px: {g_clip:.2f} GFLOPs (open_clip's profile: 12.22)",
            f"EVA ViT-g/14 with all 40 layers, 224 px: {g_vit:.1f} GFLOPs (open_clip's EVA01-g-14 image tower: 534.06)",
            "DETR-R50: the DETR paper's 86 GFLOPS count multiply-adds on COCO val's sizes: ~172 in these units"]

# ---------------------------------------------------------------------------------------------------------------

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--height', type=int, default=800, help="DETR's input height (UPT: shorter side 800)")
    ap.add_argument('--width', type=int, default=1200, help="DETR's input width")
    ap.add_argument('--prompt-tokens', type=int, default=11, help='Llama tokens of the caption prompt, BOS included')
    ap.add_argument('--qformer-tokens', type=int, default=11, help="BERT tokens of the instruction, [CLS] [SEP] included")
    ap.add_argument('--caption-tokens', type=int, default=30, help='tokens the teacher generates for a caption')
    ap.add_argument('--parse-prompt-tokens', type=int, default=24, help='Llama tokens of the parse prompt')
    ap.add_argument('--parse-out', type=int, default=20, help='tokens the teacher generates for a parse')
    a = ap.parse_args(argv)
    import pandas as pd, torch, transformers
    transformers.logging.set_verbosity_error(); logging.getLogger().setLevel(logging.ERROR)
    warnings.filterwarnings('ignore')
    t0 = time.perf_counter()
    student = student_parts([(15, 15), (3, 3)], (a.height, a.width))
    teacher = teacher_parts(a.prompt_tokens, a.qformer_tokens, a.caption_tokens, a.parse_prompt_tokens, a.parse_out)

    front = sum(g for p, g, _ in student[:2])
    common = front + student[2][1]                       # DETR + CLIP + VLT: the same for any detection count
    most, typical = common + student[3][1] + student[4][1], common + student[5][1] + student[6][1]
    caption, parse = sum(g for _, g, _ in teacher[:4]), sum(g for _, g, _ in teacher[4:])
    rows = ([('student', p, g, wh) for p, g, wh in student]
            + [('student', 'total, 15 + 15 detections (435 pairs)', most, ''),
               ('student', 'total, 3 + 3 detections (15 pairs)', typical, '')]
            + [('teacher', p, g, wh) for p, g, wh in teacher]
            + [('teacher', 'total, caption call', caption, ''), ('teacher', 'total, parse call', parse, ''),
               ('teacher', 'total, both calls', caption + parse, '')])
    table = pd.DataFrame(rows, columns=['model', 'part', 'GFLOPs', 'counted on']).set_index(['model', 'part'])
    with pd.option_context('display.max_colwidth', 60, 'display.width', 200, 'display.float_format', '{:,.2f}'.format):
        print(table)
    for reason, mark in FALLBACKS.items():
        print(f"{mark} counted with real random weights and inputs of the same shapes; meta broke at {reason}")
    teach = caption + parse
    print(f"\nteacher / student per image: {teach / most:.1f}x at 15 + 15 detections, {teach / typical:.1f}x at 3 + 3; "
          f"caption call alone {caption / most:.1f}x and {caption / typical:.1f}x")
    print(f"  the student costs 1/{teach / most:.0f} (at most) to 1/{teach / typical:.0f} (typically) of the teacher; "
          f"without its frozen front end (DETR + CLIP: {front:.0f} GFLOPs) 1/{teach / (most - front):.0f} to "
          f"1/{teach / (typical - front):.0f}")
    print('  ' + prompt_note())
    print('\nchecks:'); print('\n'.join('  ' + c for c in checks()))
    print(f"\n({time.perf_counter() - t0:.0f} s; matmul and convolution FLOPs only, 2 per multiply-add)")
    return 0

if __name__ == '__main__': raise SystemExit(main())
