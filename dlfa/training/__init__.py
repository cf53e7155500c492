"""The training stage's library: the DLFA model (``model``, ``aif``), the tiny model and its
pretraining (``tiny``, ``pretrain``), one run's training (``train``, ``trainer``), the checkpoint
protocol (``checkpoint_selection``) and the layers' cross-lingual similarity (``similarity``)."""
