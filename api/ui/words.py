"""Words the pages show from the domain's values, marked for the catalogs (the domain keeps
them in English: the API and the recorded histories speak English).  A template translates
such a value where it shows it: ``{{ case.stage_label|say }}``, ``{{ p.relationship|humanize|say }}``;
Python code with ``gettext``.  A value not marked here is shown as it is.

The task status "open" is not here on purpose: "Open" is the button's msgid (the task page says
"Open · unassigned" and the like as whole phrases).
"""

from __future__ import annotations

from api.ui.i18n import N_

# Every programme's stage labels (ProgrammeDefinition.stage_labels).
STAGE_LABELS = (
    N_("Application"), N_("Application and consent"), N_("Arrival confirmation"), N_("Arrival with the sponsor"),
    N_("Cultural orientation"), N_("Document collection"), N_("Eligibility and vulnerability"),
    N_("Embassy appointment"), N_("Fit to travel"), N_("Health assessment"), N_("Interview"), N_("Movement"),
    N_("Pre-departure counselling"), N_("Reception at origin"), N_("Reintegration"), N_("Return travel"),
    N_("Travel documents"), N_("Travel to the sponsor"), N_("Closed"), N_("Referral"), N_("Visa"),
)

# Programme titles (ProgrammeDefinition.title) and names as ``humanize`` shows them.
PROGRAMMES = (
    N_("Refugee resettlement"), N_("AVRR"), N_("Family reunification"), N_("Resettlement"),
)

# A member's relationship to the principal applicant (domain.model.Relationship, humanized).
RELATIONSHIPS = (
    N_("Principal"), N_("Spouse"), N_("Child"), N_("Parent"), N_("Sibling"), N_("Grandchild"),
    N_("Other relative"), N_("Non relative"),
)

# A member's health, orientation and visa statuses (domain.state), humanized.
MEMBER_STATUSES = (
    N_("Pending"), N_("Cleared"), N_("Treatment required"), N_("Not cleared"), N_("Expired"), N_("Attended"),
    N_("Issued"), N_("Refused"),
)

# Event titles of a case's history (api.ui.formatting.event_title).
EVENT_TITLES = (
    N_("Age out reviewed"), N_("Arrival confirmed"), N_("Assistance delivered"), N_("Attendance recorded"),
    N_("Booking cancelled"), N_("Case closed"), N_("Case held"), N_("Case referred"), N_("Case released"),
    N_("Case resubmitted"), N_("Case resumed"), N_("Case split"), N_("Case split from"), N_("Case withdrawn"),
    N_("Consent reconfirmed"), N_("Consent recorded"), N_("Consent withdrawn"), N_("Counselling recorded"),
    N_("Departure confirmed"), N_("Documents received"), N_("Eligibility assessed"),
    N_("Embassy appointment booked"), N_("Embassy appointment outcome recorded"), N_("Escalation resolved"),
    N_("Escort arranged"), N_("Exit permission recorded"), N_("Fit to travel assessed"),
    N_("Fit to travel checked"), N_("Fit to travel checks scheduled"), N_("Health assessment recorded"),
    N_("Interview completed"), N_("Medical clearance expired"), N_("Member data corrected"),
    N_("Minor turned eighteen"), N_("Monitoring visit recorded"), N_("Monitoring visits scheduled"),
    N_("Movement booked"), N_("Needs recorded"), N_("Note added"), N_("Orientation attended"),
    N_("Orientation reached"), N_("Outcome reviewed"), N_("Predeparture counselling recorded"),
    N_("Priority raised"), N_("Referral verified"), N_("Reintegration closure decided"),
    N_("Reintegration plan recorded"), N_("Relationship assessed"), N_("Task cancelled"), N_("Task completed"),
    N_("Task due date changed"), N_("Task opened"), N_("Task overdue"), N_("Task reassigned"),
    N_("Travel document expired"), N_("Treatment recorded"), N_("Visa expired"), N_("Vulnerability screened"),
    N_("Stage entered"), N_("Case departed"), N_("Exit permission granted"), N_("Exit permission refused"),
    N_("Family visa issued"), N_("Family visa refused"), N_("Movement no show"), N_("Movement postponed"),
    N_("Travel document issued"), N_("Travel document refused"), N_("Visa issued"), N_("Visa refused"),
)

# Audit outcomes.
AUDIT_OUTCOMES = (
    N_("Allowed"), N_("Denied"), N_("Failed"),
)

