"""Connectors: one adapter per vendor, translating vendor payloads to and from the canonical model.

Connectors import :mod:`canonical` only; never :mod:`router` or :mod:`hub`.

The SDK, one small module per concern:

* :mod:`connectors.spec` - ``ConnectorKind``, ``ConnectorConfig``, ``EventSpec``,
  ``TranslationContext``;
* :mod:`connectors.base` - the ``Connector`` base class, ``load_payload``/``dump_payload``;
* :mod:`connectors.translate` - ``Fields``, ``build``, ``envelope``: pure translation helpers;
* :mod:`connectors.errors` - the error hierarchy with stable codes;
* :mod:`connectors.webhooks` - signature verification on raw bodies;
* :mod:`connectors.http` - the one shared outbound HTTP client;
* :mod:`connectors.pagination` - paginators, time windows and cursors;
* :mod:`connectors.reconcile` - the reconciliation poll's drift report;
* :mod:`connectors.registry` - built-ins plus the ``commerce_hub.connectors`` entry points;
* :mod:`connectors.secrets` - keeping credentials out of reprs, logs and errors;
* :mod:`connectors.testing` - the conformance kit.

Built-in connectors: ``shopify``, ``amazon``, ``woocommerce``, ``shipbob``, ``easypost``,
``avalara``, ``stripe`` (one subpackage each). See docs/connector-authoring.md.
"""
