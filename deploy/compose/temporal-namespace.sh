#!/bin/sh
# One-shot job (temporalio/admin-tools): wait for the Temporal frontend, then make sure the
# namespace Itinera uses (ITINERA_TEMPORAL_NAMESPACE) exists.  temporalio/server, unlike
# the deprecated auto-setup image, creates no namespace of its own.
set -eu

: "${TEMPORAL_ADDRESS:?}" "${NAMESPACE:?}"
retention="${NAMESPACE_RETENTION:-720h}"

attempt=0
until [ "$attempt" -ge 60 ]; do
    attempt=$((attempt + 1))
    temporal operator cluster health --address "$TEMPORAL_ADDRESS" && break
    echo "waiting for Temporal at $TEMPORAL_ADDRESS ($attempt/60)"
    sleep 2
done

if temporal operator namespace describe --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" > /dev/null 2>&1; then
    echo "namespace $NAMESPACE exists"
else
    temporal operator namespace create --address "$TEMPORAL_ADDRESS" --namespace "$NAMESPACE" --retention "$retention"
    echo "namespace $NAMESPACE created (closed workflows kept $retention)"
fi
