"""A pool of upload bodies made before the load starts, and the mix users draw from.

Generating a workbook costs ~10 ms of openpyxl; made once per run, for every schema, the
measured path is the portal's alone. Each pooled workbook carries its own incidence id,
so repeated uploads of the pool hit the same incidences (merges, audit rows and staged
conflicts, as real operators re-sending corrected forms do).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from loadtests.expectations import BAD_VALUES, BLANK_ID, GOOD, KINDS, NOT_WORKBOOK
from loadtests.multipart import encode_multipart

DEFAULT_MIX = "good=60,bad=20,blank_id=10,not_workbook=10"


@dataclass(frozen=True)
class Sample:
    """One file to upload: its kind, schema (None for a non-workbook), the encoded multipart body."""

    kind: str
    schema: str | None
    filename: str
    body: bytes
    content_type: str
    id_incidence: int | None


def parse_mix(text: str) -> dict[str, float]:
    """`"good=60,bad=20,blank_id=10,not_workbook=10"` -> weights per kind (unnamed kinds get 0)."""
    weights = dict.fromkeys(KINDS, 0.0)
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in KINDS:
            raise ValueError(f"bad mix entry {part!r}: expected kind=weight with kind one of {', '.join(KINDS)}")
        try:
            weights[name] = float(value)
        except ValueError:
            raise ValueError(f"bad mix weight in {part!r}: not a number") from None
        if weights[name] < 0:
            raise ValueError(f"bad mix weight in {part!r}: negative")
    if sum(weights.values()) <= 0:
        raise ValueError(f"mix {text!r} gives no kind a positive weight")
    return weights


def _not_workbooks() -> list[tuple[str, bytes]]:
    from app.workbook import hostile

    return [("report.pdf", hostile.pdf()), ("export.csv", hostile.csv()), ("renamed.xlsx", hostile.random_binary(4096, seed=3)),
            ("old_form.xls", hostile.legacy_xls())]


def build_pool(per_schema: int = 4, seed: int = 1, kinds: tuple[str, ...] = KINDS) -> dict[str, list[Sample]]:
    """Samples per kind: `per_schema` workbooks of every schema for each workbook kind, and
    the not-a-workbook files (PDF, CSV, random bytes, old .xls)."""
    from app.forms import all_schemas
    from app.workbook.generator import generate_workbook

    rng = random.Random(seed)
    pool: dict[str, list[Sample]] = {kind: [] for kind in kinds}
    for kind in (k for k in (GOOD, BAD_VALUES, BLANK_ID) if k in kinds):
        for schema in all_schemas():
            for n in range(per_schema):
                workbook = generate_workbook(schema.name, kind, seed=rng.randrange(2**32))
                filename = f"{schema.name}_{kind}_{n}.xlsx"
                body, content_type = encode_multipart(workbook.data, filename, comments=f"load test {kind}")
                pool[kind].append(Sample(kind, schema.name, filename, body, content_type, workbook.id_incidence))
    if NOT_WORKBOOK in kinds:
        for filename, data in _not_workbooks():
            body, content_type = encode_multipart(data, filename)
            pool[NOT_WORKBOOK].append(Sample(NOT_WORKBOOK, None, filename, body, content_type, None))
    return pool


class Picker:
    """Draws samples: a kind by the mix's weights, then a sample of that kind."""

    def __init__(self, pool: dict[str, list[Sample]], mix: dict[str, float], rng: random.Random):
        self._kinds = [k for k in KINDS if mix.get(k, 0) > 0]
        missing = [k for k in self._kinds if not pool.get(k)]
        if missing:
            raise ValueError(f"the pool has no samples of {', '.join(missing)}")
        self._weights = [mix[k] for k in self._kinds]
        self._pool = pool
        self._rng = rng

    def pick(self) -> Sample:
        """A sample: its kind drawn by the mix's weights, then one of that kind."""
        kind = self._rng.choices(self._kinds, self._weights)[0]
        return self._rng.choice(self._pool[kind])
