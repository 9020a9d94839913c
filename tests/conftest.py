import os, tempfile

# Tests never reach a model hub, and plots never open a window.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')
os.environ.setdefault('MPLBACKEND', 'Agg')
# Generated data (HOI World, caches) goes to a throw-away cache root unless the caller chose one.
os.environ.setdefault('CLHOI_CACHE', tempfile.mkdtemp(prefix='clhoi-test-cache-'))
