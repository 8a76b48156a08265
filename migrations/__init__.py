"""The numbered SQL migrations (store/migrations.py applies them).  A package only so that
the .sql files ship with an installed (non-editable) Itinera: `itinera migrate` must find
them in a container image too."""
