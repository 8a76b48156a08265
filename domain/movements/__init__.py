"""Group movements: charters, blocks of seats on scheduled flights and commercial group
bookings that move many cases at once (issue 13).

Pure logic, in the engine's style (no I/O, no clock): ``model`` (the movement's details,
its manifest, events and state), ``commands``, ``rules`` (the manifest rules, each naming
the member and the rule that blocks) and ``decide`` / ``evolve``.  The ``Movement`` workflow
(``workflows/movement.py``) runs it; what it knows about a case it learns from the case's
own workflow (a query of ``state``, summarised as ``CaseFacts``), never from the case's rows.
"""
