"""The champion/challenger gate: business-metric bars and a minimum gain over the champion (pure)."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings

from .choices import ModelTask


@dataclass(frozen=True, slots=True, kw_only=True)
class GateThresholds:
    journey_max_mae: float
    journey_max_optimistic_share: float
    journey_min_mae_gain: float  # relative: 0.01 = challenger MAE at least 1 % below the champion's
    stuck_min_recall: float
    stuck_min_precision: float
    stuck_min_recall_gain: float  # absolute recall points at the alert budget
    max_secondary_regression: float  # how much worse a secondary business metric may get

    @classmethod
    def from_settings(cls) -> GateThresholds:
        return cls(
            journey_max_mae=settings.GATE_JOURNEY_MAX_MAE,
            journey_max_optimistic_share=settings.GATE_JOURNEY_MAX_OPTIMISTIC_SHARE,
            journey_min_mae_gain=settings.GATE_JOURNEY_MIN_MAE_GAIN,
            stuck_min_recall=settings.GATE_STUCK_MIN_RECALL,
            stuck_min_precision=settings.GATE_STUCK_MIN_PRECISION,
            stuck_min_recall_gain=settings.GATE_STUCK_MIN_RECALL_GAIN,
            max_secondary_regression=settings.GATE_MAX_SECONDARY_REGRESSION,
        )

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class GateResult:
    promote: bool
    reasons: tuple[str, ...]  # one line per check, "ok:" or "fail:" first


def gate_decide(
    *, task: str, challenger: Mapping[str, float], champion: Mapping[str, float] | None, thresholds: GateThresholds,
    live: Mapping[str, Any] | None = None,
) -> GateResult:
    """Promote when the challenger clears the absolute bar and, if a champion exists, beats it on the same holdout.

    `live` ({"challenger": metrics, "champion": metrics, "n": rows}) is a shadow's comparison on the
    same live requests: the same checks must pass there too.
    """
    checks: list[tuple[bool, str]] = []
    rule = {ModelTask.REGRESSION: _journey_checks, ModelTask.CLASSIFICATION: _stuck_checks}.get(task)  # type: ignore[call-overload]
    if rule is None:
        checks.append((False, f"no gate rule for task {task!r}"))
    else:
        checks += rule(challenger, champion, thresholds)
        if live is not None:
            checks += [(passed, f"live on {live.get('n', 0)} rows: {text}")
                       for passed, text in rule(live["challenger"], live["champion"], thresholds)]
    if champion is None:
        checks.append((True, "no champion to beat: the absolute bar decides"))
    promote = all(passed for passed, _ in checks)
    return GateResult(
        promote=promote, reasons=tuple(("ok: " if passed else "fail: ") + text for passed, text in checks)
    )


def _journey_checks(chal: Mapping[str, float], champ: Mapping[str, float] | None, t: GateThresholds):
    mae, optimistic = chal.get("mae"), chal.get("too_optimistic_share")
    if mae is None or optimistic is None:
        return [(False, "challenger has no MAE / optimistic share on the holdout (empty holdout?)")]
    checks = [
        (mae <= t.journey_max_mae, f"MAE {mae:.2f} min vs bar {t.journey_max_mae:.2f}"),
        (
            optimistic <= t.journey_max_optimistic_share,
            f"too-optimistic share {optimistic:.1%} vs bar {t.journey_max_optimistic_share:.1%}",
        ),
    ]
    if champ is not None and champ.get("mae"):
        gain = (champ["mae"] - mae) / champ["mae"]
        checks.append(
            (
                gain >= t.journey_min_mae_gain,
                f"MAE gain over champion {gain:+.2%} ({champ['mae']:.2f} → {mae:.2f}) "
                f"vs minimum {t.journey_min_mae_gain:.2%}",
            )
        )
        limit = champ["too_optimistic_share"] + t.max_secondary_regression
        checks.append(
            (optimistic <= limit,
             f"too-optimistic share {optimistic:.1%} vs champion {champ['too_optimistic_share']:.1%} "
             f"(+{t.max_secondary_regression:.1%} allowed)")
        )
    return checks


def _stuck_checks(chal: Mapping[str, float], champ: Mapping[str, float] | None, t: GateThresholds):
    recall, precision = chal.get("recall_at_budget"), chal.get("precision_at_budget")
    if recall is None or precision is None:
        return [(False, "challenger has no recall / precision on the holdout (empty holdout?)")]
    budget = chal.get("alert_budget", 0.0)
    checks = [
        (
            recall >= t.stuck_min_recall,
            f"recall at {budget:.0%} alert budget {recall:.1%} vs bar {t.stuck_min_recall:.1%}",
        ),
        (precision >= t.stuck_min_precision, f"precision {precision:.1%} vs bar {t.stuck_min_precision:.1%}"),
    ]
    if champ is not None and champ.get("recall_at_budget") is not None:
        gain = recall - champ["recall_at_budget"]
        checks.append(
            (gain >= t.stuck_min_recall_gain,
             f"recall gain over champion {gain:+.1%} ({champ['recall_at_budget']:.1%} → {recall:.1%}) "
             f"vs minimum {t.stuck_min_recall_gain:+.1%}")
        )
        floor = champ["precision_at_budget"] - t.max_secondary_regression
        checks.append(
            (precision >= floor,
             f"precision {precision:.1%} vs champion {champ['precision_at_budget']:.1%} "
             f"(-{t.max_secondary_regression:.1%} allowed)")
        )
    return checks
