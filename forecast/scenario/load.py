"""The scenario file: its schema, loading, and every check that runs before sampling.

One pydantic model describes a scenario file; :func:`load_scenario` reads the TOML, checks
the schema (unknown keys are errors, with a "did you mean"), resolves every prior, loads the
indicator data, and checks the cross-references (claims name known nodes, same-year effects
form no cycle, strategies set only levers, questions ask about known nodes and years).
Everything that can be wrong with a file is found here, so that a run never fails after
minutes of sampling for a typo. Problems come back together, each with the file, the key
path and the fix, as a :class:`ScenarioError`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from forecast.files import FileProblem, MiB, parse_toml, read_text
from forecast.scenario.data import (
    DATA_LIMIT,
    DISPLAY_DOMAINS,
    TRANSFORM_DOMAINS,
    TRANSFORM_UNLESS,
    outside_domain,
    read_series,
)
from forecast.scenario.domain import Claim, Indicator, LeverSetting, Node, Question, Scenario, Strategy
from forecast.scenario.errors import (
    Problem,
    ScenarioError,
    beyond_display,
    did_you_mean,
    id_rule,
    keypath,
    limit_text,
    problem_from_pydantic,
    shown,
)
from forecast.scenario.graph import find_cycle
from forecast.scenario.priors import Distribution, Hypothesis, PriorError, require_support, resolve
from forecast.scenario.schema import (
    DISPLAY_LIMIT,
    FIELDS,
    ID_PATTERN,
    LIMITS,
    UNMEASURED_DRIFT_SD,
    UNMEASURED_SHIFT,
    WEIGHT_LIMIT,
    LeverSettingSpec,
    PriorSpec,
    ScenarioFile,
)

#: The largest scenario file read: a generated 500-node scenario takes about half of it.
MAX_SCENARIO_BYTES = 4 * MiB
WHAT = "a scenario .toml file (see priors/)"
#: How deep tables and lists nest in a scenario file (said next to the limit when it is passed).
USUAL_DEPTH = 7


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and resolve a scenario file. Raises :class:`ScenarioError`."""
    path = Path(path)
    try:
        read = read_text(path, what=WHAT, limit=MAX_SCENARIO_BYTES)
    except FileProblem as exc:
        raise ScenarioError(path, [Problem("", str(exc))]) from None
    text = read.text
    if not text.strip():
        raise ScenarioError(path, [Problem("", "the file is empty; a scenario declares [scenario], its [nodes.ID], "
                                           "[[claims]], [[strategies]] and [[questions]] (see priors/README.md)")])
    try:
        document = parse_toml(text, kind="a scenario", depth=LIMITS["depth"], usual=USUAL_DEPTH)
    except FileProblem as exc:
        raise ScenarioError(path, [Problem("", str(exc))]) from None
    return scenario_from_document(document, path, text, read.data)


def scenario_from_document(document: dict, path: Path, text: str = "", data: bytes | None = None) -> Scenario:
    """Validate and resolve a scenario from its TOML document (``path`` locates its data files;
    ``text`` and ``data`` are the file's text and bytes when it was read from one). Raises
    :class:`ScenarioError` with every problem found."""
    if not document:
        raise ScenarioError(path, [Problem("", "the file declares nothing (only comments?); a scenario declares "
                                           "[scenario], its [nodes.ID], [[claims]], [[strategies]] and "
                                           "[[questions]] (see priors/README.md)")])
    depth, where = _deepest(document)
    if depth > LIMITS["depth"]:
        shown_at = keypath(where[: LIMITS["depth"] + 1])
        raise ScenarioError(path, [Problem(shown_at, f"tables or lists nested {depth} levels deep, more than the "
                                           f"limit of {LIMITS['depth']} (a scenario needs {USUAL_DEPTH} at most); "
                                           "check the brackets")])
    controlled = _control_characters(document)
    if controlled:
        raise ScenarioError(path, _with_ids(controlled, document))
    try:
        spec = ScenarioFile.model_validate(document)
    except ValidationError as exc:
        raise ScenarioError(path, _with_ids([problem_from_pydantic(e, _allowed_keys(tuple(e["loc"])[:-1]))
                                             for e in exc.errors()], document)) from None
    problems: list[Problem] = []
    scenario = _resolve(path, text, data, spec, problems)
    if problems:
        raise ScenarioError(path, _with_ids(problems, document))
    return scenario


_ITEM = re.compile(r"(claims|strategies|questions)\[(\d+)\](?=\.|$)")


