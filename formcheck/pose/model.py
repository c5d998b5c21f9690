"""Find the MediaPipe pose model offline and make sure it is the real file.

Resolution order: an explicit path (argument or ``FORMCHECK_MODEL``) -> the user
cache (``~/.cache/formcheck``) -> the official file shipped inside this package
(``formcheck/models``, Apache-2.0, see its NOTICE). Nothing is downloaded at run time.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from formcheck.errors import ModelError

MODEL_NAME = "pose_landmarker_full.task"
MODEL_SHA256 = "4eaa5eb7a98365221087693fcc286334cf0858e2eb6e15b506aa4a7ecdcec4ad"
MODEL_SIZE = 9_398_198
FIX_HINT = "Reinstall formcheck to restore it."


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "formcheck"


SHIPPED_MODEL = Path(__file__).parents[1] / "models" / MODEL_NAME


def candidate_paths(explicit: str | os.PathLike | None = None) -> list[Path]:
    """Where the model may be, best first."""
    env = os.environ.get("FORMCHECK_MODEL")
    paths = [Path(p) for p in (explicit, env) if p]
    paths.append(_cache_dir() / MODEL_NAME)
    paths.append(SHIPPED_MODEL)
    return paths


@lru_cache(maxsize=8)
def _sha256(path: Path, size: int, mtime: float) -> str:
    # size and mtime are part of the cache key so a replaced file is re-hashed.
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path) -> Path:
    """Return ``path`` if it holds the official model, else raise ModelError."""
    if not path.is_file():
        raise ModelError(f"The pose model file {path} does not exist. {FIX_HINT}")
    st = path.stat()
    if st.st_size != MODEL_SIZE or _sha256(path, st.st_size, st.st_mtime) != MODEL_SHA256:
        raise ModelError(
            f"The pose model file {path} is corrupt (its checksum does not match). {FIX_HINT}"
        )
    return path


def find_model(explicit: str | os.PathLike | None = None) -> Path:
    """The verified model path. An explicitly named file must itself be valid."""
    if explicit or os.environ.get("FORMCHECK_MODEL"):
        try:
            return verify(candidate_paths(explicit)[0])
        except ModelError as exc:
            how = "--model" if explicit else "FORMCHECK_MODEL"
            raise ModelError(f"{str(exc).replace(FIX_HINT, '').strip()} Point {how} to a valid "
                             f"{MODEL_NAME}, or leave it unset to use the installed model.") from exc
    for path in candidate_paths():
        if path.is_file():
            return verify(path)
    raise ModelError(f"The pose model ({MODEL_NAME}) is not installed. {FIX_HINT}")
