"""Shadow runs: the other path on the same upload, with no side effects, diffed field by field.

In the spirit of GitHub Scientist: the control is the path that served the user; the
candidate is the other path, evaluated off the request thread against the same base
state the control saw (`evaluate` writes nothing). Observations are immutable, a
`Result` is decided once (match, mismatch, ignored, error, timeout; `skipped` when shed),
accepted differences come from the caller's reviewed list, mismatches are stored per field.

    rules = IgnoreRules([IgnoreRule(field, reason, applies), ...], volatile={"upload_id": "why", ...})
    runner = ShadowRunner(candidate, rules=rules, publishers=[...],
                          workers=1, queue_size=4, timeout=10.0, same_path=False)
    runner.submit(route, user, Observation(path, outcome, None, seconds), upload, base_misc_json)

No Flask and no `app` here: the caller hands in the rules and the volatile fields, and
wires the runner to the flags (sampling), metrics and the store.
"""

from shadow.compare import FieldDiff, diff
from shadow.errors import CandidateTimeout, ShadowError, ShadowSkipped
from shadow.ignore import IgnoreRule, IgnoreRules
from shadow.normalise import normalise
from shadow.observation import Observation, observe
from shadow.records import MismatchRecord, MismatchStore
from shadow.result import ERROR, IGNORED, KINDS, MATCH, MISMATCH, SKIPPED, TIMEOUT, Result
from shadow.runner import ShadowRunner

__all__ = [
    "CandidateTimeout", "ERROR", "FieldDiff", "IGNORED", "IgnoreRule", "IgnoreRules", "KINDS", "MATCH", "MISMATCH",
    "MismatchRecord", "MismatchStore", "Observation", "Result", "SKIPPED", "ShadowError", "ShadowRunner",
    "ShadowSkipped", "TIMEOUT", "diff", "normalise", "observe",
]