def _with_ids(problems: list[Problem], document: dict) -> list[Problem]:
    """Each problem in a list of tables located by its item's id as well as its place in the
    list, which a reader of a long file cannot count: ``claims[11] (id engagement_frees_resources).cause``
    (not where the id itself is the problem, nor for an id that is no id)."""
    out = []
    for problem in problems:
        found = _ITEM.match(problem.path)
        items = document.get(found[1]) if found else None
        if found and isinstance(items, list) and int(found[2]) < len(items) and isinstance(items[int(found[2])], dict):
            iid, rest = items[int(found[2])].get("id"), problem.path[found.end():]
            if isinstance(iid, str) and re.match(ID_PATTERN, iid) and not rest.startswith(".id"):
                problem = Problem(f"{found[0]} (id {iid}){rest}", problem.message)
        out.append(problem)
    return out


def _walk(document: dict) -> Iterator[tuple[object, tuple]]:
    """Every value of a document with its key path, tables and lists included (without
    recursion: the point is to refuse what recursion could not take)."""
    stack: list[tuple[object, tuple]] = [(document, ())]
    while stack:
        value, loc = stack.pop()
        yield value, loc
        if isinstance(value, dict):
            stack.extend((v, (*loc, k)) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, (*loc, i)) for i, v in enumerate(value))


def _deepest(document: dict) -> tuple[int, tuple]:
    """How deep tables and lists are nested, and the key path of the deepest value."""
    best: tuple[int, tuple] = (0, ())
    for _, loc in _walk(document):
        if len(loc) > best[0]:
            best = (len(loc), loc)
    return best


#: Control characters a text may hold: a tab and line breaks (a quote over several lines).
ALLOWED_CONTROLS = frozenset("\t\n\r")


def _control_characters(document: dict) -> list[Problem]:
    """Every text (or key) holding a control character other than a tab or a line break: a NUL
    byte or a terminal escape sequence in a label would reach the report's files and the
    terminal as they are (no font draws them; an escape recolours the terminal)."""
    import unicodedata

    found = []
    for value, loc in _walk(document):
        if isinstance(value, dict):
            texts = [(k, (*loc, k)) for k in value]  # a table's keys are texts too
        else:
            texts = [(value, loc)] if isinstance(value, str) else []
        for text, at in texts:
            bad = next(((i, c) for i, c in enumerate(text) if unicodedata.category(c) == "Cc"
                        and c not in ALLOWED_CONTROLS), None)
            if bad is not None:
                found.append(Problem(keypath(at), f"the text holds a control character (U+{ord(bad[1]):04X}, character "
                                                  f"{bad[0] + 1}); remove it: a text may hold tabs and line breaks, "
                                                  "no other control characters"))
    return sorted(found, key=lambda p: p.path)


def _allowed_keys(loc: tuple) -> set[str]:
    """Keys allowed at a location, for the "did you mean" hint."""
    if not loc:
        return set(ScenarioFile.model_fields)
    for part in reversed(loc):
        if isinstance(part, str) and part in FIELDS:
            return set(FIELDS[part].model_fields)
    return set()


def _prior(problems: list[Problem], path: str, spec: PriorSpec, *, signed=False, support=None) -> Distribution | None:
    try:
        dist = resolve(spec, signed=signed)
        if support:
            require_support(dist, support, path.rsplit(".", 1)[-1])
        return dist
    except PriorError as exc:
        problems.append(Problem(path, str(exc)))
        return None


