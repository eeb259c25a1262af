"""Admin API for the knowledge the agent uses (business rules, add-ons, FAQs, offers) and the
team's saved replies."""

from __future__ import annotations

from typing import TypeVar

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field

from agent.rehearsal import Edit, rehearse
from api.deps import AdminUser, CurrentUser, Knowledge, Session, State
from knowledge import repository as repo
from knowledge.errors import Conflict, InvalidInput, NotFound
from knowledge.models import AddonItem, BusinessRule, FaqItem, SavedReply, SeasonalOffer
from knowledge.schemas import (
    AddonCreate,
    AddonUpdate,
    AddonView,
    FaqCreate,
    FaqUpdate,
    FaqView,
    OfferCreate,
    OfferUpdate,
    OfferView,
    RowId,
    RuleCreate,
    RuleUpdate,
    RuleVersionView,
    RuleView,
    SavedReplyCreate,
    SavedReplyUpdate,
    SavedReplyView,
    StorableInput,
)
from knowledge.service import render_answer

router = APIRouter(prefix="/api/v1", tags=["knowledge"])

T = TypeVar("T")
NO_CONTENT = Response(status_code=status.HTTP_204_NO_CONTENT)


def _found(value: T | None, label: str, ident: int) -> T:
    if value is None:
        raise NotFound(f"no {label} with id {ident}")
    return value


# ---- business rules ---------------------------------------------------------------------


@router.get("/business-rules")
async def list_rules(_: CurrentUser, session: Session, knowledge: Knowledge) -> list[RuleView]:
    """Every rule, with its text as customers read it (its {{ placeholders }} filled from the
    live values)."""
    try:
        facts = (await knowledge.charter(session)).facts
    except Conflict:  # a rule the agent needs is missing: show the texts as written
        facts = {}
    return [
        RuleView.model_validate(r).model_copy(update={"text": render_answer(r.content, facts)})
        for r in await repo.all_rules(session)
    ]


@router.get("/business-rules/{rule_id}")
async def get_rule(rule_id: RowId, _: CurrentUser, session: Session) -> RuleView:
    rule = _found(await repo.get(session, BusinessRule, rule_id), "business rule", rule_id)
    return RuleView.model_validate(rule)


@router.post("/business-rules", status_code=status.HTTP_201_CREATED)
async def create_rule(
    data: RuleCreate, user: AdminUser, session: Session, knowledge: Knowledge
) -> RuleView:
    rule = await knowledge.create_rule(session, data, actor=user.name)
    view = RuleView.model_validate(rule)
    await session.commit()
    return view


@router.put("/business-rules/{rule_id}")
async def update_rule(
    rule_id: RowId, data: RuleUpdate, user: AdminUser, session: Session, knowledge: Knowledge
) -> RuleView:
    rule = await knowledge.update_rule(session, rule_id, data, actor=user.name)
    view = RuleView.model_validate(rule)
    await session.commit()
    return view


@router.delete("/business-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(
    rule_id: RowId, _: AdminUser, session: Session, knowledge: Knowledge
) -> Response:
    await knowledge.delete_rule(session, rule_id)
    await session.commit()
    return NO_CONTENT


@router.get("/business-rules/{rule_id}/versions")
async def rule_versions(
    rule_id: RowId, _: CurrentUser, session: Session, knowledge: Knowledge
) -> list[RuleVersionView]:
    history = await knowledge.rule_history(session, rule_id)
    return [RuleVersionView.model_validate(v) for v in history]


# ---- add-ons ----------------------------------------------------------------------------


@router.get("/menu/addons")
async def list_addons(_: CurrentUser, session: Session) -> list[AddonView]:
    return [AddonView.model_validate(a) for a in await repo.addons(session)]


@router.get("/menu/addons/{addon_id}")
async def get_addon(addon_id: RowId, _: CurrentUser, session: Session) -> AddonView:
    addon = _found(await repo.get(session, AddonItem, addon_id), "add-on", addon_id)
    return AddonView.model_validate(addon)


@router.post("/menu/addons", status_code=status.HTTP_201_CREATED)
async def create_addon(
    data: AddonCreate, _: AdminUser, session: Session, knowledge: Knowledge
) -> AddonView:
    view = AddonView.model_validate(await knowledge.create_addon(session, data))
    await session.commit()
    return view


@router.put("/menu/addons/{addon_id}")
async def update_addon(
    addon_id: RowId, data: AddonUpdate, _: AdminUser, session: Session, knowledge: Knowledge
) -> AddonView:
    view = AddonView.model_validate(await knowledge.update_addon(session, addon_id, data))
    await session.commit()
    return view


@router.delete("/menu/addons/{addon_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_addon(
    addon_id: RowId, _: AdminUser, session: Session, knowledge: Knowledge
) -> Response:
    await knowledge.delete_addon(session, addon_id)
    await session.commit()
    return NO_CONTENT


# ---- FAQs -------------------------------------------------------------------------------


@router.get("/faqs")
async def list_faqs(_: CurrentUser, session: Session) -> list[FaqView]:
    return [FaqView.model_validate(f) for f in await repo.faqs(session)]


