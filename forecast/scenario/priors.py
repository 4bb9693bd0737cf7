"""Priors as data: a registry of distribution names, and the three ways to state a prior.

A scenario file never names code. A prior is one of:

* an explicit distribution from :data:`REGISTRY`: ``{dist = "Normal", mu = -0.4, sigma = 0.2}``;
* words, for claims: ``{direction = "-", strength = "moderate", confidence = "medium"}``,
  mapped to a Normal by the table :data:`STRENGTH` x :data:`CONFIDENCE`;
* what an expert would say: ``{between = [-0.6, -0.1], probability = 0.9}`` (solved by
  PreliZ's maximum-entropy fit) or ``{quartiles = [-0.5, -0.3, -0.1]}``.

Each resolves to a :class:`Distribution` (a registry name and numeric parameters), from which
:mod:`forecast.model.inputs` builds the PyMC random variable and, through SciPy, the prior draws and the exact prior
summaries the report shows next to the posterior.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

import numpy as np

from forecast.files import write_atomically
from forecast.scenario.errors import did_you_mean, limit_text, shown

Support = Literal["real", "positive", "unit"]


@dataclass(frozen=True)
class Family:
    """One registry entry: its parameters, which of them must be positive, and its support."""

    params: tuple[str, ...]
    positive: tuple[str, ...]
    support: Support
    optional: dict[str, float] = field(default_factory=dict)


#: Distribution names a scenario may use, with their parameters (PyMC's names and meanings).
REGISTRY: dict[str, Family] = {
    "Normal": Family(("mu", "sigma"), ("sigma",), "real"),
    "StudentT": Family(("nu", "mu", "sigma"), ("nu", "sigma"), "real"),
    "Laplace": Family(("mu", "b"), ("b",), "real"),
    "Logistic": Family(("mu", "s"), ("s",), "real"),
    "SkewNormal": Family(("mu", "sigma", "alpha"), ("sigma",), "real"),
    "Uniform": Family(("lower", "upper"), (), "real"),
    "TruncatedNormal": Family(("mu", "sigma", "lower", "upper"), ("sigma",), "real"),
    "HalfNormal": Family(("sigma",), ("sigma",), "positive"),
    "HalfStudentT": Family(("nu", "sigma"), ("nu", "sigma"), "positive"),
    "Exponential": Family(("lam",), ("lam",), "positive"),
    "Gamma": Family(("alpha", "beta"), ("alpha", "beta"), "positive"),
    "InverseGamma": Family(("alpha", "beta"), ("alpha", "beta"), "positive"),
    "LogNormal": Family(("mu", "sigma"), ("sigma",), "positive"),
    "Beta": Family(("alpha", "beta"), ("alpha", "beta"), "unit"),
}

#: Words to effect sizes (latent standard units per standard unit of the cause, long run).
STRENGTH: dict[str, float] = {"weak": 0.15, "moderate": 0.3, "strong": 0.6}
#: Words to prior spread, as a multiple of the strength. P(sign as claimed) under the prior is
#: Phi(1/k): high 0.98, medium 0.84, low 0.69.
CONFIDENCE: dict[str, float] = {"high": 0.5, "medium": 1.0, "low": 2.0}


class PriorError(ValueError):
    """A prior that cannot be used, with the fix in its message."""


@dataclass(frozen=True)
class Distribution:
    """A resolved prior: a registry name and its numeric parameters, and the prior as the
    analyst wrote it (``stated``: the words, the "between" statement or the quartiles), so
    that the report can show the statement next to the distribution fitted to it."""

    name: str
    params: dict[str, float]
    stated: str = field(default="", compare=False)
    #: How the fit falls short of the statement, when it does (quartiles a family cannot
    #: match): what ``forecast validate`` warns of. Empty when it matches.
    shortfall: str = field(default="", compare=False)

    @property
    def family(self) -> Family:
        return REGISTRY[self.name]

    def bounds(self) -> tuple[float, float]:
        """The support as an interval (truncation and Uniform bounds included)."""
        p = self.params
        if self.name in ("Uniform",):
            return p["lower"], p["upper"]
        if self.name == "TruncatedNormal":
            return p.get("lower", -math.inf), p.get("upper", math.inf)
        return {"real": (-math.inf, math.inf), "positive": (0.0, math.inf), "unit": (0.0, 1.0)}[
            self.family.support
        ]

    def describe(self) -> str:
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        return f"{self.name}({args})"

    def preliz(self):
        """The same distribution in PreliZ (elicitation, and the tests' reference)."""
        import preliz as pz

        return getattr(pz, self.name)(**self.params)

    def scipy(self):
        """The same distribution as a frozen SciPy one: exact draws, moments, quantiles and
        densities for the prior summaries and the prior draws. PreliZ would give the same
        numbers (a test holds every family to it) but compiles a PyTensor function for each
        method of each family on first use: about 8 s of a run with an empty compile cache."""
        return _scipy_families()[self.name](**self.params)


@dataclass(frozen=True)
class Hypothesis:
    """One competing hypothesis about a claim: its weight, its prior, and what it rests on."""

    id: str
    weight: float
    prior: Distribution
    quote: str = ""
    label: str = ""


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def resolve(spec: dict[str, Any], *, signed: bool = False) -> Distribution:
    """Turn a prior as written in a scenario file into a :class:`Distribution`.

    ``signed`` allows the words form (direction/strength/confidence), which only makes
    sense for claim effects.
    """
    if not isinstance(spec, dict):
        raise PriorError(
            f"a prior is a table such as {{dist = \"Normal\", mu = 0, sigma = 1}}, and {shown(spec)}"
        )
    keys = set(spec)
    if "dist" in keys:
        dist = _explicit(spec)
        return replace(dist, stated=dist.describe())
    if keys & {"direction", "strength", "confidence"}:
        if not signed:
            raise PriorError(
                "direction/strength/confidence describe a claim's effect; here give a "
                "distribution such as {dist = \"Normal\", mu = 0, sigma = 1}"
            )
        return replace(_words(spec), stated=stated_words(spec))
    if keys & {"between", "quartiles"}:
        dist = replace(_elicited(spec), stated=stated_elicited(spec))
        return replace(dist, shortfall=quartiles_shortfall(dist, spec)) if "quartiles" in keys else dist
    raise PriorError(
        "a prior needs one of: dist = NAME with its parameters; direction/strength/confidence; "
        "between = [low, high] with probability; or quartiles = [q1, q2, q3]. "
        f"Got keys {sorted(keys)}"
    )


def _explicit(spec: dict[str, Any]) -> Distribution:
    name = spec["dist"]
    if not isinstance(name, str) or name not in REGISTRY:
        raise PriorError(
            f"unknown distribution {name!r}.{did_you_mean(str(name), REGISTRY)} "
            f"Known: {', '.join(REGISTRY)}"
        )
    fam = REGISTRY[name]
    given = {k: v for k, v in spec.items() if k != "dist"}
    unknown = [k for k in given if k not in fam.params]
    if unknown:
        k = unknown[0]
        raise PriorError(
            f"{name} has no parameter {k!r}.{did_you_mean(k, fam.params)} "
            f"{name} takes {', '.join(fam.params)}"
        )
    missing = [k for k in fam.params if k not in given and k not in fam.optional]
    if name == "TruncatedNormal":
        missing = [k for k in missing if k not in ("lower", "upper")]
    if missing:
        raise PriorError(f"{name} needs {', '.join(missing)} (it takes {', '.join(fam.params)})")
    params: dict[str, float] = {}
    for k, v in given.items():
        if not _num(v):
            raise PriorError(f"{name} parameter {k} must be a finite number, and {shown(v)}")
        params[k] = float(v)
    for k in fam.positive:
        if k in params and params[k] <= 0:
            raise PriorError(f"{name} parameter {k} must be > 0, got {_fmt(params[k])}")
    for k, v in params.items():
        _within_limits(f"{name} parameter {k}", v, positive=k in fam.positive)
    if name == "Uniform" and params["lower"] >= params["upper"]:
        raise PriorError("Uniform needs lower < upper")
    if name == "TruncatedNormal" and params.get("lower", -math.inf) >= params.get("upper", math.inf):
        raise PriorError("TruncatedNormal needs lower < upper")
    return Distribution(name, {k: params[k] for k in fam.params if k in params})


#: The largest magnitude of a prior's parameter, and the smallest of a scale or shape. The
#: model works on standardised scales (an effect of 1 moves a node by its own standard
#: deviation), where parameters are of order 1: 1e308 or 1e-320 is a typo, and one that the
#: sampler would meet only as "all initialization points failed".
PARAMETER_LIMIT = 1e6
SCALE_FLOOR = 1e-6


def _within_limits(what: str, value: float, *, positive: bool) -> None:
    """Refuse a number of a prior (``what``: "Normal parameter mu", "between[1]") beyond
    :data:`PARAMETER_LIMIT`, or a positive one (a scale, a shape) below :data:`SCALE_FLOOR`,
    naming the limit and the fix."""
    if abs(value) > PARAMETER_LIMIT:
        raise PriorError(f"{what} = {value:.3g} is beyond the limit of ±{limit_text(PARAMETER_LIMIT)}; priors are on "
                         "standardised scales, where values are of order 1: check the number")
    if positive and value < SCALE_FLOOR:
        raise PriorError(f"{what} = {value:.3g} is below the limit of {limit_text(SCALE_FLOOR)}; "
                         "a prior this narrow fixes the value: give a larger one (0.001 is already nearly fixed)")


def stated_words(spec: dict[str, Any]) -> str:
    """A words prior as the analyst wrote it, e.g. "raises it: moderate strength, low
    confidence"; a word left out says which default it took."""
    strength = spec.get("strength", "moderate")
    confidence = spec.get("confidence", "medium")
    verb = "raises" if spec.get("direction") == "+" else "lowers"
    return (f"{verb} it: {strength} strength{'' if 'strength' in spec else ' (default)'}, "
            f"{confidence} confidence{'' if 'confidence' in spec else ' (default)'}")


def stated_elicited(spec: dict[str, Any]) -> str:
    """An expert's statement as written: "90% between -0.6 and -0.05", "quartiles -0.5, -0.3, -0.1"."""
    family = f" (fitted as a {spec['family']})" if spec.get("family", "Normal") != "Normal" else ""
    if "between" in spec:
        lo, hi = spec["between"]
        return f"{spec.get('probability', 0.9):.0%} between {lo:g} and {hi:g}{family}"
    q1, q2, q3 = spec["quartiles"]
    return f"quartiles {q1:g}, {q2:g} (median), {q3:g}{family}"


#: Words for a sign that analysts write instead of "+" or "-" (the message suggests the sign).
SIGN_WORDS = {w: "+" for w in ("positive", "pos", "plus", "up", "raise", "raises", "increase", "increases")} | {
    w: "-" for w in ("negative", "neg", "minus", "down", "lower", "lowers", "decrease", "decreases")}


def _words(spec: dict[str, Any]) -> Distribution:
    allowed = {"direction", "strength", "confidence"}
    extra = set(spec) - allowed
    if extra:
        k = sorted(extra)[0]
        raise PriorError(f"unknown key {k!r} in a words prior.{did_you_mean(k, allowed)}")
    direction = spec.get("direction")
    if not isinstance(direction, str) or direction not in ("+", "-"):
        signs = '"+" (the cause raises its effect) or "-" (lowers it)'
        if "direction" not in spec:
            raise PriorError(f"direction is missing; give {signs}")
        if isinstance(direction, str):
            meant = SIGN_WORDS.get(direction.strip().lower())
            hint = f' Did you mean "{meant}"?' if meant else ""
            raise PriorError(f"direction {shown(direction).removesuffix(' is text')} is not a sign; give {signs}.{hint}")
        raise PriorError(f"direction must be \"+\" or \"-\", and {shown(direction)}")
    strength = spec.get("strength", "moderate")
    confidence = spec.get("confidence", "medium")
    if not isinstance(strength, str) or strength not in STRENGTH:
        raise PriorError(_not_one_of("strength", strength, STRENGTH))
    if not isinstance(confidence, str) or confidence not in CONFIDENCE:
        raise PriorError(_not_one_of("confidence", confidence, CONFIDENCE))
    size = STRENGTH[strength]
    sign = 1.0 if direction == "+" else -1.0
    return Distribution("Normal", {"mu": sign * size, "sigma": size * CONFIDENCE[confidence]})


def _not_one_of(key: str, value: Any, allowed: dict) -> str:
    """Why a word prior's ``key`` is refused: "strength must be one of weak, moderate, strong,
    and "huge" is not one of them", with the nearest word when there is one."""
    if not isinstance(value, str):
        return f"{key} must be one of {', '.join(allowed)}, and {shown(value)}"
    hint = did_you_mean(value, allowed)
    return f"{key} must be one of {', '.join(allowed)}, and {value!r} is not one of them" + (f".{hint}" if hint else "")


#: How far a fitted distribution's mass below each quartile may be from 25%, 50% and 75%
#: before validate says the family cannot match them (PreliZ's own threshold is 1% relative).
QUARTILE_TOLERANCE = 0.01


def quartiles_shortfall(dist: Distribution, spec: dict[str, Any]) -> str:
    """What the fit to quartiles misses, in words, or '' when it matches them: a Normal cannot
    match asymmetric quartiles, and is the nearest it can be."""
    masses = dist.scipy().cdf(np.asarray(spec["quartiles"], dtype=float))
    if np.max(np.abs(masses - np.array([0.25, 0.5, 0.75]))) <= QUARTILE_TOLERANCE:
        return ""
    fix = ("family = \"SkewNormal\" for asymmetric quartiles, or other quartiles" if dist.name == "Normal"
           else "other quartiles, or the distribution itself (dist = ...)")
    return (f"a {dist.name} cannot match these quartiles: the nearest ({dist.describe()}) has "
            f"{', '.join(f'{100 * m:.0f}%' for m in masses)} of its mass below them, not 25%, 50%, 75%; give {fix}")


def _elicited(spec: dict[str, Any]) -> Distribution:
    family = spec.get("family", "Normal")
    if not isinstance(family, str) or family not in REGISTRY:
        hint = did_you_mean(family, REGISTRY) if isinstance(family, str) else ""
        raise PriorError(f"unknown family: {shown(family)}.{hint} Known: {', '.join(REGISTRY)}")
    if "between" in spec:
        allowed = {"between", "probability", "family"}
        _no_extra(spec, allowed)
        lo, hi = _statement_numbers("between", spec["between"], "[low, high]")
        mass = _probability(spec.get("probability", 0.9))
        if lo >= hi:
            raise PriorError(f"between needs low < high, got [{lo}, {hi}]")
        try:
            params, converged = _fit(family, "between", (lo, hi, float(mass)))
        except Exception as exc:  # PreliZ raises plain errors for impossible fits
            raise PriorError(f"cannot fit a {family} with {mass:.0%} between {lo:g} and {hi:g}: "
                             f"{' '.join(str(exc).split())}") from None
    else:
        _no_extra(spec, {"quartiles", "family"})
        q = _statement_numbers("quartiles", spec["quartiles"], "[q1, median, q3]")
        if not q[0] < q[1] < q[2]:
            raise PriorError(f"quartiles must be three increasing numbers [q1, median, q3], and they are "
                             f"[{', '.join(f'{x:g}' for x in q)}]")
        try:
            params, converged = _fit(family, "quartiles", tuple(float(x) for x in q))
        except Exception as exc:
            raise PriorError(f"cannot fit a {family} to quartiles {q}: {' '.join(str(exc).split())}") from None
    if not converged:
        raise PriorError(f"the {family} fit to {spec} did not converge; try another family")
    bounds = {"lower", "upper"} & set(REGISTRY[family].params)  # a truncation fitted as infinite is none
    return _explicit({"dist": family, **{k: v for k, v in params if k in REGISTRY[family].params
                                         and not (k in bounds and math.isinf(v))}})


def _statement_numbers(key: str, given: Any, form: str) -> list[float]:
    """An expert's numbers (``between``, ``quartiles``) as floats, or a :class:`PriorError`
    saying which element is wrong and why (``form``: what to give, "[low, high]")."""
    count = form.count(",") + 1
    if not isinstance(given, list):
        raise PriorError(f"{key} must be a list {form}, and {shown(given)}")
    if len(given) != count:
        words = {2: "two", 3: "three"}
        raise PriorError(f"{key} must be {form}, {words.get(count, count)} numbers, and it holds {len(given)}: "
                         f"{given!r}")
    for i, x in enumerate(given):
        if not _num(x):
            quoted = isinstance(x, str) and _reads_as_number(x)
            raise PriorError(f"{key}[{i}]: {shown(x)}; give a finite number{' without quotes' if quoted else ''} "
                             f"({key} = {form})")
        _within_limits(f"{key}[{i}]", x, positive=False)
    return [float(x) for x in given]


def _reads_as_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _probability(mass: Any) -> float:
    """The probability of a "between" statement: a number strictly between 0 and 1."""
    if not _num(mass):
        raise PriorError(f"probability: {shown(mass)}; give a number strictly between 0 and 1, such as 0.9 for 90%")
    if mass in (0, 1):
        sure = "certainly lies" if mass == 1 else "never lies"
        raise PriorError(f"probability = {mass!r} says the value {sure} between low and high, which no distribution "
                         "fitted to it can say; give a probability strictly between 0 and 1, such as 0.9 (for hard "
                         'bounds, give { dist = "Uniform", lower = ..., upper = ... })')
    if not 0 < mass < 1:
        raise PriorError(f"probability = {mass!r} is not a probability; give one strictly between 0 and 1, such as 0.9")
    return float(mass)


@cache
def _fit(family: str, how: str, numbers: tuple[float, ...]) -> tuple[tuple[tuple[str, float], ...], bool]:
    """PreliZ's fit of ``family`` to an expert's statement: its parameters, and whether the fit
    converged. A fit is deterministic, so each is made once per process (a run re-validates its
    scenario; a notebook loads one again and again) and kept in the user's cache
    (:func:`_stored_fits`): importing PreliZ alone takes seconds, which a warm run need not pay."""
    key = f"{family}|{how}|{','.join(repr(float(x)) for x in numbers)}|preliz {_preliz_version()}"
    stored = _stored_fits()
    if key in stored:
        params, converged = stored[key]
        return tuple((str(k), float(v)) for k, v in params), bool(converged)
    import preliz as pz

    target = getattr(pz, family)()
    with warnings.catch_warnings():  # a fit that misses quartiles is said by quartiles_shortfall, every time
        warnings.simplefilter("ignore", UserWarning)
        if how == "between":
            pz.maxent(target, *numbers, plot=False)
        else:
            pz.quartile(target, *numbers, plot=False)
    params = tuple((k, float(v)) for k, v in target.params_dict.items())
    converged = bool(not getattr(target, "opt", None) or getattr(target.opt, "success", True))
    _store_fit(key, params, converged)
    return params, converged


def _fits_file() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("forecast")) / "elicited-priors.json"


