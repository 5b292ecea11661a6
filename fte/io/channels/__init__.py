"""Channels: every source, executor and drafter fte can use (docs/channels.md).

``contract`` documents what each must guarantee (results, idempotency keys, lookups), ``registry``
declares every channel once, and each other module is one channel: ``mail`` (mail as plain
values), ``maildir``, ``smtp``, ``gmail``, ``x``, ``linkedin``, ``whatsapp``, ``odoo`` (accounting
tasks, through the client in ``fte.odoo``), ``drafters`` (the offline template drafter) and
``openai_drafter``.
"""
