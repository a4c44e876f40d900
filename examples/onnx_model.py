"""The guide's exchange formats (ONNX): a model file added to an artifact with ``add_file``.

Needs the optional extra: ``pip install "dagster-wandb-v2[onnx]"`` (scikit-learn, skl2onnx,
onnxruntime). Two ways, as in the guide:

1. return the serialized model (``bytes``): the IO manager pickles it, readers get bytes;
2. write the model file and return a ``wandb.Artifact`` built with ``add_file``: the file
   is stored as is (no pickle), readers get it with ``get_path`` — the way to go for
   models other tools load directly.
"""

import tempfile
from pathlib import Path
from typing import Any

import numpy
import wandb
from dagster import AssetIn, AssetOut, asset, multi_asset

IO_MANAGER = "wandb_artifacts_manager"


def train_and_export() -> tuple[bytes, dict[str, Any]]:
    """A random forest on iris, exported to ONNX; returns the model and a test set."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    iris = load_iris()
    x_train, x_test, y_train, y_test = train_test_split(iris.data, iris.target, random_state=0)
    classifier = RandomForestClassifier(n_estimators=10, random_state=0).fit(x_train, y_train)
    initial_type = [("float_input", FloatTensorType([None, 4]))]
    onnx_model = convert_sklearn(classifier, initial_types=initial_type)
    return onnx_model.SerializeToString(), {"X_test": x_test, "y_test": y_test}


@multi_asset(
    outs={
        "my_onnx_model": AssetOut(
            metadata={"wandb_artifact_configuration": {"type": "model"}},
            io_manager_key=IO_MANAGER,
        ),
        "my_test_set": AssetOut(
            metadata={"wandb_artifact_configuration": {"type": "test_set"}},
            io_manager_key=IO_MANAGER,
        ),
    },
    group_name="onnx_example",
)
def create_onnx_model() -> tuple[bytes, dict[str, Any]]:
    """Way 1: the serialized model as a Python object (bytes)."""
    return train_and_export()


@asset(
    name="my_onnx_model_file",
    io_manager_key=IO_MANAGER,
    ins={"my_onnx_model": AssetIn(input_manager_key=IO_MANAGER)},
    group_name="onnx_example",
)
def create_onnx_model_file(my_onnx_model: bytes) -> wandb.Artifact:
    """Way 2: the model as a file inside the artifact (``add_file``)."""
    path = Path(tempfile.mkdtemp()) / "model.onnx"
    path.write_bytes(my_onnx_model)
    artifact = wandb.Artifact("my_onnx_model_file", "model", metadata={"format": "onnx"})
    artifact.add_file(str(path), name="model.onnx")
    return artifact


@asset(
    ins={
        "model_path": AssetIn(
            key="my_onnx_model_file",
            input_manager_key=IO_MANAGER,
            metadata={"wandb_artifact_configuration": {"get_path": "model.onnx"}},
        ),
        "my_test_set": AssetIn(input_manager_key=IO_MANAGER),
    },
    group_name="onnx_example",
)
def experiment_results(model_path: str, my_test_set: dict[str, Any]) -> float:
    """Predictions with ONNX Runtime from the downloaded file; returns the accuracy."""
    import onnxruntime

    session = onnxruntime.InferenceSession(model_path)
    input_name = session.get_inputs()[0].name
    label_name = session.get_outputs()[0].name
    features = my_test_set["X_test"].astype(numpy.float32)
    predictions = session.run([label_name], {input_name: features})[0]
    return float((predictions == my_test_set["y_test"]).mean())


assets = [create_onnx_model, create_onnx_model_file, experiment_results]