# The filters' labels and choices (the ``select`` macro of _macros.html says them) and the labels
# of a history event's details (api.ui.timeline).
FILTER_WORDS = (
    N_("Per"), N_("Week"), N_("Me"), N_("Anyone"), N_("All roles"), N_("All my offices"), N_("Any time"),
    N_("Overdue only"), N_("Not overdue"), N_("Nobody (unassigned)"),
)
DETAIL_LABELS = (N_("Return to"), N_("For"), N_("Moved to"), N_("New principal"))

# Group movements and orientation sessions: statuses, kinds and modes, humanized.  A movement's
# status "open" reads "Open for cases" (the templates say so: "Open" is the button).
MOVEMENT_AND_SESSION_WORDS = (
    N_("Open for cases"), N_("Locked"), N_("Departed"), N_("Charter"), N_("Scheduled block"), N_("Commercial"),
    N_("Scheduled"), N_("Held"), N_("In person"), N_("Online"), N_("Arrived"),
)

# Every programme's task titles (TaskSpec.title): the task pages, lists, flashes and buttons say
# them through ``say`` / ``gettext``.
TASK_TITLES = (
    N_("A child turned 18 before the visa decision: decide"), N_("Arrange escort"), N_("Assess fitness to travel"),
    N_("Assess the relationship to the sponsor"), N_("Book flight"), N_("Book the embassy appointment"),
    N_("Check fit to travel (72 h before departure)"), N_("Complete the missing documents"),
    N_("Conduct interview"), N_("Confirm arrival"), N_("Decide after a negative outcome"),
    N_("Decide eligibility"), N_("Overdue task: act on the escalation"),
    N_("Plan delivered: close the case or keep monitoring"), N_("Reconfirm consent before departure"),
    N_("Record assistance delivered"), N_("Record departure"), N_("Record exit permission"),
    N_("Record health assessment"), N_("Record informed consent"), N_("Record monitoring visit"),
    N_("Record orientation attendance"), N_("Record pre-departure counselling"), N_("Record reintegration plan"),
    N_("Record return counselling"), N_("Record the document checklist"), N_("Record the embassy appointment"),
    N_("Record the exit permission"), N_("Record the visa decision"), N_("Record travel document"),
    N_("Record treatment (medical hold)"), N_("Record visa decision"), N_("Screen vulnerability"),
    N_("Verify referral and identity documents"),
)

# A role as a history entry names its actor ("ayse (caseworker)", lower case as the history
# says it); an actor without a role is named by its kind.
ACTOR_ROLES = (
    N_("caseworker"), N_("medical officer"), N_("movement officer"), N_("supervisor"), N_("admin"),
    N_("user"), N_("integration"), N_("system"),
)

# Why a case closed (CaseClosed.reason of the built-in programmes), humanized and in lower case
# as the case page says it: "Closed (arrived)", the history's "Reason arrived".
CLOSURE_REASONS = (
    N_("arrived"), N_("withdrawn"), N_("not accepted"), N_("visa refused"), N_("medically not cleared"),
    N_("consent withdrawn"), N_("not eligible"), N_("relationship not eligible"), N_("minor aged out"),
    N_("travel document refused"), N_("exit permission refused"), N_("reintegration completed"),
    N_("monitoring completed"),
)

# A review's or a closure decision's choice (OutcomeReviewed.decision and the programmes' own),
# humanized and in lower case: the history's "Decision close".
DECISIONS = (
    N_("close"), N_("keep"), N_("resubmit"), N_("reassess"), N_("reapply"), N_("continue monitoring"),
)

# A correction: the history's labels, and the member's details it may correct (the correction
# form's choices, the history's "Changes" and "Previous").
CORRECTION_WORDS = (
    N_("Changes"), N_("Previous"), N_("Decision"), N_("Full name"), N_("Date of birth"), N_("Sex"),
    N_("Nationality"), N_("Relationship"), N_("Female"), N_("Male"), N_("Other"), N_("Unknown"),
)

# A consent withdrawal's details as its confirmation page lists them (the form's field labels).
CONSENT_WITHDRAWAL_LABELS = (
    N_("Withdrawn by"), N_("Withdrawn on"), N_("Language"), N_("Reason"),
)

# A movement: a person's needs on board (domain.movements.model.SpecialNeed, humanized); the step a
# movement is taking to its cases ("Booking: 3 cases reached") is said by movement.html.
MOVEMENT_NEEDS = (
    N_("Wheelchair"), N_("Stretcher"), N_("Medical escort"), N_("Unaccompanied minor"),
)
