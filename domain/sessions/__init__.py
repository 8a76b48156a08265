"""Orientation as group sessions (issue 15): pre-departure orientation is delivered to many
people at once, not per case.

Pure logic, in the style of ``domain.movements``: ``model`` (a session's details, its
participants, the facts it learns about a case, its events and state), ``commands`` and
``decide`` / ``evolve``.  The ``OrientationSession`` workflow
(``workflows/orientation_session.py``) runs it; what it knows about a case it learns from the
case's own workflow (its ``state`` query, reduced to ``SessionCaseFacts``), and each
attendee's orientation reaches the case through the case's own ``complete_task`` Update.
"""