@cache
def _preliz_version() -> str:
    from importlib.metadata import version

    return version("preliz")


def _stored_fits() -> dict[str, Any]:
    """The fits made before, by key (family, statement, numbers, PreliZ version): JSON data,
    nothing executable; an unreadable file is as good as none."""
    import json

    try:
        data = json.loads(_fits_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _store_fit(key: str, params: tuple[tuple[str, float], ...], converged: bool) -> None:
    """Add one fit to the stored ones, atomically (a file another process reads is whole); a
    cache that cannot be written only costs the next run the fit."""
    import json

    path = _fits_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps({**_stored_fits(), key: [[list(p) for p in params], converged]}))
    except OSError:
        return


def _no_extra(spec: dict[str, Any], allowed: set[str]) -> None:
    extra = set(spec) - allowed
    if extra:
        k = sorted(extra)[0]
        raise PriorError(f"unknown key {k!r} in this prior.{did_you_mean(k, allowed)}")


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def require_support(dist: Distribution, support: Support, what: str) -> None:
    """Check that a prior lives where its parameter does (e.g. persistence in (0, 1))."""
    lo, hi = dist.bounds()
    ok = {
        "real": True,
        "positive": lo >= 0.0,
        "unit": lo >= 0.0 and hi <= 1.0,
    }[support]
    if not ok:
        hint = {
            "positive": "a positive distribution such as Gamma, LogNormal or HalfNormal",
            "unit": "a distribution on (0, 1) such as Beta",
        }[support]
        raise PriorError(f"{what} needs {hint}; {dist.describe()} is not")


