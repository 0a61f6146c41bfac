"""Salesforce REST API (facts: ../shared/docs/connector-apis.md, section 3).

An audience sync is a Campaign; people are Contacts (or Leads) upserted by a unique
External ID holding the profile id. `client` holds one run's session with the org
(OAuth2 refresh-token grant, Sforce-Limit-Info budget, pacing, SOQL paging), `connector`
the Connector the engine drives, `bulk` the Bulk API 2.0 path of large runs.
"""

from connectors.salesforce.client import problem, refusal, scrub, soql_quote
from connectors.salesforce.connector import SalesforceConnector

__all__ = ["SalesforceConnector", "problem", "refusal", "scrub", "soql_quote"]
