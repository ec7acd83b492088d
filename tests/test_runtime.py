"""Hand-written tests: the aisupply fixture, policy markers, run-time guards, offline mode."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from helpers.hub_server import HubServer


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)


NO_PICKLE_TESTS = """
import json, os, pickle, collections
import pytest


class Model:
    pass


@pytest.mark.aisupply_no_pickle
def test_unpickles_a_class():
    pickle.loads(pickle.dumps(Model()))


@pytest.mark.aisupply_no_pickle
def test_swallows_the_refusal():
    try:
        pickle.loads(pickle.dumps(collections.OrderedDict(a=1)))
    except Exception:
        pass


@pytest.mark.aisupply_no_pickle
def test_json_is_fine():
    assert json.loads('{"a": 1}') == {"a": 1}


@pytest.mark.aisupply_no_pickle
def test_plain_data_pickle_is_fine():
    assert pickle.loads(pickle.dumps([1, "a", {"b": 2.0}])) == [1, "a", {"b": 2.0}]


def test_unmarked_tests_are_untouched():
    assert pickle.loads(pickle.dumps(Model())).__class__.__name__ == "Model"
"""


@pytest.mark.parametrize("xdist_args", [[], ["-n", "2"]], ids=["serial", "xdist-2"])
def test_no_pickle_guard(pytester: pytest.Pytester, xdist_args: list[str]) -> None:
    pytester.makepyfile(test_guard=NO_PICKLE_TESTS)
    result = run(pytester, "-v", *xdist_args)
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*[[]aisupply[]] run-time guard refused 1 operation:",
            "*unpickling imported test_guard.Model (called from *test_guard.py:11 in test_unpickles_a_class)",
        ]
    )
    result.stdout.fnmatch_lines(["*unpickling imported collections.OrderedDict*test_swallows_the_refusal*"])
    assert "During handling of the above exception" not in result.stdout.str()
    assert "GuardViolation" not in result.stdout.str()


def test_torch_weights_only_load_passes_the_guard(pytester: pytest.Pytester) -> None:
    pytest.importorskip("torch", reason="torch is installed by .ci/run")
    pytester.makepyfile(
        """
        import pytest, torch

        @pytest.mark.aisupply_no_pickle
        def test_state_dict(tmp_path):
            torch.save(torch.nn.Linear(2, 2).state_dict(), tmp_path / "w.pt")
            torch.load(tmp_path / "w.pt", weights_only=True)

        @pytest.mark.aisupply_no_pickle
        def test_full_unpickling(tmp_path):
            torch.save(torch.nn.Linear(2, 2), tmp_path / "m.pt")
            torch.load(tmp_path / "m.pt", weights_only=False)
        """
    )
    result = run(pytester)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*unpickling imported torch.nn.modules.linear.Linear*"])


def test_ini_turns_the_guard_on_for_every_test(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\naisupply_runtime = no-pickle\n")
    pytester.makepyfile(
        "import pickle, fractions\ndef test_x():\n    pickle.loads(pickle.dumps(fractions.Fraction(1, 3)))\n"
    )
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*unpickling imported fractions.Fraction*"])


def make_pinned_project(pytester: pytest.Pytester, hub: HubServer) -> tuple[str, str]:
    locked = hub.add_repo("org/locked", card={"license": "mit"}, files={"config.json": b"{}"})
    unlocked = hub.add_repo("org/unlocked", card={"license": "mit"}, files={"config.json": b"{}"})
    pytester.makepyprojecttoml("[tool.aisupply]\nartifacts = ['models']\ncode = ['src']\n")
    pytester.mkdir("models")
    src = pytester.mkdir("src")
    (src / "uses.py").write_text(
        "from huggingface_hub import hf_hub_download\n"
        f"hf_hub_download('org/locked', 'config.json', revision='{locked}')\n"
    )
    assert run(pytester, "--aisupply-update", "--aisupply-only").ret == 0
    return locked, unlocked


@pytest.mark.usefixtures("hub_env")
def test_pinned_guard(pytester: pytest.Pytester, hub: HubServer) -> None:
    locked, unlocked = make_pinned_project(pytester, hub)
    pytester.makepyfile(
        test_downloads=textwrap.dedent(
            f"""
            import pytest
            from huggingface_hub import HfApi, hf_hub_download, snapshot_download

            pytestmark = pytest.mark.aisupply_pinned

            def test_main_branch(tmp_path):
                hf_hub_download("org/locked", "config.json", revision="main", cache_dir=tmp_path)

            def test_snapshot_without_revision(tmp_path):
                snapshot_download("org/locked", cache_dir=tmp_path)

            def test_locked_commit(tmp_path):
                hf_hub_download("org/locked", "config.json", revision="{locked}", cache_dir=tmp_path)

            def test_unlocked_repo(tmp_path):
                hf_hub_download("org/unlocked", "config.json", revision="{unlocked}", cache_dir=tmp_path)

            def test_resolution_of_a_branch():
                HfApi().model_info("org/locked", revision="main")
            """
        )
    )
    result = run(pytester, "-v", "--no-aisupply", "test_downloads.py")
    result.assert_outcomes(passed=1, failed=4)
    result.stdout.fnmatch_lines(["*downloads from model org/locked at 'main', which is not a 40-hex commit*"])
    result.stdout.fnmatch_lines(["*asks the Hub*org/locked*"])
    result.stdout.fnmatch_lines(["*downloads model org/unlocked@*, which is not in the lockfile*"])
    result.stdout.fnmatch_lines(["*asks the Hub to resolve model org/locked at 'main', which is not a 40-hex commit*"])
    called_from = [line for line in result.outlines if "(called from " in line]
    assert called_from
    for line in called_from:
        assert "test_downloads.py:" in line, line
    result.stdout.fnmatch_lines(["*(called from *test_downloads.py:7 in test_main_branch)"])


@pytest.mark.usefixtures("hub_env")
def test_verified_guard_refuses_a_tampered_cached_file(pytester: pytest.Pytester, hub: HubServer) -> None:
    locked, _ = make_pinned_project(pytester, hub)
    pytester.makepyfile(
        test_reads=textwrap.dedent(
            f"""
            import os
            from pathlib import Path
            import pytest
            from huggingface_hub import hf_hub_download

            def path():
                return hf_hub_download("org/locked", "config.json", revision="{locked}")

            @pytest.mark.aisupply_verified
            def test_reviewed_file_reads_fine():
                assert Path(path()).read_bytes() == b"{{}}"

            @pytest.mark.aisupply_verified
            def test_tampered_file_is_refused():
                target = Path(path()).resolve()
                os.chmod(target, 0o644)
                target.write_bytes(b'{{"evil": 1}}')
                content = None
                try:
                    content = Path(path()).read_bytes()
                finally:
                    assert content is None, "the tampered content reached the caller"
            """
        )
    )
    result = run(pytester, "-v", "--no-aisupply", "test_reads.py")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*opened config.json of org/locked@* whose content differs from the lockfile*"])


FIXTURE_TESTS = """
import os, pickle
from pathlib import Path
import pytest


