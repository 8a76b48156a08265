"""The case engine: ``decide`` turns a command into events, ``evolve``/``fold`` fold events
into state, ``next_deadline`` and the ``Tick`` command are the case's clock.

Pure functions of their inputs (no clock, no randomness, no I/O): the caller passes the
time, the actor and an event-id factory in a ``DecisionContext``.  That is what lets the
same code run inside a Temporal workflow (deterministic replay), in the projection rebuild,
in "state as of time T", and in unit tests without Temporal.

The engine never names a programme: whatever depends on one comes from the case's
``ProgrammeDefinition`` (``domain.programmes``).  One module per concern:

* ``commands``: what can be asked of a case;
* ``context``: what a decision may know of the world, built one way for every caller;
* ``draft``: the events of one decision, each applied as it is emitted;
* ``decide``: commands to events (referral, completion, case actions);
* ``case_rules``: rules of a completion that hold in every programme (four eyes, review);
* ``corrections``: correcting a member's data;
* ``flow``: stage flow, opening and cancelling tasks, closure;
* ``clocks``: the next deadline and what a tick decides;
* ``evolve``: folding events into state;
* ``form_validation``: a completion form, validated with field-level errors.
"""
