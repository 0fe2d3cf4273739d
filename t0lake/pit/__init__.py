"""Point-in-time (as-of) joins: for each event, the feature row it was allowed to see.

Training on features an event could not have seen at its time ``t0`` is the quietest way to
ruin a backtest, so the join is exact and fails closed:

* one output row per event row, in event order (duplicates stay duplicates);
* per event, among feature rows with equal ``by`` keys whose ``ts`` is strictly before
  ``t0`` (at or before with ``strict=False``), whose ``known_at`` (if given) is strictly
  before ``t0``, and whose age ``t0 - ts`` is at most ``max_age``: the one with the latest
  ``ts``, then the latest ``created`` (NULL lowest), then the last in feature input order;
* no eligible row -> NULL feature columns, never a default value;
* anything ambiguous (missing column, key dtypes that differ, a NULL ``t0``, a time zone on
  one side only) is a ``ConfigError`` naming the column, never a silent coercion.

How (``docs/pit-join.md`` has the full argument): every time becomes an int64 in one unit;
"strictly before" becomes ``avail < t0`` with ``avail = max(ts, known_at)`` (``ts - 1`` unit
for ``strict=False``). Features are walked in ``avail`` order and events in ``t0`` order in
one compiled merge loop (the loop of pandas' ``merge_asof``): every row available before an
event's t0 updates its entity's best row so far, compared by (ts, created, position), then
the event reads its entity's best. Input already in time order is not sorted; memory is a
few int64 arrays and one slot per entity, never a per-(event, row) expansion. Below two
million feature rows a process that has not loaded the compiled loop yet runs the same
rule as numpy sorts and binary searches instead (no second spent importing numba).

Submodules, each importing only those listed before it:

* :mod:`t0lake.pit.spec`: the join's parameters (``JoinSpec``) and every check of the
  arguments, columns, key dtypes, time types and time zones;
* :mod:`t0lake.pit.inputs`: both sides loaded as polars frames (``PitInputs``), a
  Snapshot read only for the days that can match (``snapshot_days``);
* :mod:`t0lake.pit.kernel`: the numeric core, dense entity ids and the two merges (numba
  and numpy);
* :mod:`t0lake.pit.times`: every compared time as an int64 in one unit;
* :mod:`t0lake.pit.join`: ``pit_join`` itself, running the above in order and attaching
  the fingerprint.
"""

from t0lake.pit.inputs import PitInputs, snapshot_days
from t0lake.pit.join import pit_join

__all__ = ["PitInputs", "pit_join", "snapshot_days"]
