"""The monitors' bars, read from settings (environment; aiops/settings/model_registry.py gives their reasons)."""
from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from ...statistics.drift import DriftThresholds


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorThresholds:
    """Monitor bars, from settings (environment); see aiops/settings/model_registry.py for their reasons."""

    psi_drift: float
    ks_drift: float
    cramers_v_drift: float
    prediction_psi_breach: float
    mae_warning_ratio: float
    mae_breach_ratio: float
    share_warning_points: float
    share_breach_points: float
    min_actuals: int
    bias_warning_ratio: float
    bias_breach_ratio: float
    latency_p99_warning_ms: float
    latency_p99_breach_ms: float
    error_rate_warning: float
    error_rate_breach: float

    @classmethod
    def from_settings(cls) -> MonitorThresholds:
        return cls(
            psi_drift=settings.MONITOR_PSI_DRIFT,
            ks_drift=settings.MONITOR_KS_DRIFT,
            cramers_v_drift=settings.MONITOR_CRAMERS_V_DRIFT,
            prediction_psi_breach=settings.MONITOR_PREDICTION_PSI_BREACH,
            mae_warning_ratio=settings.MONITOR_MAE_WARNING_RATIO,
            mae_breach_ratio=settings.MONITOR_MAE_BREACH_RATIO,
            share_warning_points=settings.MONITOR_SHARE_WARNING_POINTS,
            share_breach_points=settings.MONITOR_SHARE_BREACH_POINTS,
            min_actuals=settings.MONITOR_MIN_ACTUALS,
            bias_warning_ratio=settings.MONITOR_BIAS_WARNING_RATIO,
            bias_breach_ratio=settings.MONITOR_BIAS_BREACH_RATIO,
            latency_p99_warning_ms=settings.MONITOR_LATENCY_P99_WARNING_MS,
            latency_p99_breach_ms=settings.MONITOR_LATENCY_P99_BREACH_MS,
            error_rate_warning=settings.MONITOR_ERROR_RATE_WARNING,
            error_rate_breach=settings.MONITOR_ERROR_RATE_BREACH,
        )

    def drift(self) -> DriftThresholds:
        return DriftThresholds(psi=self.psi_drift, ks=self.ks_drift, cramers_v=self.cramers_v_drift)
