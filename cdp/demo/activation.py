"""The rest of the demo once customers are loaded and resolved: segments evaluated,
audiences synced to the local vendor fakes (cdp.demo.fakes), a login for each role.

The demo shows the whole product, so this one module reaches every app (segments,
connectors, roles) through their services; nothing else in cdp imports it. Safe to run
again: segments and users are kept, destinations are pointed at the fakes running now,
and since a fake starts empty, what was sent to the previous ones is forgotten.
"""

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from cdp.roles import Role

ACTOR = "command:setup_demo"
LOGINS_FILE = "demo-logins.txt"
ADMIN_FILE = "demo-admin.txt"  # create_demo_admin's: the admin login stays the same

# (slug, name, description, rule tree): what a marketer would build first.
SEGMENTS: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("recent-buyers", "Recent buyers", "Bought at least once in the last 90 days.",
     {"event": "purchase", "count": {"gte": 1}, "within_days": 90}),
    ("brittany-newsletter", "Newsletter subscribers in Brittany",
     "May receive marketing emails and live in Brittany (region or postcode).",
     {"all": [{"consent": "email_marketing"},
              {"any": [{"attribute": "region", "op": "eq", "value": "Bretagne"},
                       *({"attribute": "postcode", "op": "starts_with", "value": dept}
                         for dept in ("22", "29", "35", "56"))]}]}),
    ("lapsing-customers", "High churn risk",
     "Regular buyers (two purchases or more) with no purchase for four months.",
     {"all": [{"trait": "purchase_count", "op": "gte", "value": 2},
              {"trait": "days_since_last_purchase", "op": "gt", "value": 120}]}),
    ("big-spenders", "Big spenders", "Spent 1,000 euros or more in all.",
     {"trait": "revenue_total", "op": "gte", "value": 1000}),
)

# (destination, kind, purpose, field mapping, segment, container beside the fake's own).
SYNCS: tuple[tuple[str, str, str, dict[str, str], str, dict[str, str]], ...] = (
    ("demo-mailchimp", "mailchimp", "email_marketing",
     {"FNAME": "first_name", "LNAME": "last_name"}, "recent-buyers",
     {"tag": "cdp:recent-buyers"}),
    ("demo-hubspot", "hubspot", "email_marketing",
     {"firstname": "first_name", "lastname": "last_name"}, "brittany-newsletter",
     {"list_name": "CDP: newsletter Bretagne"}),
    ("demo-salesforce", "salesforce", "email_marketing",
     {"FirstName": "first_name", "LastName": "last_name"}, "lapsing-customers", {}),
    ("demo-webhook", "webhook", "ads_targeting", {"city": "city"}, "big-spenders", {}),
)

ROLE_USERS: tuple[tuple[Role, str], ...] = (
    (Role.MARKETER, "marie"), (Role.STEWARD, "samir"), (Role.DPO, "dominique"),
    (Role.ADMIN, "admin"),
)


@dataclass
class SyncOutcome:
    destination: str
    segment: str
    status: str
    added: int
    failed: int
    in_container: int


@dataclass
class DemoReport:
    segments: dict[str, int] = field(default_factory=dict)
    syncs: list[SyncOutcome] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)


def demo_segments_ensure() -> list[Any]:
    """The demo segments (created once; a marketer's later edits are kept)."""
    from segments.models import Segment
    from segments.services import segment_save

    out = []
    for slug, name, description, definition in SEGMENTS:
        segment = Segment.objects.filter(slug=slug).first()
        if segment is None:
            segment = segment_save(actor=ACTOR, name=name, slug=slug, definition=definition,
                                   description=description, schedule="0 * * * *")
        out.append(segment)
    return out


