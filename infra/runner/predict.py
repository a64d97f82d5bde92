"""Cog predictor that forwards each prediction to the semani Node runner.

Replicate drives models through Cog's Python entry point. This predictor starts the Node runner
(`node bin/semani.js runner`) on a loopback port in `setup`, waits until its health check reports
READY, and sends every prediction to it with the input image as a data URI. The runner returns
data URIs, which become the output files. All model work happens in the Node process; this
file contains no model code and uses only the Python standard library.
"""

import base64
import json
import mimetypes
import os
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid

from cog import BaseModel, BasePredictor, Input, Path

RUNNER_PORT = 5001  # Cog's own HTTP server listens on 5000.
RUNNER_URL = f"http://127.0.0.1:{RUNNER_PORT}"
MODEL_DIR = os.environ.get("SEMANI_MODEL_DIR", "/src/models")
SETUP_TIMEOUT_S = 600
# The runner enforces its own time limit per prediction; the HTTP wait allows a margin beyond it.
PREDICTION_TIMEOUT_S = 660


class Output(BaseModel):
    image: Path
    mask: Path
    seed: int
    # selected, candidates, window, timings_ms and model_revisions as JSON text.
    details: str


class Predictor(BasePredictor):
    def setup(self) -> None:
        """Start the Node runner and wait until it has loaded its models."""
        self.runner = subprocess.Popen(
            [
                "node", "bin/semani.js", "runner",
                "--profile", "gpu",
                "--model-dir", MODEL_DIR,
                "--port", str(RUNNER_PORT),
                "--timeout-s", str(PREDICTION_TIMEOUT_S - 60),
            ],
            cwd="/src",
        )
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        while True:
            if self.runner.poll() is not None:
                raise RuntimeError(f"The runner exited during setup with code {self.runner.returncode}.")
            health = _get_json("/health-check")
            if health is not None and health["status"] == "READY":
                return
            if health is not None and health["status"] == "SETUP_FAILED":
                raise RuntimeError("The runner failed to load its models:\n" + health["setup"]["logs"])
            if time.monotonic() > deadline:
                raise RuntimeError(f"The runner was not ready within {SETUP_TIMEOUT_S} s.")
            time.sleep(0.5)

    def predict(
        self,
        image: Path = Input(description="Photo to edit (JPEG, PNG or WebP)."),
        entity: str = Input(description='Entity to change, for example "dog".'),
        prompt: str = Input(description="What the entity should become; empty removes it.", default=""),
        negative_prompt: str = Input(description="What to steer away from.", default=""),
        steps: int = Input(description="Denoising steps.", default=50, ge=1, le=150),
        guidance_scale: float = Input(description="Classifier-free guidance scale.", default=9.0, ge=1, le=30),
        seed: int = Input(description="Random seed; -1 picks one.", default=-1, ge=-1, le=2**32 - 1),
        keep_shape: bool = Input(description="Keep the entity's outline.", default=False),
        multiple: bool = Input(description="Edit every matching instance.", default=False),
        output_format: str = Input(description="Format of the edited image.", default="png", choices=["png", "jpeg", "webp"]),
    ) -> Output:
        """Forward one prediction to the runner and turn its data URIs into files."""
        settings = {
            "entity": entity,
            "prompt": prompt,
            "negative_prompt": negative_prompt,
            "steps": steps,
            "guidance_scale": guidance_scale,
            "keep_shape": keep_shape,
            "multiple": multiple,
            "output_format": output_format,
        }
        if seed >= 0:
            settings["seed"] = seed
        prediction_id = uuid.uuid4().hex
        body = {"id": prediction_id, "input": {"image": _to_data_uri(image), **settings}}

        try:
            result = _put_json(f"/predictions/{prediction_id}", body)
        except BaseException:
            # Cog interrupts a canceled prediction with an exception. Passing the cancel on stops
            # the runner at its next denoising step; re-raising lets Cog record the cancel.
            _post_cancel(prediction_id)
            raise

        if result["status"] != "succeeded":
            raise RuntimeError(result.get("error") or f"The prediction ended with status {result['status']}.")
        output = result["output"]
        details = {key: output[key] for key in ("selected", "candidates", "window", "timings_ms", "model_revisions")}
        return Output(
            image=_write_data_uri(output["image"], f"edited.{output['format']}"),
            mask=_write_data_uri(output["mask"], "mask.png"),
            seed=output["seed"],
            details=json.dumps(details),
        )


def _to_data_uri(path: Path) -> str:
    media_type = mimetypes.guess_type(str(path))[0] or "image/png"
    with open(path, "rb") as file:
        return f"data:{media_type};base64," + base64.b64encode(file.read()).decode("ascii")


def _write_data_uri(uri: str, name: str) -> Path:
    payload = uri.split(",", 1)[1]
    folder = tempfile.mkdtemp(prefix="semani-")
    target = os.path.join(folder, name)
    with open(target, "wb") as file:
        file.write(base64.b64decode(payload))
    return Path(target)


def _get_json(path: str):
    try:
        with urllib.request.urlopen(RUNNER_URL + path, timeout=5) as response:
            return json.load(response)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None


def _put_json(path: str, body: dict) -> dict:
    request = urllib.request.Request(
        RUNNER_URL + path,
        data=json.dumps(body).encode("utf-8"),
        method="PUT",
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=PREDICTION_TIMEOUT_S) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        # Request-level problems (invalid input, queue full) come back as RFC 9457 bodies.
        problem = json.load(error)
        raise RuntimeError(problem.get("detail", f"The runner returned HTTP {error.code}.")) from error


def _post_cancel(prediction_id: str) -> None:
    request = urllib.request.Request(f"{RUNNER_URL}/predictions/{prediction_id}/cancel", method="POST")
    try:
        urllib.request.urlopen(request, timeout=5).close()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        pass  # The runner may already have finished or exited; nothing is left to cancel.
