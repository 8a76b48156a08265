"""What the tests share: test accounts, example forms, the case driver, referral factories,
the time-skipping clock, processes and servers started the way an operator starts them.

Nothing here is a test.  Tests import from here, never from ``demo/`` (the demo data of
``itinera dev``) and never from another test module.
"""