def demo_syncs_ensure(fakes: dict[str, dict[str, Any]]) -> list[Any]:
    """Destinations pointed at the running fakes and their syncs, left disabled (the
    caller enables them after evaluating, so the first run is the one it starts)."""
    from connectors.models import AudienceSync, Destination, SyncMember
    from connectors.services import destination_save, sync_save
    from segments.models import Segment

    syncs = []
    for name, kind, purpose, mapping, slug, extra in SYNCS:
        fake = fakes[kind]
        container = {**fake.get("container", {}), **extra}
        existing = Destination.objects.filter(name=name).first()
        sync = AudienceSync.objects.filter(destination=existing, segment__slug=slug).first() \
            if existing else None
        moved = existing is None or existing.base_url != fake["base_url"] or (
            sync is not None and sync.container != container)
        with transaction.atomic():
            if sync is not None and moved:
                # A new fake is a new, empty account: nothing sent before is there.
                SyncMember.objects.filter(sync=sync).delete()
            destination = destination_save(
                actor=ACTOR, destination=existing, name=name, kind=kind, purpose=purpose,
                credentials=fake["credentials"], base_url=fake["base_url"],
                field_mapping=mapping, enabled=True, timeout_s=10)
            syncs.append(sync_save(
                actor=ACTOR, sync=sync, segment=Segment.objects.get(slug=slug),
                destination=destination, container=container, schedule="", enabled=False))
    return syncs


def demo_segments_evaluate(segments: list[Any]) -> dict[str, int]:
    """Traits first (rules read them), then each segment; returns sizes by name."""
    from segments.evaluation import segment_evaluate
    from segments.traits import traits_recompute_all

    traits_recompute_all()
    sizes = {}
    for segment in segments:
        run = segment_evaluate(segment_id=segment.pk)
        sizes[segment.name] = run.size if run is not None and run.size is not None else 0
    return sizes


def demo_syncs_run(syncs: list[Any]) -> list[SyncOutcome]:
    """Enable each sync and run it once, here and now."""
    from connectors.models import SyncMember
    from connectors.services import sync_change, sync_run_now

    outcomes = []
    for sync in syncs:
        sync = sync_change(actor=ACTOR, sync=sync, enabled=True)
        run = sync_run_now(actor=ACTOR, sync=sync)
        outcomes.append(SyncOutcome(
            destination=sync.destination.name, segment=sync.segment.name,
            status=run.status if run else "busy", added=run.added if run else 0,
            failed=run.failed if run else 0,
            in_container=SyncMember.objects.filter(sync=sync, in_container=True).count()))
    return outcomes


def _saved_logins(var_dir: Path) -> dict[str, str]:
    """username -> password, from our file and create_demo_admin's ("admin / pw")."""
    saved = {}
    for name in (ADMIN_FILE, LOGINS_FILE):
        path = var_dir / name
        if path.exists():
            for line in path.read_text().splitlines():
                parts = [p for p in line.split() if p != "/"]
                if len(parts) >= 2:
                    saved[parts[-2]] = parts[-1]
    return saved


def demo_logins_ensure(var_dir: Path) -> list[tuple[str, str, str]]:
    """A staff user per role with a random password, kept (mode 0600) in var_dir so a
    later start prints the same; returns (role, username, password)."""
    saved = _saved_logins(var_dir)
    users = get_user_model().objects
    logins = []
    for role, username in ROLE_USERS:
        user = users.filter(username=username).first()
        password = saved.get(username)
        if user is None or password is None or not user.check_password(password):
            password = secrets.token_urlsafe(12)
            user = user or get_user_model()(username=username)
            user.set_password(password)
        user.is_staff = user.is_active = True
        user.is_superuser = role == Role.ADMIN
        user.save()
        user.groups.add(Group.objects.get(name=role.value))
        logins.append((role.value, username, password))
    var_dir.mkdir(parents=True, exist_ok=True)
    for name, text in ((LOGINS_FILE, "".join(f"{r} {u} {p}\n" for r, u, p in logins)),
                       (ADMIN_FILE, "".join(f"{u} / {p}\n" for r, u, p in logins
                                            if r == Role.ADMIN))):
        (var_dir / name).touch(mode=0o600)
        (var_dir / name).chmod(0o600)
        (var_dir / name).write_text(text)
    return logins


def demo_activate(*, fakes: dict[str, dict[str, Any]], var_dir: Path) -> DemoReport:
    """Everything after the customers: logins, segments, syncs to the fakes, one run."""
    report = DemoReport(logins=demo_logins_ensure(var_dir))
    segments = demo_segments_ensure()
    syncs = demo_syncs_ensure(fakes)
    report.segments = demo_segments_evaluate(segments)
    report.syncs = demo_syncs_run(syncs)
    return report