# --- Each family in SciPy's parametrisation (PyMC's and PreliZ's are the same) --------------


def _half_student_t():
    from scipy import stats

    class HalfStudentT(stats.rv_continuous):
        """``|T|`` for ``T ~ StudentT(nu)``, which SciPy does not have."""

        def _pdf(self, x, nu):
            return 2.0 * stats.t.pdf(x, nu)

        def _logpdf(self, x, nu):
            return np.log(2.0) + stats.t.logpdf(x, nu)

        def _cdf(self, x, nu):
            return 2.0 * stats.t.cdf(x, nu) - 1.0

        def _ppf(self, q, nu):
            return stats.t.ppf((q + 1.0) / 2.0, nu)

    return HalfStudentT(a=0.0, name="halfstudentt")


@cache
def _scipy_families() -> dict[str, Any]:
    """Each registry family's frozen SciPy distribution from its parameters (built on first use)."""
    from scipy import stats

    half_t = _half_student_t()
    inf = math.inf
    return {
        "Normal": lambda mu, sigma: stats.norm(mu, sigma),
        "StudentT": lambda nu, mu, sigma: stats.t(nu, mu, sigma),
        "Laplace": lambda mu, b: stats.laplace(mu, b),
        "Logistic": lambda mu, s: stats.logistic(mu, s),
        "SkewNormal": lambda mu, sigma, alpha: stats.skewnorm(alpha, mu, sigma),
        "Uniform": lambda lower, upper: stats.uniform(lower, upper - lower),
        "TruncatedNormal": lambda mu, sigma, lower=-inf, upper=inf: stats.truncnorm(
            (lower - mu) / sigma, (upper - mu) / sigma, mu, sigma),
        "HalfNormal": lambda sigma: stats.halfnorm(0.0, sigma),
        "HalfStudentT": lambda nu, sigma: half_t(nu, 0.0, sigma),
        "Exponential": lambda lam: stats.expon(0.0, 1.0 / lam),
        "Gamma": lambda alpha, beta: stats.gamma(alpha, 0.0, 1.0 / beta),
        "InverseGamma": lambda alpha, beta: stats.invgamma(alpha, 0.0, beta),
        "LogNormal": lambda mu, sigma: stats.lognorm(sigma, 0.0, math.exp(mu)),
        "Beta": lambda alpha, beta: stats.beta(alpha, beta),
    }


