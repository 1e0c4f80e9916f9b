"""Training machinery shared by every recipe (torch, MONAI; ``train`` extra): one seeding function, one epoch
loop (:mod:`radclass.learning.loop`) and augmentation as MONAI transforms on one batch base
(:mod:`radclass.learning.augment`, :mod:`radclass.learning.transforms`).

It sits below both applications that train networks, :mod:`radclass.training` (the MRI series CNN) and
:mod:`radclass.diagnostic` (the CT/liver recipes), which must not know each other.
"""
