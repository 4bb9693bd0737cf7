"""Sweeps: variants are parsed and validated before anything samples, numbers-only
variants share one compiled model and give the numbers a run of the same variant gives, the
in-process Dask cluster gives the numbers of fitting one by one, an interrupted sweep resumes
without refitting what finished, and a failing variant is recorded while the others go on."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from click.testing import CliRunner

from forecast.cli import cli
from forecast.describe import sweep_table
from forecast.model.build import build_model, numbers_of
from forecast.model.inputs import scenario_numbers
from forecast.pipeline import run_scenario, run_sweep
from forecast.pipeline import sweep as sweep_module
from forecast.scenario import load_scenario
from forecast.settings import SamplerSettings
from forecast.sweeps.engine import Cluster
from forecast.sweeps.results import AS_WRITTEN, flips, is_flip, with_reference
from forecast.sweeps.variants import (
    MAX_VARIANTS,
    SweepError,
    Variant,
    apply_change,
    grid,
    parse_vary,
    read_sweep_file,
    resolve,
    resolve_all,
    split_values,
    structure,
)

from . import simulated

TINY = SamplerSettings(draws=100, tune=150, chains=2, seed=4, progress=False)
KEY = "claims.x_to_y.prior"


def small_scenario(directory):
    """X -> Y with a Normal prior, both measured (25 simulated years)."""
    claim = {"id": "x_to_y", "cause": "X", "effect": "Y", "lag": 0, "quote": "X drives Y",
             "prior": {"dist": "Normal", "mu": 0.2, "sigma": 0.3}}
    data = simulated.scenario_dict([claim], ["X", "Y"], data=True)
    return simulated.write(directory, data, simulated.simulate([("X", "Y", 0.5)], ["X", "Y"], 25, 0))


# --- Variants ---------------------------------------------------------------------------------------


def test_values_split_at_top_level_commas_and_read_as_toml() -> None:
    assert split_values('weak, strong') == ["weak", "strong"]
    assert split_values('{ dist = "Normal", mu = 0, sigma = 1 },0.3') == ['{ dist = "Normal", mu = 0, sigma = 1 }', "0.3"]
    vary = parse_vary(['claims.a.prior={ dist = "Normal", mu = 0, sigma = 1 },{ dist = "Normal", mu = 1, sigma = 1 }',
                       "strategies.s.set.L=20,30"])
    assert vary["claims.a.prior"][1] == {"dist": "Normal", "mu": 1, "sigma": 1}
    assert vary["strategies.s.set.L"] == [20, 30]
    with pytest.raises(SweepError, match="KEY=V1,V2"):
        parse_vary(["claims.a.prior"])


def test_the_grid_has_every_combination_and_a_sample_is_reproducible() -> None:
    vary = {"a.x": [1, 2, 3], "b.y": ["p", "q"]}
    assert len(grid(vary)) == 6 and grid(vary)[0].changes == {"a.x": 1, "b.y": "p"}
    picked = grid(vary, sample=3, seed=5)
    assert len(picked) == 3 and [v.name for v in picked] == [v.name for v in grid(vary, sample=3, seed=5)]


def test_a_sample_of_a_vast_grid_builds_only_the_points_it_keeps() -> None:
    """Thirty keys of ten values: 10^30 combinations, more than memory or 64-bit numbers hold;
    a sample of 20 is 20 distinct points, the same for the same seed. A sample beyond the limit
    of variants is refused before anything is built."""
    vary = {f"claims.c{i}.prior.mu": list(range(10)) for i in range(30)}
    picked = grid(vary, sample=20, seed=1)
    assert len({v.name for v in picked}) == 20 and [v.changes for v in picked] == [
        v.changes for v in grid(vary, sample=20, seed=1)]
    assert [tuple(v.changes.values()) for v in picked] == sorted(tuple(v.changes.values()) for v in picked)
    with pytest.raises(SweepError, match=f"--sample 20,000: a sweep has at most {MAX_VARIANTS:,} variants"):
        grid(vary, sample=20_000)


def test_variants_are_named_by_the_shortest_unambiguous_ending_of_their_keys() -> None:
    names = [v.name for v in grid({"claims.a.prior.strength": ["weak"], "claims.b.prior.strength": ["strong"],
                                   "strategies.s.set.L": [20]})]
    assert names == ["a.prior.strength=weak,b.prior.strength=strong,L=20"]


def test_list_items_are_found_by_id_and_a_wrong_id_names_the_ids() -> None:
    doc = {"claims": [{"id": "a", "prior": {"strength": "weak"}}, {"id": "b"}]}
    apply_change(doc, "claims.a.prior.strength", "strong")
    assert doc["claims"][0]["prior"]["strength"] == "strong"
    with pytest.raises(SweepError, match="no item with id 'c'. The ids are a, b"):
        apply_change(doc, "claims.c.prior.strength", "weak")


def test_a_misspelt_node_is_refused_with_the_nearest_not_added_as_a_new_node() -> None:
    """nodes.trafic.persistence named a node that does not exist: it was added, and the scenario
    then asked for the new node's label. Below an entry, tables may still be added."""
    doc = {"nodes": {"traffic": {"label": "Traffic"}}, "strategies": [{"id": "base"}]}
    with pytest.raises(SweepError, match=r"nodes.trafic: the scenario has no 'trafic' in nodes. Did you mean "
                                         r"'traffic'\? There are traffic"):
        apply_change(doc, "nodes.trafic.persistence", {"dist": "Beta", "alpha": 5, "beta": 5})
    assert doc["nodes"] == {"traffic": {"label": "Traffic"}}
    apply_change(doc, "strategies.base.set.traffic", 40)  # a baseline that set nothing gets its set table
    assert doc["strategies"][0]["set"] == {"traffic": 40}


