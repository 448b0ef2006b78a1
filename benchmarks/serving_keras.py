"""The server a user would write without this project: FastAPI around Keras `model.predict`.

    python benchmarks/serving_keras.py --model saved_models/default --port 8601

The baseline of benchmarks/serving.py. It reads the same bundle (the bundle's tokenizer, front
padding to its maxlen, the saved classifier.keras) and answers the same TF Serving request,
the way FastAPI's and Keras' own docs would have it: a plain `def` route (FastAPI runs it on
its thread pool) calling `model.predict`.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from classifier.io.tokenizer import Tokenizer  # noqa: E402


class PredictRequest(BaseModel):
    instances: list[str]


def make_app(model_dir: str) -> FastAPI:
    model = keras.saving.load_model(f"{model_dir}/classifier.keras", compile=False)
    tokenizer = Tokenizer.load(f"{model_dir}/tokenizer.json")
    app = FastAPI()

    @app.get("/readyz")
    def readyz():
        return {"ready": True}

    @app.post("/v1/models/{name}:predict")
    def predict(name: str, body: PredictRequest):
        x = tokenizer.texts_to_padded(body.instances)
        return {"predictions": model.predict(x, verbose=0).reshape(-1).tolist()}

    predict("warm-up", PredictRequest(instances=["warm up the predict function"]))
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="saved_models/default")
    parser.add_argument("--port", type=int, default=8601)
    args = parser.parse_args()
    uvicorn.run(make_app(args.model), host="127.0.0.1", port=args.port, log_level="warning")