def _resolve(path: Path, text: str, data: bytes | None, spec: ScenarioFile, problems: list[Problem]) -> Scenario:
    info = spec.scenario
    if not info.history_start < info.start_year <= info.horizon:
        problems.append(
            Problem("scenario", "years must satisfy history_start < start_year <= horizon "
                    f"(got {info.history_start}, {info.start_year}, {info.horizon})")
        )
    if info.start_year - info.history_start < 2:
        problems.append(Problem("scenario.history_start", "give at least two years of history before start_year"))
    if info.horizon - info.history_start + 1 > LIMITS["years"]:
        span = info.horizon - info.history_start + 1
        problems.append(Problem("scenario", f"{info.history_start}-{info.horizon} is {span} years, more than the "
                                f"limit of {LIMITS['years']} years from history_start to horizon; start the history "
                                "later or end the horizon sooner"))

    nodes: dict[str, Node] = {}
    measured = {ind.node for ind in spec.indicators.values()}
    for nid, n in spec.nodes.items():
        p = f"nodes.{nid}"
        given = n.model_fields_set
        shift = n.shift if nid in measured or "shift" in given else dict(UNMEASURED_SHIFT)
        drift_sd = n.drift_sd if nid in measured or "drift_sd" in given else UNMEASURED_DRIFT_SD
        if not re.fullmatch(ID_PATTERN, nid):  # a key, which the schema's id pattern does not reach
            problems.append(Problem(p, id_rule(nid, "a node id")))
        nodes[nid] = Node(
            id=nid, label=n.label, role=n.role, description=n.description, display=n.display,
            desirable=n.desirable,
            baseline=_prior(problems, f"{p}.baseline", n.baseline),
            persistence=_prior(problems, f"{p}.persistence", n.persistence, support="unit"),
            volatility=_prior(problems, f"{p}.volatility", n.volatility, support="positive"),
            shift=_prior(problems, f"{p}.shift", shift, support="positive"),
            drift_sd=drift_sd,
            initial_sd=n.initial_sd,
        )
    if not nodes:
        problems.append(Problem("nodes", "declare at least one node"))

    _case_twins([(f"nodes.{n}", n) for n in spec.nodes] + [(f"indicators.{i}", i) for i in spec.indicators],
                "node and indicator ids", problems)
    claims = _claims(spec, nodes, problems)
    contents: dict[Path, bytes] = {}  # each data file's bytes as read
    indicators = _indicators(path, spec, nodes, problems, contents)
    strategies = _strategies(spec, nodes, problems)
    questions = _questions(spec, nodes, indicators, problems)

    files = {"scenario.toml": path}
    read = {"scenario.toml": data} if data is not None else {}
    spelled: dict[str, str] = {}  # each name in the run dir, in lower case -> as first spelled
    for iid, ind in indicators.items():
        name = f"data/{ind.file.name}"
        first = spelled.setdefault(name.lower(), name)
        if files.get(first, ind.file) != ind.file:  # a run keeps a copy of each input under data/NAME
            named = (f"are both named {ind.file.name!r}" if first == name else f"are named {ind.file.name!r} and "
                     f"{first[5:]!r}, which differ only in case (one name on Windows and macOS disks)")
            problems.append(Problem(f"indicators.{iid}.file", f"{ind.file} and {files[first]} {named}; a run keeps "
                                    "a copy of each data file by its name: rename one of them"))
        files[first] = ind.file
        read[first] = contents[ind.file]
    return Scenario(
        path=path, name=info.name, description=info.description, source=info.source,
        source_url=info.source_url, history_start=info.history_start, start_year=info.start_year,
        horizon=info.horizon, seed=info.seed, shock_df=info.shock_df, nodes=nodes, claims=tuple(claims),
        indicators=indicators, strategies=tuple(strategies), questions=tuple(questions),
        text=text, files=files, contents=read,
    )


def _duplicate_ids(items: list, key: str, what: str, problems: list[Problem]) -> None:
    """One problem per id in a list of tables (claims, strategies, questions, ...) that repeats
    an earlier one, exactly or but for case (see :func:`_case_twins`)."""
    _case_twins([(f"{key}[{i}].id", item.id) for i, item in enumerate(items)], f"{what} ids", problems,
                exact=f"duplicate {what} id")


def _case_twins(ids: list[tuple[str, str]], what: str, problems: list[Problem], exact: str = "") -> None:
    """One problem per id (given with its key path) that differs from an earlier one only in
    case: a run writes files by id (a strategy's report page), and Windows and macOS disks
    take Dual_containment and dual_containment for one file; a reader takes them for one too.
    With ``exact`` (its words), an id that repeats an earlier one exactly is a problem too."""
    first: dict[str, str] = {}
    seen: set[str] = set()
    for where, name in ids:
        other = first.setdefault(name.lower(), name)
        if exact and name in seen:
            problems.append(Problem(where, f"{exact} {name!r}; ids must be unique"))
        elif other != name:
            problems.append(Problem(where, f"{name!r} and {other!r} differ only in case; {what} must differ in more "
                                    "than case (a reader takes them for one, and so do Windows and macOS disks for "
                                    "the files named after them): rename one"))
        seen.add(name)


def _not_a_node(name: str, spec: ScenarioFile, nodes: dict[str, Node], rule: str) -> str | None:
    """Why ``name`` is refused where a node's id is wanted, or None when it names a node: an
    indicator's id (with the node to name instead), or an unknown name (with the nearest)."""
    if name in spec.indicators:
        node = spec.indicators[name].node
        if node in spec.indicators or node not in spec.nodes:
            return f"{name!r} is an indicator, not a node; {rule}: name one of [nodes]"
        return f"{name!r} is an indicator (of node {node!r}), not a node; {rule}: use {node!r}"
    if name not in nodes:
        return f"unknown node {name!r}.{did_you_mean(name, nodes)} Declare it under [nodes] or fix the name"
    return None


