"""Notebook cells as IPython runs them, as Python with the cell's own line numbers.

IPython turns its special syntax (``%magic``, ``!cmd`` with ``\\`` continuations, ``x = !cmd``,
``obj?``, ``%%cell`` magics) into calls such as ``get_ipython().system('...')`` before it parses a
cell, and a cell that is a single line may also be an *automagic* call (``pip install x``).
:func:`transform_cell` does the same, with IPython's own transformers when IPython is importable
and with :func:`builtin_transform` (an equivalent written here) when it is not; the two are tested
to agree. Unlike IPython, it keeps every line where it was: a transformation that folds several
lines into one is followed by blank lines, so a finding's line is the line in the cell.

Pasted prompts are stripped as IPython's cleanup does (``>>> ``/``... `` of the Python shell and
doctests, ``In [1]: ``/``   ...: `` of IPython's own), so a cell pasted from a console reads as the
code it shows.

Cell magics whose body IPython runs as Python (``%%time``, ``%%capture`` ...) keep their body as
Python; the bodies of other cell magics (``%%bash``, ``%%writefile`` ...) are not Python and are
blanked.

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import builtins
import functools
import keyword
import re
import textwrap
from collections.abc import Callable, Container
from typing import Any

#: Cell magics whose body is Python that IPython itself runs (through ``run_cell``/``ast.parse``).
PYTHON_BODY_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "code_wrap"})

#: Line magics of IPython 9 and ipykernel, and IPython's default shell aliases: the names that
#: automagic calls without a ``%``. A test checks this list against the installed IPython.
BUILTIN_LINE_MAGICS = frozenset(
    """alias alias_magic autoawait autocall automagic bookmark cd code_wrap colors conda config debug
    dhist dirs doctest_mode edit env gui history killbgscripts load load_ext loadpy logoff logon
    logstart logstate logstop lsmagic macro magic mamba matplotlib micromamba notebook page pastebin
    pdb pdef pdoc pfile pinfo pinfo2 pip popd pprint precision prun psearch psource pushd pwd pycat
    pylab quickref recall rehashx reload_ext rerun reset reset_selective run save sc set_env sx system
    tb time timeit unalias unload_ext uv who who_ls whos xdel xmode
    mkdir rmdir mv rm cp cat ls ll lf lk ldir lx
    autosave clear connect_info less man more qtconsole""".split()  # noqa: SIM905
)
#: What ipykernel adds to IPython's own line magics (a kernel runs notebooks, not a terminal).
KERNEL_LINE_MAGICS = frozenset({"autosave", "clear", "connect_info", "less", "man", "more", "qtconsole"})

_SHADOWING = frozenset(dir(builtins)) | frozenset(keyword.kwlist)
_LOOP_LIMIT = 500  # IPython's own bound on repeated transformations


class CellSyntaxError(ValueError):
    """IPython itself could not transform the cell."""


@functools.cache
def ipython_line_magics() -> frozenset[str] | None:
    """The automagic names of the installed IPython (plus ipykernel's), or None without IPython."""
    try:
        from IPython.core import alias
        from IPython.core import magics as magic_classes
        from IPython.core.magic import Magics
    except ImportError:
        return None
    names: set[str] = set(KERNEL_LINE_MAGICS)
    for attribute in dir(magic_classes):
        candidate = getattr(magic_classes, attribute)
        if isinstance(candidate, type) and issubclass(candidate, Magics):
            table = getattr(candidate, "magics", None)
            if isinstance(table, dict):
                names.update(table.get("line", {}))
    names.update(name for name, _ in alias.default_aliases())
    return frozenset(names)


# -- shared steps -------------------------------------------------------------------------------


def _lines(cell: str) -> list[str]:
    if not cell.endswith("\n"):
        cell += "\n"
    return cell.splitlines(keepends=True)


def _cleanup(lines: list[str]) -> tuple[list[str], int]:
    """IPython drops leading blank lines and the common indentation; we keep the blanks (counted)."""
    leading = 0
    while leading < len(lines) and (not lines[leading] or lines[leading].isspace()):
        leading += 1
    if leading == len(lines):
        return lines, 0
    body = textwrap.dedent("".join(lines[leading:])).splitlines(keepends=True)
    return ["\n"] * leading + body, leading


def _padded(before: list[str], after: list[str], start: int) -> list[str]:
    """``after`` is ``before`` with lines from ``start`` on folded into one: put blanks back."""
    missing = len(before) - len(after)
    if missing <= 0:
        return after
    return after[: start + 1] + ["\n"] * missing + after[start + 1 :]


def _automagic(line: str, shadowed: Container[str], magics: frozenset[str]) -> str | None:
    """The prefilter's automagic on a one-line cell: ``pip install x`` -> a line-magic call."""
    match = re.match(r"(\s*)([,;/%]|!!?|\?\??)?\s*(%{0,2}[\w.*]*)(.*?$|$)", line.rstrip("\n"))
    if match is None or match[2]:
        return None
    pre, name, rest = match[1], match[3].strip(), match[4].lstrip()
    if not name or rest[:1] in ("=", ",") or name not in magics:
        return None
    if name.split(".", 1)[0] in _SHADOWING or name.split(".", 1)[0] in shadowed:
        return None
    magic, _, args = f"{name} {rest}".partition(" ")
    return f"{pre}get_ipython().run_line_magic({magic.lstrip('%')!r}, {args!r})\n"


def _transform(
    cell: str,
    token_step: Callable[[list[str]], tuple[list[str], int] | None],
    shadowed: Container[str],
    magics: frozenset[str],
    prompts: Callable[[list[str]], list[str]],
) -> list[str]:
    lines, leading = _cleanup(_lines(cell))
    if leading < len(lines):
        lines = lines[:leading] + prompts(lines[leading:])
    count = len(cell.splitlines()) or 1
    if leading < len(lines) and lines[leading].startswith("%%") and not re.match(r"%%\w+\?", lines[leading]):
        name = lines[leading][2:].rstrip().partition(" ")[0]
        head = ["\n"] * (leading + 1)
        body = "".join(lines[leading + 1 :])
        if name in PYTHON_BODY_CELL_MAGICS and body.strip():
            inner = _transform(body, token_step, shadowed, magics, prompts)
            # the body of %%time is its own cell for IPython: no automagic on a one-line body
            return _fit(head + inner, count)
        return _fit(head + ["\n"] * (len(lines) - leading - 1), count)
    folded = 0
    if not _MAY_HAVE_SYNTAX.search("".join(lines)):
        token_step = _nothing_to_transform  # the token transformers could not match anything
    for _ in range(_LOOP_LIMIT):
        step = token_step(lines)
        if step is None:
            break
        changed, start = step
        folded += len(lines) - len(changed)
        lines = _padded(lines, changed, start)
    else:
        raise CellSyntaxError(f"IPython syntax still changing after {_LOOP_LIMIT} transformations")
    # IPython applies automagic when the transformed cell (without leading blanks) is one line.
    if len(lines) - leading - folded == 1 and leading < len(lines):
        magic = _automagic(lines[leading], shadowed, magics)
        if magic is not None:
            lines[leading] = magic
    return _fit(lines, count)


#: What any of IPython's token transformers needs to match: an escape at the start of a line
#: (``!cmd``, ``%magic``, ``?obj``, ``,``/``;``/``/`` autocall), a ``?`` anywhere (``obj?``), or an
#: assignment from ``!``/``%`` (``x = !ls``). Cells without any are plain Python.
_MAY_HAVE_SYNTAX = re.compile(r"^[ \t]*[!?%,;/]|\?|=\s*[!%]", re.MULTILINE)


def _nothing_to_transform(lines: list[str]) -> tuple[list[str], int] | None:
    return None


def _fit(lines: list[str], count: int) -> list[str]:
    text = [line.rstrip("\r\n") for line in lines]
    return (text + [""] * count)[:count]


# -- IPython's own transformers --------------------------------------------------------------------


def _ipython_token_step(lines: list[str]) -> tuple[list[str], int] | None:
    """One run of IPython's ``do_one_token_transform``, also saying where it folded lines."""
    from IPython.core.inputtransformer2 import TokenTransformBase, TransformerManager, make_tokens_by_line

    tokens_by_line = make_tokens_by_line(lines)
    candidates = []
    manager: Any = TransformerManager()  # type: ignore[no-untyped-call]
    for transformer_class in manager.token_transformers:
        found = transformer_class.find(tokens_by_line)
        if found:
            candidates.append(found)
    for transformer in sorted(candidates, key=TokenTransformBase.sortby):
        try:
            return transformer.transform(lines), transformer.start_line
        except SyntaxError:
            continue
    return None


def _ipython_prompts(lines: list[str]) -> list[str]:
    """IPython's own cleanup of pasted ``>>>`` and ``In [1]:`` prompts."""
    from IPython.core.inputtransformer2 import classic_prompt, ipython_prompt

    stripped: list[str] = ipython_prompt(classic_prompt(lines))
    return stripped


def ipython_transform(cell: str, shadowed: Container[str] = ()) -> list[str]:
    """The cell as IPython transforms it, one output line per cell line (IPython must be importable)."""
    magics = ipython_line_magics()
    if magics is None:
        raise ImportError("IPython is not installed")
    try:
        return _transform(cell, _ipython_token_step, shadowed, magics, _ipython_prompts)
    except CellSyntaxError:
        raise
    except (SyntaxError, RuntimeError, AssertionError, ValueError, IndexError) as exc:
        # IPython's tokenizer gives up on the cell (an inconsistent dedent ...): so does IPython
        raise CellSyntaxError(f"{type(exc).__name__}: {exc}") from exc


# -- the built-in equivalent -----------------------------------------------------------------------


class _Logical:
    """One logical line: its code characters with strings blanked, and whether it has a comment."""

    __slots__ = ("closed", "code", "comment_after", "has_comment", "last_line")

    def __init__(self) -> None:
        self.code: list[tuple[int, int, str]] = []  # (line, col, char) of code outside strings/comments
        self.has_comment = False
        self.comment_after = False  # a comment follows the last code character
        self.closed = True  # False: brackets or a string still open at the end of the cell
        self.last_line = -1  # the last physical line of the logical line


_PS1_ANYWHERE = re.compile(r"\s*>>>")  # a doctest prompt, possibly indented
_PS1 = re.compile(r"\s*>>>[ \t]?")
_PS2 = re.compile(r"\s*\.\.\.[ \t]?")
_TRIPLE_QUOTE = re.compile(r"(?<!\\)(\"\"\"|\'\'\')")
_STRING_PREFIX = re.compile(r"[rubfRUBF]*")
_IPYTHON_PROMPT = re.compile(r"((\[nav\]|\[ins\])? )?In \[\d+\]: |\s*\.{3,}: ?")


def _without(prompt: re.Pattern[str], line: str) -> str:
    match = prompt.match(line)
    return line[match.end() :] if match else line


def _literal_lines(lines: list[str]) -> list[bool]:
    """Lines inside a triple-quoted string that opened without a prompt before it (IPython leaves
    ``>>>`` in a docstring alone); like IPython, it only pairs quotes, it does not tokenize."""
    literal: list[bool] = []
    open_quote = ""
    keep = False
    seen_prompt = False
    for line in lines:
        literal.append(bool(open_quote) and keep)
        for match in _TRIPLE_QUOTE.finditer(line):
            if not open_quote:
                open_quote = match[1]
                before = line[: match.start()]
                rest = _without(_PS2, _without(_PS1, before))
                prompted = rest != before and seen_prompt
                keep = not prompted and bool(_STRING_PREFIX.fullmatch(rest.strip()))
                literal[-1] = keep
            elif match[1] == open_quote:
                open_quote = ""
                keep = False
        seen_prompt = seen_prompt or bool(_PS1_ANYWHERE.match(line))
    return literal


def _strip_classic_prompts(lines: list[str]) -> list[str]:
    """``>>> ``/``... `` prompts, indented ones too (doctests), when a ``>>>`` line is outside a
    string; each run of stripped lines is dedented."""
    literal = _literal_lines(lines)
    if not any(not kept and _PS1_ANYWHERE.match(line) for line, kept in zip(lines, literal, strict=True)):
        return lines
    result: list[str] = []
    start = 0
    while start < len(lines):
        end = start
        while end < len(lines) and literal[end] == literal[start]:
            end += 1
        segment = lines[start:end]
        if not literal[start]:
            stripped = [_without(_PS1, line) if _PS1.match(line) else _without(_PS2, line) for line in segment]
            if stripped != segment:
                segment = textwrap.dedent("".join(stripped)).splitlines(keepends=True)
        result.extend(segment)
        start = end
    return result


def _builtin_prompts(lines: list[str]) -> list[str]:
    """What IPython's cleanup does with pasted prompts: the Python shell's, then IPython's own
    (stripped from every line when the first line, or the second, has one)."""
    lines = _strip_classic_prompts(lines)
    if _IPYTHON_PROMPT.match(lines[0]) or (len(lines) > 1 and _IPYTHON_PROMPT.match(lines[1])):
        lines = [_without(_IPYTHON_PROMPT, line) for line in lines]
    return lines


def _logical_lines(lines: list[str]) -> list[_Logical]:
    """Split physical lines into logical ones the way the tokenizer does (brackets, backslashes,
    triple-quoted strings); characters inside strings show as ``"`` and comments are dropped."""
    result: list[_Logical] = []
    current: _Logical | None = None
    depth = 0
    quote = ""  # the open string's quote ('', "'", '"', "'''", '"""')
    for number, line in enumerate(lines):
        col = 0
        continued = False
        if current is None:
            current = _Logical()
        while col < len(line):
            char = line[col]
            if quote:
                if char == "\\":
                    col += 2
                    continue
                if line.startswith(quote, col):
                    col += len(quote)
                    current.code.append((number, col - 1, '"'))
                    quote = ""
                    continue
                if char == "\n" and len(quote) == 1:
                    quote = ""  # an unterminated one-line string ends with its line
                col += 1
                continue
            if char in " \t\f\r\n":
                col += 1
                continue
            if char == "#":
                current.has_comment = True
                current.comment_after = True
                break
            if char == "\\" and line[col + 1 :].strip() == "":
                continued = True
                break
            if char in "'\"":
                quote = char * 3 if line.startswith(char * 3, col) else char
                current.code.append((number, col, '"'))
                col += len(quote)
                continue
            if char in "([{":
                depth += 1
            elif char in ")]}":
                depth = max(depth - 1, 0)
            current.code.append((number, col, char))
            current.comment_after = False
            col += 1
        current.last_line = number
        if quote and len(quote) == 1 and not line.endswith("\\\n"):
            quote = ""
        if not quote and not continued and depth == 0:
            if current.code or current.has_comment:
                result.append(current)
            current = None
    if current is not None and (current.code or current.has_comment):
        current.closed = False
        result.append(current)
    return result


def _continued_end(lines: list[str], start: int) -> int:
    end = start
    while lines[end].endswith("\\\n"):
        end += 1
        if end >= len(lines):
            break
    return end


def _joined(lines: list[str], line: int, col: int, end: int) -> str:
    parts = [lines[line][col:], *lines[line + 1 : end + 1]]
    return " ".join([part.rstrip()[:-1] for part in parts[:-1]] + [parts[-1].rstrip()])


def _help_call(target: str, escape: str) -> str:
    method = "pinfo2" if escape == "??" else "psearch" if "*" in target else "pinfo"
    name, _, argument = f"{method} {target}".partition(" ")
    return f"get_ipython().run_line_magic({name.lstrip('%')!r}, {argument!r})"


def _escaped(text: str) -> str | None:
    """``!cmd``, ``%magic``, ``?obj`` ... as IPython's call; None for an escape it rejects."""
    escape = text[:2] if text[:2] in ("!!", "??") else text[:1]
    content = text[len(escape) :]
    name, _, args = content.partition(" ")
    if escape == "!":
        return f"get_ipython().system({content!r})"
    if escape == "!!":
        return f"get_ipython().getoutput({content!r})"
    if escape in ("?", "??"):
        return _help_call(content, escape) if content else "get_ipython().show_usage()"
    if escape == "%":
        return f"get_ipython().run_line_magic({name!r}, {args!r})"
    if escape == ",":
        return '{}("{}")'.format(name, '", "'.join(args.split()))
    if escape == ";":
        return f'{name}("{args}")'
    if not name:
        return None  # "/" with no callable: IPython gives up on this one
    return "{}({})".format(name, ", ".join(args.split()))


_HELP_END = re.compile(r"(%{0,2}(?!\d)[\w*]+(\.(?!\d)[\w*]+|\[-?[0-9]+\])*)(\?\??)$")
_NOT_PLAIN_ASSIGN = set("=<>!+-*/%&|^@:~")


def _assign_index(code: list[tuple[int, int, str]]) -> int | None:
    depth = 0
    for index, (_, _, char) in enumerate(code):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth = max(depth - 1, 0)
        elif char == "=" and depth == 0:
            before = code[index - 1][2] if index else ""
            after = code[index + 1][2] if index + 1 < len(code) else ""
            adjacent_before = index and code[index - 1][:2] == (code[index][0], code[index][1] - 1)
            adjacent_after = index + 1 < len(code) and code[index + 1][:2] == (code[index][0], code[index][1] + 1)
            if (adjacent_before and before in _NOT_PLAIN_ASSIGN) or (adjacent_after and after == "="):
                continue
            return index
    return None


def _builtin_token_step(lines: list[str]) -> tuple[list[str], int] | None:
    """The first piece of IPython syntax in the cell, rewritten (what IPython's token transformers do)."""
    candidates: list[tuple[int, int, int, Callable[[], tuple[list[str], int] | None]]] = []
    found_kinds: set[str] = set()
    for logical in _logical_lines(lines):
        code = logical.code
        if not code:
            continue
        line, col, first = code[0]
        if "assign" not in found_kinds and (index := _assign_index(code)) is not None and index + 1 < len(code):
            target_line, target_col, char = code[index + 1]
            statement_start = lines[code[index][0]].strip().startswith("=")
            following = lines[target_line][target_col + 1 :].lstrip()
            if char == "%" and following[:1] and (following[0].isidentifier() or following[0] == "_"):
                found_kinds.add("assign")
                candidates.append((target_line, target_col, 10, _assign_call(lines, target_line, target_col, "%")))
            elif char == "!" and not statement_start:
                found_kinds.add("assign")
                candidates.append((target_line, target_col, 10, _assign_call(lines, target_line, target_col, "!")))
        if "escape" not in found_kinds and first in "!?%,;/":
            found_kinds.add("escape")
            candidates.append((line, col, 10, _escape_call(lines, line, col)))
        # IPython's help syntax needs "?" as the token before the logical line's end: no comment
        # after it; in brackets left open at the end of the cell, only if it is on the last line
        help_end = code[-1][2] == "?" and not logical.comment_after
        if not logical.closed:
            help_end = help_end and code[-1][0] == logical.last_line == len(lines) - 1
        if "help" not in found_kinds and len(code) > 1 and help_end:
            found_kinds.add("help")
            last_line = code[-1][0]
            candidates.append((line, col, 5, _help_end_call(lines, line, col, last_line)))
        if len(found_kinds) == 3:
            break
    for _, _, _, apply in sorted(candidates, key=lambda entry: entry[:3]):
        result = apply()
        if result is not None:
            return result
    return None


def _assign_call(lines: list[str], line: int, col: int, escape: str) -> Callable[[], tuple[list[str], int] | None]:
    def apply() -> tuple[list[str], int] | None:
        end = _continued_end(lines, line)
        rhs = _joined(lines, line, col, end)
        if escape == "%":
            name, _, args = rhs[1:].partition(" ")
            call = f"get_ipython().run_line_magic({name!r}, {args!r})"
        else:
            call = f"get_ipython().getoutput({rhs[1:]!r})"
        return [*lines[:line], lines[line][:col] + call + "\n", *lines[end + 1 :]], line

    return apply


def _escape_call(lines: list[str], line: int, col: int) -> Callable[[], tuple[list[str], int] | None]:
    def apply() -> tuple[list[str], int] | None:
        end = _continued_end(lines, line)
        call = _escaped(_joined(lines, line, col, end))
        if call is None:
            return None
        return [*lines[:line], lines[line][:col] + call + "\n", *lines[end + 1 :]], line

    return apply


def _help_end_call(lines: list[str], line: int, col: int, last: int) -> Callable[[], tuple[list[str], int] | None]:
    def apply() -> tuple[list[str], int] | None:
        piece = "".join(lines[line : last + 1])
        match = _HELP_END.search(piece[col:])
        if match is None:
            return None
        call = _help_call(match[1], match[3])
        return [*lines[:line], piece[:col] + call + "\n", *lines[last + 1 :]], line

    return apply


def builtin_transform(cell: str, shadowed: Container[str] = ()) -> list[str]:
    """IPython's transformation of a cell without IPython, one output line per cell line."""
    try:
        return _transform(cell, _builtin_token_step, shadowed, BUILTIN_LINE_MAGICS, _builtin_prompts)
    except CellSyntaxError:
        raise
    except (IndexError, ValueError, RecursionError) as exc:  # fail closed: the cell is not checked
        raise CellSyntaxError(f"{type(exc).__name__}: {exc}") from exc


def transform_cell(cell: str, shadowed: Container[str] = ()) -> list[str]:
    """The cell as Python, one line per cell line: with IPython when it is importable."""
    try:
        return ipython_transform(cell, shadowed)
    except ImportError:
        return builtin_transform(cell, shadowed)