def test_scan_and_assert_safe(aisupply, tmp_path):
    (tmp_path / "weights.bin").write_bytes(pickle.dumps(os.system))
    findings = aisupply.scan(tmp_path)
    assert [f.rule for f in findings] == ["no-pickle"]
    aisupply.assert_safe(tmp_path)


def test_assert_no_pickle_passes_on_json(aisupply, tmp_path):
    (tmp_path / "config.json").write_text("{}")
    aisupply.assert_no_pickle(tmp_path)


def test_assert_pinned_on_code(aisupply):
    aisupply.assert_pinned("from transformers import AutoModel\\nAutoModel.from_pretrained('org/m')\\n")


def test_references(aisupply):
    code = "from transformers import AutoModel\\nAutoModel.from_pretrained('org/m', revision='main')\\n"
    refs = aisupply.references(code)
    assert [(r.repo_id, r.revision) for r in refs] == [("org/m", "main")]


@pytest.mark.aisupply_policy(allowed_licenses=["apache-2.0"])
def test_license_override(aisupply, tmp_path):
    (tmp_path / "README.md").write_text("---\\nlicense: mit\\n---\\n# card\\n")
    aisupply.assert_license(tmp_path)


def test_license_default_policy(aisupply, tmp_path):
    (tmp_path / "README.md").write_text("---\\nlicense: mit\\n---\\n# card\\n")
    aisupply.assert_license(tmp_path, allowed=["MIT"])
