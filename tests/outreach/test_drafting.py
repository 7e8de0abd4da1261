"""Reply drafts: one template per category, within the channel limit, mention text inert."""

import shutil
from pathlib import Path

import pytest

from listener.domain import CHANNEL_LIMITS, Category, Channel, ComplaintReason, Mention, Score
from listener.errors import SettingsError
from listener.outreach.drafting import Drafter, channel_for
from listener.settings import BrandSettings, OutreachSettings
from tests.support.paths import REPO

TEMPLATES = REPO / "templates"
BRAND = BrandSettings(
    name="O2", terms=["O2"], display_name="O2 UK", support_url="https://o2.example/help"
)
drafter = Drafter(TEMPLATES, OutreachSettings(thank_praise=True))


def with_praise_template(folder: Path, source: str) -> Path:
    """An override folder whose praise.txt.j2 (`source`) replaces the built-in one."""
    (folder / "outreach").mkdir(parents=True)
    (folder / "outreach" / "praise.txt.j2").write_text(source)
    return folder


def unhappy(category: Category, reason: ComplaintReason | None = None) -> Score:
    return Score(0.9, True, 0.3, category, reason)


@pytest.mark.parametrize(
    "category", [Category.COMPLAINT, Category.SPAM_COMPLAINT, Category.PRIVACY, Category.OUTAGE]
)
@pytest.mark.parametrize("kind", ["x", "feed"])
def test_every_reply_names_the_brand_offers_an_opt_out_and_fits(
    category: Category, kind: str
) -> None:
    mention = Mention("s", "1", "text", author="@bob" if kind == "x" else "Bob", source_kind=kind)
    plan = drafter.plan(mention, BRAND, unhappy(category))
    assert plan is not None
    assert "O2 UK" in plan.text
    assert "STOP" in plan.text
    assert len(plan.text) <= CHANNEL_LIMITS[Channel(plan.channel)]


def test_an_x_reply_addresses_the_author_and_goes_back_to_the_tweet() -> None:
    plan = drafter.plan(
        Mention("x", "12345", "t", author="@bob", source_kind="x"),
        BRAND,
        unhappy(Category.COMPLAINT, ComplaintReason.DELAY),
    )
    assert plan is not None and plan.channel == "x" and plan.recipient == "12345"
    assert plan.text.startswith("@bob ") and "wait" in plan.text


def test_channel_follows_where_the_customer_spoke() -> None:
    assert channel_for(Mention("x", "1", "t", source_kind="x")) is Channel.X
    assert channel_for(Mention("f", "1", "t", author_email="a@b.example")) is Channel.EMAIL
    assert channel_for(Mention("f", "1", "t")) is Channel.MANUAL


def test_content_and_praise_without_the_setting_get_no_draft() -> None:
    calm = Score(0.1, False, 0.0, Category.OTHER)
    assert drafter.plan(Mention("s", "1", "t"), BRAND, calm) is None
    quiet = Drafter(TEMPLATES, OutreachSettings())
    assert (
        quiet.plan(Mention("s", "1", "t"), BRAND, Score(0.05, False, 0.0, Category.PRAISE)) is None
    )
    assert (
        drafter.plan(Mention("s", "1", "t"), BRAND, Score(0.05, False, 0.0, Category.PRAISE))
        is not None
    )


@pytest.mark.parametrize(
    "hostile",
    [
        "{{ 7*7 }}",
        "{% for x in range(10**9) %}{% endfor %}",
        "<script>alert(1)</script>",
        "{{ ''.__class__.__mro__ }}",
    ],
)
def test_template_syntax_in_the_mention_is_never_evaluated(hostile: str) -> None:
    mention = Mention(
        "x", "1", hostile, title=hostile, author=f"@{hostile}", author_name=hostile, source_kind="x"
    )
    plan = drafter.plan(mention, BRAND, unhappy(Category.COMPLAINT))
    assert plan is not None
    assert "49" not in plan.text and "mro" not in plan.text.replace(hostile, "")
    assert len(plan.text) <= 280


def test_a_huge_author_name_is_cut_to_the_limit_at_a_word() -> None:
    mention = Mention("x", "1", "t", author="@" + "a" * 400, source_kind="x")
    plan = drafter.plan(mention, BRAND, unhappy(Category.COMPLAINT))
    assert plan is not None and len(plan.text) <= 280


def test_a_missing_override_folder_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"templates_dir: .*nowhere.* is not a folder"):
        Drafter(tmp_path / "nowhere", OutreachSettings())


def test_a_broken_template_stops_start_up(tmp_path: Path) -> None:
    with_praise_template(tmp_path, "{{ c.no_such_field }}")
    with pytest.raises(SettingsError, match=r"outreach/praise.txt.j2 cannot be rendered"):
        Drafter(tmp_path, OutreachSettings())


