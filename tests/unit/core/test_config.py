import pytest
from pydantic import ValidationError

from backend.core.config import PLACEHOLDER_SECRET, Settings


@pytest.fixture(autouse=True)
def _no_heracles_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about defaults: hide the test stack's own HERACLES_* variables."""
    import os

    for name in [key for key in os.environ if key.startswith("HERACLES_")]:
        monkeypatch.delenv(name)


def test_prod_refuses_placeholder_secrets() -> None:
    with pytest.raises(ValidationError, match="HERACLES_NEO4J_PASSWORD is the placeholder"):
        Settings(ENV="prod")


def test_prod_accepts_real_secrets_and_dev_accepts_placeholders() -> None:
    Settings(ENV="prod", NEO4J_PASSWORD="s3cret-pw")
    dev = Settings(ENV="dev", NEO4J_PASSWORD=PLACEHOLDER_SECRET)
    assert dev.NEO4J_PASSWORD.get_secret_value() == PLACEHOLDER_SECRET


def test_env_prefix_and_derived_ports(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERACLES_NEO4J_URI", "bolt://127.0.0.1:27687")
    monkeypatch.setenv("HERACLES_REDIS_URL", "redis://127.0.0.1:26379/3")
    settings = Settings(_env_file=None)
    assert settings.neo4j_bolt_port == 27687
    assert settings.redis_port == 26379


def test_defaults_match_the_documented_ones() -> None:
    settings = Settings(_env_file=None)
    assert settings.NEO4J_URI == "bolt://127.0.0.1:7687"
    assert settings.REDIS_URL == "redis://127.0.0.1:6379/0"
    assert settings.ENV == "dev"


def test_secrets_do_not_leak_in_repr() -> None:
    settings = Settings(NEO4J_PASSWORD="hunter2-pw")
    assert "hunter2-pw" not in repr(settings)


def test_relative_state_dir_is_anchored_at_the_project_root() -> None:
    from backend.core.config import PROJECT_ROOT

    settings = Settings(_env_file=None, STATE_DIR="some/dir")
    assert settings.STATE_DIR == PROJECT_ROOT / "some" / "dir"


def test_detection_weighs_exactly_the_kinds_the_graph_model_says_link() -> None:
    """One vocabulary: what detection links by default is what investigation expands."""
    from backend.graph.model import LINKING
    from backend.investigation.repository import LINKING_RELS

    assert set(Settings(ENV="dev").DETECTION_KIND_WEIGHTS) == LINKING == set(LINKING_RELS)


def test_kind_weights_are_checked_against_the_graph_models_vocabulary() -> None:
    """A misspelt or non-linking kind fails at start-up instead of weighing nothing."""
    with pytest.raises(ValueError, match="PAID_WTIH"):
        Settings(ENV="dev", DETECTION_KIND_WEIGHTS={"PAID_WTIH": 1.0})
    with pytest.raises(ValueError, match="USED_MODEL"):
        Settings(ENV="dev", DETECTION_KIND_WEIGHTS={"PAID_WITH": 1.0, "USED_MODEL": 0.2})
    with pytest.raises(ValueError, match="below 0"):
        Settings(ENV="dev", DETECTION_KIND_WEIGHTS={"PAID_WITH": -1.0})
    assert Settings(ENV="dev", DETECTION_KIND_WEIGHTS={"PAID_WITH": 0.0}).DETECTION_KIND_WEIGHTS