def _claims(spec: ScenarioFile, nodes: dict[str, Node], problems: list[Problem]) -> list[Claim]:
    out: list[Claim] = []
    _duplicate_ids(spec.claims, "claims", "claim", problems)
    for i, c in enumerate(spec.claims):
        p = f"claims[{i}]"
        for end in ("cause", "effect"):
            said = _not_a_node(getattr(c, end), spec, nodes, "a claim links nodes")
            if said:
                problems.append(Problem(f"{p}.{end}", said))
        if c.cause == c.effect:
            problems.append(Problem(p, "a claim cannot link a node to itself; persistence models that"))
        prior = None
        hyps: list[Hypothesis] = []
        if c.hypotheses and c.prior is not None:
            problems.append(Problem(p, "give either prior or hypotheses, not both"))
        elif c.hypotheses:
            if len(c.hypotheses) < 2:
                problems.append(Problem(f"{p}.hypotheses", "competing hypotheses need at least two entries"))
            total = sum(h.weight for h in c.hypotheses)
            _duplicate_ids(c.hypotheses, f"{p}.hypotheses", "hypothesis", problems)
            for j, h in enumerate(c.hypotheses):
                if h.weight / total < 1 / WEIGHT_LIMIT:
                    problems.append(Problem(f"{p}.hypotheses[{j}].weight", (
                        f"{h.weight:g} is {h.weight / total:.1g} of the claim's weight, less than one in "
                        f"{WEIGHT_LIMIT:,.0f}: weights that far apart cannot be weighed in finite precision; give it "
                        "more weight or remove it")))
                d = _prior(problems, f"{p}.hypotheses[{j}].prior", h.prior, signed=True)
                if d is not None:
                    hyps.append(Hypothesis(h.id, h.weight / total, d, h.quote, h.label or h.id))
        elif c.prior is not None:
            prior = _prior(problems, f"{p}.prior", c.prior, signed=True)
        else:
            problems.append(Problem(p, "a claim needs a prior (words, a distribution or quantiles) or hypotheses"))
        if prior is None and len(hyps) < 2:
            continue
        out.append(Claim(c.id, c.cause, c.effect, c.lag, c.label, c.quote, prior, tuple(hyps)))
    competing = [c for c in out if c.hypotheses]
    count = math.prod(len(c.hypotheses) for c in competing)
    if count > LIMITS["combinations"]:
        sizes = " x ".join(f"{len(c.hypotheses)} ({c.id})" for c in competing)
        problems.append(Problem("claims", (
            f"{count} combinations of competing hypotheses ({sizes}) are more than the limit of "
            f"{LIMITS['combinations']}: each is one sampling run; merge hypotheses, or give fewer claims competing "
            "hypotheses")))
    cycle = find_cycle([(c.cause, c.effect) for c in spec.claims if c.lag == 0])
    if cycle:
        problems.append(Problem("claims", "same-year (lag = 0) effects form a cycle "
                                f"{' -> '.join(cycle)}; give one of these claims lag = 1"))
    return out


