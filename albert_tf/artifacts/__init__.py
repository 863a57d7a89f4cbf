"""Directories the kit writes and reads: manifests with a sha256 per file, the
model and pretrained directory formats, pretrained weights by name."""
