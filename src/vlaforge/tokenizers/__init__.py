"""Tokenizers shared by families: FAST actions (``fast``) and the image VQ (``image_vq``).

Nothing is imported here, so ``import vlaforge.tokenizers`` stays free; import the submodule.
"""