def _indicators(path: Path, spec: ScenarioFile, nodes: dict[str, Node], problems: list[Problem],
                contents: dict[Path, bytes]) -> dict[str, Indicator]:
    out: dict[str, Indicator] = {}
    info = spec.scenario
    for iid, ind in spec.indicators.items():
        p = f"indicators.{iid}"
        if not re.fullmatch(ID_PATTERN, iid):
            problems.append(Problem(p, id_rule(iid, "an indicator id")))
        if iid in nodes:
            problems.append(Problem(p, f"id {iid!r} is also a node id; questions need them distinct"))
        said = _not_a_node(ind.node, spec, nodes, "an indicator measures a node")
        if said:
            problems.append(Problem(f"{p}.node", said))
        try:
            file = (path.parent / ind.file).resolve()
        except (ValueError, OSError, RuntimeError) as exc:  # a NUL character; a symlink loop (RuntimeError)
            problems.append(Problem(f"{p}.file", f"{ind.file!r} is not a usable path ({exc}); give the CSV's "
                                    "path relative to the scenario file"))
            continue
        priors = {
            "intercept": _prior(problems, f"{p}.intercept", ind.intercept),
            "loading": _prior(problems, f"{p}.loading", ind.loading, support="positive"),
            "noise": _prior(problems, f"{p}.noise", ind.noise, support="positive"),
        }
        if ind.column == ind.year_column:
            problems.append(Problem(f"{p}.column", f"{ind.column!r} is the year column (year_column = "
                                    f"{ind.year_column!r}): its years would be read as the indicator's values; give "
                                    "column the name of the column that holds the values"))
            continue
        data = read_series(file, ind, f"{p}.file", problems)
        if data is None or None in priors.values():
            continue
        years, values, sources, lines, read_as, contents[file] = data
        keep = years >= info.history_start
        if np.any(years >= info.start_year):
            late = sorted(set(int(y) for y in years[years >= info.start_year]))
            problems.append(Problem(p, f"{file.name} has data for {late}, at or after start_year "
                                    f"{info.start_year}; evidence must predate the strategies: raise "
                                    "start_year or leave those rows out with a separate file"))
            continue
        before = tuple(sorted(int(y) for y in years[~keep]))
        years, values, lines = years[keep], values[keep], lines[keep]
        sources = [s for s, k in zip(sources, keep) if k]
        if len(years) < 2:
            problems.append(Problem(p, f"{file.name} column {ind.column!r} has fewer than two values "
                                    f"from {info.history_start} on; an indicator needs at least two"))
            continue
        bad = outside_domain(values, ind.transform)
        if bad is not None:
            problems.append(Problem(f"{p}.file", f"{file.name} line {lines[bad]} ({years[bad]}): {ind.column} = "
                                    f"{values[bad]:g}, but transform {ind.transform!r} takes only "
                                    f"{TRANSFORM_DOMAINS[ind.transform][2]}; fix the cell, or choose another "
                                    f"transform (identity) {TRANSFORM_UNLESS[ind.transform]}"))
            continue
        proto = Indicator(
            id=iid, label=ind.label, node=ind.node, transform=ind.transform,
            direction=1.0 if ind.direction == "+" else -1.0, unit=ind.unit, source=ind.source, url=ind.url,
            file=file, column=ind.column, years=years, values=values, sources=tuple(sources), read_as=read_as,
            before_history=before, **priors,
        )
        huge = _beyond_limit(proto, f"{p}.file")
        if huge is not None:
            problems.append(huge)
            continue
        anchor = not any(o.node == ind.node for o in out.values())
        if anchor and {"intercept", "loading"} & ind.model_fields_set:
            problems.append(Problem(p, f"{iid} is the first indicator of {ind.node!r} and anchors its scale "
                                    "(intercept 0, loading 1); remove its intercept/loading priors or list "
                                    "another indicator of that node first"))
            continue
        t = proto.transformed(values)
        flat = _flat(proto, t, f"{p}.column")
        if flat is not None:
            problems.append(flat)
            continue
        out[iid] = replace(proto, center=float(np.mean(t)), spread=float(np.std(t, ddof=1)), anchor=anchor)
    return out


def _flat(ind: Indicator, transformed: np.ndarray, p: str) -> Problem | None:
    """A problem for a series whose values are all the same: the model reads an indicator
    standardised over its years, which needs a spread, and a series that never moves says
    nothing of how its node moves (a stand-in spread let the fit and every outcome downstream
    of the node run wild)."""
    if np.ptp(transformed) > 0:  # (a series of fewer than two values is refused when read)
        return None
    where = f"{ind.file.name}, column {ind.column}"
    seen = f"has the same value, {ind.values[0]:g}, in every year ({int(ind.years.min())}-{int(ind.years.max())})"
    return Problem(p, f"{ind.id} ({where}) {seen}: a series must move to say how {ind.node} moves (the model "
                      "reads it standardised over its years); check the column, add years, or leave the indicator out")


def _beyond_limit(ind: Indicator, p: str) -> Problem | None:
    """A problem for the first value whose magnitude, as written or after the indicator's
    transform, is beyond :data:`~forecast.scenario.data.DATA_LIMIT` (the model standardises
    the transformed values: their squares must be finite numbers, and forecasts come back in
    the data's units)."""
    t = ind.transformed(ind.values)
    beyond = np.flatnonzero((np.abs(ind.values) > DATA_LIMIT) | (np.abs(t) > DATA_LIMIT))
    if not len(beyond):
        return None
    i = int(beyond[0])
    after = "" if ind.transform == "identity" else f" ({ind.transform}: {t[i]:.3g})"
    return Problem(p, f"{ind.file.name}: the {ind.column} of {int(ind.years[i])} is {ind.values[i]:.3g}{after}, "
                   f"beyond the limit of ±{limit_text(DATA_LIMIT)} for a data value; give the series in larger units "
                   "(billions rather than units), or check the cell")


