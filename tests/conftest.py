import atexit, os, shutil, tempfile

# Tests never reach a model hub, and plots never open a window.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
os.environ.setdefault('MPLBACKEND', 'Agg')
# Generated data (HOI World, caches) goes to a throw-away cache root unless the caller chose one.
if 'CLHOI_CACHE' not in os.environ:
    os.environ['CLHOI_CACHE'] = _cache = tempfile.mkdtemp(prefix='clhoi-test-cache-')
    atexit.register(shutil.rmtree, _cache, ignore_errors=True)
