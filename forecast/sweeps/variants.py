"""What a sweep varies: named variants of a scenario, each a set of changes to its TOML file.

A change is a key path into the scenario file and a value written as in TOML. Items of the
file's lists of tables (claims, strategies, hypotheses, indicators' are tables already) are
addressed by their ``id``::

    claims.antagonism_pushes_russia_to_china.prior.strength = "weak"
    claims.engagement_and_partnership.hypotheses.breaks.weight = 0.3
    strategies.dual_containment.set.us_engagement = 30
    nodes.partnership.persistence = { dist = "Beta", alpha = 8, beta = 2 }
    scenario.shock_df = 4

and the key ``scenario`` alone names a whole alternative scenario file. Variants come from
``--vary KEY=V1,V2,...`` options (their grid, or ``--sample N`` random points of it) or from a
sweep file (``[[variants]]`` tables with a ``name`` and their changes). Every variant is
resolved, and so validated, before anything samples: a bad one is named with its key. The
sweep file is documented for users, with an example, in priors/README.md ("Sweep files").
"""

from __future__ import annotations

import copy
import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from forecast.errors import ForecastError
from forecast.files import FileProblem, parse_toml, read_text
from forecast.scenario import Scenario, ScenarioError, load_scenario
from forecast.scenario.errors import did_you_mean, shown
from forecast.scenario.load import MAX_SCENARIO_BYTES, scenario_from_document
from forecast.scenario.schema import LIMITS

#: A sweep of more variants than this is refused (each is a full fit).
MAX_VARIANTS = 10_000
#: The largest grid whose points ``--sample`` draws by number (64-bit integers); a larger one
#: is sampled place by place.
MAX_GRID = 2 ** 62
#: How deep a sweep file nests: variants, a variant, its changes, a key, a prior table, a list.
SWEEP_DEPTH = 6

#: The key that names a whole alternative scenario file.
WHOLE_FILE = "scenario"
#: The name of the reference variant: the scenario as written, fitted in every sweep.
AS_WRITTEN = "as written"


class SweepError(ForecastError, ValueError):
    """A sweep that cannot run: the message names the variant, the key and the fix."""


@dataclass(frozen=True)
class Variant:
    """One variant: its name, its changes (key path -> value), and the scenario file it starts
    from (the swept file, or an alternative named by the ``scenario`` key)."""

    name: str
    changes: dict[str, Any] = field(default_factory=dict)
    base: Path | None = None

    def resolved(self) -> "Variant":
        """The variant with its scenario file's path absolute: workers may run elsewhere (a
        Dask worker started in another directory reads the same files at the same paths)."""
        return replace(self, base=self.base.resolve()) if self.base else self

    @property
    def keys(self) -> list[str]:
        """The key paths the variant changes, ``scenario`` first for a whole alternative file."""
        return (["scenario"] if self.base else []) + list(self.changes)

    def describe(self) -> str:
        """The changes in one line, as the variant table shows them."""
        parts = [f"scenario = {self.base.name}"] if self.base else []
        parts += [f"{k} = {_toml_value(v)}" for k, v in self.changes.items()]
        return "; ".join(parts) or "(the scenario as written)"


