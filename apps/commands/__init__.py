"""`albert-tf` commands, one module per family; each command's parser lives beside it.

Every module lists its commands in `COMMANDS`: functions that add one
subparser (arguments, help, `func`) to the `albert-tf` parser. `cli.py`
registers the modules in this order, which is the order of `--help`.
"""

from . import distill, export, models, pipelines, pretrained, serving, training

MODULES = (training, models, export, serving, pipelines, pretrained, distill)
