"""Replay CSV histories (timestamp,value) through a detector and write per-point anomaly scores.

With ``--nab DIR`` (a NAB-style folder: data/ and labels.json) it scores the labelled set instead, with
NAB's rules, for the chosen detector and the robust_z baseline side by side; ``--variant`` picks the set
(dev, short, hourly or all) and ``--cv families`` adds leave-one-family-out cross-validation.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from monitoring.detection import evaluate, nab
from monitoring.detection.backtest import CHUNK, BacktestInputError, backtest_run
from monitoring.detection.registry import DEFAULT_DETECTOR, UnknownDetector, detector_names, get_detector

BASELINE = "robust_z"
TARGETS = {"dev": 72.0, "short": 62.0, "hourly": 66.0}  # issue 18; CV target 69
CV_TARGET = 69.0


class Command(BaseCommand):
    help = "Score every CSV below --input with a detector (same code path as live ingestion) into --output."

    def add_arguments(self, parser):
        parser.add_argument("--input", help="folder with timestamp,value CSV files (searched recursively)")
        parser.add_argument("--output", help="folder for the scored CSVs (same relative paths)")
        parser.add_argument("--nab", help="NAB-style folder (data/, labels.json): print NAB scores instead")
        parser.add_argument(
            "--variant", choices=[*nab.VARIANTS, "all"], default="dev", help="with --nab: which set to score"
        )
        parser.add_argument("--cv", choices=["families"], help="with --nab: leave-one-family-out CV (dev set)")
        parser.add_argument(
            "--series-detector",
            action="append",
            default=[],
            metavar="GLOB=NAME",
            help='with --nab: detector for the series matching GLOB (e.g. "realTweets/*=robust_z"), repeatable',
        )
        parser.add_argument(
            "--detector", default=None, help=f"detector name; known: {', '.join(detector_names())}"
        )
        parser.add_argument(
            "--chunk",
            type=int,
            default=CHUNK,
            help="points per live-sized batch (state persisted between)",
        )

    def handle(self, *args, **opts):
        if opts["nab"]:
            return self._nab(opts)
        if not opts["input"] or not opts["output"]:
            raise CommandError("give --input and --output (or --nab DIR)")
        input_dir = Path(opts["input"])
        if not input_dir.is_dir():
            raise CommandError(f"--input {input_dir} is not a folder")
        if opts["chunk"] < 1:
            raise CommandError("--chunk must be at least 1")
        bar = tqdm(
            unit="pt", unit_scale=True, desc="backtest", disable=opts.get("verbosity", 1) == 0
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            report = backtest_run(
                input_dir=input_dir,
                output_dir=Path(opts["output"]),
                detector_name=opts["detector"],
                chunk=opts["chunk"],
                progress=bar.update,
                on_total=lambda n: setattr(bar, "total", n),
            )
        except (BacktestInputError, UnknownDetector) as exc:
            raise CommandError(
                str(exc.args[0] if isinstance(exc, UnknownDetector) else exc)
            ) from exc
        finally:
            bar.close()
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        self.stdout.write(
            f"detector={report.detector} threshold={report.threshold:g} files={report.files} points={report.points} "
            f"anomalies={report.anomalies}\n"
            f"scoring {report.points_per_second:,.0f} points/s wall, "
            f"{report.points_per_cpu_second:,.0f} points/s per CPU second "
            f"({report.seconds:.2f} s, after a one-off "
            f"{report.warmup_seconds:.2f} s JIT load); "
            f"end to end incl. CSV read/write {report.points / wall:,.0f} points/s wall "
            f"({wall:.2f} s), {report.points / cpu:,.0f} points/s per CPU second"
        )

    def _nab(self, opts) -> None:
        root = Path(opts["nab"])
        if not (root / "data").is_dir() or not (root / "labels.json").is_file():
            raise CommandError(f"--nab {root}: need a data/ folder and labels.json")
        name = opts["detector"] or DEFAULT_DETECTOR
        per_series = {}
        for item in opts["series_detector"]:
            pattern, _, chosen = item.partition("=")
            if not pattern or not chosen:
                raise CommandError(f"--series-detector {item!r}: expected GLOB=NAME")
            per_series[pattern] = chosen
        try:
            for n in {name, BASELINE, *per_series.values()}:
                get_detector(n)
            dev = nab.nab_load(data_dir=root / "data", labels=root / "labels.json")
        except (BacktestInputError, UnknownDetector) as exc:
            raise CommandError(str(exc.args[0] if isinstance(exc, UnknownDetector) else exc)) from exc
        quiet = opts.get("verbosity", 1) == 0
        variants = list(nab.VARIANTS) if opts["variant"] == "all" else [opts["variant"]]
        out = self.stdout.write
        for variant in variants:
            files = nab.nab_variant(dev, variant)
            total = sum(f.values.shape[0] for f in files)
            results = {}
            for det in dict.fromkeys([name, BASELINE]):
                with tqdm(total=total, unit="pt", unit_scale=True, desc=f"{variant} {det}", disable=quiet) as bar:
                    scored = evaluate.files_score(
                        files, detector_name=det, per_series=per_series if det == name else None, progress=bar.update
                    )
                results[det] = scored
            out(f"\n== {variant}: {len(files)} files, {sum(len(f.spans) for f in files)} windows, {total} points")
            header = f"{'':24}" + "".join(f"{d:>14}" for d in results)
            out(header)
            summary = {
                d: {p: nab.nab_score(files, r.scores, profile=p) for p in nab.PROFILES} for d, r in results.items()
            }
            for profile in nab.PROFILES:
                out(f"{'NAB ' + profile:24}" + "".join(f"{summary[d][profile].score:>14.1f}" for d in results))
            out(f"{'threshold (best)':24}" + "".join(f"{summary[d]['standard'].threshold:>14.3f}" for d in results))
            out(
                f"{'windows hit':24}"
                + "".join(f"{summary[d]['standard'].hit:>9}/{summary[d]['standard'].windows:<4}" for d in results)
            )
            best = {d: summary[d]["standard"].threshold for d in results}
            fams = {d: evaluate.family_scores(files, r.scores, best[d]) for d, r in results.items()}
            raws = {d: evaluate.family_raw(files, r.scores, best[d]) for d, r in results.items()}
            for fam in sorted(fams[name]):
                cells = []
                for d in results:
                    v = fams[d][fam]
                    cells.append(f"{v:>14.1f}" if v is not None else f"{'raw ' + format(raws[d][fam], '.2f'):>14}")
                out(f"  {fam:22}" + "".join(cells))
            out(f"{'points/s per core':24}" + "".join(f"{r.points_per_cpu_second:>14,.0f}" for r in results.values()))
            target = TARGETS[variant]
            mine, base = summary[name]["standard"].score, summary[BASELINE]["standard"].score
            below = [
                f for f in fams[name] if fams[name][f] is not None and fams[BASELINE][f] is not None
                and fams[name][f] < fams[BASELINE][f]  # type: ignore[operator]
            ]
            out(
                f"target: standard >= {target:g} and >= {BASELINE}: {name} {mine:.1f} "
                f"[{'met' if mine >= target else 'NOT met'}; {'>=' if mine >= base else '<'} {BASELINE} {base:.1f}; "
                f"families below {BASELINE}: {', '.join(below) or 'none'}]"
            )
            if variant == "dev":
                det_obj = get_detector(name)
                rates = evaluate.false_pages_per_week(files, results[name].scores, det_obj.default_threshold)
                out(f"false pages per series per week on normal stretches at the live threshold "
                    f"{det_obj.default_threshold:.2f} ({name}):")
                for fam, rate in rates.items():
                    out(f"  {fam:22}{rate:>8.2f}")
        if opts["cv"]:
            sets = {v: nab.nab_variant(dev, v) for v in nab.VARIANTS}
            with tqdm(total=len(evaluate.grid_points()), desc="cv grid", disable=quiet) as bar:
                report = evaluate.cv_families(sets, progress=bar.update)
            out("\n== leave-one-family-out CV of the default detector's grid (folds: the dev families)")
            out(f"grid: {', '.join(f'{g[0]} in {list(g[2])}' for g in evaluate.CV_GRID)}")
            out(f"{'dev family':24}{'in-sample':>11}{'CV':>9}   chosen without the family (dev threshold)")
            for row in report.families:
                out(
                    f"  {row.family:22}{_cell(row.in_sample, row.in_sample_raw):>11}{_cell(row.cv, row.cv_raw):>9}   "
                    f"{row.chosen} ({row.threshold:.3f})"
                )
            out(f"chosen on every family: {report.in_sample_point}")
            for variant_name in sets:
                ins, cv = report.in_sample[variant_name], report.cv[variant_name]
                goal = CV_TARGET if variant_name == "dev" else TARGETS[variant_name]
                out(
                    f"NAB standard {variant_name:7} in-sample {ins:5.1f}  cross-validated {cv:5.1f}  "
                    f"(gap {ins - cv:.1f}; target CV >= {goal:g}: {'met' if cv >= goal else 'NOT met'})"
                )


def _cell(value: float | None, raw: float) -> str:
    return f"{value:.1f}" if value is not None else f"raw {raw:.2f}"
