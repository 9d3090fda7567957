"""Rung levels and the per-rung bookkeeping shared by the successive-halving family."""

from __future__ import annotations

import base64
import bisect
import copy
import sys
from array import array
from itertools import compress
from typing import Callable, Iterator, Union

import numpy as np

from .errors import InvalidArgument
from .objectives import Outcome
from .pareto import rank


def rung_levels(r_min: int, r_max: int, eta: int, bracket: int = 0) -> list[int]:
    """Levels of a bracket starting at r_min * eta**bracket: r0, r0*eta, ... below r_max, then r_max."""
    if not (isinstance(r_min, int) and isinstance(r_max, int) and isinstance(eta, int)):
        raise InvalidArgument("r_min, r_max and eta must be integers")
    if r_min < 1 or r_max < r_min:
        raise InvalidArgument(f"need 1 <= r_min <= r_max, got r_min={r_min}, r_max={r_max}")
    if eta < 2:
        raise InvalidArgument(f"eta must be >= 2, got {eta}")
    level = r_min * eta**bracket
    if level > r_max:
        raise InvalidArgument(f"bracket {bracket} starts above r_max")
    levels = []
    while level < r_max:
        levels.append(level)
        level *= eta
    levels.append(r_max)
    return levels


def bracket_levels(r_min: int, r_max: int, eta: int, brackets: int) -> list[list[int]]:
    """Rung levels of brackets 0 .. brackets-1 (0 = every bracket the levels allow)."""
    most = max_bracket(r_min, r_max, eta) + 1
    n_brackets = brackets or most
    if not 1 <= n_brackets <= most:
        raise InvalidArgument(
            f"brackets must be between 1 and {most} for r_min={r_min}, r_max={r_max}, eta={eta}"
        )
    return [rung_levels(r_min, r_max, eta, b) for b in range(n_brackets)]


def report_points(levels: list[int], resume_from: int, milestone: int) -> list[int]:
    """Where a segment resume_from -> milestone reports: the rung levels inside it, then the milestone.

    Promotion-type schedulers only act at the milestone, but stopping-type ones
    decide at every level, so simulated and in-process workers report at all of them.
    """
    return [r for r in levels if resume_from < r < milestone] + [milestone]


def max_bracket(r_min: int, r_max: int, eta: int) -> int:
    """Index of the last bracket whose first level still lies at or below r_max."""
    return len(rung_levels(r_min, r_max, eta)) - 1


