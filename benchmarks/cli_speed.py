"""How fast the `clhoi` command answers where a user waits: help, argument errors, an offline missing checkpoint.

    python benchmarks/cli_speed.py [--repeat 3]

Each case runs `python -m clhoi ...` as a subprocess (best of --repeat) and prints its time beside the interpreter's
own start-up (`python -c pass`) as a ratio. Goals (issue: hardening): help and argument errors well under 0.5 s,
an offline `--teacher instructblip` under 1.5 s.
"""
import argparse, os, subprocess, sys, tempfile, time

def best(cmd:list[str], repeat:int, env:dict) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter(); subprocess.run(cmd, capture_output=True, env=env); times.append(time.perf_counter() - t)
    return min(times)

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0]); ap.add_argument('--repeat', type=int, default=3)
    repeat = ap.parse_args().repeat
    env = dict(os.environ, HF_HUB_OFFLINE='1', TRANSFORMERS_OFFLINE='1')
    out = os.path.join(tempfile.mkdtemp(), 'labels.jsonl')
    clhoi = [sys.executable, '-m', 'clhoi']
    cases = [('clhoi --help', [*clhoi, '--help'], 0.5),
             *[(f'clhoi {c} --help', [*clhoi, c, '--help'], 0.5) for c in ('evaluate', 'teach', 'merge', 'world', 'docs')],
             ('clhoi teach --limit -1 (argument error)', [*clhoi, 'teach', '--limit', '-1', '--out', out], 0.5),
             ('clhoi world --image-size 0 (argument error)', [*clhoi, 'world', '--image-size', '0'], 0.5),
             ('clhoi teach --teacher instructblip (offline, not cached)', [*clhoi, 'teach', '--teacher', 'instructblip',
                                                                          '--out', out], 1.5)]
    base = best([sys.executable, '-c', 'pass'], repeat, env)
    print(f"python start-up: {base:.3f} s (best of {repeat})\n")
    print(f"{'case':<58} {'time':>7} {'x start-up':>10} {'goal':>6}")
    for name, cmd, goal in cases:
        t = best(cmd, repeat, env)
        print(f"{name:<58} {t:6.2f}s {t / base:9.1f}x {'ok' if t < goal else 'SLOW':>6}")

if __name__ == '__main__': main()
