"""SES API v2 resources of the sandbox: identities, configuration sets and templates.

The handlers that create, read, list and delete what a send refers to (the sending handlers are
in :mod:`toolkit.sandbox.ses_api`). Identities answer as SES does for an identity that is not
verified yet (sources in :mod:`toolkit.facts`): an address created here is ``PENDING``, gets
SES's verification mail in the mailbox and cannot send until its link is followed; a domain is
``PENDING`` with three DKIM tokens. ``VerifiedForSendingStatus`` says whether the identity may
send (an address under a verified domain may, whatever its own status). A configuration set
may carry ``SuppressionOptions`` (at creation, or PutConfigurationSetSuppressionOptions): a send
that names it uses the set's SuppressedReasons instead of the account's, both to suppress and
to add addresses (``SES_CONFIGURATION_SET_SUPPRESSION``).

Each handler takes the validated parameters and the request body's size and returns the
answer, or raises :class:`~toolkit.sandbox.http_api.ApiError`.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from typing import Any

from botocore.model import ServiceModel

from toolkit.facts import SES_LIST_ROUTES
from toolkit.sandbox.http_api import ApiError
from toolkit.sandbox.policy import FAILED, Identity
from toolkit.sandbox.ses_limits import configuration_set_name_problem, identity_problem
from toolkit.sandbox.state import SandboxState
from toolkit.sandbox.suppression import REASONS

Handler = Callable[[dict[str, Any], int], Any]


class SesResources:
    """Identities, configuration sets and templates of one sandbox (see the module docstring)."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def handlers(self) -> dict[str, Handler]:
        """Operation name -> handler, for :meth:`Router.add_service`."""
        return {
            "CreateEmailIdentity": self.create_email_identity,
            "GetEmailIdentity": self.get_email_identity,
            "ListEmailIdentities": self.list_email_identities,
            "DeleteEmailIdentity": self.delete_email_identity,
            "CreateEmailTemplate": self.create_email_template,
            "GetEmailTemplate": self.get_email_template,
            "UpdateEmailTemplate": self.update_email_template,
            "DeleteEmailTemplate": self.delete_email_template,
            "ListEmailTemplates": self.list_email_templates,
            "CreateConfigurationSet": self.create_configuration_set,
            "GetConfigurationSet": self.get_configuration_set,
            "ListConfigurationSets": self.list_configuration_sets,
            "DeleteConfigurationSet": self.delete_configuration_set,
            "PutConfigurationSetSuppressionOptions": self.put_suppression_options,
        }

    # -- identities --------------------------------------------------------------------------

    def create_email_identity(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["EmailIdentity"]
        _refuse(identity_problem(name))  # before anything is stored: a retry must succeed
        policy = self.state.policy
        try:
            record = policy.add_identity(name)
        except ValueError:
            raise ApiError(
                400, "AlreadyExistsException", f"Email identity {name} already exist."
            ) from None
        self.state.save("identities")
        answer: dict[str, Any] = {
            "IdentityType": record.kind,
            "VerifiedForSendingStatus": self._can_send(record),
        }
        if record.kind == "DOMAIN":
            answer["DkimAttributes"] = _dkim(record, record.current_status())
        else:
            self.state.send_verification_mail(record)
        return answer

    def confirm_verification(self, query: dict[str, str]) -> tuple[int, dict[str, str]]:
        """The verification link (``/sandbox/confirm-verification``): an address's token from
        its verification mail, or one of a domain's DKIM tokens, verifies the identity."""
        name = query.get("Identity.IdentityName", "")
        token = query.get("Token", "")
        record = self.state.policy.identity(name)
        if record is None or not any(hmac.compare_digest(token, t) for t in record.tokens):
            return 400, {"message": "This verification link is not valid."}
        if record.current_status() == FAILED:
            expired = "This verification link has expired; create the identity again."
            return 400, {"message": expired}
        self.state.policy.verify_identity(name)
        self.state.save("identities")
        what = "an email address" if record.kind == "EMAIL_ADDRESS" else "a domain"
        return 200, {
            "message": f"Congratulations! You have successfully verified {what} ({record.name}). "
            "You can now start sending email from it."
        }

    def _identity(self, name: str) -> Identity:
        record = self.state.policy.identity(name)
        if record is None:
            raise ApiError(404, "NotFoundException", f"Email identity {name} does not exist.")
        return record

    def get_email_identity(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        record = self._identity(params["EmailIdentity"])
        status = record.current_status()
        return {
            "IdentityType": record.kind,
            "FeedbackForwardingStatus": True,
            "VerifiedForSendingStatus": self._can_send(record),
            "VerificationStatus": status,
            "DkimAttributes": _dkim(record, status),
            "MailFromAttributes": {"BehaviorOnMxFailure": "USE_DEFAULT_VALUE"},
            "Policies": {},
            "Tags": [],
            "VerificationInfo": {},
        }

    def _can_send(self, record: Identity) -> bool:
        """VerifiedForSendingStatus: the identity, or a domain above it, is verified."""
        return self.state.policy.is_verified(
            record.name if record.kind == "EMAIL_ADDRESS" else f"postmaster@{record.name}",
            labels=False,
        )

    def list_email_identities(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        records = sorted(self.state.policy.identity_records(), key=lambda r: r.name)
        items = [
            {
                "IdentityType": record.kind,
                "IdentityName": record.name,
                "SendingEnabled": self._can_send(record),
                "VerificationStatus": record.current_status(),
            }
            for record in records
        ]
        items = _filtered(items, params.get("Filter"), _IDENTITY_FILTERS)
        return _page(items, "EmailIdentities", params, default_size=100)

    def delete_email_identity(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["EmailIdentity"]
        if not self.state.policy.remove_identity(name):
            raise ApiError(404, "NotFoundException", f"Email identity {name} does not exist.")
        self.state.save("identities")
        return {}

    # -- configuration sets ------------------------------------------------------------------

    def check_configuration_set(self, params: dict[str, Any]) -> None:
        """The ``ConfigurationSetName`` a send names must exist (NotFoundException if not)."""
        name = params.get("ConfigurationSetName")
        if name and name not in self.state.configuration_sets:
            raise ApiError(404, "NotFoundException", f"Configuration set {name} does not exist.")

    def create_configuration_set(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["ConfigurationSetName"]
        _refuse(configuration_set_name_problem(name))
        stored = dict(params)
        if "SuppressionOptions" in stored:
            stored["SuppressionOptions"] = _suppression_options(stored["SuppressionOptions"])
        with self.state.lock:
            if name in self.state.configuration_sets:
                raise ApiError(
                    400, "AlreadyExistsException", f"Configuration set {name} already exists."
                )
            self.state.configuration_sets[name] = stored
            self.state.save("configuration_sets")
        return {}

    def get_configuration_set(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["ConfigurationSetName"]
        stored = self.state.configuration_sets.get(name)
        if stored is None:
            raise ApiError(404, "NotFoundException", f"Configuration set {name} does not exist.")
        return {"Tags": [], **stored}

    def put_suppression_options(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        """PutConfigurationSetSuppressionOptions: the set's own SuppressedReasons (an empty
        list turns suppression off for sends through the set)."""
        name = params["ConfigurationSetName"]
        options = _suppression_options(
            {k: v for k, v in params.items() if k != "ConfigurationSetName"}
        )
        with self.state.lock:
            stored = self.state.configuration_sets.get(name)
            if stored is None:
                raise ApiError(
                    404, "NotFoundException", f"Configuration set {name} does not exist."
                )
            stored["SuppressionOptions"] = options
            self.state.save("configuration_sets")
        return {}

    def suppressed_reasons(self, params: dict[str, Any]) -> tuple[str, ...] | None:
        """The SuppressedReasons in force for a send: its configuration set's when the set has
        SuppressionOptions, else None (the account's)."""
        name = params.get("ConfigurationSetName")
        stored = self.state.configuration_sets.get(name) if name else None
        options = (stored or {}).get("SuppressionOptions")
        if options is None:
            return None
        return tuple(options.get("SuppressedReasons") or ())

    def list_configuration_sets(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        items = [{"name": name} for name in sorted(self.state.configuration_sets)]
        items = _filtered(items, params.get("Filter"), _CONFIGURATION_SET_FILTERS)
        page = _page(items, "ConfigurationSets", params, default_size=100)
        page["ConfigurationSets"] = [item["name"] for item in page["ConfigurationSets"]]
        return page

    def delete_configuration_set(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["ConfigurationSetName"]
        with self.state.lock:
            if self.state.configuration_sets.pop(name, None) is None:
                raise ApiError(
                    404, "NotFoundException", f"Configuration set {name} does not exist."
                )
            self.state.save("configuration_sets")
        return {}

    # -- templates ---------------------------------------------------------------------------

    def create_email_template(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["TemplateName"]
        with self.state.lock:
            if name in self.state.ses_templates:
                raise ApiError(400, "AlreadyExistsException", f"Template {name} already exists.")
            self.state.ses_templates[name] = {
                "TemplateContent": params["TemplateContent"],
                "CreatedTimestamp": time.time(),
            }
            self.state.save("ses_templates")
        return {}

    def stored_template(self, name: str) -> dict[str, Any]:
        """A stored template by name (NotFoundException if there is none)."""
        stored = self.state.ses_templates.get(name)
        if stored is None:
            raise ApiError(404, "NotFoundException", f"Template {name} does not exist.")
        return stored

    def get_email_template(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["TemplateName"]
        stored = self.stored_template(name)
        return {"TemplateName": name, "TemplateContent": stored["TemplateContent"]}

    def update_email_template(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["TemplateName"]
        with self.state.lock:
            self.stored_template(name)["TemplateContent"] = params["TemplateContent"]
            self.state.save("ses_templates")
        return {}

    def delete_email_template(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        name = params["TemplateName"]
        with self.state.lock:
            self.stored_template(name)
            del self.state.ses_templates[name]
            self.state.save("ses_templates")
        return {}

    def list_email_templates(self, params: dict[str, Any], size: int) -> dict[str, Any]:
        items = [
            {"TemplateName": name, "CreatedTimestamp": stored.get("CreatedTimestamp", 0)}
            for name, stored in sorted(self.state.ses_templates.items())
        ]
        return _page(items, "TemplatesMetadata", params, default_size=10)


def _refuse(problem: str | None) -> None:
    if problem is not None:
        raise ApiError(400, "BadRequestException", problem)


def _suppression_options(given: dict[str, Any]) -> dict[str, Any]:
    """A set's SuppressionOptions as GetConfigurationSet returns them (SuppressedReasons
    always present; BadRequestException for a reason SES does not know)."""
    reasons = list(given.get("SuppressedReasons") or ())
    unknown = [r for r in reasons if r not in REASONS]
    if unknown:
        raise ApiError(400, "BadRequestException", f"Invalid reason: {unknown[0]}.")
    return {**given, "SuppressedReasons": [r for r in REASONS if r in reasons]}


def _dkim(record: Identity, status: str) -> dict[str, Any]:
    """DkimAttributes: a domain signs with Easy DKIM once verified; an address has none."""
    if record.kind != "DOMAIN":
        return {
            "SigningEnabled": False,
            "Status": "NOT_STARTED",
            "SigningAttributesOrigin": "AWS_SES",
            "NextSigningKeyLength": "RSA_1024_BIT",
        }
    return {
        "SigningEnabled": True,
        "Status": status,
        "Tokens": list(record.tokens),
        "SigningAttributesOrigin": "AWS_SES",
        "NextSigningKeyLength": "RSA_2048_BIT",
        "CurrentSigningKeyLength": "RSA_2048_BIT",
    }


# ListEmailIdentities / ListConfigurationSets filters: key -> (item field, match).
_IDENTITY_FILTERS: dict[str, tuple[str, Callable[[str, str], bool]]] = {
    "IDENTITY_NAME_CONTAINS": ("IdentityName", lambda value, wanted: wanted in value),
    "IDENTITY_TYPE": ("IdentityType", str.__eq__),
    "VERIFICATION_STATUS": ("VerificationStatus", str.__eq__),
}
_CONFIGURATION_SET_FILTERS: dict[str, tuple[str, Callable[[str, str], bool]]] = {
    "CONFIGURATION_SET_NAME_CONTAINS": ("name", lambda value, wanted: wanted in value),
}


def _filtered(
    items: list[dict[str, Any]],
    wanted: dict[str, str] | None,
    filters: dict[str, tuple[str, Callable[[str, str], bool]]],
) -> list[dict[str, Any]]:
    for key, value in (wanted or {}).items():
        if key not in filters:
            raise ApiError(400, "BadRequestException", f"Unknown filter key {key}.")
        field, match = filters[key]
        items = [item for item in items if match(str(item[field]), value)]
    return items


def _page(
    items: list[dict[str, Any]], key: str, params: dict[str, Any], *, default_size: int
) -> dict[str, Any]:
    """Offset pagination with an opaque-enough NextToken."""
    try:
        start = int(params.get("NextToken") or 0)
    except ValueError:
        raise ApiError(400, "BadRequestException", "Invalid NextToken.") from None
    page_size = int(params.get("PageSize") or default_size)
    chunk = items[start : start + page_size]
    answer: dict[str, Any] = {key: chunk}
    if start + page_size < len(items):
        answer["NextToken"] = str(start + page_size)
    return answer


def list_route_models(service_model: ServiceModel) -> list[ServiceModel]:
    """Both routes of SES's two list operations, as two small service models to route.

    botocore 1.43.105 moved ListEmailIdentities and ListConfigurationSets from ``GET`` with a
    query string to ``POST /v2/email/list-*`` with a JSON body; clients of both ages talk to
    AWS, so the sandbox serves both forms whatever botocore it runs on (``SES_LIST_ROUTES``).
    Route these before the installed model, so its own form keeps its own validator.
    """
    get_identities, post_identities, get_sets, post_sets = SES_LIST_ROUTES.value
    shapes = {
        "String": {"type": "string"},
        "Integer": {"type": "integer"},
        "Filter": {"type": "map", "key": {"shape": "String"}, "value": {"shape": "String"}},
        "QueryForm": {
            "type": "structure",
            "members": {
                name: {"shape": kind, "location": "querystring", "locationName": name}
                for name, kind in (("NextToken", "String"), ("PageSize", "Integer"))
            },
        },
        "BodyForm": {
            "type": "structure",
            "members": {
                "NextToken": {"shape": "String"},
                "PageSize": {"shape": "Integer"},
                "Filter": {"shape": "Filter"},
            },
        },
    }
    models = []
    for form, identities, sets in (
        ("QueryForm", get_identities, get_sets),
        ("BodyForm", post_identities, post_sets),
    ):
        operations = {
            name: {
                "name": name,
                "http": {"method": route.split()[0], "requestUri": route.split()[1]},
                "input": {"shape": form},
            }
            for name, route in (
                ("ListEmailIdentities", identities),
                ("ListConfigurationSets", sets),
            )
        }
        model = {"metadata": dict(service_model.metadata), "operations": operations}
        models.append(ServiceModel({**model, "shapes": shapes}, service_model.service_name))
    return models
