"""Synthetic demo data: French customers spread over crm, shop and newsletter sources.

generate() yields true customers with the noisy records each source holds, their events
and consents; output.py streams them to CSV files, loading.py writes them to the database
through the ingestion services.
"""
