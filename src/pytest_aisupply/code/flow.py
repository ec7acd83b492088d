"""Which definitions of a name can reach each place it is read: a small intraprocedural data-flow.

Each scope (the module, every function, every class body) is walked statement by statement. A
name's set of reaching definitions is replaced by an assignment, merged where branches (``if``,
``try``, ``match``) join, and merged with the loop's entry where a loop can repeat or end early
(``break``, ``continue``); a path that ends in ``return`` or ``raise`` adds nothing after it. A name
that the scope never binds reads every binding of the enclosing scope (a function can run after any
of them). So ``rev = args.revision`` followed by ``if safe: rev = SHA`` reaches a later
``from_pretrained(..., revision=rev)`` with both values, and the rules treat it as unpinned.

A definition is the assigned expression, the :class:`ast.arg` of a parameter, or ``None`` when
the value is unknown (unpacking, augmented assignment, ``except ... as``, imports).

PYTEST_DONT_REWRITE (library code without test asserts)
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field

Definition = ast.expr | ast.arg | None
Env = dict[str, frozenset[int]]  # name -> ids of definitions (ids into FlowFacts.definitions)

_MAX_DEFINITIONS = 64  # per name and place: beyond this a value is "unknown" anyway


@dataclass
class FlowFacts:
    definitions: list[Definition] = field(default_factory=list)
    #: id(ast.Name read) -> indexes into ``definitions`` that can reach it
    reaching: dict[int, frozenset[int]] = field(default_factory=dict)
    #: id(assigned value) -> its annotation (``x: ORTModel = ...``)
    annotations: dict[int, ast.expr] = field(default_factory=dict)
    #: id(ast.arg) -> the function it belongs to
    parameter_owner: dict[int, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda] = field(default_factory=dict)

    def reaching_definitions(self, node: ast.Name) -> list[Definition] | None:
        """What can reach this read; None when the flow never saw it (not a read of this file)."""
        found = self.reaching.get(id(node))
        if found is None:
            return None
        return [self.definitions[index] for index in sorted(found)]


def analyse(tree: ast.Module) -> FlowFacts:
    facts = FlowFacts()
    _Scope(facts, tree.body, None, ()).run()
    return facts


def _bound_names(body: Iterable[ast.stmt]) -> set[str]:
    """Every name a scope binds (not inside nested functions, classes or comprehensions)."""
    names: set[str] = set()
    pending: list[ast.AST] = list(body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            pending.extend(node.decorator_list)
            continue
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        pending.extend(ast.iter_child_nodes(node))
    return names


class _Scope:
    def __init__(
        self,
        facts: FlowFacts,
        body: list[ast.stmt],
        parent: _Scope | None,
        parameters: tuple[ast.arg, ...],
        is_class: bool = False,
    ) -> None:
        self.facts = facts
        self.is_class = is_class
        self.body = body
        self.parent = parent
        self.local = _bound_names(body) | {argument.arg for argument in parameters}
        self.parameters = parameters
        self.all_definitions: dict[str, set[int]] = {}
        self.nested: list[tuple[list[ast.stmt], tuple[ast.arg, ...], bool]] = []
        self.loop_exits: list[list[Env]] = []
        self.loop_heads: list[list[Env]] = []

    # definitions -------------------------------------------------------------------------------
    def _define(self, env: Env, name: str, definition: Definition) -> None:
        index = len(self.facts.definitions)
        self.facts.definitions.append(definition)
        env[name] = frozenset({index})
        self.all_definitions.setdefault(name, set()).add(index)

    def _bind(self, env: Env, target: ast.expr, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            self._define(env, target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            values: list[ast.expr] | None = None
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(target.elts):
                values = value.elts
            for position, element in enumerate(target.elts):
                self._bind(env, element, values[position] if values is not None else None)
        elif isinstance(target, ast.Starred):
            self._bind(env, target.value, None)
        else:
            self._reads(env, target)  # obj.attr = ..., obj[key] = ...: the object is read

    def _bind_alternatives(self, env: Env, target: ast.expr, values: list[ast.expr]) -> None:
        """``for x in ("a", "b")``: x is one of the elements."""
        if not isinstance(target, ast.Name) or not values:
            self._bind(env, target, None)
            return
        indexes: set[int] = set()
        for value in values:
            self._define(env, target.id, value)
            indexes |= env[target.id]
        env[target.id] = frozenset(indexes)

    # reads ----------------------------------------------------------------------------------------
    def _reads(self, env: Env, node: ast.AST) -> None:
        pending: list[ast.AST] = [node]
        while pending:
            current = pending.pop()
            if isinstance(current, ast.Name) and isinstance(current.ctx, ast.Load):
                self._record(env, current)
            elif isinstance(current, ast.NamedExpr):
                pending.append(current.value)
                self._define(env, current.target.id, current.value)
                continue
            elif isinstance(current, ast.Lambda):
                self.nested.append(([ast.Return(value=current.body)], _parameters(current.args), False))
                self._own_parameters(current)
                pending.extend(current.args.defaults)
                pending.extend(default for default in current.args.kw_defaults if default is not None)
                continue
            pending.extend(ast.iter_child_nodes(current))

    def _record(self, env: Env, node: ast.Name) -> None:
        if node.id in env:
            found = env[node.id]
        elif node.id in self.local:
            found = frozenset({self._unknown()})  # read before any binding on this path
        else:
            found = self._outer(node.id)
        previous = self.facts.reaching.get(id(node), frozenset())
        merged = previous | found
        if len(merged) > _MAX_DEFINITIONS:
            merged = frozenset({self._unknown()})
        self.facts.reaching[id(node)] = merged

    def _unknown(self) -> int:
        self.facts.definitions.append(None)
        return len(self.facts.definitions) - 1

    def _outer(self, name: str) -> frozenset[int]:
        scope = self.parent
        while scope is not None:
            if scope.is_class:  # methods do not see class-body names
                scope = scope.parent
                continue
            if name in scope.local:
                return frozenset(scope.all_definitions.get(name, ())) or frozenset({self._unknown()})
            scope = scope.parent
        return frozenset()  # a builtin or an import the visitor resolves itself

    def _own_parameters(self, function: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        for argument in _parameters(function.args):
            self.facts.parameter_owner[id(argument)] = function

    # statements -----------------------------------------------------------------------------------
    def run(self) -> None:
        env: Env = {}
        for parameter in self.parameters:
            self._define(env, parameter.arg, parameter)
        self._block(self.body, env)
        for body, parameters, is_class in self.nested:
            _Scope(self.facts, body, self, parameters, is_class).run()

    def _block(self, body: list[ast.stmt], env: Env) -> Env | None:
        current: Env | None = env
        for statement in body:
            if current is None:
                return None
            current = self._statement(statement, current)
        return current

    def _statement(self, node: ast.stmt, env: Env) -> Env | None:
        if isinstance(node, ast.Assign):
            self._reads(env, node.value)
            for target in node.targets:
                self._bind(env, target, node.value)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self._reads(env, node.value)
                self.facts.annotations[id(node.value)] = node.annotation
                self._bind(env, node.target, node.value)
        elif isinstance(node, ast.AugAssign):
            self._reads(env, node.value)
            if not isinstance(node.target, ast.Name):
                self._reads(env, node.target)
            self._bind(env, node.target, None)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                self._reads(env, decorator)
            self._reads(env, node.args)
            self._own_parameters(node)
            self.nested.append((node.body, _parameters(node.args), False))
            self._define(env, node.name, None)
        elif isinstance(node, ast.ClassDef):
            for part in [*node.decorator_list, *node.bases, *(keyword.value for keyword in node.keywords)]:
                self._reads(env, part)
            self.nested.append((node.body, (), True))
            self._define(env, node.name, None)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                self._define(env, (alias.asname or alias.name).split(".")[0], None)
        elif isinstance(node, ast.If):
            self._reads(env, node.test)
            return _merge(self._block(node.body, dict(env)), self._block(node.orelse, dict(env)))
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self._reads(env, node.iter)
            return self._loop(node, env)
        elif isinstance(node, ast.While):
            self._reads(env, node.test)
            return self._loop(node, env)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                self._reads(env, item.context_expr)
                if item.optional_vars is not None:
                    self._bind(env, item.optional_vars, item.context_expr)
            return self._block(node.body, env)
        elif isinstance(node, (ast.Try, getattr(ast, "TryStar", ast.Try))):
            return self._try(node, env)  # type: ignore[arg-type]
        elif isinstance(node, ast.Match):
            self._reads(env, node.subject)
            outcomes: list[Env | None] = [dict(env)]  # no case may match
            for case in node.cases:
                branch = dict(env)
                self._reads(branch, case.pattern)
                for name in _pattern_names(case.pattern):
                    self._define(branch, name, None)
                if case.guard is not None:
                    self._reads(branch, case.guard)
                outcomes.append(self._block(case.body, branch))
            return _merge(*outcomes)
        elif isinstance(node, (ast.Return, ast.Raise)):
            self._reads(env, node)
            return None
        elif isinstance(node, ast.Break):
            if self.loop_exits:
                self.loop_exits[-1].append(dict(env))
            return None
        elif isinstance(node, ast.Continue):
            if self.loop_heads:
                self.loop_heads[-1].append(dict(env))
            return None
        else:
            self._reads(env, node)
        return env

    def _loop(self, node: ast.For | ast.AsyncFor | ast.While, env: Env) -> Env | None:
        entry = dict(env)
        self.loop_exits.append([])
        self.loop_heads.append([])
        head: Env = dict(entry)
        end: Env | None = None
        for _ in range(2):  # twice: values from the end of one iteration reach the next
            body_env = dict(head)
            if isinstance(node, (ast.For, ast.AsyncFor)):
                elements = node.iter.elts if isinstance(node.iter, (ast.Tuple, ast.List, ast.Set)) else []
                if elements and not any(isinstance(element, ast.Starred) for element in elements):
                    self._bind_alternatives(body_env, node.target, list(elements))
                else:
                    self._bind(body_env, node.target, None)
            end = self._block(node.body, body_env)
            merged = _merge(head, end, *self.loop_heads[-1])
            head = merged if merged is not None else head
            if isinstance(node, ast.While):
                self._reads(head, node.test)
        exits = self.loop_exits.pop()
        self.loop_heads.pop()
        after = self._block(node.orelse, dict(head))
        return _merge(after, *exits)

    def _try(self, node: ast.Try, env: Env) -> Env | None:
        entry = dict(env)
        body_end = self._block(node.body, dict(env))
        # a handler may start anywhere in the body: from the entry or the end (an approximation)
        handler_start = _merge(entry, body_end) or entry
        outcomes: list[Env | None] = [self._block(node.orelse, dict(body_end)) if body_end is not None else None]
        for handler in node.handlers:
            branch = dict(handler_start)
            if handler.type is not None:
                self._reads(branch, handler.type)
            if handler.name:
                self._define(branch, handler.name, None)
            outcomes.append(self._block(handler.body, branch))
        joined = _merge(*outcomes)
        if node.finalbody:
            return self._block(node.finalbody, joined if joined is not None else dict(handler_start))
        return joined


def _merge(*envs: Env | None) -> Env | None:
    live = [env for env in envs if env is not None]
    if not live:
        return None
    merged: Env = {}
    for env in live:
        for name, indexes in env.items():
            merged[name] = merged.get(name, frozenset()) | indexes
    return merged


def _parameters(arguments: ast.arguments) -> tuple[ast.arg, ...]:
    extra = tuple(argument for argument in (arguments.vararg, arguments.kwarg) if argument is not None)
    return (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, *extra)


def _pattern_names(pattern: ast.pattern) -> list[str]:
    names = []
    for node in ast.walk(pattern):
        if isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.append(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.append(node.rest)
    return names