@pytest.mark.parametrize(
    "escape",
    ["{{ c.__class__.__init__.__globals__ }}", "{{ c.author.__class__.__mro__ }}"],
)
def test_a_template_cannot_reach_python_internals(tmp_path: Path, escape: str) -> None:
    # The fast path for `c.<field>` must leave every other lookup to the sandbox.
    with_praise_template(tmp_path, escape)
    with pytest.raises(SettingsError, match="unsafe"):
        Drafter(tmp_path, OutreachSettings())


def test_a_template_may_use_jinjas_own_globals_and_they_stay_sandboxed(tmp_path: Path) -> None:
    # The templates' globals are one plain dict (DraftSandbox.make_globals): still Jinja's.
    with_praise_template(
        tmp_path,
        "{% set n = namespace(k=0) %}{% for i in range(3) %}{% set n.k = n.k + i %}{% endfor %}"
        "{{ c.brand }} thanks you {{ n.k }} times{{ joiner(', ')() }}. Reply STOP to opt out.",
    )
    local = Drafter(tmp_path, OutreachSettings(thank_praise=True))
    praise = Score(0.1, False, 0.0, Category.PRAISE, None)
    plan = local.plan(Mention("x", "1", "love it", author="@ann", source_kind="x"), BRAND, praise)
    assert plan is not None and plan.text == "O2 UK thanks you 3 times. Reply STOP to opt out."
    too_big = with_praise_template(tmp_path / "again", "{{ range(10**9) | list | length }}")
    with pytest.raises(SettingsError, match=r"(?i)range too big"):
        Drafter(too_big, OutreachSettings())


def test_a_template_that_does_not_name_the_brand_stops_start_up(tmp_path: Path) -> None:
    # Names it in the full form only: a long reply's short form would go out anonymous.
    with_praise_template(
        tmp_path, "Thanks{% if not c.short %} from {{ c.brand }}{% endif %}! Reply STOP to opt out."
    )
    with pytest.raises(SettingsError, match=r"praise.txt.j2 does not name the brand in its short"):
        Drafter(tmp_path, OutreachSettings())


def test_a_reply_is_written_in_the_mentions_language() -> None:
    brand = BrandSettings(name="Skyline Air", terms=["Skyline Air", "云帆航空"])
    chinese = Mention("forum", "1", "…", author="lin", lang="zh-Hant")
    plan = drafter.plan(chinese, brand, unhappy(Category.COMPLAINT, ComplaintReason.DELAY))
    assert plan is not None and plan.template == "zh/complaint"
    assert plan.text.startswith("lin，您好！这里是 Skyline Air 客服团队。让您久等了")
    assert plan.hold_reason == ""


def test_a_chinese_brand_name_is_not_spaced_in_a_chinese_reply() -> None:
    brand = BrandSettings(name="Skyline Air", display_name="云帆航空", terms=["云帆航空"])
    plan = drafter.plan(Mention("forum", "1", "…", lang="zh"), brand, unhappy(Category.OUTAGE))
    assert plan is not None and "这里是云帆航空。" in plan.text


def test_an_unknown_language_gets_the_brands_own() -> None:
    brand = BrandSettings(name="O2", terms=["O2"], language="es")
    plan = drafter.plan(
        Mention("forum", "1", "O2 😡", author="ana"), brand, unhappy(Category.COMPLAINT)
    )
    assert plan is not None and plan.template == "es/complaint"
    assert plan.text.startswith("Hola, ana. Le escribe el equipo de atención al cliente de O2.")


def test_a_language_without_templates_is_left_to_a_person() -> None:
    brand = BrandSettings(name="O2", terms=["O2"])
    plan = drafter.plan(
        Mention("forum", "1", "O2 c'est nul", lang="fr"), brand, unhappy(Category.COMPLAINT)
    )
    assert plan is not None and plan.text == "" and plan.template == "fr/complaint"
    assert plan.hold_reason == (
        "no French complaint template: write the reply by hand "
        "(or add outreach/fr/complaint.txt.j2)"
    )


def test_a_brands_language_must_be_a_language_code() -> None:
    with pytest.raises(ValueError, match="language must be a language code"):
        BrandSettings(name="O2", terms=["O2"], language="English")
    assert BrandSettings(name="O2", terms=["O2"], language=" ZH ").language == "zh"


def test_a_broken_template_in_another_language_stops_start_up(tmp_path: Path) -> None:
    folder = tmp_path / "t"
    shutil.copytree(TEMPLATES / "outreach", folder / "outreach")
    (folder / "outreach" / "es" / "praise.txt.j2").write_text("{{ c.nothing_here }}")
    with pytest.raises(SettingsError, match=r"outreach/es/praise\.txt\.j2 cannot be rendered"):
        Drafter(folder, OutreachSettings())