def _strategies(spec: ScenarioFile, nodes: dict[str, Node], problems: list[Problem]) -> list[Strategy]:
    info = spec.scenario
    n_years = info.horizon - info.start_year + 1
    out: list[Strategy] = []
    _duplicate_ids(spec.strategies, "strategies", "strategy", problems)
    for i, s in enumerate(spec.strategies):
        p = f"strategies[{i}]"
        interventions: dict[str, LeverSetting] = {}
        for lever, value in s.set.items():
            q = f"{p}.set.{lever}"
            node = nodes.get(lever)
            if node is None:
                problems.append(Problem(q, f"unknown node {lever!r}.{did_you_mean(lever, nodes)}"))
                continue
            if node.role != "lever":
                article = "an" if node.role[0] in "aeiou" else "a"
                problems.append(Problem(q, f"{lever!r} is {article} {node.role}, not a lever; strategies set levers only "
                                        f"(levers: {', '.join(n for n, v in nodes.items() if v.role == 'lever') or 'none'})"))
                continue
            setting = _lever_setting(value, node, n_years, info, q, problems)
            if setting is not None:
                interventions[lever] = setting
        out.append(Strategy(s.id, s.label or s.id, s.description, s.baseline, interventions))
    if not spec.strategies:
        problems.append(Problem("strategies", "declare at least one strategy (a baseline may set nothing)"))
    baselines = [s.id for s in spec.strategies if s.baseline]
    if len(baselines) > 1:
        named = " and ".join(baselines) + (" both" if len(baselines) == 2 else " all")
        problems.append(Problem("strategies", f"{named} have baseline = true; at most one strategy is the baseline "
                                "(the others are compared with it): keep baseline = true on one"))
    return out


SETTING_FORMS = ("a number on the lever's display scale (75), one per forecast year ([60, 70, 75]), "
                 '"hold" (its last history level), or a table: { to = 30 }, { by = -10 } (display units from '
                 "its last level), { by_sd = -0.5 } (latent standard units from it), each with over = YEARS to "
                 "get there in equal steps")


def _lever_setting(value, node: Node, n_years: int, info, q: str, problems: list[Problem]) -> LeverSetting | None:
    """A lever's setting from the file's value, or a problem saying which forms there are."""
    domain = DISPLAY_DOMAINS.get(node.display.kind)

    def on_scale(values: list[float]) -> bool:
        huge = next((v for v in values if abs(v) > DISPLAY_LIMIT), None)
        if huge is not None:
            problems.append(Problem(q, beyond_display(huge)))
            return False
        outside = next((v for v in values if not domain[0] < v < domain[1]), None) if domain else None
        if outside is not None:
            problems.append(Problem(q, f"{outside:g} is outside the node's {node.display.kind} scale: values on it "
                                       f"lie strictly between {domain[0]:g} and {domain[1]:g}"))
            return False
        return True

    if _is_number(value):
        return LeverSetting("values", values=(float(value),) * n_years) if on_scale([value]) else None
    if isinstance(value, list):
        bad = next((v for v in value if not _is_number(v)), None)
        if bad is not None or not value:
            what = shown(bad) if bad is not None else "the list is empty"
            problems.append(Problem(q, f"every value of a list must be a number, and {what}; give {SETTING_FORMS}"))
            return None
        if n_years < 1:  # the scenario's years are wrong (said once): no forecast years to count
            return None
        if len(value) != n_years:
            problems.append(Problem(q, f"give one value, or one per forecast year ({n_years} for "
                                    f"{_span(info.start_year, info.horizon)}); got {len(value)}"))
            return None
        return LeverSetting("values", values=tuple(float(v) for v in value)) if on_scale(value) else None
    if value == "hold":
        return LeverSetting("hold", steps=(1.0,) * n_years)
    if isinstance(value, dict):
        try:
            spec = LeverSettingSpec.model_validate(value)
        except ValidationError as exc:
            keys = set(LeverSettingSpec.model_fields)
            for e in exc.errors():
                problem = problem_from_pydantic(e, keys)
                problems.append(Problem(f"{q}.{problem.path}" if problem.path else q, problem.message))
            return None
        chosen = [k for k in ("to", "by", "by_sd") if getattr(spec, k) is not None] + (["hold"] if spec.hold else [])
        if len(chosen) != 1:
            problems.append(Problem(q, f"give exactly one of hold, to, by or by_sd (got {', '.join(chosen) or 'none'})"))
            return None
        if spec.hold:
            if spec.over is not None:
                problems.append(Problem(f"{q}.over", "over goes with to, by or by_sd; a held lever stays where it was"))
                return None
            return LeverSetting("hold", steps=(1.0,) * n_years)
        kind = chosen[0]
        amount = float(getattr(spec, kind))
        if kind == "to" and not on_scale([amount]):
            return None
        over = spec.over or 1
        if over > LIMITS["years"]:
            problems.append(Problem(f"{q}.over", f"{over} years is more than the limit of {LIMITS['years']} years "
                                    "for a ramp; give the years the policy takes to phase in"))
            return None
        # A ramp may be longer than the forecast (a policy phased in over 20 years, forecast for
        # 11): the forecast then sees its first steps, and the setting says how far it has got.
        steps = tuple(min(1.0, (t + 1) / over) for t in range(n_years))
        return LeverSetting(kind, amount=amount, steps=steps)
    given = shown(value)
    if isinstance(value, str):
        number = _as_written_number(value)
        if number is not None:
            given += (f" (a change from its last level is written {{ by = {number:g} }}, a level {number:g} "
                      "without quotes)")
        else:  # a word: "hold" is the only one
            problems.append(Problem(q, f'{given.removesuffix(" is text")} is not a setting word: the one word is '
                                       f'"hold".{did_you_mean(value, ["hold"])} Else give {SETTING_FORMS}'))
            return None
    problems.append(Problem(q, f"{given}; give {SETTING_FORMS}"))
    return None