def _toml_value(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if hasattr(value, "isoformat"):  # a TOML date or time, as TOML writes it (repr: datetime.date(2027, 1, 1))
        return value.isoformat()
    return repr(value)


# --- From the command line ----------------------------------------------------------------------


def split_values(text: str) -> list[str]:
    """``V1,V2,...`` split at the commas outside brackets, braces and quotes (a value may be
    an inline table or an array)."""
    out, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote and text[i - 1] != "\\" else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(text[start:i].strip())
            start = i + 1
    out.append(text[start:].strip())
    return out


def parse_value(text: str) -> Any:
    """A value as TOML reads it (``0.3``, ``"weak"``, ``{ dist = "Normal", ... }``); a bare word
    that is not TOML (``weak``) is taken as text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except RecursionError:
        raise SweepError(f"a value with lists or tables nested thousands of levels deep ({text[:40]}...); check "
                         "the brackets") from None
    except tomllib.TOMLDecodeError:
        if text and all(c.isalnum() or c in "_-+." for c in text):
            return text
        raise SweepError(f"{text!r} is not a value: write it as in the scenario file, e.g. 0.3, weak, "
                         '"text" or { dist = "Normal", mu = 0, sigma = 1 }') from None


def parse_vary(options: list[str]) -> dict[str, list[Any]]:
    """``--vary KEY=V1,V2`` options -> key -> values (each key once)."""
    out: dict[str, list[Any]] = {}
    for option in options:
        key, sep, values = option.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise SweepError(f"--vary {option!r}: write KEY=V1,V2,... e.g. "
                             "claims.antagonism_pushes_russia_to_china.prior.strength=weak,strong")
        if key in out:
            raise SweepError(f"--vary {key}: given twice; list all its values in one option")
        out[key] = [parse_path(v) if key == WHOLE_FILE else parse_value(v) for v in split_values(values)]
        same = [_sameness(v) for v in out[key]]
        twice = next((v for i, v in enumerate(out[key]) if same[i] in same[:i]), None)
        if twice is not None:
            raise SweepError(f"--vary {key}: the value {twice!r} is given twice; list each value once")
    return out


def _sameness(value: Any) -> tuple:
    """What makes two values of a --vary option the same variant: a number by its value (4 and
    4.0), a boolean as a boolean (true is not 1), anything else as written."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    return (type(value).__name__, repr(value))


def parse_path(text: str) -> str:
    """A scenario file's path as ``--vary scenario=...`` gives it: bare (``priors/other.toml``)
    or quoted as TOML text."""
    text = text.strip()
    value = parse_value(text) if text[:1] in "\"'" else text
    if not isinstance(value, str) or not value:
        raise SweepError(f"scenario={text!r}: give the path of a scenario file, e.g. scenario=priors/other.toml")
    return value


def grid(vary: dict[str, list[Any]], sample: int | None = None, seed: int = 0) -> list[Variant]:
    """Every combination of the values (the grid), or ``sample`` of them drawn without
    replacement with ``seed``; each named by its changes. Only the combinations kept are built
    (a grid of many keys has more than memory holds), each from its place in the grid."""
    keys = list(vary)
    shape = tuple(len(vary[k]) for k in keys)
    size = math.prod(shape) if keys else 0
    if sample is not None and sample > MAX_VARIANTS:
        raise SweepError(f"--sample {sample:,}: a sweep has at most {MAX_VARIANTS:,} variants; give a smaller N")
    if sample is not None and sample < size:
        places = _sampled_places(shape, size, sample, np.random.default_rng(seed))
    else:
        if size > MAX_VARIANTS:
            raise SweepError(f"the grid has {size:,} variants, more than {MAX_VARIANTS:,}: use --sample N")
        places = [tuple(int(i) for i in p) for p in zip(*np.unravel_index(np.arange(size), shape))] if keys else []
    short = short_keys(keys)
    out = []
    for place in places:
        changes = {k: vary[k][i] for k, i in zip(keys, place)}
        base = changes.pop(WHOLE_FILE, None)
        out.append(Variant(_name(changes, base, short), changes, Path(base) if base else None))
    return out


def _sampled_places(shape: tuple[int, ...], size: int, sample: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """``sample`` distinct points of a grid of ``shape`` (``size`` points), in grid order: drawn
    by their numbers where 64 bits number them, else as random places until enough differ
    (the grid is then so large that repeats are rare)."""
    if size <= MAX_GRID:
        flat = np.sort(rng.choice(size, size=sample, replace=False))
        return [tuple(int(i) for i in p) for p in zip(*np.unravel_index(flat, shape))]
    found: set[tuple[int, ...]] = set()
    while len(found) < sample:
        found.add(tuple(int(rng.integers(n)) for n in shape))
    return sorted(found)


def short_keys(keys: list[str]) -> dict[str, str]:
    """Each key's shortest ending that no other key shares (``strength``, or
    ``antagonism.prior.strength`` when two claims' strengths vary): the variants' names."""
    out = {}
    for key in keys:
        parts = key.split(".")
        for k in range(1, len(parts) + 1):
            tail = ".".join(parts[-k:])
            if not any(o != key and (o == tail or o.endswith("." + tail)) for o in keys):
                break
        out[key] = tail
    return out


def _name(changes: dict[str, Any], base: str | None, short: dict[str, str]) -> str:
    parts = ([Path(base).stem] if base else []) + [f"{short[k]}={_short(v)}" for k, v in changes.items()]
    return ",".join(parts) or "as-written"


def _short(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}={_short(v)}" for k, v in value.items()) + "}"
    return str(value)


# --- From a sweep file --------------------------------------------------------------------------------


def read_sweep_file(path: Path) -> list[Variant]:
    """``[[variants]]`` tables: ``name``, optionally ``scenario`` (another scenario file,
    relative to the sweep file), and ``changes`` (a table of key path -> value)::

        [[variants]]
        name = "weak antagonism"
        changes = { "claims.antagonism_pushes_russia_to_china.prior.strength" = "weak" }
    """
    try:
        text = read_text(path, what="a sweep .toml file", limit=MAX_SCENARIO_BYTES).text
        document = parse_toml(text, kind="a sweep file", depth=LIMITS["depth"], usual=SWEEP_DEPTH)
    except FileProblem as exc:
        raise SweepError(f"{path}: {exc}") from None
    unknown = set(document) - {"variants"}
    if unknown or not isinstance(document.get("variants"), list) or not document["variants"]:
        raise SweepError(f"{path}: a sweep file holds [[variants]] tables only (found {sorted(unknown) or 'none'})")
    out = []
    for i, entry in enumerate(document["variants"]):
        where = f"{path}: variants[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
            given = (f" ({shown(entry['name'])})" if isinstance(entry, dict) and "name" in entry
                     and not isinstance(entry["name"], str) else "")
            raise SweepError(f"{where}: give each variant a name = \"...\" as text{given}")
        extra = set(entry) - {"name", "scenario", "changes"}
        if extra:
            raise SweepError(f"{where}.{sorted(extra)[0]}: unknown key; a variant has name, scenario and changes")
        changes = entry.get("changes", {})
        if not isinstance(changes, dict):
            raise SweepError(f"{where}.changes: a table of key path = value")
        _check_paths(changes, where)
        base = entry.get("scenario")
        if base is not None and (not isinstance(base, str) or not base.strip()):
            raise SweepError(f"{where}.scenario: the path of a scenario file, as text (or leave the key out for "
                             "the swept file)")
        out.append(Variant(entry["name"].strip(), dict(changes), (path.parent / base) if base else None))
    names = [v.name for v in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise SweepError(f"{path}: variant name {dupes[0]!r} is used twice; give each variant its own name")
    if len(out) > MAX_VARIANTS:
        raise SweepError(f"{path}: {len(out):,} variants, more than {MAX_VARIANTS:,}")
    return out


def _check_paths(changes: dict, where: str) -> None:
    """Refuse a change whose key is a bare section name: TOML reads an unquoted dotted key
    (``scenario.shock_df = 4``) as nested tables, which would replace the whole section, and a
    scenario file given under ``changes`` belongs beside the variant's name."""
    for key, value in changes.items():
        if "." in key:
            continue
        if isinstance(value, dict):
            path = key
            while isinstance(value, dict) and value:  # the first key path down to its value
                step, value = next(iter(value.items()))
                path += f".{step}"
            raise SweepError(f"{where}.changes.{key}: a table under a section name would replace the whole "
                             f"[{key}] section (TOML reads an unquoted dotted key as nested tables); put each "
                             f'key path in quotes, e.g. "{path}" = ...')
        hint = (f"to start from another scenario file, give the variant scenario = {_toml_value(value)} beside its "
                "name" if key == WHOLE_FILE else "name a key inside a section, e.g. \"scenario.shock_df\" = 4")
        raise SweepError(f"{where}.changes.{key}: a change names a key path with dots; {hint}")


# --- Applying a variant ----------------------------------------------------------------------------------


def apply_change(document: dict, key: str, value: Any) -> None:
    """Set ``key`` (a dotted path; list items by their ``id``) in the TOML document."""
    parts = key.split(".")
    node: Any = document
    for depth, part in enumerate(parts[:-1]):  # a section and its entries must exist; below, tables may be added
        node = _step(node, part, ".".join(parts[: depth + 1]), create=depth > 1)
    last = parts[-1]
    if isinstance(node, list):
        raise SweepError(f"{key}: {'.'.join(parts[:-1])} is a list; name one of its items by its id")
    node[last] = value


def _step(node: Any, part: str, where: str, create: bool) -> Any:
    if isinstance(node, list):
        found = [item for item in node if isinstance(item, dict) and item.get("id") == part]
        if not found:
            ids = [str(item.get("id")) for item in node if isinstance(item, dict)]
            raise SweepError(f"{where}: no item with id {part!r}.{did_you_mean(part, ids)} The ids are "
                             f"{', '.join(ids) or 'none'}")
        return found[0]
    if not isinstance(node, dict):
        raise SweepError(f"{where}: not a table, so it has no keys")
    if part not in node:
        if "." not in where:
            raise SweepError(f"{where}: the scenario has no {part!r} section")
        if not create:
            keys = [str(k) for k in node]
            raise SweepError(f"{where}: the scenario has no {part!r} in {where.rsplit('.', 1)[0]}."
                             f"{did_you_mean(part, keys)} There are {', '.join(keys) or 'none'}")
        node[part] = {}
    return node[part]


def variant_file(document: dict, variant: Variant, path: Path) -> str:
    """The variant's scenario file as TOML text: what its run directory keeps as its scenario
    (the swept file's comments are not kept; a first line says what the variant changed)."""
    import tomli_w

    return f"# {path.name}, variant {variant.name!r} of a sweep: {variant.describe()}\n" + tomli_w.dumps(document)


def resolve(variant: Variant, base: Path) -> Scenario:
    """The variant's scenario, validated. Raises :class:`SweepError` naming the variant."""
    path = variant.base or base
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        raise SweepError(f"variant {variant.name!r}: {exc}") from None
    if not variant.changes:
        return scenario
    document = copy.deepcopy(tomllib.loads(scenario.text))
    try:
        for key, value in variant.changes.items():
            apply_change(document, key, value)
        text = variant_file(document, variant, path)
        changed = scenario_from_document(document, path, text=text, data=text.encode())
    except SweepError as exc:
        raise SweepError(f"variant {variant.name!r}: {exc}") from None
    except ScenarioError as exc:
        problems = "; ".join(str(p) for p in exc.problems)
        raise SweepError(f"variant {variant.name!r} ({variant.describe()}): {problems}") from None
    return changed


def resolve_all(variants: list[Variant], base: Path) -> list[Scenario]:
    """Every variant resolved, before anything samples; all problems reported at once."""
    if not variants:
        raise SweepError("no variants: give --vary KEY=V1,V2 or --sweep FILE")
    names = [v.name for v in variants]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        why = (": the scenario as written is fitted under that name in every sweep; name yours otherwise"
               if dupes[0] == AS_WRITTEN else
               "; give each variant its own name (--vary names a variant by its values: two files of the same "
               "name give one; rename one, or list them in a --sweep file with names)")
        raise SweepError(f"variant name {dupes[0]!r} is used twice{why}")
    found, problems = [], []
    for v in variants:
        try:
            found.append(resolve(v, base))
        except SweepError as exc:
            problems.append(str(exc))
    if problems:
        raise SweepError("\n".join(problems))
    return found


def structure(scenario: Scenario) -> tuple:
    """What the compiled model depends on besides the scenario's numbers: variants with the
    same structure share one compiled model (their numbers differ only). The prior families
    are part of it (a Gamma and an InverseGamma have the same parameters, not the same graph)."""
    names = lambda *ds: tuple(d.name if d is not None else None for d in ds)  # noqa: E731
    return (
        tuple(int(y) for y in scenario.history_years),
        tuple((nid, names(n.baseline, n.persistence, n.volatility, n.shift)) for nid, n in scenario.nodes.items()),
        tuple((c.id, c.cause, c.effect, c.lag, names(c.prior) if c.prior else None,
               tuple((h.id, h.prior.name) for h in c.hypotheses)) for c in scenario.claims),
        tuple((i.id, i.node, i.direction, i.anchor, tuple(int(y) for y in i.years),
               names(i.intercept, i.loading, i.noise)) for i in scenario.indicators.values()),
    )


