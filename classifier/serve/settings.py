"""What `classifier serve` fixes at start: the models by name, the request limits and the API key.

    settings = ServeSettings(parse_models(["saved_models/default", "tuned=saved_models/tuned"]))
    settings.models      # {"default": "saved_models/default", "tuned": "saved_models/tuned"}

No request can name a path: the names here are the only models a server answers for. The
settings travel to `--workers` processes as JSON in an environment variable (SETTINGS_ENV).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from classifier.errors import UserError, slot

MAX_ITEMS = 10_000  # texts in one request
MAX_BYTES = 16 * 1024 * 1024  # request body: 16 MiB holds 10,000 long reviews with room to spare
API_KEY_ENV = "CLASSIFIER_API_KEY"
SETTINGS_ENV = "CLASSIFIER_SERVE_SETTINGS"  # how worker processes receive the settings
# a name goes into URLs (/v1/models/NAME:predict), so no slash, colon, space or query characters
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(frozen=True)
class ServeSettings:
    models: dict[str, str]  # name -> bundle folder
    max_items: int = MAX_ITEMS
    max_bytes: int = MAX_BYTES
    api_key: str | None = field(default=None, repr=False)  # never printed in a log line

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeSettings:
        return cls(**json.loads(text))

    @classmethod
    def from_env(cls) -> ServeSettings:
        return cls.from_json(os.environ[SETTINGS_ENV])


def parse_models(specs: list[str]) -> dict[str, str]:
    """`DIR` or `NAME=DIR` for each --model, in order; a DIR alone is named after its folder."""
    models: dict[str, str] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or Path(spec).is_dir():  # a folder whose own name holds "=" is still a folder
            name, folder = model_name(spec), spec
        elif not name or not folder:
            raise UserError(f"{slot('model')} {spec!r}: expected DIR or NAME=DIR, "
                            f"e.g. {slot('model')} tuned=saved_models/tuned")
        if not NAME.fullmatch(name):
            raise UserError(f"{slot('model')} {spec!r}: the name {name!r} cannot go into a URL; use letters, digits, "
                            f"'.', '_' and '-' (name it with {slot('model')} NAME=DIR)")
        if name in models:
            raise UserError(f"two models are named {name!r} ({models[name]} and {folder}); "
                            f"name them apart with {slot('model')} NAME=DIR")
        models[name] = folder
    return models


def model_name(folder: str) -> str:
    """saved_models/default -> default (".", "saved_models/default/" and the like resolved first)."""
    return Path(folder).name or Path(folder).resolve().name


def require_serve_extra() -> None:
    """A one-line error, not an ImportError, when the optional packages the server runs on are missing."""
    missing = [name for name in ("fastapi", "uvicorn", "prometheus_client") if importlib.util.find_spec(name) is None]
    if missing:
        raise UserError(f"`classifier serve` needs {', '.join(missing)}: pip install 'classifier[serve]' "
                        f"(or `make install`, which installs the dev extra)")
