"""Training a new identity model version (never during resolution, never blocking it)."""

import time

import duckdb
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from cdp.audit import audit_record
from identity.loading import records_table
from identity.matching import train, training_charts
from identity.models import IdentityModel


class NotEnoughRecords(ValueError):
    """Too few records to estimate anything."""


def identity_model_train(*, actor: str, activate: bool = True, minimum: int = 50) -> IdentityModel:
    """Train on every record; saves the next version (active unless told otherwise)."""
    con = duckdb.connect()
    try:
        started = time.perf_counter()
        count = records_table(con)
        if count < minimum:
            raise NotEnoughRecords(f"{count} records: at least {minimum} are needed to train")
        load_s = time.perf_counter() - started
        model, report = train(con)
        charts = training_charts(con, model)
    finally:
        con.close()
    report["load_s"] = round(load_s, 2)
    with transaction.atomic():
        version = (IdentityModel.objects.aggregate(v=Max("version"))["v"] or 0) + 1
        if activate:
            IdentityModel.objects.filter(active=True).update(active=False)
        row = IdentityModel.objects.create(
            version=version, trained_at=timezone.now(), record_count=count,
            splink_model=model, report=report, charts=charts, active=activate)
        audit_record(actor=actor, action="identity.model_train", object_type="identity_model",
                     object_id=str(row.pk),
                     details={"version": version, "records": count, "active": activate,
                              **report})
    return row