def _as_written_number(text: str) -> float | None:
    """The number a text reads as, if it is one (for the hint that it should not be quoted)."""
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _span(first: int, last: int) -> str:
    """Years as a range, or the one year."""
    return f"{first}" if first == last else f"{first}-{last}"


def _questions(spec: ScenarioFile, nodes: dict[str, Node], indicators: dict[str, Indicator],
               problems: list[Problem]) -> list[Question]:
    info = spec.scenario
    out: list[Question] = []
    names = set(nodes) | set(spec.indicators)
    _duplicate_ids(spec.questions, "questions", "question", problems)
    for i, q in enumerate(spec.questions):
        p = f"questions[{i}]"
        if q.subject in nodes:
            kind = "node"
        elif q.subject in spec.indicators:
            kind = "indicator"
        else:
            problems.append(Problem(f"{p}.subject", f"unknown node or indicator {q.subject!r}."
                                    f"{did_you_mean(q.subject, names)}"))
            continue
        if info.horizon < info.start_year:  # the scenario's years are wrong (said once, above): no forecast years
            continue
        if not info.start_year <= q.year <= info.horizon:
            which = "that year" if info.start_year == info.horizon else "a year in that range"
            problems.append(Problem(f"{p}.year", f"{q.year} is not a forecast year; questions ask about "
                                    f"{_span(info.start_year, info.horizon)}: give {which}, or move the horizon"))
            continue
        if (q.threshold is None) == (q.reference_year is None):
            problems.append(Problem(p, "give exactly one of threshold (a value in the subject's units) "
                                    "or reference_year (compare with its own level that year)"))
            continue
        if q.reference_year is not None:
            if not info.history_start <= q.reference_year <= info.horizon:
                earlier = (f" (the history starts in {info.history_start}: to compare with {q.reference_year}, start "
                           "it earlier)" if q.reference_year < info.history_start else "")
                problems.append(Problem(f"{p}.reference_year", f"{q.reference_year} is outside the scenario's years, "
                                        f"{info.history_start}-{info.horizon}; give a year in that range{earlier}"))
                continue
            if q.reference_year >= q.year:
                problems.append(Problem(f"{p}.reference_year", _reference_not_before(q)))
                continue
            if kind == "indicator" and q.reference_year < info.start_year:
                ind = indicators.get(q.subject)
                if ind is not None and q.reference_year not in set(ind.years.tolist()):
                    problems.append(Problem(f"{p}.reference_year", f"{q.subject} has no observation in "
                                            f"{q.reference_year}; pick a year with data or a threshold"))
                    continue
        if q.change and q.reference_year is None:
            problems.append(Problem(f"{p}.change", "change goes with reference_year"))
            continue
        domain = _subject_domain(q.subject, kind, nodes, spec)
        beyond = _beyond_domain(q, p, kind, indicators, domain) if domain else None
        if beyond is not None:
            problems.append(beyond)
            continue
        out.append(Question(q.id, q.text, q.subject, kind, q.year, q.comparison, q.threshold,
                            q.reference_year, q.change, q.resolution.strip(),
                            _desirable_answer(q, kind, nodes, spec.indicators)))
    return out


