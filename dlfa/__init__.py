"""dlfa: does typology-guided intermediate training and DLFA layer fusion help mBERT's zero-shot
cross-lingual transfer on PAWS-X? docs/design.md maps the package; the README is the front door."""

import warnings

# Before datasets or transformers import tqdm.auto: without ipywidgets, executed notebooks get text
# progress bars, which is what we want, and the warning saying so is noise.
warnings.filterwarnings("ignore", message="IProgress not found")

__version__ = "0.1.0"