class Rung:
    """Results recorded at one rung level, kept sorted best first.

    Each entry is (key, seq, trial_id): key is the metric with lower = better,
    seq the order of reports, so ties go to the earlier report.

    `_open` holds the entries not yet promoted, in the same order, so finding
    the next promotion costs a bisection instead of a walk past every trial
    already promoted (which made long simulations quadratic). It is a cache:
    entries whose trial joined `promoted` are dropped from it lazily, and it is
    rebuilt from `_entries` and `promoted` on load.

    The results and promotions are also logged in arrival order as packed
    arrays, which is how the state is saved: a rung of a million results is
    copied and encoded in milliseconds (as JSON it took a second to encode and
    another to decode), and sorted again with numpy on load.
    """

    def __init__(self, level: int):
        self.level = level
        self._entries: list[tuple[float, int, int]] = []
        self._open: list[tuple[float, int, int]] = []
        self.promoted: set[int] = set()
        self._keys, self._seqs, self._trials = array("d"), array("q"), array("q")
        self._promotions = array("q")

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, trial_id: int, key: float, seq: int) -> int:
        """Inserts a result and returns its rank in this rung (0 = best)."""
        entry = (key, seq, trial_id)
        rank = bisect.bisect_left(self._entries, entry)
        self._entries.insert(rank, entry)
        bisect.insort(self._open, entry)
        self._keys.append(key)
        self._seqs.append(seq)
        self._trials.append(trial_id)
        return rank

    def promote(self, trial_id: int) -> None:
        """Marks the trial as promoted out of this rung."""
        self.promoted.add(trial_id)
        self._promotions.append(trial_id)

    def __deepcopy__(self, memo: dict) -> "Rung":
        """A copy for a dry run (`Scheduler.finished`). The entries are tuples of numbers,
        never changed in place, so the containers are copied and the entries shared: a
        generic deep copy of a million entries took 3 s."""
        twin = copy.copy(self)
        twin._entries, twin._open = list(self._entries), list(self._open)
        twin.promoted = set(self.promoted)
        for attribute, _, _ in _LOGS:
            setattr(twin, attribute, getattr(self, attribute)[:])
        return twin

    def candidates(self, eta: int) -> Iterator[int]:
        """The trials in the top floor(n / eta) of this rung, best first."""
        for _, _, trial_id in self._entries[: len(self._entries) // eta]:
            yield trial_id

    def promotable(self, eta: int, eligible: Callable[[int], bool]) -> int | None:
        """The best candidate not yet promoted out of this rung, if any."""
        quota = len(self._entries) // eta
        i = 0
        while i < len(self._open):
            entry = self._open[i]
            if entry[2] in self.promoted:
                del self._open[i]
                continue
            if bisect.bisect_left(self._entries, entry) >= quota:
                return None  # every later open entry ranks lower still
            if eligible(entry[2]):
                return entry[2]
            i += 1
        return None

    def to_json(self) -> dict:
        return {
            "level": self.level,
            **{name: _pack(getattr(self, attribute), dtype) for attribute, name, dtype in _LOGS},
        }

    @classmethod
    def from_json(cls, data: dict) -> "AnyRung":
        if "outcomes" in data:
            return OutcomeRung.from_json(data)
        rung = cls(data["level"])
        keys, seqs, trials, promotions = (
            _unpack(data[name], dtype, getattr(rung, attribute)) for attribute, name, dtype in _LOGS
        )
        order = _entry_order(keys, seqs, trials)
        keys, seqs, trials = keys[order], seqs[order], trials[order]
        rung._entries = list(zip(keys.tolist(), seqs.tolist(), trials.tolist()))
        rung.promoted = set(promotions.tolist())
        # The entries not promoted, picked in C (a comprehension took 0.25 s a million).
        rung._open = list(compress(rung._entries, (~_members(trials, promotions)).tolist()))
        return rung


def _members(ids: np.ndarray, of: np.ndarray) -> np.ndarray:
    """Which of `ids` (trial ids: small integers >= 0) are in `of`, by a table indexed
    by id: 3-4 ms for a million ids against a third of a million, where np.isin, which
    sorts, took 14 ms (and up to 0.16 s in a restore, beside the thread reading rows)."""
    if not len(ids) or not len(of):
        return np.zeros(len(ids), dtype=bool)
    table = np.zeros(max(int(ids.max()), int(of.max())) + 1, dtype=bool)
    table[of] = True
    return table[ids]


def _entry_order(keys: np.ndarray, seqs: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """The order that sorts entries as their (key, seq, trial id) tuples compare.

    Results are logged as they arrive, seq increasing: then a stable sort of the keys
    alone is that order (0.16 s a million, lexsort 0.39); like tuple comparison, it ties
    -0.0 with 0.0."""
    if np.all(seqs[1:] > seqs[:-1]):
        return np.argsort(keys, kind="stable")
    return np.lexsort((trials, seqs, keys))


# A Rung's logs in arrival order: (attribute, name in its saved state, little-endian dtype).
_LOGS = (
    ("_keys", "keys", "<f8"), ("_seqs", "seqs", "<i8"), ("_trials", "trials", "<i8"),
    ("_promotions", "promoted", "<i8"),
)


def _pack(values: array, dtype: str) -> str:
    """A packed array as base64 text, little-endian whatever the machine."""
    return base64.b64encode(np.asarray(values).astype(dtype, copy=False).tobytes()).decode("ascii")


def _unpack(text: str, dtype: str, into: array) -> np.ndarray:
    """The values `_pack` gave `text`, appended to `into` in the machine's byte order and
    returned as a numpy array."""
    packed = base64.b64decode(text)
    values = np.frombuffer(packed, dtype=dtype)
    if sys.byteorder == "little":  # the packed bytes are the machine's already: no copies
        into.frombytes(packed)
    else:
        into.frombytes(values.astype("=" + dtype[1:]).tobytes())
    return values


class OutcomeRung:
    """Results with several objectives or constraints at one rung level, ranked by `pareto.rank`.

    Same interface as `Rung`. The order of a set of outcomes is not a sort by a
    key of each (an epsilon-net depends on the whole front), so it is recomputed
    when asked for after a new result, and cached until the next one. Only the
    top ceil(n / eta) places are ever read (promotion reads floor(n / eta),
    stopping ceil(n / eta)), so only they are fully ordered.
    """

    def __init__(self, level: int, eta: int = 2):
        self.level, self.eta = level, eta
        self._entries: list[tuple[Outcome, int, int]] = []  # (outcome, seq, trial_id), seq order
        self._order: list[int] | None = []  # indices into _entries, best first
        self.promoted: set[int] = set()

    def __len__(self) -> int:
        return len(self._entries)

    def record(self, trial_id: int, key: Outcome, seq: int) -> int:
        """Inserts a result and returns its rank in this rung (0 = best)."""
        self._entries.append((key, seq, trial_id))
        if len(self._entries) > 1 and seq < self._entries[-2][1]:
            self._entries.sort(key=lambda e: e[1])
        self._order = None
        return self._ranked().index(trial_id)

    def _ranked(self) -> list[int]:
        """Trial ids best first."""
        if self._order is None:
            self._order = rank([e[0] for e in self._entries], top=-(-len(self._entries) // self.eta))
        return [self._entries[i][2] for i in self._order]

    def candidates(self, eta: int) -> Iterator[int]:
        """The trials in the top floor(n / eta) of this rung, best first."""
        yield from self._ranked()[: len(self._entries) // eta]

    def promote(self, trial_id: int) -> None:
        """Marks the trial as promoted out of this rung."""
        self.promoted.add(trial_id)

    def promotable(self, eta: int, eligible: Callable[[int], bool]) -> int | None:
        """The best candidate not yet promoted out of this rung, if any."""
        for trial_id in self.candidates(eta):
            if trial_id not in self.promoted and eligible(trial_id):
                return trial_id
        return None

    def to_json(self) -> dict:
        return {
            "level": self.level,
            "eta": self.eta,
            "outcomes": [[o.to_json(), seq, t] for o, seq, t in self._entries],
            "promoted": sorted(self.promoted),
        }

    @classmethod
    def from_json(cls, data: dict) -> "OutcomeRung":
        rung = cls(data["level"], data["eta"])
        rung._entries = [(Outcome.from_json(o), seq, t) for o, seq, t in data["outcomes"]]
        rung._order = None
        rung.promoted = set(data["promoted"])
        return rung


AnyRung = Union[Rung, OutcomeRung]


def make_rung(level: int, scalar: bool, eta: int) -> AnyRung:
    """A rung for plain numbers (one objective, no constraints) or for outcomes."""
    return Rung(level) if scalar else OutcomeRung(level, eta)
