from pathlib import Path

import graphql

ROOT = Path(__file__).resolve().parents[3]


def test_import_graphql_is_graphql_core_not_our_folder() -> None:
    assert hasattr(graphql, "graphql_sync"), "`import graphql` must resolve to graphql-core"
    assert Path(graphql.__file__).resolve().parent != (ROOT / "graphql").resolve()
    assert "site-packages" in graphql.__file__


def test_graphql_folder_holds_no_python() -> None:
    assert not list((ROOT / "graphql").rglob("*.py"))


def test_packages_importable() -> None:
    import backend
    import seed
    import workers

    for module in (backend, seed, workers):
        assert Path(module.__file__ or "").resolve().is_relative_to(ROOT)
