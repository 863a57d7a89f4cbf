"""Hub ids for `import`: `albert/albert-base-v2` as `from_pretrained` takes it.

Resolved through `huggingface_hub.snapshot_download`, so its cache, revision
pinning and `HF_HUB_OFFLINE` behave as they do for transformers: an id that
is in the cache loads without network, and one that is not gives one line
saying so, not a traceback. Only the files an import reads are fetched.
"""

import os
import re

from albert_tf.errors import CheckpointError

# What `read_hf` reads; pytorch_model.bin only when a repo has no safetensors.
HF_FILES = ("config.json", "*.safetensors", "*.safetensors.index.json", "spiece.model",
            "tokenizer_config.json")
HF_LEGACY_WEIGHTS = ("pytorch_model.bin",)
# `org/name` or a legacy bare `name` (e.g. `albert-base-v2`).
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def is_hub_id(path):
    """A hub id rather than a local path: no such path here, and id-shaped."""
    path = os.fspath(path)
    return not os.path.exists(path) and bool(_HUB_ID.fullmatch(path))


def download(repo_id, revision=None, patterns=HF_FILES):
    """The local snapshot directory of `repo_id` at `revision` (default: main)."""
    try:
        from huggingface_hub import errors, snapshot_download
    except ImportError:
        raise CheckpointError(f"{repo_id}: loading a hub id needs huggingface_hub: "
                              "pip install -e \".[checkpoints]\"") from None
    label = repo_id + (f"@{revision}" if revision else "")
    try:
        return snapshot_download(repo_id, revision=revision,
                                 allow_patterns=list(patterns) if patterns else None)
    except (errors.LocalEntryNotFoundError, errors.OfflineModeIsEnabled):
        raise CheckpointError(
            f"{label}: not in the local Hugging Face cache, and the hub cannot be reached "
            "(HF_HUB_OFFLINE is set, or there is no network); download it where there is "
            f"network (`hf download {repo_id}`) or pass a local directory") from None
    except errors.GatedRepoError:
        raise CheckpointError(f"{label}: a gated model; accept its terms on the hub and log "
                              "in (`hf auth login`)") from None
    except errors.RevisionNotFoundError:
        raise CheckpointError(f"{label}: no such revision on the hub") from None
    except errors.RepositoryNotFoundError:
        raise CheckpointError(f"{repo_id}: no such model on the hub (or it is private: log "
                              "in with `hf auth login`)") from None
    except (errors.HfHubHTTPError, OSError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{label}: cannot download it: {reason}") from None


def download_hf_checkpoint(repo_id, revision=None):
    """A Hugging Face ALBERT's snapshot: safetensors weights, else the legacy .bin."""
    path = download(repo_id, revision)
    if not any(name.endswith(".safetensors") for name in os.listdir(path)):
        path = download(repo_id, revision, HF_FILES + HF_LEGACY_WEIGHTS)
    return path
