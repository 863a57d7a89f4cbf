"""Run in a subprocess with KERAS_BACKEND set: build the micro model from a
config, load weights, and write its outputs on saved inputs."""

import json
import sys

import numpy as np


def main(config_path, weights_path, inputs_path, out_path):
    import keras

    from albert_tf.models import AlbertClassifier

    with open(config_path) as f:
        classifier = AlbertClassifier.from_config(json.load(f))
    classifier.load_weights(weights_path)
    inputs = dict(np.load(inputs_path))
    backbone_out = classifier.backbone(inputs)
    numpy = keras.ops.convert_to_numpy  # torch tensors need it (grad, device)
    np.savez(out_path, logits=numpy(classifier(inputs)),
             sequence_output=numpy(backbone_out["sequence_output"]),
             pooled_output=numpy(backbone_out["pooled_output"]),
             backend=keras.backend.backend())


if __name__ == "__main__":
    main(*sys.argv[1:])
