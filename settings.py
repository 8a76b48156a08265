"""Settings for every Itinera process, read from ``ITINERA_*`` environment variables.

With nothing set, Itinera runs the embedded default: a Temporal dev server and a
PostgreSQL started by ``itinera dev`` with their data in ``ITINERA_DATA_DIR``.  Setting
``ITINERA_TEMPORAL_ADDRESS`` / ``ITINERA_DATABASE_URL`` points the same code at a Temporal
cluster and a managed PostgreSQL instead.  pydantic-settings is used because the rest of
the schema layer is pydantic already: one validation story, one error format.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.model import check_monitoring_months
from domain.offices import (
    DEFAULT_TIME_ZONE,
    EXIT_PERMISSIONS,
    OFFICE_COUNTRIES,
    OFFICE_TIME_ZONES,
    check_exit_permissions,
    check_office_countries,
    check_office_time_zones,
    check_time_zone,
    office_time_zone,
)

TASK_QUEUE = "itinera-cases"


def _host_port(value: str) -> str:
    """Empty, or ``host:port`` (a bind address)."""
    if value:
        host, _, port = value.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("expected host:port, e.g. 0.0.0.0:9464")
    return value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ITINERA_", extra="ignore")

    # Where the embedded stack keeps everything (PostgreSQL cluster, Temporal SQLite file,
    # generated signing key).  Stopping and starting `itinera dev` keeps every case.
    data_dir: Path = Path(".itinera-data")

    # HTTP API.
    api_host: str = "127.0.0.1"
    api_port: int = 8000

    # Temporal.  Empty address means "start the embedded dev server" (only `itinera dev`).
    temporal_address: str = ""
    temporal_namespace: str = "default"
    temporal_task_queue: str = TASK_QUEUE
    temporal_tls: bool = False
    temporal_tls_client_cert: Path | None = None
    temporal_tls_client_key: Path | None = None
    temporal_tls_server_ca: Path | None = None
    temporal_api_key: SecretStr | None = None
    temporal_port: int = 7233
    temporal_ui_port: int = 8233

    # PostgreSQL.  Empty means "start the embedded pgserver in data_dir/postgres".
    database_url: str = ""
    # The schema owner's URL, used only by `itinera migrate`; default: ITINERA_DATABASE_URL.
    # Run the application as a role that owns nothing (migrations/0030_application_role.sql)
    # and migrate as the owner, so the application cannot alter tables or their triggers.
    migrations_database_url: str = ""
    database_pool_min: int = 1
    database_pool_max: int = 10

    # How long the API waits for the case engine to answer a command before it answers 503
    # (the command may still be applied, once; sending the same request again returns it).
    command_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    # How long a movement's or session's workflow whose creation was refused waits for the same
    # request (its Idempotency-Key) to come back before it ends (workflows/creation.py).
    nothing_created_grace_seconds: int = Field(default=3600, ge=1, le=30 * 86400)

    # Encryption of Temporal payloads (AES-256-GCM).  JSON {"key-id": "<base64 32 bytes>"};
    # unset: keys kept in data_dir/payload-keys.json.  The active key encrypts; every listed
    # key decrypts, so a rotation adds a key and switches the active id.
    payload_keys: SecretStr | None = None
    payload_active_key: str = ""
    # Origin of the Temporal Web UI allowed to call the codec endpoints (CORS).
    temporal_ui_origin: str = ""

    # Authentication.  The embedded default signs its own HS256 tokens with a key kept in
    # data_dir; production sets the OIDC issuer and verifies against its JWKS.
    jwt_signing_key: SecretStr | None = None
    # Key of the case-id digest (domain/identity.py); unset: generated once in the data folder.
    # Every API process of a deployment must share it; changing it gives new referrals
    # other ids (existing cases keep theirs: they are found by their referral id first).
    case_id_key: SecretStr | None = None
    jwt_issuer: str = "itinera"
    jwt_audience: str = "itinera-api"
    access_token_minutes: int = Field(default=480, ge=1, le=1440)
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_role_claim: str = "itinera_role"
    oidc_offices_claim: str = "itinera_offices"
    # An OIDC token cannot be checked against a local account: revoking its user happens at
    # the issuer, so its lifetime bounds how long a revoked person keeps access.  Tokens
    # issued for longer than this are refused.
    oidc_max_token_minutes: int = Field(default=60, ge=1, le=1440)

    # Addresses (or networks, e.g. 10.0.0.0/8) of reverse proxies whose X-Forwarded-For and
    # X-Forwarded-Proto are believed; comma-separated.  Empty: none, the peer is the client.
    trusted_proxies: Annotated[
        list[str], NoDecode,
        BeforeValidator(lambda v: [p.strip() for p in v.split(",") if p.strip()] if isinstance(v, str) else v),
        AfterValidator(lambda v: [str(ipaddress.ip_network(p, strict=False)) for p in v]),
    ] = Field(default_factory=list)
    # Private networks webhooks may nonetheless be sent to (webhook_targets.py), e.g.
    # 10.20.0.0/16 for a partner over a VPN; comma-separated.  Empty: public addresses only.
    webhook_allowed_networks: Annotated[
        list[str], NoDecode,
        BeforeValidator(lambda v: [p.strip() for p in v.split(",") if p.strip()] if isinstance(v, str) else v),
        AfterValidator(lambda v: [str(ipaddress.ip_network(p, strict=False)) for p in v]),
    ] = Field(default_factory=list)
    # Days a settled webhook outbox row keeps its case data (then emptied; the delivery log stays).
    webhook_outbox_retention_days: float = Field(default=30, gt=0, le=3650)
    # Failed logins allowed within login_throttle_minutes before 429: per client and account,
    # per account from any client (guessing from many addresses), per client for any
    # account (one address trying many accounts).  Counted in PostgreSQL, across processes.
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_account: int = Field(default=20, ge=1)
    login_max_failures_per_client: int = Field(default=100, ge=1)
    login_throttle_minutes: int = Field(default=5, ge=1, le=1440)

    # Days after departure within which the receiving side must confirm arrival before the
    # office supervisor gets an escalation task.
    arrival_confirmation_days: int = Field(default=3, ge=1, le=60)

    # AVRR: months after the confirmed arrival at which monitoring visits fall due, e.g.
    # ITINERA_AVRR_MONITORING_MONTHS=3,6,12 (or [3,6,12]).  Fixed per case at its referral.
    avrr_monitoring_months: Annotated[
        tuple[int, ...], NoDecode,
        BeforeValidator(lambda v: [int(p) for p in v.strip("[] ").split(",") if p.strip()] if isinstance(v, str) else v),
        AfterValidator(check_monitoring_months),
    ] = (3, 6, 12)

    # Offices' time zones (IANA names), as JSON: {"IST": "Europe/Istanbul", "IZM": "Europe/Istanbul"}
    # (the default: the demo offices).  "Today" and "not in the future" are judged in the office's
    # zone, and the UI shows date-times in it.  A case keeps the zone it was referred with.
    office_time_zones: Annotated[dict[str, str], AfterValidator(check_office_time_zones)] = Field(
        default_factory=lambda: dict(OFFICE_TIME_ZONES))
    # The zone of an office not listed in office_time_zones.
    default_time_zone: Annotated[str, AfterValidator(check_time_zone)] = DEFAULT_TIME_ZONE
    # Offices' host countries (ISO 3166-1 alpha-2), as JSON: {"IST": "TR", "IZM": "TR"} (the
    # default: the demo offices).  A resettlement or family reunification referral from an office
    # listed here may not name its host country as destination_country (domain/offices.py).
    office_countries: Annotated[dict[str, str], AfterValidator(check_office_countries)] = Field(
        default_factory=lambda: dict(OFFICE_COUNTRIES))
    # Offices whose host state requires refugees resettled from it to hold an exit permission,
    # as JSON office -> the permission's name; default: IST and IZM, Türkiye's DGMM exit
    # permission (domain/offices.py).  An office not listed requires none.  A case keeps what
    # its office required when it was referred (domain/programmes/exit_permission.py).
    exit_permissions: Annotated[dict[str, str], AfterValidator(check_exit_permissions)] = Field(
        default_factory=lambda: dict(EXIT_PERMISSIONS))

    # Seed demo users and demo cases on `itinera dev` (only when the database is empty).
    seed_demo: bool = True

    # --- Operations (README "Operations") ---------------------------------------------------
    log_level: str = "INFO"
    # `json`: one JSON object per line on standard output (API and worker); `console`: the
    # same lines as key=value text, for a human at a terminal.
    log_format: Literal["json", "console"] = "json"
    # The API answers GET /metrics (Prometheus, no token, not audited) on its own port.  Off
    # by default: switch it on where only the scraper can reach the API's port (or block
    # /metrics at the ingress).
    api_metrics_enabled: bool = False
    # host:port on which the worker serves its Prometheus metrics (/metrics); empty: none.
    worker_metrics_address: Annotated[str, AfterValidator(_host_port)] = ""
    # host:port on which the worker's Temporal SDK runtime serves the SDK's own metrics
    # (temporal_*) for Prometheus; empty: none.
    temporal_metrics_address: Annotated[str, AfterValidator(_host_port)] = ""
    # OpenTelemetry tracing API -> Temporal -> activities.  Exporter: `otlp` (OTLP over HTTP
    # to otel_endpoint, e.g. http://collector:4318/v1/traces; empty: the OTEL_EXPORTER_OTLP_*
    # variables or OpenTelemetry's default), `console` (standard error) or `memory` (tests).
    otel_enabled: bool = False
    otel_exporter: Literal["otlp", "console", "memory"] = "otlp"
    otel_endpoint: str = ""
    # Graceful shutdown on SIGTERM.  The worker stops polling for activities, gives the ones
    # running this long to finish (then cancels them) and answers the updates it was handling
    # before it stops; the API stops accepting connections and gives in-flight requests this
    # long to be answered.  Keep both above command_timeout_seconds and below the process
    # manager's kill timeout.
    worker_shutdown_seconds: float = Field(default=25.0, ge=0, le=3600)
    # How long a starting worker waits for Temporal and PostgreSQL (retrying, each failure
    # logged) before it gives up and exits: a worker (re)started while either is starting,
    # restarting or loaded comes up by itself instead of dying on the first refused call.
    worker_startup_wait_seconds: float = Field(default=120.0, ge=0, le=3600)
    # Run workflow code in the Temporal SDK's sandbox (worker.workflow_runner).  Off by default:
    # determinism is enforced statically (tests/test_determinism_boundary.py) and by replay, and
    # the sandbox cost a fifth of the worker's CPU (bench); turn it on while writing new workflow code.
    workflow_sandbox: bool = False
    # Temporal worker versioning (worker_versioning.py): the build this worker runs (e.g. the
    # image tag), as a version of the deployment; empty: an unversioned worker (dev, tests).
    worker_build_id: Annotated[str | None, BeforeValidator(lambda v: v or None)] = Field(
        default=None, max_length=255, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    worker_deployment_name: str = Field(default="itinera", min_length=1, max_length=255,
                                        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    api_shutdown_seconds: int = Field(default=25, ge=0, le=3600)
    # Idempotency-Key (integrations, referrals, task completions): how long a key and its
    # answer are remembered per client; older ones are purged by the API's inbox loop.
    idempotency_retention_hours: float = Field(default=24.0, gt=0, le=24 * 90)
    # The integration inbox (api/inbox_delivery.py): how often the API looks for due messages,
    # the longest pause between two delivery attempts while Temporal or the worker is away,
    # and how long an early message (its task not open yet) is held before it is rejected.
    inbox_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    inbox_retry_max_seconds: float = Field(default=60.0, gt=0, le=3600)
    inbox_hold_hours: float = Field(default=72.0, ge=0, le=24 * 90)

    def time_zone_of(self, office: str) -> str:
        """The IANA time zone of ``office`` (``default_time_zone`` for one not listed)."""
        return office_time_zone(office, self.office_time_zones, self.default_time_zone)

    @property
    def embedded_temporal(self) -> bool:
        return not self.temporal_address

    @property
    def embedded_database(self) -> bool:
        return not self.database_url

    @property
    def temporal_target(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
