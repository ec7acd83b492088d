"""Every key of the ``[tool.aisupply]`` table, described once, and its rendering to Markdown.

``docs/configuration.md`` is generated from this module by ``scripts/gen_config_reference.py``;
``tests/test_docs.py`` checks that the keys here are exactly the keys ``config.py`` accepts, that
the defaults are those of :class:`~pytest_aisupply.settings.config.Settings`, that every example is valid
configuration, and that the committed page equals what :func:`render_markdown` produces now.

Nothing here is used at run time; importing it imports nothing of the plugin.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: The page's location, relative to the repository root.
REFERENCE_PATH = "docs/configuration.md"
#: The command that writes it.
GENERATOR = "python scripts/gen_config_reference.py"

WAIVE_TABLE = "[[tool.aisupply.waive]]"
LIMITS_TABLE = "[tool.aisupply.limits]"

#: Shown when no default value applies.
UNSET = "unset"


@dataclass(frozen=True)
class Key:
    """One configuration key.

    ``default`` is the value the setting has when the key is absent, as Python data (a tuple for a
    TOML array, a dict for a table, None for "unset"); ``field`` names the ``Settings`` attribute
    it fills (None: none, e.g. per-entry waiver keys). ``example`` is TOML placed under ``table``
    (the table header is added when rendered).
    """

    name: str
    toml_type: str
    default: object
    description: str
    example: str
    field: str | None = None
    required: bool = False


TOP_LEVEL: tuple[Key, ...] = (
    Key(
        "artifacts",
        "array of strings (paths or globs)",
        (".",),
        "Where model and data files are looked for: folders, files or glob patterns relative to the "
        "project root. Every regular file below them is identified by its content, never by its name; "
        "files that turn out to be models or data (pickles, PyTorch checkpoints, joblib dumps, numpy "
        "arrays, safetensors, zip/tar/compressed archives, Keras, HDF5, SavedModel, ONNX and GGUF files, "
        "and binary files of no known format) get one check per artifact rule, while text, images and "
        "similar files do not. A plain path that does not exist is a configuration error; a glob may "
        "match nothing. Patterns use `/`, stay inside the project (no absolute paths, no `..`), and `**` "
        "must be a whole path segment, as in `data/**`.",
        'artifacts = ["models", "data/**/*.bin"]',
        field="artifacts",
    ),
    Key(
        "code",
        "array of strings (paths or globs)",
        (".",),
        "Where Python files (`.py`) and Jupyter notebooks (`.ipynb`) are read for the code rules "
        "(`pinned-revision`, `remote-code`, `unsafe-load`) and for the Hub references that `integrity`, "
        "`license` and `source` check. Code is parsed with `ast`, never imported or run. The same path "
        "rules as for `artifacts` apply.",
        'code = ["src", "notebooks"]',
        field="code",
    ),
    Key(
        "exclude",
        "array of strings (gitignore-style patterns)",
        (),
        "Paths skipped by both the artifact and the code scan, written like `.gitignore` lines and "
        "matched against project-relative paths. They add to the folders that are never walked: version "
        "control (`.git`, `.hg`, `.svn`), virtual environments (`.venv`, `venv`, `.env`, `site-packages`), "
        "caches (`__pycache__`, `.mypy_cache`, `.pytest_cache`, `.ruff_cache`, `.hypothesis`), `.tox`, "
        "`.nox`, `.eggs`, `*.egg-info`, `node_modules`, `build` and `dist`.",
        'exclude = ["third_party/**", "notebooks/scratch/"]',
        field="exclude",
    ),
    Key(
        "pickle",
        'string: "forbid" or "scan"',
        "forbid",
        'What the `no-pickle` rule accepts. With `"forbid"` any pickle stream in an artifact fails, '
        'whatever it imports. With `"scan"` a stream passes only when every global it would import is '
        "on the allowlist (the built-in list for PyTorch state dicts, standard `torch.nn` modules, numpy "
        "arrays and `collections.OrderedDict`, plus `pickle_allowed_globals`) and it does nothing that no "
        "allowlist makes safe; streams that cannot be read to their end fail in both modes.",
        'pickle = "scan"',
        field="pickle",
    ),
    Key(
        "pickle_allowed_globals",
        "array of strings (dotted names or `package.*`)",
        (),
        'Globals a pickle may import in `pickle = "scan"` mode, in addition to the built-in allowlist: '
        "exact dotted names such as `collections.OrderedDict`, or package patterns such as `sklearn.*`. "
        "A pattern never allows a callable that can reach arbitrary code (`builtins.eval`, `getattr`, "
        "`importlib.*`, `os.*`, `functools.partial`, `pickle.loads` and the like) or a dunder name: "
        'those pass only when listed exactly. Ignored in `"forbid"` mode.',
        'pickle_allowed_globals = ["sklearn.*", "numpy.random._pickle.__randomstate_ctor"]',
        field="pickle_allowed_globals",
    ),
    Key(
        "allowed_licenses",
        "array of strings (license ids)",
        (),
        "The licenses a model or dataset may carry, checked by the `license` rule on locked Hub "
        "references, local model cards (`README.md` front matter) and their base models. Ids compare "
        "case-insensitively; Hugging Face ids (`gpl-3.0`, `odc-by` ...) match their SPDX keys, and SPDX "
        "expressions are evaluated (`A OR B` needs either side, `A AND B` both). For `license: other`, "
        "list the card's `license_name` (or `LicenseRef-<name>`). An empty list accepts any declared "
        "license, but a missing or `unknown` license, or `other` without a listed `license_name`, "
        "still fails.",
        'allowed_licenses = ["apache-2.0", "mit", "bsd-3-clause"]',
        field="allowed_licenses",
    ),
    Key(
        "allowed_sources",
        "array of strings (`org/name` patterns)",
        (),
        "Publishers a Hub repository may come from, as `org/name` patterns with shell-style wildcards "
        "(`google/*`, `sentence-transformers/*`), compared case-insensitively. The `source` rule checks "
        "every repo id referenced in code, recorded in the lockfile, or named as a base model. Empty: any "
        "publisher (unless denied). The `source` rule has no checks at all while both `allowed_sources` "
        "and `denied_sources` are empty.",
        'allowed_sources = ["google/*", "sentence-transformers/*", "acme/*"]',
        field="allowed_sources",
    ),
    Key(
        "denied_sources",
        "array of strings (`org/name` patterns)",
        (),
        "Repositories that must not be used, with the same pattern syntax as `allowed_sources`; a "
        "match fails even when the repo also matches `allowed_sources`. Useful for deprecated models "
        "and for publishers that were compromised or retired.",
        'denied_sources = ["acme/legacy-*", "someuser/*"]',
        field="denied_sources",
    ),
    Key(
        "trust_remote_code",
        "array of strings (exact `org/name` repo ids)",
        (),
        "Repositories whose own Python code may run through `trust_remote_code=True` (and Hub repos "
        "usable as a diffusers `custom_pipeline`). Listing a repo is a statement that its code was "
        "reviewed: the `remote-code` rule still requires the call to pin `revision=` (and "
        "`code_revision=` or `custom_revision=` where given) to a 40-hex commit.",
        'trust_remote_code = ["microsoft/Phi-3-mini-4k-instruct"]',
        field="trust_remote_code",
    ),
    Key(
        "lockfile",
        "string (path)",
        "aisupply.lock",
        "The lockfile, relative to the project root: the reviewed state of every artifact and pinned Hub "
        "reference, written by `pytest --aisupply-update` and read by every other run (see "
        "[the lockfile workflow](lockfile.md)). An empty string turns the `integrity` rule off; `license` "
        "then checks local model cards only, and `--aisupply-update` refuses to run.",
        'lockfile = "supply-chain/aisupply.lock"',
        field="lockfile",
    ),
    Key(
        "max_review_age_days",
        "integer (1 or more)",
        None,
        "How long a review stays valid. A lockfile entry whose `reviewed` date is more than this many "
        "days ago fails `integrity` as stale. An update keeps the date of an entry whose content did not "
        "change, so after a periodic re-review, edit the `reviewed` date of the entries you checked. "
        "Unset: reviews never expire.",
        "max_review_age_days = 365",
        field="max_review_age_days",
    ),
    Key(
        "rules",
        "table (rule id = severity)",
        {},
        "A severity per rule id; see [`[tool.aisupply.rules]`](#toolaisupplyrules) below. Rules not listed are errors.",
        'unsafe-load = "warn"\nlicense = "off"',
        field="rules",
    ),
    Key(
        "waive",
        "array of tables",
        (),
        "Exceptions to a rule, each with its reason; see [`[[tool.aisupply.waive]]`](#toolaisupplywaive) below.",
        'rule = "no-pickle"\npath = "legacy/*.pt"\nreason = "vendor model, replaced in Q3"',
        field="waivers",
    ),
    Key(
        "limits",
        "table (cap = positive integer)",
        {},
        "Resource caps that bound what one file can cost to inspect; see "
        "[`[tool.aisupply.limits]`](#toolaisupplylimits) below. Caps not listed keep their defaults.",
        "max_members = 50000",
        field="limit_overrides",
    ),
)

# -- [[tool.aisupply.signed]] (issue 15) -----------------------------------------------------------

SIGNED_TABLE = "[[tool.aisupply.signed]]"

TOP_LEVEL = (
    *TOP_LEVEL,
    Key(
        "signed",
        "array of tables",
        (),
        "Model folders and Hub repositories that must carry a valid OpenSSF model signature, and who "
        "must have signed them; see [`[[tool.aisupply.signed]]`](#toolaisupplysigned) below and the "
        "[`signature` rule](rules/signature.md).",
        'path = "models/bert"\npublic_key = "keys/models.pub"',
        field="signed",
    ),
)

SIGNED_KEYS: tuple[Key, ...] = (
    Key(
        "path",
        "string (path or glob of folders)",
        None,
        "The model folder that must be signed, relative to the project root, or a glob matching several "
        "(`models/*`: every folder directly under `models`). Each matching folder is one check. A path or "
        "glob that matches no folder fails. Give `path` or `hub`, not both.",
        'path = "models/*"',
    ),
    Key(
        "hub",
        "string (`org/name`)",
        None,
        "A Hugging Face model repository whose signature is verified at `pytest --aisupply-update`, for "
        "the commits pinned in code and recorded in the lockfile. Give `path` or `hub`, not both.",
        'hub = "acme/sentiment"',
    ),
    Key(
        "signature",
        "string (path)",
        "model.sig",
        "The signature file (a Sigstore bundle written by `model_signing sign`), relative to the model "
        "folder or the repository root. It is never part of the signed files.",
        'signature = "signature/model.sig"',
    ),
    Key(
        "public_key",
        "string (path to a PEM public key)",
        None,
        "Key mode: the signature must verify with this elliptic-curve public key (P-256, P-384 or "
        "P-521), a PEM file in the project. Give exactly one of `public_key`, `certificate_chain` or "
        "`identity`.",
        'public_key = "keys/models.pub"',
    ),
    Key(
        "certificate_chain",
        "string or array of strings (paths to PEM certificates)",
        None,
        "Certificate mode: the signing certificate carried in the signature must chain to these "
        "certificates (your CA's root and intermediates), be usable for signing, and not be expired.",
        'certificate_chain = ["keys/ca.pem"]',
    ),
    Key(
        "identity",
        "string",
        None,
        "Sigstore keyless mode: the identity (e-mail or workload URI) the signing certificate was issued "
        "to. Needs `issuer`.",
        'identity = "release-bot@acme.example"',
    ),
    Key(
        "issuer",
        "string (URL)",
        None,
        "Sigstore keyless mode: the OpenID Connect issuer that vouched for `identity`.",
        'issuer = "https://accounts.google.com"',
    ),
    Key(
        "trust_config",
        "string (path to a Sigstore client trust configuration, JSON)",
        None,
        "Sigstore keyless mode: a private Sigstore instance's trust configuration. Unset: the public "
        "Sigstore instance's trust root, which `sigstore` may refresh over the network.",
        'trust_config = "keys/sigstore-trust.json"',
    ),
    Key(
        "allow_unsigned",
        "array of strings (gitignore-style patterns)",
        (),
        "Files inside the folder that may be present without being signed, matched against paths "
        "relative to the folder (`*.md`, `logs/`). Any other unsigned file fails.",
        'allow_unsigned = ["README.md", "runs/"]',
    ),
)


def _signed_example(key: Key) -> str:
    """One complete ``[[tool.aisupply.signed]]`` entry showing ``key``."""
    target = [] if key.name in ("path", "hub") else ['path = "models/bert"']
    signers = {"public_key", "certificate_chain", "identity", "issuer", "trust_config"}
    if key.name in ("identity", "issuer", "trust_config"):
        signer = ['identity = "release-bot@acme.example"', 'issuer = "https://accounts.google.com"']
        signer = signer + ([key.example] if key.name == "trust_config" else [])
    elif key.name in signers:
        signer = [key.example]
    else:
        signer = ['public_key = "keys/models.pub"']
    lines = target + ([key.example] if key.name not in signers else []) + signer
    return f"{SIGNED_TABLE}\n" + "\n".join(lines) + "\n"


def _signed_section() -> list[str]:
    out = [
        "## `[[tool.aisupply.signed]]`",
        "",
        "Each `[[tool.aisupply.signed]]` table names a model folder (`path`) or Hub repository (`hub`) "
        "that must carry an OpenSSF model signature, and the one signer it must come from: a public key, "
        "a certificate chain, or a Sigstore identity and issuer. The `signature` rule checks it; see "
        "[the rule's page](rules/signature.md) for how to sign and what is verified when. Verification "
        'needs the `signing` extra (`pip install "pytest-aisupply[signing]"`).',
        "",
        *_summary_table(SIGNED_KEYS),
    ]
    for key in SIGNED_KEYS:
        out += _key_section(key, SIGNED_TABLE, "###")
    return out


# -- code rules: what a project declares about its own code -----------------------------------------
CODE_KEYS: tuple[Key, ...] = (
    Key(
        "local_path_names",
        "array of strings (Python names)",
        (),
        "Parameter and attribute names that always hold local folders in this project (for instance "
        "`ckpt_root` in `def load(ckpt_root)` or `cfg.ckpt_root`): the code rules do not read them as Hub "
        "repo ids. Built in already: `args.output_dir` and similar attributes, accelerate's "
        "`load_model_hook(models, input_dir)` and SageMaker's `model_fn(model_dir)`.",
        'local_path_names = ["ckpt_root", "export_dir"]',
        field="local_path_names",
    ),
    Key(
        "pinning_functions",
        "array of strings (function names, dotted or bare)",
        (),
        "Functions whose return value is a revision pinned to a 40-hex commit (for instance a helper "
        'that reads it from the lockfile): `revision=pinned_revision("org/model")` then passes '
        "`pinned-revision`. Name them as they are called (`pinned_revision`) or by their import path "
        "(`mypkg.hub.pinned_revision`). Listing a function is a statement that it pins.",
        'pinning_functions = ["mypkg.hub.pinned_revision"]',
        field="pinning_functions",
    ),
    Key(
        "argparse_defaults",
        "boolean",
        False,
        "Read an `args.x` value as its argparse `default` when no `choices=` bounds it. Off, only "
        "`choices=` (and the default) resolve such a value, since any other value can be passed on the "
        "command line; on, the project states that its scripts run with their defaults.",
        "argparse_defaults = true",
        field="argparse_defaults",
    ),
)
TOP_LEVEL = (*TOP_LEVEL, *CODE_KEYS)

# -- how many files one collected check covers (issue 18) ---------------------------------------------
TOP_LEVEL = (
    *TOP_LEVEL,
    Key(
        "granularity",
        'string: "file", "folder" or "rule"',
        "file",
        'How many subjects one collected check covers. `"file"`: one pytest item per rule and file '
        '(`aisupply::no-pickle::data/x.npy`). `"folder"`: one item per rule and folder '
        "(`aisupply::no-pickle::data/shard-07/`), for data folders of thousands of files where one item "
        'per file costs more in pytest than the check itself. `"rule"`: one item per rule. A grouped item '
        "checks every file it covers, fails when any of them fails and names each failing file with its "
        "findings; waivers, the summary counts, SARIF, the BOM and the lockfile stay per file. "
        "`--aisupply-granularity` overrides it for one run.",
        'granularity = "folder"',
        field="granularity",
    ),
)

_MiB = 1 << 20

#: ``[tool.aisupply.limits]``: the keys and defaults of ``pytest_aisupply.settings.limits.Limits``.
LIMIT_KEYS: tuple[Key, ...] = (
    Key(
        "max_depth",
        "integer (levels)",
        6,
        "How deep containers may be nested in each other (a zip in a tar in a gzip ...). A member "
        "nested deeper is not inspected, so the file fails.",
        "max_depth = 8",
    ),
    Key(
        "max_members",
        "integer (members)",
        20_000,
        "How many members of one zip or tar archive are inspected. An archive with more fails.",
        "max_members = 50000",
    ),
    Key(
        "max_decompressed_bytes",
        "integer (bytes)",
        8 << 30,
        "How many bytes may be decompressed while reading one file, all its compressed streams "
        "together (the default is 8 GiB).",
        "max_decompressed_bytes = 17179869184",
    ),
    Key(
        "bomb_ratio",
        "integer (ratio)",
        200,
        "How many times its compressed size a stream, or the whole file, may expand once it has "
        "produced `bomb_min_bytes`. A stream expanding more is treated as a decompression bomb and "
        "fails.",
        "bomb_ratio = 1000",
    ),
    Key(
        "bomb_min_bytes",
        "integer (bytes)",
        256 * _MiB,
        "The decompressed size below which `bomb_ratio` is not checked, since small files can "
        "compress very well (the default is 256 MiB).",
        "bomb_min_bytes = 1073741824",
    ),
    Key(
        "max_header_bytes",
        "integer (bytes)",
        100_000_000,
        "The largest header that is parsed whole: the JSON header of a safetensors file, the header of "
        "a `.npy` array. A larger header fails.",
        "max_header_bytes = 200000000",
    ),
    Key(
        "max_pickle_opcodes",
        "integer (opcodes)",
        50_000_000,
        "How many opcodes of one pickle stream (with the streams nested in it) are read. A longer "
        "stream cannot be shown safe, so it fails.",
        "max_pickle_opcodes = 100000000",
    ),
    Key(
        "max_code_file_bytes",
        "integer (bytes)",
        2 * _MiB,
        "The largest Python file, or code cells of a notebook, parsed with `ast` for the code rules "
        "(the default is 2 MiB). A larger file is a finding.",
        "max_code_file_bytes = 8388608",
    ),
    Key(
        "max_notebook_bytes",
        "integer (bytes)",
        20 * _MiB,
        "The largest Jupyter notebook file, outputs included, read to find its code cells (the default "
        "is 20 MiB). A larger notebook is a finding.",
        "max_notebook_bytes = 104857600",
    ),
)

RULE_KEY = Key(
    "<rule-id>",
    'string: "error", "warn" or "off"',
    "error",
    'How a rule\'s findings count. `"error"`: the check fails. `"warn"`: the check passes and '
    "its findings are shown as a pytest warning (`AisupplyWarning`), so `-W error::pytest.PytestWarning` "
    'or a `filterwarnings` entry can still make them fail. `"off"`: the rule collects no checks. '
    "Unknown rule ids are a configuration error, which catches typos; project rules contributed "
    "through the `pytest_aisupply_rules` hook can be listed too.",
    'unsafe-load = "warn"',
)

WAIVER_KEYS: tuple[Key, ...] = (
    Key(
        "rule",
        "string (rule id)",
        None,
        "The rule the exception is for. Unknown rule ids are a configuration error.",
        'rule = "no-pickle"',
        required=True,
    ),
    Key(
        "path",
        "string (gitignore-style pattern)",
        None,
        "Which subjects it covers, matched like a `.gitignore` line against the subject id, which is "
        "the last part of the check's node id (`aisupply::<rule>::<subject id>`): the project-relative "
        "path for files, code files and model-card folders, `model:<org>/<name>@<commit>` for locked Hub "
        "references in `integrity` and `license`, `model:<org>/<name>` in `source` (`dataset:` for "
        "datasets).",
        'path = "legacy/*.pt"',
        required=True,
    ),
    Key(
        "reason",
        "string",
        None,
        "Why the exception was granted, shown in the `aisupply` summary for every waived check. It must not be empty.",
        'reason = "vendor model, reviewed 2026-03-02, replaced by the Q3 release"',
        required=True,
    ),
    Key(
        "sha256",
        "string (64 lowercase hex characters)",
        None,
        "Pins the exception to one version of the file: when the file's sha256 differs, the waiver no "
        "longer applies and the failure says so. Use it for artifacts, so that a reviewed file cannot be "
        "swapped under its waiver.",
        'sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"',
    ),
    Key(
        "expires",
        "date (`2027-03-31`, or the same as a string)",
        None,
        "The last day the exception applies. After it the check fails again and the failure names the expired waiver.",
        "expires = 2027-03-31",
    ),
    Key(
        "line",
        "integer (1 or more)",
        None,
        "For code rules: the waiver covers only findings on this line of the file, not the whole file. "
        "An inline `# aisupply: ignore[<rule>] <reason>` comment on the line does the same from inside "
        "the code.",
        "line = 42",
    ),
)

#: A configuration with a typo, and the error pytest stops with (the tests check that they agree).
EXAMPLE_ERROR_TOML = """\
[tool.aisupply]
artifacts = ["models"]
alowed_licenses = ["mit"]
"""
#: What pytest prints for it (the known keys are the documented ones, which the tests keep equal
#: to the accepted ones).
EXAMPLE_ERROR = (
    "pyproject.toml:3: [tool.aisupply] alowed_licenses: unknown key (did you mean 'allowed_licenses'?); "
    "known keys: " + ", ".join(sorted(key.name for key in TOP_LEVEL))
)

_FULL_EXAMPLE = """\
[tool.aisupply]
artifacts = ["models", "data"]
code = ["src", "notebooks"]
exclude = ["third_party/**"]
pickle = "forbid"
allowed_licenses = ["apache-2.0", "mit", "bsd-3-clause"]
allowed_sources = ["google/*", "sentence-transformers/*"]
denied_sources = []
trust_remote_code = []
lockfile = "aisupply.lock"
max_review_age_days = 365