def test_a_bad_variant_is_named_with_its_key_before_anything_samples(tmp_path, monkeypatch) -> None:
    path = small_scenario(tmp_path / "sc")
    variants = [Variant("fine", {f"{KEY}.sigma": 0.5}), Variant("broken", {f"{KEY}.sigma": -1.0}),
                Variant("unknown", {"claims.nope.prior.sigma": 1.0})]
    with pytest.raises(SweepError) as found:
        resolve_all(variants, path)
    assert "variant 'broken'" in str(found.value) and "sigma" in str(found.value)
    assert "variant 'unknown'" in str(found.value) and "The ids are x_to_y" in str(found.value)
    monkeypatch.setattr(sweep_module, "fit_variant", lambda task: pytest.fail("sampled before validating"))
    with pytest.raises(SweepError):
        run_sweep(path, variants, TINY, out=tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_sweep_file_lists_named_variants(tmp_path) -> None:
    f = tmp_path / "sweep.toml"
    f.write_text('[[variants]]\nname = "wide"\nchanges = { "claims.x_to_y.prior.sigma" = 1.0 }\n'
                 '[[variants]]\nname = "other file"\nscenario = "other.toml"\n')
    found = read_sweep_file(f)
    assert [v.name for v in found] == ["wide", "other file"]
    assert found[0].changes == {"claims.x_to_y.prior.sigma": 1.0} and found[1].base == tmp_path / "other.toml"
    f.write_text('[[variants]]\nname = "a"\n[[variants]]\nname = "a"\n')
    with pytest.raises(SweepError, match="'a' is used twice"):
        read_sweep_file(f)
    f.write_text('[[variants]]\nname = 5\n')
    with pytest.raises(SweepError, match=r'variants\[0\]: give each variant a name = "..." as text \(5 is a whole number\)'):
        read_sweep_file(f)
    f.write_text('[[variants]]\nname = "a"\nscenario = ""\n')  # was taken for the swept file
    with pytest.raises(SweepError, match=r"variants\[0\].scenario: the path of a scenario file, as text \(or leave"):
        read_sweep_file(f)
    f.write_text('[[variants]]\nname = "as written"\nchanges = { "scenario.shock_df" = 4 }\n')
    with pytest.raises(SweepError, match="'as written' is used twice: the scenario as written is fitted under that "
                                         "name in every sweep; name yours otherwise"):
        resolve_all(with_reference(read_sweep_file(f)), tmp_path / "sc.toml")


def test_an_unquoted_dotted_key_in_a_sweep_file_is_refused_with_the_quoted_path(tmp_path) -> None:
    """TOML reads ``scenario.shock_df = 4`` as a table under ``scenario``: applied as written, it
    would replace the whole section, so the message shows the key path in quotes instead."""
    f = tmp_path / "sweep.toml"
    f.write_text('[[variants]]\nname = "t"\n[variants.changes]\nclaims.x_to_y.prior.sigma = 1.0\n')
    with pytest.raises(SweepError, match=r'changes\.claims: .*replace the whole \[claims\] section.*'
                                         r'"claims\.x_to_y\.prior\.sigma" = \.\.\.'):
        read_sweep_file(f)
    f.write_text('[[variants]]\nname = "t"\nchanges = { scenario.shock_df = 4, scenario.seed = 3 }\n')
    with pytest.raises(SweepError, match=r'"scenario\.shock_df" = \.\.\.'):
        read_sweep_file(f)
    f.write_text('[[variants]]\nname = "t"\nchanges = { scenario = "other.toml" }\n')
    with pytest.raises(SweepError, match=r'give the variant scenario = "other.toml" beside its name'):
        read_sweep_file(f)


def test_numbers_only_variants_share_a_structure_and_a_family_change_does_not(tmp_path) -> None:
    path = small_scenario(tmp_path)
    base = resolve(Variant("a"), path)
    wider = resolve(Variant("b", {f"{KEY}.sigma": 0.9}), path)
    student = resolve(Variant("c", {KEY: {"dist": "StudentT", "nu": 4, "mu": 0.2, "sigma": 0.3}}), path)
    assert structure(base) == structure(wider) != structure(student)


def test_the_recording_pass_gives_the_numbers_a_built_model_packs(tmp_path) -> None:
    scenario = load_scenario(small_scenario(tmp_path))
    values, slots = numbers_of(scenario)
    packed = scenario_numbers(build_model(scenario))
    np.testing.assert_array_equal(values, packed.values)
    assert slots == packed.slots


# --- Sweeps ---------------------------------------------------------------------------------------------


VARIANTS = [Variant("narrow", {f"{KEY}.sigma": 0.1}), Variant("wide", {f"{KEY}.sigma": 1.0})]


@pytest.fixture(scope="module")
def one_by_one(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweep")
    path = small_scenario(root / "sc")
    return path, run_sweep(path, VARIANTS, TINY, out=root / "local", report=False)


@pytest.mark.slow
def test_numbers_only_variants_compile_once_and_equal_runs_of_the_same_variants(one_by_one, tmp_path) -> None:
    path, found = one_by_one
    assert [r["name"] for r in found.results] == [AS_WRITTEN, "narrow", "wide"]
    assert sum(bool(r["compiled"]) for r in found.results) <= 1  # earlier tests may have compiled it already
    text = path.read_text().replace("sigma = 0.3", "sigma = 1.0", 1)
    wide_file = path.parent / "wide.toml"
    wide_file.write_text(text)
    assert load_scenario(wide_file).claims[0].prior.params["sigma"] == 1.0
    run = run_scenario(wide_file, TINY, out=tmp_path / "run", report=False)
    q = run.summary["questions"][0]
    got = found.dataset.sel(variant="wide", question=q["id"])
    for s, cell in q["by_strategy"].items():
        assert float(got["probability"].sel(strategy=s)) == pytest.approx(cell["probability"], abs=1e-12)
    if q["decision"]:  # the same best strategy and ties as the run's (one rule)
        assert str(got["best"].values) == q["decision"]["best"]
        assert sorted(str(s) for s in got["strategy"].values if got["tied"].sel(strategy=s)) == sorted(
            q["decision"]["tied"])


@pytest.mark.slow
def test_an_in_process_dask_cluster_gives_the_numbers_of_fitting_one_by_one(one_by_one, tmp_path) -> None:
    path, local = one_by_one
    on_dask = run_sweep(path, VARIANTS, TINY, cluster=Cluster(workers=2, processes=False), out=tmp_path / "dask")
    xr.testing.assert_equal(on_dask.dataset["probability"], local.dataset["probability"])
    page = (tmp_path / "dask" / "report" / "index.html").read_text()
    assert "How each answer varies across the variants" in page and "Variants that flip the best strategy" in page
    table = (tmp_path / "dask" / "variants.csv").read_text().splitlines()
    assert table[0] == "variant,changes,verdict,seconds,error" and len(table) == 4
    from forecast.files import ordinary_mode  # outputs read like any file the user writes (mkstemp's are 0600)

    for name in ("sweep.nc", "variants.csv", "summary.json"):
        assert (tmp_path / "dask" / name).stat().st_mode & 0o777 == ordinary_mode(), name


@pytest.mark.slow
def test_an_interrupted_sweep_resumes_without_refitting_what_finished(one_by_one, tmp_path, monkeypatch) -> None:
    path, local = one_by_one
    fitted: list[str] = []
    real = sweep_module.fit_variant

    def interrupted(task):
        if task.variant.name == "wide":
            raise KeyboardInterrupt
        fitted.append(task.variant.name)
        return real(task)

    monkeypatch.setattr(sweep_module, "fit_variant", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_sweep(path, VARIANTS, TINY, out=tmp_path / "s", report=False)
    assert fitted == [AS_WRITTEN, "narrow"]
    assert sorted(p.name for p in (tmp_path / "s" / "variants").glob("*.json")) == ["0000.json", "0001.json"]
    monkeypatch.setattr(sweep_module, "fit_variant", lambda task: fitted.append(task.variant.name) or real(task))
    resumed = run_sweep(path, VARIANTS, TINY, out=tmp_path / "s", report=False)
    assert fitted == [AS_WRITTEN, "narrow", "wide"], "only the unfinished variant is fitted again"
    xr.testing.assert_equal(resumed.dataset["probability"], local.dataset["probability"])
    with pytest.raises(SweepError, match="holds another sweep"):
        run_sweep(path, VARIANTS[:1], TINY, out=tmp_path / "s", report=False)


@pytest.mark.parametrize("existed", [False, True])
def test_a_new_sweep_interrupted_before_any_variant_finished_leaves_nothing_behind(tmp_path, monkeypatch,
                                                                                    existed) -> None:
    """Ctrl-C while the cluster starts or the first variants fit: no plan file, no folder (an
    empty --out that was there stays, empty), as a run leaves nothing half-written."""
    from forecast import interrupts

    def stopped(*args):
        raise interrupts.Interrupted(2)

    monkeypatch.setattr(sweep_module, "run_tasks", stopped)
    out = tmp_path / "s"
    if existed:
        out.mkdir()
    with pytest.raises(interrupts.Interrupted):
        run_sweep(small_scenario(tmp_path / "sc"), VARIANTS, TINY, out=out, report=False)
    assert (sorted(out.iterdir()) == [] if existed else not out.exists())


def test_a_resumed_sweep_reads_back_only_records_it_wrote_and_fits_the_others_again(tmp_path) -> None:
    """A tester's edits of finished records: text for a number was read as one, an emptied
    record showed as a failure, a record of another name was taken, an extra file counted as
    done, and a variants folder turned into a file failed with a traceback after sampling."""
    plan = {"forecast_sweep": 1, "variants": [{"name": "as written"}, {"name": "narrow"}, {"name": "wide"}]}
    answer = {"probability": 0.5, "mcse": 0.01, "q05": 1.0, "median": 2.0, "q95": 3.0}
    record = {"answers": {"q": {"a": answer}}, "best": {"q": "a"}, "tied": {"q": []}, "equivalent": {"q": []},
              "diagnostics": {"verdict": "ok"}}
    target = tmp_path / "s"
    (target / "variants").mkdir(parents=True)
    (target / "sweep.json").write_text(json.dumps(plan))
    records = {"0000": {"name": "as written", **record},
               "0001": {"name": "narrow", **record, "answers": {"q": {"a": {**answer, "probability": "0.5"}}}},
               "0002": {"name": "other", **record}, "0003": {"name": "wide", **record}, "0004": {},
               "0005": {"name": "wide", **{k: v for k, v in record.items() if k != "equivalent"}}}  # an older record
    for stem, r in records.items():
        (target / "variants" / f"{stem}.json").write_text(json.dumps(r))
    done, resumed = sweep_module._start(target, plan)
    assert sorted(done) == [0] and resumed is None
    (target / "variants" / "0001.json").write_text(json.dumps({"name": "narrow", **record}))
    assert sorted(sweep_module._start(target, plan)[0]) == [0, 1]
    for f in (target / "variants").iterdir():
        f.unlink()
    (target / "variants").rmdir()
    (target / "variants").write_text("not a folder")
    with pytest.raises(SweepError, match="its variants folder is not a folder"):
        sweep_module._start(target, plan)


@pytest.mark.slow
def test_a_failing_variant_is_recorded_and_the_others_go_on(one_by_one, tmp_path, monkeypatch) -> None:
    path, _ = one_by_one
    real = sweep_module.fit_variant

    def failing(task):
        if task.variant.name == "narrow":
            raise FloatingPointError("the covariance is not positive definite")
        return real(task)

    monkeypatch.setattr(sweep_module, "fit_variant", failing)
    found = run_sweep(path, VARIANTS, TINY, out=tmp_path / "f", report=False)
    ds = found.dataset
    assert "FloatingPointError" in str(ds["error"].sel(variant="narrow").values)
    assert np.isnan(ds["probability"].sel(variant="narrow")).all()
    assert np.isfinite(ds["probability"].sel(variant="wide")).all()
    assert json.loads((tmp_path / "f" / "summary.json").read_text())["failed"] == ["narrow"]


def test_the_command_refuses_bad_variants_with_their_key(tmp_path) -> None:
    path = small_scenario(tmp_path / "sc")
    done = CliRunner().invoke(cli, ["sweep", str(path), "--vary", f"{KEY}.sigma=-1,0.5", "--workers", "0",
                                    "--out", str(tmp_path / "o")])
    assert done.exit_code == 1 and "variant 'sigma=-1'" in done.output
    assert not (tmp_path / "o").exists()
    done = CliRunner().invoke(cli, ["sweep", str(path), "--vary", KEY])
    assert done.exit_code == 2 and "KEY=V1,V2" in done.output
    done = CliRunner().invoke(cli, ["sweep", str(path), "--sample", "3"])
    assert done.exit_code == 2


def test_a_sample_as_large_as_the_grid_says_the_whole_grid_is_fitted(tmp_path) -> None:
    path = small_scenario(tmp_path / "sc")
    done = CliRunner().invoke(cli, ["sweep", str(path), "--vary", f"{KEY}.sigma=-1,0.5", "--sample", "5",
                                    "--workers", "0", "--out", str(tmp_path / "o")])
    assert "note: --sample 5 is not fewer than the grid's 2 variants: the whole grid is fitted" in done.output
    assert done.exit_code == 1 and "variant 'sigma=-1'" in done.output  # and still validated first
    done = CliRunner().invoke(cli, ["sweep", str(path), "--vary", f"{KEY}.sigma=-1,-2", "--sample", "1",
                                    "--workers", "0", "--out", str(tmp_path / "o")])
    assert done.exit_code == 1 and "note:" not in done.output  # one point of two: a sample (refused, unsampled)


def test_a_whole_other_scenario_is_named_by_its_bare_path_or_as_toml_text() -> None:
    assert parse_vary(["scenario=priors/other.toml,'b.toml'"])["scenario"] == ["priors/other.toml", "b.toml"]
    assert grid(parse_vary(["scenario=priors/other.toml"]))[0].base.name == "other.toml"
    with pytest.raises(SweepError, match="path of a scenario file"):
        parse_vary(["scenario=''"])


def test_workers_get_absolute_paths_wherever_they_were_started(tmp_path, monkeypatch) -> None:
    """A Dask worker started in another directory reads the scenario at the same path."""
    path = small_scenario(tmp_path / "sc")
    (tmp_path / "sc" / "other.toml").write_bytes(path.read_bytes())
    monkeypatch.chdir(tmp_path)
    seen = []

    def run_here(fit, tasks, cluster, finished) -> None:
        for task in tasks:
            seen.append(task)
            finished(task, {"error": "not fitted: this test only looks at the tasks"})

    monkeypatch.setattr(sweep_module, "run_tasks", run_here)
    with pytest.raises(SweepError):  # nothing was fitted: every variant "failed"
        run_sweep("sc/scenario.toml", [Variant("other", {}, tmp_path / "sc" / "other.toml")], TINY,
                  out=tmp_path / "o", report=False)
    assert seen and all(t.base.is_absolute() and (t.variant.base is None or t.variant.base.is_absolute())
                        for t in seen)


def test_a_sweep_whose_every_variant_failed_is_an_error_with_the_first_one(tmp_path, monkeypatch) -> None:
    path = small_scenario(tmp_path / "sc")

    def failing(task):
        raise FloatingPointError("the covariance is not positive definite")

    monkeypatch.setattr(sweep_module, "fit_variant", failing)
    done = CliRunner().invoke(cli, ["sweep", str(path), "--vary", f"{KEY}.sigma=0.2,0.5", "--workers", "0",
                                    "--out", str(tmp_path / "o"), "-q"])
    assert done.exit_code == 1 and "every variant failed" in done.output and "positive definite" in done.output
    assert (tmp_path / "o" / "variants.csv").is_file()  # the failures are recorded, and a rerun fits them again


def test_a_variant_s_scenario_file_is_the_changed_one(tmp_path) -> None:
    """What a variant's run directory keeps as its scenario is what was fitted."""
    import tomllib

    path = small_scenario(tmp_path / "sc")
    changed = resolve(Variant("narrow", {f"{KEY}.sigma": 0.05}), path)
    document = tomllib.loads(changed.content("scenario.toml").decode())
    assert document["claims"][0]["prior"]["sigma"] == 0.05
    assert changed.content("scenario.toml").decode().startswith("# scenario.toml, variant 'narrow' of a sweep:")


def test_a_flip_counts_only_where_the_best_as_written_is_not_tied_with_the_new_best() -> None:
    """Under each variant the best strategy changed; under "close" the one best as written is
    within Monte Carlo error of it (paired): a tie, not a changed conclusion."""
    probability = np.array([[[0.6, 0.5]], [[0.5, 0.52]], [[0.3, 0.6]]])
    tied = np.array([[[False, False]], [[True, False]], [[False, False]]])
    ds = xr.Dataset({"probability": (("variant", "question", "strategy"), probability),
                     "tied": (("variant", "question", "strategy"), tied),
                     "best": (("variant", "question"), np.array([["a"], ["b"], ["b"]])),
                     "desirable": ("question", ["yes"])},
                    coords={"variant": [AS_WRITTEN, "close", "far"], "question": ["q"], "strategy": ["a", "b"]})
    found = {f["variant"]: f for f in flips(ds)}
    assert not found["close"]["beyond_error"] and found["far"]["beyond_error"]
    assert not is_flip(found["close"]) and is_flip(found["far"])
    assert found["far"]["gap"] == pytest.approx(0.3)
    text = sweep_table(ds.assign(verdict=("variant", ["ok"] * 3), error=("variant", [""] * 3)))
    assert "best as written a; another is best under: far (b)" in text
    assert text.splitlines()[1:4] == ["       as written  close   far", "  a          0.60   0.50  0.30",
                                      "  b          0.50   0.52  0.60"]  # a few variants side by side
    assert "(under close another strategy is best, tied within Monte Carlo error" in text


def test_a_variant_whose_best_is_identical_to_the_best_as_written_for_the_question_is_no_flip() -> None:
    """Under "same" b gives a's answer in every draw (one option) and is named first; under
    "apart" b is clearly ahead of a."""
    dims = ("variant", "question", "strategy")
    ds = xr.Dataset({"probability": (dims, np.array([[[0.6, 0.6]], [[0.6, 0.6]], [[0.3, 0.6]]])),
                     "tied": (dims, np.zeros((3, 1, 2), dtype=bool)),
                     "equivalent": (dims, np.array([[[False, True]], [[True, False]], [[False, False]]])),
                     "best": (("variant", "question"), np.array([["a"], ["b"], ["b"]])),
                     "desirable": ("question", ["yes"])},
                    coords={"variant": [AS_WRITTEN, "same", "apart"], "question": ["q"], "strategy": ["a", "b"]})
    assert [(f["variant"], is_flip(f)) for f in flips(ds)] == [("apart", True)]


def _unclear_as_written() -> xr.Dataset:
    """A sweep whose reference has a tied with b, and whose variant "strong" has b ahead clearly."""
    probability = np.array([[[0.52, 0.5]], [[0.4, 0.6]]])
    tied = np.array([[[False, True]], [[False, False]]])
    ds = xr.Dataset({"probability": (("variant", "question", "strategy"), probability),
                     "tied": (("variant", "question", "strategy"), tied),
                     "best": (("variant", "question"), np.array([["a"], ["b"]])),
                     "desirable": ("question", ["yes"]), "verdict": ("variant", ["ok", "ok"]),
                     "error": ("variant", ["", ""])},
                    coords={"variant": [AS_WRITTEN, "strong"], "question": ["q"], "strategy": ["a", "b"]})
    return ds


def test_no_clear_best_as_written_is_no_choice_to_flip() -> None:
    """The tester's case: as written a was tied with b (within Monte Carlo error); a variant
    under which b leads a clearly was listed as flipping the best strategy. There was no choice
    to flip, as the run's sensitivity analysis says: it is named as a variant that makes one
    strategy lead, not as a flip."""
    ds = _unclear_as_written()
    (found,) = flips(ds)
    assert found["beyond_error"] and found["reference_tied"] == ["b"] and not is_flip(found)
    text = sweep_table(ds)
    assert "another is best under" not in text
    assert ("as written no strategy is clearly best (a tied with b), so there is no choice to flip; another leads it "
            "beyond Monte Carlo error under: strong (b)") in text


def test_the_sweep_page_does_not_list_a_variant_of_an_unclear_choice_as_a_flip(tmp_path) -> None:
    from forecast.report.sweep import render_sweep, sweep_context

    ds = _unclear_as_written().assign(changes=("variant", ["", "strength = strong"]),
                                      changed_keys=("variant", ["", "strength"]))
    scenario = load_scenario(small_scenario(tmp_path))
    found = sweep_context(scenario, ds)
    assert found["flips"] == [] and found["ties"] == [] and [f["variant"] for f in found["unchosens"]] == ["strong"]
    page = " ".join(html.unescape(render_sweep(tmp_path, scenario, ds).read_text(encoding="utf-8")).split())
    assert "no choice to flip. Another strategy leads the one first as written beyond that error for Y up? under " \
           "strong: b ahead of a by 0.200." in page
    assert "No variant changes a clear best strategy" in page


def test_the_sweep_file_example_in_the_scenario_guide_reads_and_resolves_against_the_article(tmp_path) -> None:
    """priors/README.md's sweep file is a real one: each of its variants resolves against
    priors/article.toml, with the changes it says."""
    from .conftest import DEFAULT_SCENARIO, PRIORS

    guide = (PRIORS / "README.md").read_text(encoding="utf-8")
    section = guide[guide.index("## Sweep files"):]
    example = section[section.index("```toml\n") + 8:section.index("```", section.index("```toml\n") + 8)]
    (tmp_path / "sweep.toml").write_text(example, encoding="utf-8")
    variants = read_sweep_file(tmp_path / "sweep.toml")
    assert [v.name for v in variants] == ["weak antagonism", "engagement more likely strengthens",
                                          "softer containment, heavier tails"]
    weak, weights, softer = resolve_all(variants, DEFAULT_SCENARIO)
    claims = {c.id: c for c in weights.claims}
    assert [h.weight for h in claims["engagement_and_partnership"].hypotheses] == [0.3, 0.7]
    assert softer.shock_df == 4 and softer.strategies[3].interventions["us_engagement"].kind == "to"
    assert weak.claims[0].prior != load_scenario(DEFAULT_SCENARIO).claims[0].prior


@pytest.mark.parametrize(("variants", "subtitle"), [
    ([Variant("narrow", {f"{KEY}.sigma": 0.1})], "Does the conclusion survive other priors?"),
    ([Variant("narrow", {f"{KEY}.sigma": 0.1}), Variant("more", {"strategies.base.set.X": 1.0}),
      Variant("heavier tails", {"scenario.shock_df": 4}), Variant("elsewhere", {}, base=Path("other.toml"))],
     "Does the conclusion survive other priors, strategy settings, scenario settings or scenario files?"),
])
def test_the_sweep_page_is_titled_by_what_its_variants_vary(tmp_path, variants, subtitle) -> None:
    """A sweep that varies a strategy or a whole scenario is no "prior sweep"."""
    from forecast.report.sweep import render_sweep
    from forecast.sweeps.results import to_dataset, with_reference

    scenario = load_scenario(small_scenario(tmp_path / "sc"))
    variants = with_reference(variants)
    ds = to_dataset(variants, [{"diagnostics": {"verdict": "ok"}} for _ in variants], [scenario])
    page = render_sweep(tmp_path, scenario, ds).read_text(encoding="utf-8")
    assert f"Sweep · {len(variants)} variants" in page and "Prior sweep" not in page
    assert subtitle in page


@pytest.mark.parametrize(("verdicts", "expected", "level"), [
    (["ok", "ok", "warn"], None, None),
    (["ok", "failed", "ok"], "1 of 3 variants ended in an error and has no answers (see below).", "warn"),
    (["ok", "fail", "fail"], "2 of 3 failed the sampler's diagnostics: their answers are not to be trusted", "warn"),
    (["failed", "failed", "failed"], "Every variant ended in an error and has no answers", "fail"),
    (["failed", "ok", "ok"], "is among them: no variant's best strategy can be set against it.", "fail"),
    (["fail", "ok", "ok"], "is among them: the flips below are set against answers that are not to be trusted.",
     "fail"),
])
def test_the_sweep_page_warns_at_its_top_when_variants_have_no_answers_or_failed(tmp_path, verdicts, expected,
                                                                                level) -> None:
    """A page whose variants all ended in errors must not read like a clean sweep with 'no flips'."""
    from forecast.report.sweep import render_sweep
    from forecast.sweeps.results import to_dataset, with_reference

    scenario = load_scenario(small_scenario(tmp_path / "sc"))
    variants = with_reference([Variant("narrow", {f"{KEY}.sigma": 0.1}), Variant("wide", {f"{KEY}.sigma": 2.0})])
    results = [{"error": "boom"} if v == "failed" else {"diagnostics": {"verdict": v}} for v in verdicts]
    page = html.unescape(render_sweep(tmp_path, scenario, to_dataset(variants, results, [scenario]))
                         .read_text(encoding="utf-8"))
    if expected is None:
        assert "Caution." not in page
    else:
        assert f'caveat-{level}"><strong>Caution.</strong>' in page and expected in page
    if verdicts[0] == "failed":
        assert "No variant changes the best strategy" not in page
        assert "has no answers, so no variant's best strategy can be compared with it" in page


def test_an_out_that_cannot_be_a_sweep_folder_is_refused_by_name_before_anything_samples(tmp_path) -> None:
    path = small_scenario(tmp_path / "sc")
    (tmp_path / "afile").write_text("")
    for out, says in ((tmp_path / "afile", "afile is a file, not a folder: choose another --out"),
                      (tmp_path / "afile" / "sub", f"to claim {tmp_path / 'afile' / 'sub'}: Not a directory; choose "
                                                   "a place you can write to")):  # as a run's --out says
        done = CliRunner().invoke(cli, ["sweep", str(path), "--vary", f"{KEY}.sigma=0.2,0.5", "--workers", "0",
                                        "--out", str(out)])
        assert done.exit_code == 1 and says in done.output and "Traceback" not in done.output
    assert (tmp_path / "afile").read_text() == ""


def test_a_scheduler_that_is_no_address_or_does_not_answer_is_refused_without_a_trace(tmp_path, monkeypatch) -> None:
    """A usage error for an address Dask cannot read; exit 1 naming the address and the fix
    when nothing answers there, and a new sweep leaves no folder behind."""
    from forecast.sweeps import engine

    path = small_scenario(tmp_path / "sc")
    done = CliRunner().invoke(cli, ["sweep", str(path), "--vary", f"{KEY}.sigma=0.2,0.5", "--scheduler", "notaurl"])
    assert done.exit_code == 2 and "--scheduler 'notaurl': missing port number" in done.output
    done = CliRunner().invoke(cli, ["calibrate", str(path), "--sims", "2", "--scheduler", "foo://x:1"])
    assert done.exit_code == 2 and "the protocol 'foo' is not one this command connects with" in done.output
    for address in ("tls://127.0.0.1:1", "ucx://127.0.0.1:1"):  # their clients need configuration it does not take
        done = CliRunner().invoke(cli, ["sweep", str(path), "--vary", f"{KEY}.sigma=0.2,0.5", "--scheduler", address])
        assert done.exit_code == 2 and "is not one this command connects with" in done.output, done.output
    monkeypatch.setattr(engine, "CONNECT_TIMEOUT", "0.5s")
    out = tmp_path / "o"
    done = CliRunner().invoke(cli, ["sweep", str(path), "--vary", f"{KEY}.sigma=0.2,0.5", "--scheduler",
                                    "tcp://127.0.0.1:1", "--out", str(out)])
    assert done.exit_code == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:1" in done.output
    assert "Traceback" not in done.output and not out.exists()


def test_a_value_given_twice_in_one_vary_option_is_named_as_such() -> None:
    with pytest.raises(SweepError, match="--vary scenario.shock_df: the value 4 is given twice; list each value once"):
        parse_vary(["scenario.shock_df=4,4"])
    with pytest.raises(SweepError, match="the value 4.0 is given twice"):
        parse_vary(["scenario.shock_df=4,4.0"])  # the same scenario
    assert parse_vary(["k=1,true"])["k"] == [1, True]  # true is not 1


def test_a_local_cluster_starts_beside_another_on_the_dashboard_port() -> None:
    """A second sweep, or an analyst's own Dask dashboard, holds port 8787: the local cluster
    takes a free port, with no "Port 8787 is already in use" warning (an error here)."""
    import socket

    from forecast.sweeps.engine import _client

    holder = socket.socket()
    try:
        holder.bind(("0.0.0.0", 8787))
    except OSError:  # another process holds it already: the case itself
        holder.close()
        holder = None
    else:
        holder.listen()
    try:
        with _client(Cluster(workers=1, processes=False)) as client:
            assert client.submit(sum, [1, 2]).result() == 3
    finally:
        if holder is not None:
            holder.close()


def test_a_sweep_folder_another_process_is_writing_is_refused_before_anything_samples(tmp_path, monkeypatch) -> None:
    """A tester's second sweep of the same --out, started while the first ran, was accepted
    ("0 already done, 3 to fit"): both would have written the same variants' files."""
    import subprocess
    import sys

    from forecast.results.store import RunError

    from .conftest import ROOT

    path, out = small_scenario(tmp_path / "sc"), tmp_path / "out"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom forecast.results.staging import claim\n"
                               f"with claim({str(out)!r}):\n    print('held', flush=True)\n    time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(sweep_module, "fit_variant", lambda task: pytest.fail("sampled a claimed sweep"))
        with pytest.raises(RunError, match=f"is being written by another forecast process \\(pid {holder.pid}\\)"):
            run_sweep(path, [Variant("wide", {f"{KEY}.sigma": 1.0})], TINY, out=out)
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
