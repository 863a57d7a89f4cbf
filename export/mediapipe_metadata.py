"""TFLite metadata for MediaPipe's TextClassifier and TextEmbedder (and the Task Library).

The contract (see ../shared/NOTES.md): three int32 `[1, L]` inputs whose
tensor metadata are named `ids`, `mask` and `segment_ids` in the order of
the subgraph's inputs; a SentencePiece tokenizer process unit with the
model embedded as an associated file; a float32 `[1, num_labels]` softmax
output named `probability` with a `TENSOR_AXIS_LABELS` label file.

MediaPipe's own metadata writer does not import in mediapipe 1.2.2, so this
builds the same flatbuffers with its generated schema module and does what
`MetadataPopulator` does: add a `TFLITE_METADATA` buffer to the model and
append the associated files as a zip archive (offsets relative to the file).
"""

import io
import zipfile

import flatbuffers
import numpy as np

from albert_tf.contract import EMBEDDING, LABELS_FILE, MEDIAPIPE_INPUTS, MEDIAPIPE_PROBABILITY

METADATA_NAME = "TFLITE_METADATA"
METADATA_IDENTIFIER = b"M001"  # file identifier of the metadata schema
# MediaPipe's metadata lists the inputs in this order: ids, mask, segment_ids.
TENSOR_NAMES = (MEDIAPIPE_INPUTS[0], MEDIAPIPE_INPUTS[2], MEDIAPIPE_INPUTS[1])
SPIECE_FILE = "spiece.model"


def _schemas():
    from ai_edge_litert import schema_py_generated as tflite_schema
    from mediapipe.tasks.metadata import metadata_schema_py_generated as metadata_schema

    return tflite_schema, metadata_schema


def _feature_tensor(md, name, description):
    tensor = md.TensorMetadataT()
    tensor.name = name
    tensor.description = description
    tensor.content = md.ContentT()
    tensor.content.contentPropertiesType = md.ContentProperties.FeatureProperties
    tensor.content.contentProperties = md.FeaturePropertiesT()
    return tensor


def _metadata_flatbuffer(md, input_order, description, label_names=True):
    descriptions = {"ids": "Token ids of [CLS] text [SEP], padded with 0.",
                    "mask": "1 on real tokens, 0 on padding.",
                    "segment_ids": "0 for the first text."}
    tokenizer = md.ProcessUnitT()
    tokenizer.optionsType = md.ProcessUnitOptions.SentencePieceTokenizerOptions
    tokenizer.options = md.SentencePieceTokenizerOptionsT()
    spiece = md.AssociatedFileT()
    spiece.name = SPIECE_FILE
    spiece.description = "The SentencePiece model (ALBERT ids, lower-casing built in)."
    tokenizer.options.sentencePieceModel = [spiece]

    if label_names:
        output = _feature_tensor(md, MEDIAPIPE_PROBABILITY, "Softmax probability of each label.")
        labels = md.AssociatedFileT()
        labels.name = LABELS_FILE
        labels.description = "Labels, one per line, in output order."
        labels.type = md.AssociatedFileType.TENSOR_AXIS_LABELS
        output.associatedFiles = [labels]
    else:  # a TextEmbedder file: the output is the sentence vector, no label file
        output = _feature_tensor(md, EMBEDDING, "Unit-length sentence vector.")

    subgraph = md.SubGraphMetadataT()
    subgraph.inputTensorMetadata = [_feature_tensor(md, n, descriptions[n]) for n in input_order]
    subgraph.outputTensorMetadata = [output]
    subgraph.inputProcessUnits = [tokenizer]

    model = md.ModelMetadataT()
    model.name = "albert_tf text classifier" if label_names else "albert_tf sentence embedder"
    model.description = description
    model.version = "1"
    model.minParserVersion = "1.1.0"
    model.subgraphMetadata = [subgraph]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), METADATA_IDENTIFIER)
    return bytes(builder.Output())


def input_order(tflite_bytes):
    """Names (`ids`/`mask`/`segment_ids`) of the subgraph's inputs, in order."""
    tfl, _ = _schemas()
    model = tfl.Model.GetRootAsModel(tflite_bytes, 0)
    graph = model.Subgraphs(0)
    names = []
    for i in range(graph.InputsLength()):
        raw = graph.Tensors(graph.Inputs(i)).Name().decode()
        # Converter names look like "serving_default_segment_ids:0".
        # "segment_ids" also ends in "_ids": the longest matching name wins.
        match = [n for n in TENSOR_NAMES if raw.endswith(f"_{n}:0") or raw == n]
        if not match:
            raise ValueError(f"cannot tell which MediaPipe input tensor {raw!r} is")
        names.append(max(match, key=len))
    if sorted(names) != sorted(TENSOR_NAMES):
        raise ValueError(f"expected inputs {TENSOR_NAMES}, found {names}")
    return names


def add_metadata(tflite_bytes, spiece_proto, label_names, description=""):
    """Return `tflite_bytes` with MediaPipe text-classifier metadata and files;
    `label_names=None`: TextEmbedder metadata (an `embedding` output, no labels)."""
    tfl, md = _schemas()
    metadata = _metadata_flatbuffer(md, input_order(tflite_bytes), description,
                                    label_names is not None)
    model = tfl.ModelT.InitFromObj(tfl.Model.GetRootAsModel(tflite_bytes, 0))
    buffer = tfl.BufferT()
    buffer.data = np.frombuffer(metadata, dtype=np.uint8)
    model.buffers.append(buffer)
    entry = tfl.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != METADATA_NAME] + [entry]
    builder = flatbuffers.Builder(len(tflite_bytes) + len(metadata) + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")

    # Appending in "a" mode writes zip offsets relative to the whole file,
    # as MetadataPopulator does, so zip readers find the files in place.
    out = io.BytesIO(bytes(builder.Output()))
    out.seek(0, io.SEEK_END)
    with zipfile.ZipFile(out, "a") as archive:
        archive.writestr(SPIECE_FILE, spiece_proto)
        if label_names is not None:
            archive.writestr(LABELS_FILE, "".join(n + "\n" for n in label_names))
    return out.getvalue()
