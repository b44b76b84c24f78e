"""Replenishment intelligence: procurement records kept by the ledger, demand rates, supplier lead
times and performance, reorder points, suggested orders and the promises inbound delays put at
risk. The formulas and their parameters are in ``docs/replenishment.md``.

Modules: ``records`` (ledger handlers), ``csv_import`` (``hub procurement import``), ``history``
(reads), ``stats`` (pure formulas), ``suppliers``, ``suggest``, ``report`` (JSON shape), ``cli``.
"""