def _reference_not_before(q) -> str:
    """Why a reference year at or after the question's year is refused, and the question it means."""
    if q.reference_year == q.year:
        return (f"{q.reference_year} is the question's own year: {q.subject} would be compared with itself; give an "
                f"earlier reference_year (or a threshold)")
    flipped = "below" if q.comparison == "above" else "above"
    change = f", change = {-q.change:g}" if q.change else ""
    return (f"{q.reference_year} is after the question's year {q.year}; a question compares its year with an earlier "
            f"one. The same question asked of the later year: year = {q.reference_year}, reference_year = {q.year}, "
            f'comparison = "{flipped}"{change}')


def _subject_domain(subject: str, kind: str, nodes: dict[str, Node], spec: ScenarioFile):
    """What a question's subject can take, ``(low, high, in words)`` with both ends excluded:
    an indicator's by its transform, a node's by its display scale; None for any number."""
    if kind == "indicator":
        return TRANSFORM_DOMAINS.get(spec.indicators[subject].transform)
    return DISPLAY_DOMAINS.get(nodes[subject].display.kind)


def _beyond_domain(q, p: str, kind: str, indicators: dict[str, Indicator], domain) -> Problem | None:
    """A problem (at question ``p``'s key) when the value a question compares with lies where
    its subject can never be, so that the answer is known whatever happens: a threshold
    outside the subject's domain; a change as wide as a bounded domain; a change that takes an
    observed reference value out of it."""
    low, high, words = domain
    inside = f"strictly between {low:g} and {high:g}" if math.isfinite(high) else f"above {low:g}"

    def known(above_all: bool) -> str:  # the answer when the compared value is above (or below) all of the domain
        return "yes" if (q.comparison == "below") == above_all else "no"

    if q.threshold is not None:
        if low < q.threshold < high:
            return None
        return Problem(f"{p}.threshold", f"{q.threshold:g} is outside what {q.subject} can take ({words}): "
                       f'"{q.comparison} {q.threshold:g}" would be {known(q.threshold >= high)} whatever happens; '
                       f"give a threshold {inside}")
    if not q.change:
        return None
    if abs(q.change) >= high - low:
        return Problem(f"{p}.change", f"{q.change:g} is as wide as all that {q.subject} can take ({words}): the "
                       f"answer would be {known(q.change > 0)} whatever happens; give a change of less than "
                       f"{high - low:g} either way")
    ind = indicators.get(q.subject) if kind == "indicator" else None
    if ind is None or q.reference_year not in set(ind.years.tolist()):
        return None
    observed = float(ind.values[ind.years.tolist().index(q.reference_year)])
    bound = observed + q.change
    if low < bound < high:
        return None
    sign = "+" if q.change > 0 else "-"
    return Problem(f"{p}.change", f"{q.subject} was {observed:g} in {q.reference_year}, and {observed:g} {sign} "
                   f"{abs(q.change):g} = {bound:g} is outside what it can take ({words}): the answer would be "
                   f"{known(bound >= high)} whatever happens; give a change that keeps {observed:g} + change "
                   f"{inside}")


def _desirable_answer(q, kind: str, nodes: dict[str, Node], indicators: dict) -> str | None:
    """The answer a decision-maker hopes for: as the question says, or "yes" when the question
    asks whether its subject moves in its node's desirable direction ("above" for a node where
    higher is better; an indicator measures its node in its ``direction``), "no" when it asks
    the opposite, None when the node has no desirable direction."""
    if q.desirable is not None:
        return None if q.desirable == "neither" else q.desirable
    node = nodes[q.subject] if kind == "node" else nodes.get(indicators[q.subject].node)
    if node is None or node.desirable == "neither":
        return None
    rising = q.comparison == "above"
    if kind == "indicator" and indicators[q.subject].direction == "-":
        rising = not rising
    return "yes" if rising == (node.desirable == "higher") else "no"


class UnknownStrategy(ScenarioError):
    """Strategies asked for by id that the scenario does not have (the command line's
    ``--strategy``: a usage error there, exit 2)."""

    def __init__(self, file: Path, unknown: list[str], known: list[str]):
        self.unknown, self.known = unknown, known
        super().__init__(file, [Problem("strategies", f"no strategy {u!r}; known: {', '.join(known)}")
                                for u in unknown])


def select_strategies(scenario: Scenario, names: list[str] | None) -> Scenario:
    """Keep the named strategies (and the baseline, which contrasts need); one name may be
    given as text (a notebook's ``strategies="engage"``, not its letters)."""
    if not names:
        return scenario
    names = [names] if isinstance(names, str) else list(names)
    known = {s.id for s in scenario.strategies}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownStrategy(scenario.path, unknown, sorted(known))
    keep = tuple(s for s in scenario.strategies if s.id in names or s.baseline)
    return replace(scenario, strategies=keep)