# --- Summaries of priors (exact) ---------------------------------------------------------------


@dataclass(frozen=True)
class Mixture:
    """A claim's prior under competing hypotheses: the hypotheses' priors (frozen SciPy
    distributions) mixed with their weights."""

    weights: tuple[float, ...]
    components: tuple[Any, ...]

    def mean(self) -> float:
        return float(sum(w * c.mean() for w, c in zip(self.weights, self.components)))

    def std(self) -> float:
        second = sum(w * (c.var() + c.mean() ** 2) for w, c in zip(self.weights, self.components))
        return float(math.sqrt(max(second - self.mean() ** 2, 0.0)))

    def cdf(self, x: Any) -> Any:
        return sum(w * c.cdf(x) for w, c in zip(self.weights, self.components))

    def logpdf(self, x: Any) -> Any:
        """``log sum_k w_k f_k(x)``, by log-sum-exp (no underflow far in a component's tail)."""
        from scipy.special import logsumexp

        x = np.asarray(x, dtype=float)
        parts = np.stack([np.log(w) + c.logpdf(x) for w, c in zip(self.weights, self.components)])
        return logsumexp(parts, axis=0)

    def ppf(self, q: Any) -> np.ndarray:
        """Each quantile by root finding: it lies between the components' quantiles."""
        from scipy.optimize import brentq

        def one(p: float) -> float:
            ends = [float(c.ppf(p)) for c in self.components]
            lo, hi = min(ends), max(ends)
            return lo if lo == hi else brentq(lambda x: float(self.cdf(x)) - p, lo, hi, xtol=1e-12)

        return np.array([one(float(p)) for p in np.atleast_1d(q)])


