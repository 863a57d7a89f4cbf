"""Directories the kit writes and reads: manifests with a sha256 per file, model and pretrained directories."""
