"""dlfa: does typology-guided intermediate training and DLFA layer fusion help mBERT's zero-shot
cross-lingual transfer on PAWS-X? See DESIGN.md and the README."""

__version__ = "0.1.0"
