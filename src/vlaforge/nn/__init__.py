"""Shared neural-network blocks. Families import from here, never from each other.

- ``attention``: multi-head attention over PyTorch SDPA, masks, KV cache, rotary embedding
- ``mlp``: the transformer feed-forward block
- ``transformer``: pre-LN ``Block`` and ``Transformer`` (re-exports the attention API)
- ``flow``: flow-matching time sampling, interpolation, targets, Euler sampler
- ``embeddings``: sinusoidal time embedding, learned position embedding
- ``vision``: patchify stem, small conv stem, train-time random-shift augmentation
- ``text``: frozen instruction encoders ('minilm', 'hash')
- ``hf_backbone``: pretrained Hugging Face vision(-language) backbones from a local directory

Nothing is imported here, so ``import vlaforge.nn`` stays free; import the submodule you need.
"""
