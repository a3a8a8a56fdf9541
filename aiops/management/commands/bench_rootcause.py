"""`manage.py bench_rootcause`: time root-cause ranking (200 services, 2,000 series) and similar-incident search
(100,000 past incidents); prints the figures, asserts nothing.

The ranking is timed twice: the pure ranking on in-memory evidence, and the whole read path of an incident
(alerts, graph, monitoring's anomaly evidence from the database, ranking) on services, series and anomalies
created with a `bench-rc-` prefix in the configured database (removed afterwards unless --keep).
"""
from __future__ import annotations

import random
import statistics
import time
from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone
from tqdm import tqdm

from core.models import Service, Team
from incidents.models import Alert, Incident
from incidents.services.rootcause import MetricEvidence, incident_rootcause, rank
from incidents.services.similar import SimilarIndex
from incidents.services.similar_history import history, incident_from
from monitoring.models import Anomaly, MetricSeries

PREFIX = "bench-rc-"


def _graph(services: int, rng: random.Random) -> dict[str, set[str]]:
    """A layered call graph: every service calls one to three services of deeper layers."""
    names = [f"{PREFIX}{i}" for i in range(services)]
    return {n: {names[j] for j in rng.sample(range(i + 1, services), min(rng.randint(1, 3), services - i - 1))}
            for i, n in enumerate(names)}


def _median_ms(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


class Command(BaseCommand):
    help = "Time root-cause ranking and similar-incident search; prints medians in milliseconds."

    def add_arguments(self, parser):
        parser.add_argument("--services", type=int, default=200)
        parser.add_argument("--series", type=int, default=2000)
        parser.add_argument("--past", type=int, default=100_000, help="Past incidents for similar search.")
        parser.add_argument("--runs", type=int, default=20)
        parser.add_argument("--skip-db", action="store_true", help="Only the in-memory timings.")
        parser.add_argument("--keep", action="store_true", help="Keep the bench rows.")
        parser.add_argument("--seed", type=int, default=13)

    def handle(self, *args, services, series, past, runs, skip_db, keep, seed, **opts):
        rng = random.Random(seed)
        graph = _graph(services, rng)
        names = sorted(graph)
        evidence = [MetricEvidence(node=rng.choice(names), metric=f"m{i}", z=abs(rng.gauss(0, 3)) * rng.random() * 4,
                                   onset=1000.0 + rng.random() * 600) for i in range(series)]
        ms = _median_ms(lambda: rank(callees=graph, metrics=evidence, target=names[0], limit=5), runs)
        self.stdout.write(f"Root cause, pure ranking: {services} services, {series} series: median {ms:.1f} ms")
        if not skip_db:
            self._bench_db(graph, series=series, runs=runs, keep=keep, rng=rng)

        docs, _family, fams = history(size=past, n_families=max(50, past // 50), services=services, seed=seed)
        start = time.perf_counter()
        index = SimilarIndex.build(docs)
        build_s = time.perf_counter() - start
        queries = [incident_from(rng.choice(fams), id=-i, rng=random.Random(i)) for i in range(runs * 5)]
        times = []
        for q in queries:
            t0 = time.perf_counter()
            index.query(q, limit=5)
            times.append((time.perf_counter() - t0) * 1000)
        p95 = sorted(times)[int(len(times) * 0.95)]
        self.stdout.write(f"Similar incidents: {past} past incidents (index built in {build_s:.1f} s): "
                          f"median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms")

    def _bench_db(self, graph, *, series: int, runs: int, keep: bool, rng: random.Random) -> None:
        self._cleanup()
        team, _ = Team.objects.get_or_create(slug="bench-rc", defaults={"name": "bench-rc"})
        made = {n: Service.objects.create(name=n, team=team) for n in tqdm(sorted(graph), desc="services")}
        through = Service.depends_on.through
        through.objects.bulk_create([through(from_service_id=made[a].pk, to_service_id=made[b].pk)
                                     for a, cs in graph.items() for b in cs])
        now = timezone.now()
        rows = MetricSeries.objects.bulk_create([
            MetricSeries(service=made[f"{PREFIX}{i % len(made)}"], metric=f"latency_{i}", labels={},
                         labels_hash=f"bench-rc-{i}") for i in range(series)])
        anomalies = []
        for s in rows:
            if rng.random() < 0.3:  # a third of the series have anomalies in the window
                for k in range(rng.randint(1, 5)):
                    anomalies.append(Anomaly(series=s, ts=now - timedelta(minutes=5 * k),
                                             value=150 + rng.random() * 100, score=0.99, expected=100, lower=90,
                                             upper=110, direction="up", detector="bench"))
        Anomaly.objects.bulk_create(anomalies, ignore_conflicts=True)
        target = made[f"{PREFIX}0"]
        incident = Incident.objects.create(title="bench", service=target, opened_at=now, last_alert_at=now)
        Alert.objects.create(fingerprint="bench-rc", source_kind="generic", service=target, incident=incident,
                             title="bench", first_seen=now, last_seen=now)
        try:
            ms = _median_ms(lambda: incident_rootcause(incident=incident, use_cache=False), max(3, runs // 4))
            self.stdout.write(f"Root cause, incident read path (database, {len(made)} services, {series} series, "
                              f"{len(anomalies)} anomalies): median {ms:.1f} ms")
        finally:
            if not keep:
                self._cleanup()

    def _cleanup(self) -> None:
        bench = Service.objects.filter(name__startswith=PREFIX)
        Alert.objects.filter(service__in=bench).delete()
        Incident.objects.filter(service__in=bench).delete()
        MetricSeries.objects.filter(service__in=bench).delete()
        bench.delete()
