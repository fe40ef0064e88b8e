"""Learned boundary evidence: the probability that people cut between two segments, from
LightGBM boosters trained by ``bench/train_boundary.py`` (``boundary_model.txt``, beside this
module), scored row by row through LightGBM's C API when the merge loop asks for a few."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

_BOUNDARY_MODELS: dict[str, BoundaryModel] = {}


class BoundaryModel:
    """Learned boundary evidence: the mean probability of a few LightGBM boosters trained alike
    but for their bagging seed (one booster's borderline boundaries moved with its seed: a
    finned cylinder or a potion's handles cut by one seed and whole by the next)."""

    #: The line that starts each booster after the first in a file of several.
    SEPARATOR = "# part3d: next booster"

    def __init__(self, boosters: list) -> None:
        self.boosters = boosters
        # Each thread's single-row predictors (``_few_rows``): LightGBM's set-up for them holds
        # buffers of its own, not to be shared between threads.
        self._local = threading.local()

    @classmethod
    def load(cls, path: str) -> BoundaryModel:
        import lightgbm

        text = Path(path).read_text()
        parts = [p for p in text.split(cls.SEPARATOR + "\n") if p.strip()]
        return cls([lightgbm.Booster(model_str=p) for p in parts])

    def save(self, path: str | Path) -> None:
        text = (self.SEPARATOR + "\n").join(b.model_to_string() for b in self.boosters)
        Path(path).write_text(text)

    def num_feature(self) -> int:
        return self.boosters[0].num_feature()

    def predict(self, rows: np.ndarray) -> np.ndarray:
        rows = np.ascontiguousarray(rows, dtype=np.float64)
        if len(rows) <= FEW_ROWS:
            few = self._few_rows()
            if few is not None:
                return np.mean([p.predict(rows) for p in few], axis=0)
        return np.mean([b.predict(rows, num_threads=1) for b in self.boosters], axis=0)

    def _few_rows(self) -> list[_RowPredictor] | None:
        """One row predictor per booster, made once per thread (None where LightGBM's C API is
        not reachable: ``predict`` then goes through ``Booster.predict`` alone)."""
        if not hasattr(self._local, "rows"):
            try:
                self._local.rows = [_RowPredictor(b, self.num_feature()) for b in self.boosters]
            except (AttributeError, OSError, ImportError) as exc:  # pragma: no cover
                log.info("LightGBM's single-row prediction is not available (%s)", exc)
                self._local.rows = None
        return self._local.rows


#: ``BoundaryModel.predict`` scores at most this many rows one by one: ``Booster.predict``
#: spends some 0.1 ms setting up each call, the merge loop calls it at every merge, and most
#: calls score a handful of boundaries.
FEW_ROWS = 16


class _RowPredictor:
    """A booster's probabilities, row by row, through LightGBM's C API for single rows (its
    ``LGBM_BoosterPredictForMatSingleRowFast``, set up once): the same predictor, and the
    same numbers, as ``Booster.predict``, without its set-up at every call."""

    def __init__(self, booster, columns: int) -> None:
        import ctypes

        from lightgbm import basic

        self._booster = booster  # the configuration points into it
        self._lib = basic._LIB
        self._config = ctypes.c_void_p()
        basic._safe_call(
            self._lib.LGBM_BoosterPredictForMatSingleRowFastInit(
                booster._handle,
                ctypes.c_int(basic._C_API_PREDICT_NORMAL),
                ctypes.c_int(0),  # from the first iteration
                ctypes.c_int(-1),  # to the last
                ctypes.c_int(basic._C_API_DTYPE_FLOAT64),
                ctypes.c_int32(columns),
                basic._c_str("num_threads=1"),
                ctypes.byref(self._config),
            )
        )
        prototype = ctypes.CFUNCTYPE(
            ctypes.c_int,
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_int64),
            ctypes.c_void_p,
        )
        self._predict = prototype(("LGBM_BoosterPredictForMatSingleRowFast", self._lib))
        self._length = ctypes.c_int64(0)
        self._length_ref = ctypes.byref(self._length)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """(n,) probability of each of ``rows`` (n, columns) C-contiguous float64."""
        out = np.empty(len(rows))
        config, base, stride, at = (
            self._config.value,
            rows.ctypes.data,
            rows.strides[0],
            out.ctypes.data,
        )
        for i in range(len(rows)):
            if self._predict(config, base + i * stride, self._length_ref, at + 8 * i) != 0:
                return self._booster.predict(rows, num_threads=1)  # pragma: no cover
        return out

    def __del__(self) -> None:
        config = getattr(self, "_config", None)
        if config is not None and config.value:
            self._lib.LGBM_FastConfigFree(config)


def boundary_model(path: str = "") -> BoundaryModel:
    """The learned boundary evidence (loaded once per process): ``path`` or the package's."""
    if path not in _BOUNDARY_MODELS:
        file = path or str(Path(__file__).with_name("boundary_model.txt"))
        _BOUNDARY_MODELS[path] = BoundaryModel.load(file)
    return _BOUNDARY_MODELS[path]