def mixture(hypotheses: list[Hypothesis]) -> Mixture:
    return Mixture(tuple(h.weight for h in hypotheses), tuple(h.prior.scipy() for h in hypotheses))


#: Degrees of freedom of a reference prior's Student-t (heavy tails: it covers the hypotheses'
#: tails, so the ratio of a hypothesis's density to it stays bounded).
REFERENCE_DF = 4.0


def reference_prior(hypotheses: Sequence[Hypothesis]) -> Distribution:
    """A broad, single-mode prior covering every hypothesis of a claim, on the same support
    (so that PyMC samples it on the same transformed scale): the *reference* against which
    each hypothesis's evidence is measured (:mod:`forecast.posterior.hypotheses`).

    Its reach is the span from the lowest 5% to the highest 95% quantile of the hypotheses,
    whatever their weights. On the real line: a Student-t with :data:`REFERENCE_DF` degrees of
    freedom centred in that span, with half of it as its scale. For positive effects: a
    half-Student-t with the span's top as its scale. On (0, 1): the uniform Beta(1, 1). For
    hypotheses bounded on both sides: the uniform over their supports; on one side only: a
    normal truncated there, twice as wide as the span."""
    dists = [h.prior for h in hypotheses]
    lo = min(float(d.scipy().ppf(0.05)) for d in dists)
    hi = max(float(d.scipy().ppf(0.95)) for d in dists)
    centre, half = (lo + hi) / 2.0, max((hi - lo) / 2.0, 1e-3 * max(abs(lo), abs(hi), 1.0))
    supports = {d.family.support for d in dists}
    low, high = min(d.bounds()[0] for d in dists), max(d.bounds()[1] for d in dists)
    if supports == {"positive"}:
        return Distribution("HalfStudentT", {"nu": REFERENCE_DF, "sigma": hi})
    if supports == {"unit"}:
        return Distribution("Beta", {"alpha": 1.0, "beta": 1.0})
    if supports == {"real"} and math.isfinite(low) and math.isfinite(high):
        return Distribution("Uniform", {"lower": low, "upper": high})
    if supports == {"real"} and (math.isfinite(low) or math.isfinite(high)):
        bound = {"lower": low} if math.isfinite(low) else {"upper": high}
        return Distribution("TruncatedNormal", {"mu": centre, "sigma": 2.0 * half, **bound})
    return Distribution("StudentT", {"nu": REFERENCE_DF, "mu": centre, "sigma": half})


