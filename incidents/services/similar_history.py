"""A generated incident history with known recurrence, to measure similar-incident search (hit@3) and its speed.

Faults come in families (a service, an alert name, a few words and labels). Each past incident is drawn
from a family with noisy words and label values; only some share the family's alert fingerprint (the
rest are the same fault seen through another rule or instance), so text and structure must find them.
Families share services and alert names with one another, so the easy cues alone are not enough.
"""
from __future__ import annotations

import random
from dataclasses import dataclass

from .similar import IncidentDoc, SimilarIndex

ALERTS = ("HighLatency", "ErrorRate", "DiskFull", "MemoryLeak", "PodCrashLoop", "ConnectionPoolExhausted",
          "CertificateExpiry", "QueueBacklog", "ReplicationLag", "ModelDrift", "CPUThrottling", "5xxSpike")
WORDS = ("timeout", "upstream", "database", "cache", "node", "deploy", "rollout", "quota", "throttled", "gc",
         "heap", "volume", "index", "shard", "replica", "dns", "tls", "lock", "deadlock", "batch", "cron",
         "kafka", "consumer", "partition", "checkout", "payment", "search", "login", "feature", "config")
NOISE = ("again", "prod", "eu-west", "us-east", "night", "spike", "investigate", "customer", "report", "page")
SHARE_FINGERPRINT = 0.5  # half of a family's incidents recur under the same alert fingerprint


@dataclass(frozen=True, slots=True, kw_only=True)
class Family:
    id: int
    service: str
    alert: str
    words: tuple[str, ...]
    region: str


def families(n: int, *, services: int, rng: random.Random) -> list[Family]:
    return [Family(id=i, service=f"svc-{rng.randrange(services)}", alert=rng.choice(ALERTS),
                   words=tuple(rng.sample(WORDS, 3)), region=rng.choice(("a", "b", "c")))
            for i in range(n)]


def incident_from(family: Family, *, id: int, rng: random.Random) -> IncidentDoc:
    words = [w for w in family.words if rng.random() < 0.75] + rng.sample(NOISE, 2) + [rng.choice(WORDS)]
    rng.shuffle(words)
    title = f"{family.alert} on {family.service}: {' '.join(words)}"
    labels = [f"alertname={family.alert}", f"region={family.region}", f"pod={family.service}-{rng.randrange(50)}"]
    fingerprint = f"fam-{family.id}" if rng.random() < SHARE_FINGERPRINT else f"one-{id}"
    return IncidentDoc(id=id, text=" ".join([title, family.service, *labels]), service=family.service,
                       severity=rng.randint(1, 4), services=frozenset({family.service}),
                       fingerprints=frozenset({fingerprint}), has_resolution=rng.random() < 0.7)


def history(*, size: int, n_families: int, services: int, seed: int) -> tuple[list[IncidentDoc], dict[int, int],
                                                                                 list[Family]]:
    """(past incidents, {incident id: family id}, families)."""
    rng = random.Random(seed)
    fams = families(n_families, services=services, rng=rng)
    docs, family_of = [], {}
    for i in range(size):
        fam = fams[i % n_families] if i < n_families else rng.choice(fams)  # every family seen at least once
        docs.append(incident_from(fam, id=i + 1, rng=rng))
        family_of[i + 1] = fam.id
    return docs, family_of, fams


def hit_at(*, size: int = 3000, n_families: int = 150, services: int = 40, queries: int = 500, k: int = 3,
           seed: int = 13) -> dict[str, float]:
    docs, family_of, fams = history(size=size, n_families=n_families, services=services, seed=seed)
    index = SimilarIndex.build(docs)
    rng = random.Random(seed + 1)
    hits = recurring_hits = recurring = 0
    for q in range(queries):
        fam = rng.choice(fams)
        doc = incident_from(fam, id=10_000_000 + q, rng=rng)
        found = [family_of[m.id] for m in index.query(doc, limit=k)]
        hit = fam.id in found
        hits += hit
        if any(fp.startswith("fam-") for fp in doc.fingerprints):
            recurring += 1
            recurring_hits += hit
    return {"queries": queries, f"hit@{k}": round(hits / queries, 4),
            f"hit@{k}_recurring": round(recurring_hits / max(recurring, 1), 4),
            f"hit@{k}_new_fingerprint": round((hits - recurring_hits) / max(queries - recurring, 1), 4)}