[tool.aisupply.rules]
unsafe-load = "warn"

[[tool.aisupply.waive]]
rule = "no-pickle"
path = "models/legacy_classifier.pkl"
reason = "vendor model, reviewed 2026-03-02; replaced by the Q3 release"
sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
expires = 2027-03-31
"""


def full_example() -> str:
    """A complete ``[tool.aisupply]`` configuration using most keys (valid; checked by the tests)."""
    return _FULL_EXAMPLE


def example_document(key: Key, table: str) -> str:
    """The key's example as a TOML document under its table (``table`` is a header such as
    ``[tool.aisupply]`` or ``[[tool.aisupply.waive]]``). A waiver key's example is a complete
    waiver: the required keys it does not show are added from the other keys' examples."""
    if key.name == "rules" and table == "[tool.aisupply]":
        return f"[tool.aisupply.rules]\n{key.example}\n"
    if key.name == "waive" and table == "[tool.aisupply]":
        return f"[[tool.aisupply.waive]]\n{key.example}\n"
    if key.name == "limits" and table == "[tool.aisupply]":
        return f"{LIMITS_TABLE}\n{key.example}\n"
    if key.name == "signed" and table == "[tool.aisupply]":
        return f"{SIGNED_TABLE}\n{key.example}\n"
    if table == SIGNED_TABLE:
        return _signed_example(key)
    if table == WAIVE_TABLE:
        lines = [other.example for other in WAIVER_KEYS if other.required]
        if not key.required:
            lines.append(key.example)
        return f"{table}\n" + "\n".join(lines) + "\n"
    return f"{table}\n{key.example}\n"