@router.get("/faqs/{faq_id}")
async def get_faq(faq_id: RowId, _: CurrentUser, session: Session) -> FaqView:
    faq = _found(await repo.get(session, FaqItem, faq_id), "FAQ", faq_id)
    return FaqView.model_validate(faq)


@router.post("/faqs", status_code=status.HTTP_201_CREATED)
async def create_faq(
    data: FaqCreate, _: AdminUser, session: Session, knowledge: Knowledge
) -> FaqView:
    view = FaqView.model_validate(await knowledge.create_faq(session, data))
    await session.commit()
    return view


@router.put("/faqs/{faq_id}")
async def update_faq(
    faq_id: RowId, data: FaqUpdate, _: AdminUser, session: Session, knowledge: Knowledge
) -> FaqView:
    view = FaqView.model_validate(await knowledge.update_faq(session, faq_id, data))
    await session.commit()
    return view


@router.delete("/faqs/{faq_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_faq(
    faq_id: RowId, _: AdminUser, session: Session, knowledge: Knowledge
) -> Response:
    await knowledge.delete_faq(session, faq_id)
    await session.commit()
    return NO_CONTENT


# ---- saved replies ----------------------------------------------------------------------


@router.get("/saved-replies")
async def list_saved_replies(_: CurrentUser, session: Session) -> list[SavedReplyView]:
    return [SavedReplyView.model_validate(r) for r in await repo.saved_replies(session)]


@router.get("/saved-replies/{reply_id}")
async def get_saved_reply(reply_id: RowId, _: CurrentUser, session: Session) -> SavedReplyView:
    reply = _found(await repo.get(session, SavedReply, reply_id), "saved reply", reply_id)
    return SavedReplyView.model_validate(reply)


@router.post("/saved-replies", status_code=status.HTTP_201_CREATED)
async def create_saved_reply(
    data: SavedReplyCreate, _: AdminUser, session: Session, knowledge: Knowledge
) -> SavedReplyView:
    view = SavedReplyView.model_validate(await knowledge.create_saved_reply(session, data))
    await session.commit()
    return view


@router.put("/saved-replies/{reply_id}")
async def update_saved_reply(
    reply_id: RowId, data: SavedReplyUpdate, _: AdminUser, session: Session, knowledge: Knowledge
) -> SavedReplyView:
    reply = await knowledge.update_saved_reply(session, reply_id, data)
    view = SavedReplyView.model_validate(reply)
    await session.commit()
    return view


@router.delete("/saved-replies/{reply_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_saved_reply(
    reply_id: RowId, _: AdminUser, session: Session, knowledge: Knowledge
) -> Response:
    await knowledge.delete_saved_reply(session, reply_id)
    await session.commit()
    return NO_CONTENT


# ---- seasonal offers --------------------------------------------------------------------


@router.get("/offers")
async def list_offers(_: CurrentUser, session: Session) -> list[OfferView]:
    return [OfferView.model_validate(o) for o in await repo.offers(session)]


@router.get("/offers/{offer_id}")
async def get_offer(offer_id: RowId, _: CurrentUser, session: Session) -> OfferView:
    offer = _found(await repo.get(session, SeasonalOffer, offer_id), "offer", offer_id)
    return OfferView.model_validate(offer)


@router.post("/offers", status_code=status.HTTP_201_CREATED)
async def create_offer(
    data: OfferCreate, _: AdminUser, session: Session, knowledge: Knowledge
) -> OfferView:
    view = OfferView.model_validate(await knowledge.create_offer(session, data))
    await session.commit()
    return view


@router.put("/offers/{offer_id}")
async def update_offer(
    offer_id: RowId, data: OfferUpdate, _: AdminUser, session: Session, knowledge: Knowledge
) -> OfferView:
    view = OfferView.model_validate(await knowledge.update_offer(session, offer_id, data))
    await session.commit()
    return view


@router.delete("/offers/{offer_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_offer(
    offer_id: RowId, _: AdminUser, session: Session, knowledge: Knowledge
) -> Response:
    await knowledge.delete_offer(session, offer_id)
    await session.commit()
    return NO_CONTENT


# ---- try it ------------------------------------------------------------------------------


class TryIt(StorableInput):
    """A question, and optionally an edit not saved: a rule's new text or values, an FAQ."""

    question: str = Field(min_length=1, max_length=1600)
    rule_id: RowId | None = None
    rule: RuleUpdate | None = None
    faq: FaqCreate | None = None


class TriedAnswer(BaseModel):
    reply: str | None
    intent: str
    outcome: str  # "handled", or "escalated" when a person would get the case
    rules: list[str]


@router.post("/knowledge/try")
async def try_it(data: TryIt, _: AdminUser, state: State) -> TriedAnswer:
    """What the agent would answer a new customer's question with the edit: nothing is saved,
    nothing is sent."""
    if data.rule is not None and data.rule_id is None:
        raise InvalidInput("rule_id: say which rule the edit is for")
    edit = Edit(rule_id=data.rule_id, rule=data.rule, faq=data.faq)
    result = await rehearse(state.database.engine, state.clock, data.question, edit)
    return TriedAnswer(
        reply=result.reply, intent=result.intent, outcome=result.outcome, rules=result.rules
    )
