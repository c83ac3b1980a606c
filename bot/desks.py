"""The desks behind `ImageBot`, wired once: each use case's module gets the parts it needs.

The composition root (adapters/composition.py) builds the store, provider and job runner; this
module only connects the core's own desks to them and to each other, so the façade in
`bot.service` stays a list of use cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bot.blending import Blending
from bot.choosing import OptionChooser
from bot.config import Settings
from bot.deliveries import DeliveryLog
from bot.describing import Describing, describer_of
from bot.generating import Generating
from bot.jobs import JobRunner
from bot.outcomes import Outcomes
from bot.policy import Policy
from bot.ports import Storage
from bot.preferences import SettingsDesk
from bot.press import Buttons
from bot.providers.base import Provider
from bot.reports import Reports
from bot.sessions import Sessions
from bot.styles import Styles
from bot.submission import Submitter
from bot.template_desk import TemplateDesk


@dataclass(frozen=True)
class Desks:
    policy: Policy
    chooser: OptionChooser
    templates: TemplateDesk
    styles: Styles
    generating: Generating
    blending: Blending
    sessions: Sessions
    reports: Reports
    buttons: Buttons
    preferences: SettingsDesk  # the saved defaults: /settings
    outcomes: Outcomes
    describing: Describing
    deliveries: DeliveryLog


def wire_desks(
    settings: Settings, store: Storage, provider: Provider, runner: JobRunner, clock: Callable[[], float]
) -> Desks:
    """Every desk, on one store, provider, job runner and clock."""
    policy = Policy(settings, store.jobs, provider, clock)
    chooser = OptionChooser(settings, store.preferences)
    submitter = Submitter(store, runner, policy, clock)
    templates = TemplateDesk(store.templates, chooser.resolve)
    styles = Styles(store, clock)
    generating = Generating(chooser, submitter, templates, styles)
    sessions = Sessions(store, generating)
    reports = Reports(settings, store.jobs, runner, policy)
    return Desks(
        policy=policy,
        chooser=chooser,
        templates=templates,
        styles=styles,
        generating=generating,
        blending=Blending(chooser, submitter),
        sessions=sessions,
        reports=reports,
        buttons=Buttons(settings, store, runner, policy, chooser, submitter, sessions, reports),
        preferences=SettingsDesk(settings, store.preferences, chooser.resolve, styles.check_default),
        outcomes=Outcomes(store, clock),
        describing=Describing(
            settings,
            store,
            policy,
            describer_of(provider),
            generating,
            clock,
            job_for_button=runner.active_job_for_origin,
        ),
        deliveries=DeliveryLog(store.jobs, store.intake),
    )
