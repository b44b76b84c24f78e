"""What ``hub demo`` writes before it starts: the deployment file, its secrets, the catalogue.

The deployment file is meant to be read and copied: it is commented, it names every connector the
way a real deployment does, and it holds no secret (each is a ``file:`` reference to the generated
``secrets/`` folder, as Docker or Kubernetes secrets would be mounted). Only ``api_base`` (and
Amazon's ``lwa_endpoint``) point at the local simulation; removing those two lines and putting real
credentials in the secret files is the whole difference to production.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from simulation.catalogue import Catalogue

__all__ = ["DemoFiles", "write_demo_files"]

TENANT = "demo"


@dataclass(frozen=True)
class DemoFiles:
    """Where the demo's files are, and the webhook secret each vendor signs with."""

    deployment: Path
    skus_csv: Path
    locations_csv: Path
    webhook_secrets: dict[str, str]  # connector instance -> secret


def _secret(folder: Path, name: str, value: str) -> str:
    path = folder / name
    path.write_text(value + "\n", encoding="utf-8")
    path.chmod(0o600)
    # JSON-quoted, which YAML reads as a double-quoted string: any folder name stays one value
    return json.dumps(f"file:{path.resolve()}")


def _deployment_yaml(
    catalogue: Catalogue, sim: str, port: int, refs: dict[str, str], schema: str
) -> str:
    shipbob_fc = catalogue.locations[0]
    locations = "\n".join(
        f"      {loc.slug}: {{kind: {loc.kind}, priority: {loc.priority}, region: {loc.region}, "
        f"country: {loc.country}}}"
        for loc in catalogue.locations
    )
    return f"""\
# yaml-language-server: $schema={schema}
#
# Written by `hub demo`: the deployment the demo ran, and a starting point for a real one.
# Every connector below talks to the local vendor simulation through `api_base` (and Amazon's
# `lwa_endpoint`); delete those lines and put real credentials into the files under secrets/
# to talk to the vendors themselves. Secrets are never written here: each is a file: reference.
# Check a changed copy with `hub validate FILE`; serve it with `hub run --config FILE`.
version: 1
tenants:
  {TENANT}:
    channels:
      shopify_us: {{kind: shopify}}
      woo_us: {{kind: woocommerce}}
      amazon_us: {{kind: amazon}}
    locations:
      # ShipBob's Cicero (IL) centre is preferred; its Bethlehem (PA) centre holds a reserve.
{locations}
    connectors:
      shopify_us:
        type: shopify
        channel: shopify_us
        settings:
          shop_domain: demo-store.myshopify.com
          location_id: "{catalogue.shopify_location_id}"   # where the hub pushes availability
          api_base: {sim}/shopify
        secrets:
          access_token: {refs["shopify_access_token"]}
          webhook_secrets: [{refs["shopify_us"]}]
      woo_us:
        type: woocommerce
        channel: woo_us
        settings:
          store_url: https://shop.demo.example
          api_base: {sim}/woocommerce
        secrets:
          consumer_key: {refs["woo_consumer_key"]}
          consumer_secret: {refs["woo_consumer_secret"]}
          webhook_secrets: [{refs["woo_us"]}]
      amazon_us:
        type: amazon
        channel: amazon_us
        settings:
          seller_id: A2DEMOSELLER01
          marketplace_ids: [ATVPDKIKX0DER]
          endpoint: https://sellingpartnerapi-na.amazon.com
          client_id: amzn1.application-oa2-client.demo
          api_base: {sim}/amazon
          lwa_endpoint: {sim}/amazon
        secrets:
          client_secret: {refs["amazon_client_secret"]}
          refresh_token: {refs["amazon_refresh_token"]}
      stripe:
        type: stripe
        settings:
          api_base: {sim}/stripe
        secrets:
          api_key: {refs["stripe_api_key"]}
          webhook_secrets: [{refs["stripe"]}]
      easypost:
        type: easypost
        settings:
          api_base: {sim}/easypost
        secrets:
          api_key: {refs["easypost_api_key"]}
          webhook_secrets: [{refs["easypost"]}]
      shipbob:
        type: shipbob
        location: {shipbob_fc.slug}
        settings:
          channel_id: "100102"
          api_base: {sim}/shipbob
        secrets:
          access_token: {refs["shipbob_access_token"]}
          webhook_secrets: [{refs["shipbob"]}]
      avalara:
        type: avalara
        settings:
          account_id: "2000134479"
          company_code: DEMO
          ship_from: {{line1: 5501 W Ogden Ave, city: Cicero, region: IL, postal_code: "60804", country: US}}
          api_base: {sim}/avalara
        secrets:
          license_key: {refs["avalara_license_key"]}
    routes:
      - from: "*"                       # everything the vendors send goes to the ledger
        events: ["*"]
        to: [ledger]
      - from: ledger                    # and what each channel may sell goes back to it
        events: [availability.changed]
        to: [shopify_us, woo_us, amazon_us]
      - from: ledger                    # released orders go to ShipBob to be picked and packed
        events: [fulfillment.requested]
        to: [shipbob]
    release:                            # waves to the fulfilment nodes (`hub release plan`)
      wave_size: 50
    governance:
      pricing: {{tolerance_percent: 2}}        # a price more than 2% off the catalogue's: exception
      high_value: {{thresholds: {{USD: 1500}}}}  # orders above 1,500 USD wait for a person
broker: {{kind: embedded}}
ledger: {{}}          # the embedded SQLite file, where `hub ledger positions` and friends look
ingress: {{host: 127.0.0.1, port: {port}}}
"""


def write_demo_files(folder: Path, catalogue: Catalogue, sim_url: str, port: int) -> DemoFiles:
    """Write the deployment, a fresh secret per credential, and the catalogue CSVs."""
    folder.mkdir(parents=True, exist_ok=True)
    vault = folder / "secrets"
    vault.mkdir(exist_ok=True)
    vault.chmod(0o700)
    webhook = {
        "shopify_us": "shpss_" + secrets.token_hex(16),
        "woo_us": secrets.token_urlsafe(24),
        "stripe": "whsec_" + secrets.token_urlsafe(24),
        "easypost": secrets.token_urlsafe(24),
        # Standard Webhooks secrets are base64 after the whsec_ prefix
        "shipbob": "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode(),
    }
    credentials = {
        "shopify_access_token": "shpat_" + secrets.token_hex(16),
        "woo_consumer_key": "ck_" + secrets.token_hex(20),
        "woo_consumer_secret": "cs_" + secrets.token_hex(20),
        "amazon_client_secret": secrets.token_urlsafe(32),
        "amazon_refresh_token": "Atzr|" + secrets.token_urlsafe(32),
        "stripe_api_key": "sk_test_" + secrets.token_urlsafe(24),
        "easypost_api_key": "EZTK" + secrets.token_hex(16),
        "shipbob_access_token": secrets.token_urlsafe(32),
        "avalara_license_key": secrets.token_hex(16).upper(),
    }
    refs = {name: _secret(vault, name, value) for name, value in {**credentials, **webhook}.items()}
    schema = Path(__file__).resolve().parents[1] / "schemas" / "deployment" / "v1.json"
    deployment = folder / "deploy.yaml"
    deployment.write_text(
        _deployment_yaml(catalogue, sim_url, port, refs, str(schema)), encoding="utf-8"
    )
    skus = folder / "catalogue-skus.csv"
    skus.write_text(catalogue.skus_csv(), encoding="utf-8")
    locations = folder / "catalogue-locations.csv"
    locations.write_text(catalogue.locations_csv(), encoding="utf-8")
    return DemoFiles(deployment, skus, locations, webhook)