"""


def test_fixture(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_fixture=FIXTURE_TESTS)
    result = run(pytester, "-v", "--tb=short")
    result.assert_outcomes(passed=3, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*[[]aisupply[]] * is not safe: 1 finding",
            "  - no-pickle: *test_scan_and_assert_safe0/weights.bin: pickle stream (protocol 4)",
            "    imports posix.system",
            "    fix:   *",
        ]
    )
    result.stdout.fnmatch_lines(["*[[]aisupply[]] pinned-revision: unpinned Hub references*", "*<code>:2*no revision*"])
    result.stdout.fnmatch_lines(["*license: *: license mit: not in allowed_licenses (allowed: apache-2.0)*"])
    assert "pytest_aisupply/fixture.py" not in result.stdout.str()


def test_unknown_marker_override_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        "import pytest\n@pytest.mark.aisupply_policy(allowed_licences=['mit'])\ndef test_x(aisupply):\n    pass\n"
    )
    result = run(pytester)
    result.stdout.fnmatch_lines(["*@pytest.mark.aisupply_policy got unknown override(s) allowed_licences*"])
    result.assert_outcomes(errors=1)


def test_offline_option_applies_before_test_modules_import(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(
        """
        import os
        import huggingface_hub.constants as constants

        def test_offline():
            assert os.environ["HF_HUB_OFFLINE"] == "1"
            assert constants.HF_HUB_OFFLINE
        """
    )
    run(pytester, "--aisupply-offline").assert_outcomes(passed=1)
    run(pytester).assert_outcomes(failed=1)


@pytest.mark.parametrize("table", ["", "[tool.aisupply]\nlockfile = ''\n"], ids=["checks-off", "checks-on"])
def test_a_typo_in_aisupply_runtime_stops_at_start_up(pytester: pytest.Pytester, table: str) -> None:
    pytester.makepyprojecttoml(f"[tool.pytest.ini_options]\naisupply_runtime = ['no-pickle', 'pined']\n{table}")
    pytester.makepyfile(test_ran="def test_ran():\n    open('RAN', 'w').close()\n")
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if line.strip()] == [
        "ERROR: ini option aisupply_runtime: unknown guard 'pined'; use no-pickle, pinned, verified"
    ]
    assert not (pytester.path / "RAN").exists()


WAIVED_FIXTURE_TESTS = """
def test_project_file_is_waived(aisupply):
    aisupply.assert_safe("legacy")


def test_unwaived_file_is_named_by_its_project_path(aisupply):
    aisupply.assert_no_pickle("models")
"""


def test_fixture_applies_waivers_and_names_project_paths(pytester: pytest.Pytester) -> None:
    import os
    import pickle

    pytester.makepyprojecttoml(
        "[tool.aisupply]\nlockfile = ''\n\n[[tool.aisupply.waive]]\nrule = 'no-pickle'\npath = 'legacy/*.pkl'\n"
        "reason = 'vendor vocabulary, replaced in Q3'\n"
    )
    for folder in ("legacy", "models/serving"):
        (pytester.path / folder).mkdir(parents=True)
    (pytester.path / "legacy" / "vocab.pkl").write_bytes(pickle.dumps({"a": 1}, protocol=2))
    (pytester.path / "models" / "serving" / "head.pkl").write_bytes(pickle.dumps(os.system))
    pytester.makepyfile(test_fixture=WAIVED_FIXTURE_TESTS)
    result = run(pytester, "-v", "--no-aisupply")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*[[]aisupply[]] models holds pickle: 1 finding", "  - no-pickle: models/serving/head.pkl: pickle stream*"]
    )