def toml_value(value: object) -> str:
    """A default value as TOML text (None: ``unset``)."""
    if value is None:
        return UNSET
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{name} = {toml_value(item)}" for name, item in value.items()) + "}"
    raise TypeError(f"no TOML form for {value!r}")


def _default_text(key: Key) -> str:
    if key.required:
        return "required"
    if key.default is None:
        return UNSET
    return f"`{toml_value(key.default)}`"


def _key_section(key: Key, table: str, level: str) -> list[str]:
    return [
        f"{level} `{key.name}`",
        "",
        f"- Type: {key.toml_type}",
        f"- Default: {_default_text(key)}",
        "",
        key.description,
        "",
        "```toml",
        example_document(key, table).rstrip("\n"),
        "```",
        "",
    ]


def _summary_table(keys: Sequence[Key], anchor_prefix: str = "") -> list[str]:
    lines = ["| Key | Type | Default |", "| --- | --- | --- |"]
    for key in keys:
        anchor = anchor_prefix + key.name.lower()
        lines.append(f"| [`{key.name}`](#{anchor}) | {key.toml_type} | {_default_text(key)} |")
    return [*lines, ""]


def render_markdown(rules: Sequence[tuple[str, str]]) -> str:
    """The configuration reference page. ``rules`` are ``(id, summary)`` pairs (the built-in rules,
    given by the caller: settings do not import the rules), each linked to its page under ``rules/``."""
    out: list[str] = [
        "# Configuration reference",
        "",
        f"<!-- Generated from src/pytest_aisupply/settings/schema.py by `{GENERATOR}`; do not edit by hand. -->",
        "",
        "pytest-aisupply is configured in the `[tool.aisupply]` table of the `pyproject.toml` in pytest's "
        "rootdir (never the current working directory). The table's presence turns the checks on; "
        "`pytest --aisupply` runs them with the defaults below when there is no table. The table is read "
        "once per session and validated completely before anything is collected: an unknown key, a value "
        "of the wrong type, a bad glob or date, or an unknown rule id stops pytest with exit code 4 and a "
        "single line naming the file, the line and the key. For example, this table",
        "",
        "```toml",
        EXAMPLE_ERROR_TOML.rstrip("\n"),
        "```",
        "",
        "stops pytest with",
        "",
        "```text",
        f"ERROR: {EXAMPLE_ERROR}",
        "```",
        "",
        "Paths and patterns are relative to the folder holding `pyproject.toml` (the project root).",
        "",
        "## `[tool.aisupply]`",
        "",
        *_summary_table(TOP_LEVEL),
    ]
    for key in TOP_LEVEL:
        out += _key_section(key, "[tool.aisupply]", "###")
    out += [
        "## `[tool.aisupply.rules]`",
        "",
        *_key_section(RULE_KEY, "[tool.aisupply.rules]", "###"),
        "The built-in rule ids:",
        "",
        "| Rule | Checks that |",
        "| --- | --- |",
    ]
    for rule_id, summary in rules:
        out.append(f"| [`{rule_id}`](rules/{rule_id}.md) | {summary} |")
    out += [
        "",
        "## `[[tool.aisupply.waive]]`",
        "",
        "Each `[[tool.aisupply.waive]]` table is one exception: findings of `rule` on the subjects matching "
        "`path` do not fail, and the check is reported as *waived* with its reason in the `aisupply` "
        "summary. A waiver that does not match any finding does nothing. An expired waiver, or one whose "
        "`sha256` no longer matches the file, stops applying, and the failure says why.",
        "",
        *_summary_table(WAIVER_KEYS),
    ]
    for key in WAIVER_KEYS:
        out += _key_section(key, WAIVE_TABLE, "###")
    out += [
        "## `[tool.aisupply.limits]`",
        "",
        "Every reader works within these caps, so that one file cannot cost unbounded time, memory or "
        "disk, whatever it claims about itself. Hitting a cap is a finding that names the cap and how to "
        "raise it, never a silent pass: the file could not be fully inspected. Raise a cap only for "
        "files you expect to be that large.",
        "",
        *_summary_table(LIMIT_KEYS),
    ]
    for key in LIMIT_KEYS:
        out += _key_section(key, LIMITS_TABLE, "###")
    out += _signed_section()
    out += [
        "## A complete example",
        "",
        "```toml",
        full_example().rstrip("\n"),
        "```",
        "",
    ]
    return "\n".join(out)