def summarize(dist: Any, sign: float | None = None) -> dict[str, float]:
    """Mean, sd, 5/50/95% quantiles of a distribution (frozen SciPy, or a :class:`Mixture`),
    and P(sign) if asked."""
    q05, q50, q95 = (float(x) for x in np.atleast_1d(dist.ppf([0.05, 0.5, 0.95])))
    out = {"mean": float(dist.mean()), "sd": float(dist.std()), "q05": q05, "q50": q50, "q95": q95}
    if sign is not None:
        below = float(dist.cdf(0.0))
        out["p_sign"] = below if sign < 0 else 1.0 - below
    return out


def hypothesis_responsibilities(values: np.ndarray, hypotheses: list[Hypothesis]) -> np.ndarray:
    """P(hypothesis k | effect value) for each value: w_k f_k(v) / sum_j w_j f_j(v).

    Averaged over posterior draws this is the posterior weight of each hypothesis (the data
    speak to the hypothesis only through the effect, so P(H | data) = E[P(H | effect)]).
    """
    values = np.asarray(values, dtype=float)
    logs = np.stack(
        [np.log(h.weight) + np.asarray(h.prior.scipy().logpdf(values)) for h in hypotheses], axis=-1
    )
    logs -= logs.max(axis=-1, keepdims=True)
    w = np.exp(logs)
    return w / w.sum(axis=-1, keepdims=True)
