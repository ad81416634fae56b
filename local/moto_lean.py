"""Keep moto's memory and CPU per request flat, so `make dev` can run for a day and a load test measures our code.

Two things in moto grow with every turn, found with tracemalloc and gc.get_referrers over 1,000 turns:
- Every model object moto creates is appended to its class's `instances_tracked` list (for the MotoServer
  dashboard, which the local stack does not run), so nothing moto ever allocated as a model is freed.
- TransactWriteItems deep-copies every table it touches before it starts, to roll back on failure: each turn's
  final transaction copied the whole conversations table, and with tracking every copy stayed alive (about 1 MB
  a turn, and CPU per turn growing with the table). Here only the items the transaction touches are copied.
- Its Step Functions interpreter appends every thread it starts (three per execution) to a module-level list,
  TMP_THREADS, and never removes them: each finished thread kept its execution's whole environment alive.
  Finished threads are dropped from it, and finished executions are capped (`retain_executions`): moto keeps
  each one's history forever.
And one thing costs CPU on every turn for nothing: the interpreter parses the state machine's ASL with ANTLR
(in pure Python) for each execution, a quarter of the stack's CPU per turn under load (py-spy), and builds a
new JSONPath parser (ply's yacc tables) for every path it evaluates (another 8 %). The parse tree of a
definition and each parsed JSONPath are kept; each execution still builds its own program from the tree. It
also built a new boto3 Lambda client for every task it ran (6 %); one per endpoint is kept. And DynamoDB's
UpdateItem parsed each UpdateExpression twice per request (5 %): the parsed tree of each expression is kept
(moto's validator deep-copies it before it resolves names and values, so the kept tree never changes).
Then, for the 2x-the-peer CPU target (docs/performance.md, "A lean local stack"): a Query on a table's key reads
its partition instead of sorting the whole table; a kept update tree is copied by unpickling, the validator's
expression-only checks run once per (expression, names) and its passes look handlers up once; condition tokens and
the redundant-parentheses check are kept per text; response structures are serialised from a per-shape plan; one
Step Functions program per definition (no Map/Parallel); dispatch and botocore's user-agent cleaning are cached.
Every one of them keeps moto's answers: each request is still parsed, validated, evaluated and serialised.
"""

from __future__ import annotations

import copy
import functools
import inspect
import os
import pickle
import re
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
EXECUTIONS_KEPT = 500  # finished executions moto keeps (with their histories); the oldest go first


def _memo(function: Callable[..., T]) -> Callable[..., T]:
    """functools.cache, typed loosely (its keys here are classes)."""
    return functools.cache(function)


@functools.cache
def make_moto_lean() -> None:
    """Apply the patches below (once per process)."""
    _stop_tracking_instances()
    _journal_transactions()
    _cap_executions()
    _parse_each_definition_once()
    _parse_each_update_expression_once()
    _dispatch_without_inspecting()
    _query_one_partition()
    _serialize_responses_faster()
    _sanitize_user_agents_once()
    _lex_each_condition_once()
    _project_each_item_once()
    _route_each_url_once()
    _find_known_accounts_without_locking()


def _stop_tracking_instances() -> None:
    from moto.core.common_models import BaseModel
    from moto.core.model_instances import reset_model_data

    def untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    BaseModel.__new__ = untracked_new  # type: ignore[assignment,method-assign]  # moto's appends to a class list
    reset_model_data()  # drop what was tracked before


def _parse_each_definition_once() -> None:
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    @functools.lru_cache(maxsize=32)
    def parse_tree(definition: str) -> Any:
        return AmazonStateLanguageParser.parse(definition)[1]  # raises on a bad definition, caching nothing

    @functools.lru_cache(maxsize=32)
    def shared_program(definition: str) -> Any:
        program = Preprocessor().visit(parse_tree(definition))
        _fix_heap_keys(program)
        return program

    def entrypoint(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        if _has_stateful_states(definition):  # Map and Parallel keep per-run state in their components
            return Preprocessor().visit(parse_tree(definition))
        return shared_program(definition)

    ExecutionWorker._get_evaluation_entrypoint = entrypoint  # type: ignore[method-assign]

    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import json_path

    new_client = lambda_eval_utils.boto_client_for

    @functools.lru_cache(maxsize=8)
    def shared_client(region: str, service: str, endpoint: str | None, intercepted: bool) -> Any:
        return new_client(region, service)

    def boto_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        from moto.core.models import botocore_stubber  # moto's own ignores state_credentials too

        endpoint = os.environ.get(f"AWS_ENDPOINT_URL_{service.upper()}")  # a new stack, a new client
        return shared_client(region, service, endpoint, bool(botocore_stubber.enabled))

    lambda_eval_utils.boto_client_for = boto_client_for  # type: ignore[assignment]

    # A parsed JSONPath is a plain expression tree: find() keeps no state in it.
    json_path.parse = functools.lru_cache(maxsize=1024)(json_path.parse)  # type: ignore[attr-defined]
    result_path.parse = functools.lru_cache(maxsize=1024)(result_path.parse)  # type: ignore[attr-defined]


STATEFUL_STATE_TYPES = {"Map", "Parallel"}


@functools.lru_cache(maxsize=32)
def _has_stateful_states(definition: str) -> bool:
    """Whether the ASL has a Map or Parallel state (anywhere, nested included)."""
    import json

    found = False

    def visit(value: Any) -> None:
        nonlocal found
        if isinstance(value, dict):
            if value.get("Type") in STATEFUL_STATE_TYPES:
                found = True
            for child in value.values():
                visit(child)
        elif isinstance(value, list):
            for child in value:
                visit(child)

    try:
        visit(json.loads(definition))
    except ValueError:
        return True
    return found


def _fix_heap_keys(program: Any) -> None:
    """Give every component of a shared program its heap key now (moto draws one lazily, on first use: two
    executions starting at once could each draw one). The key names a slot in each execution's own heap."""
    from moto.stepfunctions.parser.asl.component.eval_component import EvalComponent

    seen: set[int] = set()
    todo = [program]
    while todo:
        value = todo.pop()
        if id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, EvalComponent):
            _ = value.heap_key
        if isinstance(value, dict):
            todo.extend(value.values())
        elif isinstance(value, list | tuple | set):
            todo.extend(value)
        elif hasattr(value, "__dict__") and type(value).__module__.startswith("moto.stepfunctions"):
            todo.extend(vars(value).values())


def _parse_each_update_expression_once() -> None:
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    make = UpdateExpressionParser.make  # the classmethod, bound

    @functools.lru_cache(maxsize=256)
    def parse(expression: str) -> Any:
        tree = make(expression)  # raises on a bad expression, caching nothing
        pickled = pickle.dumps(tree, pickle.HIGHEST_PROTOCOL)
        tree._lean_pickled = pickled  # type: ignore[attr-defined]  # added after pickling: copies do not carry it
        tree._lean_source = expression  # type: ignore[attr-defined]
        return tree

    UpdateExpressionParser.make = staticmethod(parse)  # type: ignore[method-assign,assignment]
    validators.deepcopy = _copy_parse_tree  # type: ignore[attr-defined,assignment]  # the module's own name for copy.deepcopy
    _cache_processing_maps()
    _check_each_expression_shape_once(validators)


PASSED_SHAPE_CHECKS = 4096  # (expression, names) pairs remembered as having passed moto's pure checks


def _check_each_expression_shape_once(validators: Any) -> None:
    """Three of the ten passes moto's validator makes over an UpdateExpression look at nothing but the expression, its
    attribute names and the table's key attributes (at most one SET/REMOVE/ADD/DELETE clause; no path set twice or
    overlapping; no key attribute updated), and two run at every node of the tree. Once an (expression, names, keys)
    triple has passed them it always will: they are skipped for it. Every other pass (values, the item, functions,
    operations, types) runs on every request, each on the nodes it handles only (`_direct_pass`)."""
    pure = (
        validators.ActionCountValidator,
        validators.OverlappingPathsValidator,
        validators.UpdateHashRangeKeyValidator,
    )
    original_init = validators.Validator.__init__
    passed: set[tuple[Any, ...]] = set()

    def init(self: Any, expression: Any, expression_attribute_names: Any, *args: Any, **kwargs: Any) -> None:
        reused = _validated_for_new_item(expression, expression_attribute_names, *args, **kwargs)
        if reused is not None:  # moto validated this update against the item a moment ago, before creating it
            self.expression_attribute_names = expression_attribute_names
            self.expression_attribute_values, self.item, self.table = _validator_arguments(*args, **kwargs)
            self.processors = []
            self.node_to_validate = reused
            self._lean_key = self._lean_tree = None
            return
        original_init(self, expression, expression_attribute_names, *args, **kwargs)
        source = getattr(expression, "_lean_source", None)  # only trees this module parsed and keeps
        names = tuple(sorted((expression_attribute_names or {}).items()))
        keys = tuple(getattr(self.table, "table_key_attrs", None) or ())
        self._lean_key = None if source is None else (source, names, keys)
        self._lean_tree = None if source is None else expression

    def validate(self: Any) -> Any:
        key = getattr(self, "_lean_key", None)
        processors = self.processors
        if key is not None and key in passed:
            processors = [p for p in processors if not isinstance(p, pure)]
        last_pure = max((i for i, p in enumerate(processors) if isinstance(p, pure)), default=-1)
        tree = getattr(self, "_lean_tree", None)
        node = self.node_to_validate
        _LAST_NEW_ITEM.validated = None
        for index, processor in enumerate(processors):
            result = _direct_pass(processor, node, tree) if tree is not None else _NOT_DIRECT
            node = processor.traverse(node) if result is _NOT_DIRECT else result
            if index == last_pure and key is not None:
                if len(passed) >= PASSED_SHAPE_CHECKS:
                    passed.clear()
                passed.add(key)
        if tree is not None and not self.item.attrs:  # an item that does not exist yet: moto creates it next
            _LAST_NEW_ITEM.validated = (
                tree,
                self.expression_attribute_names,
                self.expression_attribute_values,
                self.table,
                self.item.hash_key,
                self.item.range_key,
                node,
            )
        return node

    validate._moto = validators.Validator.validate  # type: ignore[attr-defined]  # for tests: moto's own passes
    init._moto = original_init  # type: ignore[attr-defined]
    validators.Validator.__init__ = init
    validators.Validator.validate = validate


_NOT_DIRECT = object()  # _direct_pass's answer when moto's traversal must run
_LAST_NEW_ITEM = threading.local()  # this thread's last validation against an item that did not exist yet


def _validator_arguments(*args: Any, **kwargs: Any) -> tuple[Any, Any, Any]:
    """(values, item, table) of a Validator's arguments after the expression and its names."""
    named = dict(zip(("expression_attribute_values", "item", "table"), args, strict=False)) | kwargs
    return named.get("expression_attribute_values"), named.get("item"), named.get("table")


def _validated_for_new_item(expression: Any, names: Any, *args: Any, **kwargs: Any) -> Any:
    """The tree this thread validated a moment ago for the same update of an item that did not exist, if this
    validation is moto's second one, against the item it then created (holding its key only), and its answer cannot
    differ: the two items differ by their key attributes only, and the expression reads none of them (only a read
    consults the item; moto refuses any path naming a key attribute before it resolves one, checked here again).
    None otherwise: moto's second validation runs."""
    last = getattr(_LAST_NEW_ITEM, "validated", None)
    _LAST_NEW_ITEM.validated = None
    if last is None:
        return None
    tree, last_names, last_values, last_table, hash_key, range_key, validated = last
    values, item, table = _validator_arguments(*args, **kwargs)
    if expression is not tree or names is not last_names or values is not last_values or table is not last_table:
        return None
    if item is None or item.hash_key != hash_key or item.range_key != range_key:
        return None
    key_attributes = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
    if set(item.attrs) != set(key_attributes):
        return None
    read = _read_attributes(tree._lean_source, tree)
    if read is None or any((names or {}).get(name, name) in key_attributes for name in read):
        return None
    return validated


def _read_attributes(source: str, tree: Any) -> frozenset[str] | None:
    """The first element (as written: a name or a #placeholder) of each path the update reads; None if unsure."""
    if source not in _READS:
        if len(_READS) >= PLANS_KEPT:
            _READS.clear()
        from moto.dynamodb.parsing import validators
        from moto.dynamodb.parsing.ast_nodes import UpdateExpressionPath  # type: ignore[attr-defined]

        resolver = validators.ExpressionAttributeResolvingProcessor({}, None)  # type: ignore[arg-type]
        keys = tuple(_processing_map(resolver))
        plan = _make_plan(type(resolver), keys, tree)
        read: set[str] | None = set()
        for path, kind, reads in plan or ():
            if not reads or not issubclass(kind, UpdateExpressionPath):
                continue
            node = tree
            for i in path:
                node = node.children[i]
            try:
                first = node.children[0].children[0]  # what moto's key-attribute check reads of a path
            except (AttributeError, IndexError, TypeError):
                first = None
            if not isinstance(first, str) or read is None:
                read = None
                continue
            read.add(first)
        _READS[source] = None if plan is None or read is None else frozenset(read)
    return _READS[source]


_READS: dict[str, frozenset[str] | None] = {}


def _direct_pass(processor: Any, root: Any, tree: Any) -> Any:
    """One validator pass over `root` (a copy of the kept `tree`, as earlier passes left it), calling the pass's
    handlers on the nodes it handles, found by their place in the kept tree, in the traversal's order (children
    first, left to right), and replacing each as moto's traversal does; _NOT_DIRECT when that cannot be shown to be
    the same as moto's traversal (moto's then runs).

    The passes run here handle nodes no earlier pass creates, moves or replaces above them (values, paths, SET
    actions, functions, operations), so the kept tree names them all; each target is checked to be there, of its
    type, before any handler runs. The resolver's one piece of state, whether a path is read (a value) or written
    (the first child of an action), follows from the path's place. NoneExistingPath nodes (what a missing path
    that is read becomes) are made by the resolver: their checker is a no-op when no path is read, and moto's
    traversal otherwise. Passes over expression shape alone are skipped once passed (above); any other runs moto's.
    """
    handlers = _processing_map(processor)
    keys = processor.__dict__["_lean_types"]
    plan = _pass_plan(type(processor), keys, tree._lean_source, tree)
    if plan is None:
        return _NOT_DIRECT
    targets: list[Any] = []
    for path, kind, _ in plan:
        node = root
        for i in path:
            children = getattr(node, "children", None)
            if not isinstance(children, list) or i >= len(children):
                return _NOT_DIRECT
            node = children[i]
        if type(node) is not kind:
            return _NOT_DIRECT
        targets.append(node)
    for node, (path, kind, reads) in zip(targets, plan, strict=True):
        if reads is not None:
            processor.resolving = reads
        parent_node = node.parent
        replaced = handlers[_handler_key(type(processor), kind, keys)](node)
        replaced.parent = parent_node
        if parent_node:
            parent_node.children[path[-1] if path else -1] = replaced
        if not path:
            root = replaced
    return root


DIRECT_PASSES = {  # processor class -> whether its plan needs no path to be read
    "ExpressionAttributeValueProcessor": False,
    "ExpressionAttributeResolvingProcessor": False,
    "UpdateExpressionFunctionEvaluator": False,
    "NoneExistingPathChecker": True,
    "ExecuteOperations": False,
    "TypeMismatchValidator": False,
    "EmptyStringKeyValueValidator": False,
    "UpdateHashRangeKeyValidator": False,
}
PLANS_KEPT = 1024


def _pass_plan(
    kind: type, keys: tuple[type, ...], source: str, tree: Any
) -> tuple[tuple[tuple[int, ...], type, bool | None], ...] | None:
    """For one pass over the kept tree of `source`: (place, node type, read?) of each node the pass handles, children
    first; None when moto's traversal must run. `read?` is the resolver's state at that node (None for other passes).
    Kept per (pass, handled types, expression text): the same text always parses to the same tree."""
    slot = (kind, keys, source)
    if slot not in _PLANS:
        if len(_PLANS) >= PLANS_KEPT:
            _PLANS.clear()
        _PLANS[slot] = _make_plan(kind, keys, tree)
    return _PLANS[slot]


_PLANS: dict[tuple[type, tuple[type, ...], str], tuple[tuple[tuple[int, ...], type, bool | None], ...] | None] = {}


def _make_plan(
    kind: type, keys: tuple[type, ...], tree: Any
) -> tuple[tuple[tuple[int, ...], type, bool | None], ...] | None:
    """_pass_plan's answer, worked out."""
    from moto.dynamodb.parsing import ast_nodes as nodes_module
    from moto.dynamodb.parsing import validators

    ast_nodes: Any = nodes_module
    if getattr(validators, kind.__name__, None) is not kind or kind.__name__ not in DIRECT_PASSES:
        return None
    actions = (
        ast_nodes.UpdateExpressionSetAction,
        ast_nodes.UpdateExpressionRemoveAction,
        ast_nodes.UpdateExpressionDeleteAction,
        ast_nodes.UpdateExpressionAddAction,
    )
    resolver = kind is validators.ExpressionAttributeResolvingProcessor
    if _visits_children(kind) and not resolver:
        return None
    plan: list[tuple[tuple[int, ...], type, bool | None]] = []
    reads_any = False

    def visit(node: Any, path: tuple[int, ...], reads: bool | None) -> bool:
        nonlocal reads_any
        children = node.children
        if children is not None:
            for i, child in enumerate(children):
                if _is_node(type(child)):
                    child_reads = (i != 0) if isinstance(node, actions) else reads
                    if not visit(child, (*path, i), child_reads):
                        return False
        if isinstance(node, ast_nodes.UpdateExpressionPath):
            if reads is None:
                return False  # a path outside any action: not a shape this was checked against
            reads_any = reads_any or reads
        if _handler_key(kind, type(node), keys) is not None:
            plan.append((path, type(node), reads if resolver else None))
        return True

    if not _is_node(type(tree)) or not visit(tree, (), None):
        return None
    if DIRECT_PASSES[kind.__name__] and reads_any:
        return None
    return tuple(plan)


@_memo
def _is_node(cls: Any) -> bool:
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    return issubclass(cls, Node)


@_memo
def _handler_key(traverser: Any, node_type: Any, keys: tuple[Any, ...]) -> Any:
    return next((key for key in keys if issubclass(node_type, key)), None)  # the first match, as moto's


@_memo
def _visits_children(traverser: Any) -> bool:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]

    return traverser.pre_processing_of_child is not DepthFirstTraverser.pre_processing_of_child


def _processing_map(self: Any) -> dict[type, Callable[[Any], Any]]:
    """The traverser's node-type -> handler map, built once per traverser (bound methods of it)."""
    kept = self.__dict__.get("_lean_map")
    if kept is None:
        kept = self.__dict__["_lean_map"] = self._processing_map()
        self.__dict__["_lean_types"] = tuple(kept)
    return kept  # type: ignore[no-any-return]


def _copy_parse_tree(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """copy.deepcopy, but a kept parse tree is unpickled from its bytes (a tenth of the time for the same copy)."""
    pickled = getattr(value, "_lean_pickled", None) if memo is None else None
    if isinstance(pickled, bytes):
        return pickle.loads(pickled)  # bytes this process pickled from its own parse tree
    return copy.deepcopy(value, memo)


def _cache_processing_maps() -> None:
    """moto's validators rebuild their node-type -> handler map for every node they visit (ten passes a request,
    each with ABC isinstance checks); here each traverser builds its map once and each node type's handler is
    looked up once per traverser class. The traversal itself (order, in-place replacement) is moto's."""
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]

    is_node = _is_node
    handler_key = _handler_key
    visits_children = _visits_children
    processing_map = _processing_map

    def nodes_to_be_processed(self: Any) -> tuple[type, ...]:
        processing_map(self)
        return self.__dict__["_lean_types"]  # type: ignore[no-any-return]

    def process(self: Any, node: Any) -> Any:
        handlers = processing_map(self)
        key = handler_key(type(self), type(node), self.__dict__["_lean_types"])
        return None if key is None else handlers[key](node)

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        if not is_node(type(node)):
            return node
        parent_node = node.parent
        if node.children is not None:
            before_child = self.pre_processing_of_child if visits_children(type(self)) else None
            for i, child_node in enumerate(node.children):
                if before_child is not None:
                    before_child(node, i)
                traverse_node_recursively(self, child_node, i)
        handlers = processing_map(self)
        key = handler_key(type(self), type(node), self.__dict__["_lean_types"])
        return node if key is None else replaced(handlers[key], node, parent_node, child_id)

    def replaced(handler: Callable[[Any], Any], node: Any, parent_node: Any, child_id: int) -> Any:
        """The handler's result in the node's place under its parent (moto's in-place replacement)."""
        node = handler(node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
        return node

    handler_keys: dict[type, dict[type, Any]] = {}
    nodes: dict[type, bool] = {}

    def traverse(self: Any, root: Any) -> Any:
        """traverse_node_recursively from the root, with this traverser's lookups hoisted out of the recursion."""
        handlers = processing_map(self)
        keys = self.__dict__["_lean_types"]
        kind = type(self)
        before_child = self.pre_processing_of_child if visits_children(kind) else None
        known = handler_keys.setdefault(kind, {})  # node type -> its handler's key (None: not handled, not a node)

        def visit(node: Any, child_id: int) -> Any:
            node_type = type(node)
            key = known.get(node_type, known)
            if key is known:
                key = known[node_type] = handler_key(kind, node_type, keys) if is_node(node_type) else None
                nodes[node_type] = is_node(node_type)
            if not nodes[node_type]:
                return node
            parent_node = node.parent
            children = node.children
            if children is not None:
                for i, child_node in enumerate(children):
                    if before_child is not None:
                        before_child(node, i)
                    visit(child_node, i)
            return node if key is None else replaced(handlers[key], node, parent_node, child_id)

        return visit(root, -1)

    DepthFirstTraverser.nodes_to_be_processed = nodes_to_be_processed
    DepthFirstTraverser.process = process
    DepthFirstTraverser.traverse_node_recursively = traverse_node_recursively
    DepthFirstTraverser.traverse = traverse


def _serialize_responses_faster() -> None:
    """moto serialises each response by asking, for every member of every structure (ten per DynamoDB attribute
    value), a chain of alias providers which keys the value might be under; for a plain dict the keys they name
    depend on the member's shape alone. Here they are asked once per shape member and kept; the first key the dict
    has wins, as in moto's picker. Anything else (objects, transformers, other pickers) goes moto's own way."""
    from moto.core import serialize

    expected = [
        serialize.ExplicitAlias,
        serialize.ShapeNameAlias,
        serialize.NoAlias,
        serialize.ShapePrefixAlias,
        serialize.ClassPrefixAlias,
        serialize.ModelAlias,
    ]
    if expected != serialize.DEFAULT_ALIAS_PROVIDERS:  # a moto whose aliases this was not checked against
        return
    original = serialize.ResponseSerializer.get_value
    pickers = (serialize.AttributePicker, serialize.XFormedAttributePicker)

    def candidate_keys(picker: Any, key: str, shape: Any) -> tuple[str, ...] | None:
        kept: dict[tuple[type, str, int], tuple[str, ...] | None] = shape.__dict__.setdefault("_lean_keys", {})
        parent = getattr(shape, "parent", None)
        slot = (type(picker), key, id(parent))  # the parent is kept alive by the shape itself
        if slot not in kept:
            context = serialize.AttributePickerContext(obj={}, key=key, shape=shape)
            keys = tuple(picker.get_possible_keys(context))  # what moto's providers name for a plain dict
            kept[slot] = None if any("." in k for k in keys) else keys
        return kept[slot]

    def get_value(self: Any, value: Any, key: str, shape: Any) -> Any:
        picker = self._value_picker
        if (
            type(value) is dict
            and shape is not None
            and type(picker) in pickers
            and not picker.response_transformers
            and picker.alias_providers is serialize.DEFAULT_ALIAS_PROVIDERS
        ):
            keys = candidate_keys(picker, key, shape)
            if keys is not None:
                for candidate in keys:
                    if candidate in value:
                        return value[candidate]
                return None
        return original(self, value, key, shape)

    original_structure = serialize.ResponseSerializer._serialize_type_structure
    original_member = serialize.ResponseSerializer._serialize_structure_member

    @_memo
    def plain_members(serializer: Any) -> bool:
        return serializer._serialize_structure_member is original_member  # type: ignore[attr-defined,no-any-return]

    def member_plan(picker: Any, shape: Any) -> list[tuple[str, Any, tuple[str, ...]]] | None:
        kept: dict[type, Any] = shape.__dict__.setdefault("_lean_plan", {})
        if type(picker) not in kept:
            plan: list[tuple[str, Any, tuple[str, ...]]] | None = []
            for member_key, member_shape in shape.members.items():
                member_shape.parent = shape  # what moto's loop sets before it looks a member up
                keys = candidate_keys(picker, member_key, member_shape)
                if keys is None or plan is None:
                    plan = None
                    continue
                plan.append((member_key, member_shape, keys))
            kept[type(picker)] = plan
        return kept[type(picker)]  # type: ignore[no-any-return]

    def serialize_structure(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        picker = self._value_picker
        plan = (
            member_plan(picker, shape)
            if type(value) is dict
            and plain_members(type(self))
            and type(picker) in pickers
            and not picker.response_transformers
            and picker.alias_providers is serialize.DEFAULT_ALIAS_PROVIDERS
            else None
        )
        if plan is None:
            return original_structure(self, serialized, value, shape, key)  # type: ignore[no-any-return]
        wrapper = self.MAP_TYPE() if key else serialized
        for member_key, member_shape, keys in plan:
            for candidate in keys:
                if candidate in value:
                    member_value = value[candidate]
                    if member_value is not None:
                        self._serialize(wrapper, member_value, member_shape, member_key)
                    break
        if key:
            self._default_serialize(serialized, wrapper, shape, key)
        return None

    serialize.ResponseSerializer.get_value = get_value  # type: ignore[method-assign]
    serialize.ResponseSerializer._serialize_type_structure = serialize_structure  # type: ignore[method-assign]


def _sanitize_user_agents_once() -> None:
    """botocore rebuilds every client's User-Agent header for each request, cleaning each of its ~40 components
    character by character; the cleaning is a pure function of the text, kept here (the header is unchanged)."""
    from botocore import useragent

    useragent.sanitize_user_agent_string_component = functools.lru_cache(maxsize=1024)(  # type: ignore[assignment]
        useragent.sanitize_user_agent_string_component
    )


def _lex_each_condition_once() -> None:
    """moto lexes a ConditionExpression with a list of regular expressions, token by token, twice per request (the
    handler and the backend each parse it). The tokens depend on the text alone (immutable tuples): they are kept
    per expression; parsing them (names, values, functions) runs on every request as before."""
    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = ConditionExpressionParser._lex_condition_expression

    @functools.lru_cache(maxsize=512)
    def lex(expression: str) -> tuple[Any, ...]:
        return tuple(original(ConditionExpressionParser(expression, None, None)))  # raises on bad text, keeping none

    def lex_condition_expression(self: Any) -> deque[Any]:
        return deque(lex(self.condition_expression))

    ConditionExpressionParser._lex_condition_expression = lex_condition_expression  # type: ignore[method-assign]

    # The redundant-parentheses check walks the whole tree by node kind (values never change kinds): an expression
    # text that passed it once always will.
    check_parentheses = ConditionExpressionParser._assert_no_redundant_parentheses
    passed: set[str] = set()

    def assert_no_redundant_parentheses(self: Any, node: Any, parent_kind: str | None = None) -> None:
        text = self.condition_expression
        if self.__dict__.get("_lean_checking"):
            return check_parentheses(self, node, parent_kind)  # type: ignore[no-any-return]
        if text in passed:
            return None
        self._lean_checking = True
        try:
            check_parentheses(self, node, parent_kind)
        finally:
            self._lean_checking = False
        if len(passed) >= PASSED_SHAPE_CHECKS:
            passed.clear()
        passed.add(text)
        return None

    ConditionExpressionParser._assert_no_redundant_parentheses = assert_no_redundant_parentheses  # type: ignore[method-assign]


LIST_ELEMENT = re.compile(r"(.+)\[(\d+)\]$")  # moto's find_nested_key: how a path's first part names a list element


def _project_each_item_once() -> None:
    """A ProjectionExpression turned each returned item into plain JSON (a deep copy and a deserialisation of every
    attribute) once per projected path: four times per item for "PK, SK, ref_key, ref_loc". When no two paths start
    at the same attribute (their parts of the item are disjoint), it is converted once and each path read from it;
    the projected item is built as moto builds it. Otherwise, or with no paths, moto's own way."""
    from moto.dynamodb.models import dynamo_type

    original = dynamo_type.Item.project
    if getattr(original, "_once", False):
        return

    @functools.wraps(original)
    def project(self: Any, projection_expressions: list[list[str]]) -> Any:
        tops = [_first_attribute(expression) for expression in projection_expressions]
        if not tops or len(set(tops)) != len(tops):
            return original(self, projection_expressions)
        regular = self.to_regular_json()  # raises as moto's first conversion would
        result: dict[str, Any] = {}
        for expression in projection_expressions:
            dynamo_type.merge_dicts(result, dynamo_type.find_nested_key(expression, regular))
        return dynamo_type.Item(
            hash_key=self.hash_key,
            range_key=self.range_key,
            attrs=dynamo_type.serializer.serialize(result)["M"],
        )

    project._once = True  # type: ignore[attr-defined]  # a marker on the wrapper
    dynamo_type.Item.project = project  # type: ignore[method-assign]


def _first_attribute(expression: list[str]) -> str:
    """The top-level key moto's find_nested_key looks the path up by."""
    element = LIST_ELEMENT.match(expression[0]) if expression else None
    return element.group(1) if element else (expression[0] if expression else "")


def _query_one_partition() -> None:
    """moto answers a Query on a table's key by sorting every item of the table and keeping the partition's: CPU per
    query grows with the table (every turn adds items). A Query on the table's own key reads its partition only;
    what moto does with those items (sort by range key, limits, pages, filters, copies) is unchanged."""
    from moto.dynamodb.models.table import Table

    original = Table.query
    if getattr(original, "_one_partition", False):
        return

    signature = inspect.signature(original)

    @functools.wraps(original)
    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = signature.bind(self, hash_key, *args, **kwargs).arguments.get("index_name")
        if index_name is not None or hash_key is None:  # an index is not partitioned by the table's key
            return original(self, hash_key, *args, **kwargs)
        partition: Any = _Partition(self, hash_key)
        return original(partition, hash_key, *args, **kwargs)

    query._one_partition = True  # type: ignore[attr-defined]  # a marker on the wrapper
    Table.query = query  # type: ignore[method-assign]


class _Partition:
    """A table whose `all_items` are one partition's (what moto's Query keeps of them anyway)."""

    def __init__(self, table: Any, hash_key: Any) -> None:
        self._table = table
        self._hash_key = hash_key

    def __getattr__(self, name: str) -> Any:
        return getattr(self._table, name)

    def all_items(self) -> list[Any]:
        """The partition's items, in moto's order."""
        partition = self._table.items.get(self._hash_key)
        if partition is None:
            return []
        if self._table.range_key_attr:
            return sorted(partition.values(), key=lambda item: item.range_key)
        return [partition]


ROUTES_KEPT = 1024  # URLs whose route (the services whose pattern matches, and their handler) is kept


def _route_each_url_once() -> None:
    """moto finds the backend of every request by matching its URL against every service's pattern in turn (DynamoDB
    is the 76th), then rebuilding the matched backend's URL table and compiling each entry. Which services match a URL
    and which handler answers it depend on the URL alone (the patterns and URL tables are moto's modules, the handlers
    their classes' dispatchers): they are kept per URL. Everything that depends on configuration (passthrough, the
    service allow list, custom endpoints) and the request itself runs per request as in moto's process_request."""
    from moto.core import botocore_stubber
    from moto.core.utils import get_equivalent_url_in_aws_domain

    stubber = botocore_stubber.BotocoreStubber
    original = stubber.process_request
    routes: dict[tuple[str, bool], tuple[tuple[str, Any], ...]] = {}

    def route(clean_url: str) -> tuple[tuple[str, Any], ...]:
        """The services whose pattern matches, in moto's order, up to the first whose backend has a handler for it."""
        from moto import backend_index, backends
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.core.base_backend import BackendDict

        found: list[tuple[str, Any]] = []
        for service, pattern in backend_index.backend_url_patterns:
            if not pattern.match(clean_url):
                continue
            backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
            if isinstance(backend_dict, BackendDict):
                regions = backend_dict[DEFAULT_ACCOUNT_ID]
                backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
            else:
                backend = backend_dict["global"]
            handler = next((h for url, h in backend.urls.items() if re.compile(url).match(clean_url)), None)
            found.append((service, handler))
            if handler is not None:
                break
        return tuple(found)

    if getattr(original, "_routed", False):
        return

    @functools.wraps(original)
    def process_request(self: Any, request: Any) -> Any:
        from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
        from moto.core.exceptions import HTTPException, ServiceNotWhitelisted
        from moto.core.request import normalize_request
        from moto.settings import enable_iso_regions

        parsed_url, _ = get_equivalent_url_in_aws_domain(request.url)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        if passthrough_url(clean_url):
            return None
        key = (clean_url, enable_iso_regions())  # the ISO regions' domains add entries to the URL tables
        candidates = routes.get(key)
        if candidates is None:
            try:
                candidates = route(clean_url)
            except Exception:  # a backend moto cannot load: let moto decide (it may pass the request through first)
                return original(self, request)
            if len(routes) >= ROUTES_KEPT:
                routes.clear()
            routes[key] = candidates
        for service, method_to_execute in candidates:
            if passthrough_service(service):
                return None
            if not service_whitelisted(service):
                raise ServiceNotWhitelisted(service)
            if method_to_execute is None:
                continue
            from moto.moto_api import recorder

            normalized_request = normalize_request(request)
            try:
                recorder._record_request(normalized_request)
                status, headers, body = method_to_execute(
                    normalized_request, normalized_request.raw_url, normalized_request.headers
                )
            except HTTPException as e:
                status = e.code
                headers = e.get_headers()
                body = e.get_body()
            return status, headers, body
        if re.compile(r"https?://.+\.amazonaws.com/.*").match(clean_url):
            return 404, {}, "Not yet implemented"
        return None

    process_request._routed = True  # type: ignore[attr-defined]  # a marker on the wrapper
    stubber.process_request = process_request  # type: ignore[method-assign]


def _find_known_accounts_without_locking() -> None:
    """Every lookup of a service's backend for an account (several per request) took moto's global backend lock,
    listed the accounts and searched the list of backends in use. An account is only ever added by that method,
    which registers its backend dict at the same time, and moto's reset empties both together: an account already
    there needs nothing done. A new account goes moto's way."""
    from moto.core.base_backend import BackendDict

    original = BackendDict._create_account_specific_backend
    if getattr(original, "_known_first", False):
        return

    @functools.wraps(original)
    def create_account_specific_backend(self: Any, account_id: str) -> None:
        if dict.__contains__(self, account_id):
            return
        original(self, account_id)

    create_account_specific_backend._known_first = True  # type: ignore[attr-defined]  # a marker on the wrapper
    BackendDict._create_account_specific_backend = create_account_specific_backend  # type: ignore[method-assign]


def _dispatch_without_inspecting() -> None:
    """moto lists a response class's methods with inspect.getmembers for every request; once per class is enough."""
    from moto.core import responses

    responses.method_names_from_class = functools.cache(responses.method_names_from_class)  # type: ignore[attr-defined]


class _TablesByReference:
    """Stands for the `copy` module inside moto.dynamodb.models: tables are not copied, everything else is."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        from moto.dynamodb.models.table import Table

        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _journal_transactions() -> None:
    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items
    if getattr(original, "_journaled", False):
        return

    @functools.wraps(original)
    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        try:
            undo = [_snapshot(self, entry) for entry in transact_items]
        except Exception:  # a shape moto will reject anyway: let it, with its own copies
            with _copying_tables(models):
                return original(self, transact_items)
        try:
            return original(self, transact_items)
        except BaseException:
            for restore in reversed(undo):
                restore()
            raise

    transact_write_items._journaled = True  # type: ignore[attr-defined]  # a marker on the wrapper
    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    models.copy = _TablesByReference()  # type: ignore[assignment]  # moto's whole-table copy becomes a no-op


class _copying_tables:  # noqa: N801 - used as a context manager
    def __init__(self, models: Any) -> None:
        self.models = models

    def __enter__(self) -> None:
        self.models.copy = copy

    def __exit__(self, *exc: object) -> None:
        self.models.copy = _TablesByReference()


def _snapshot(backend: Any, entry: dict[str, Any]) -> Callable[[], None]:
    """A function that puts back the item `entry` touches as it is now (or removes it if absent)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    ((_, op),) = entry.items()
    table = backend.get_table(op["TableName"])
    attrs = op.get("Key") or op["Item"]
    hash_key = DynamoType(attrs[table.hash_key_attr])
    range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
    before = copy.deepcopy(table.get_item(hash_key, range_key))

    def restore() -> None:
        if range_key is None:
            if before is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = before
        elif before is None:
            table.items.get(hash_key, {}).pop(range_key, None)
        else:
            table.items[hash_key][range_key] = before

    return restore


def _cap_executions(every: int = 50) -> None:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    original = StepFunctionsParserBackend.start_execution
    started = 0

    @functools.wraps(original)
    def start_execution(self: Any, *args: Any, **kwargs: Any) -> Any:
        nonlocal started
        started += 1
        if started % every == 0:
            retain_executions(self)
            forget_finished_threads()
        return original(self, *args, **kwargs)

    StepFunctionsParserBackend.start_execution = start_execution  # type: ignore[method-assign]


def forget_finished_threads() -> int:
    """Drop the interpreter's finished threads from its TMP_THREADS list (in place: modules import it by name)."""
    from moto.stepfunctions.parser.utils import TMP_THREADS

    alive = [thread for thread in list(TMP_THREADS) if thread.is_alive()]
    dropped = len(TMP_THREADS) - len(alive)
    TMP_THREADS[:] = alive
    return dropped


def _finished(execution: Any) -> bool:
    status = getattr(execution, "exec_status", None)
    return status is not None and str(getattr(status, "value", status)) != "RUNNING"


def retain_executions(backend: Any, keep: int = EXECUTIONS_KEPT) -> int:
    """Forget all but the newest `keep` finished executions of each state machine; returns how many went."""
    dropped = 0
    for machine in backend.state_machines:
        finished = [e for e in machine.executions if _finished(e)]
        if len(finished) <= keep:
            continue
        gone = {id(e) for e in finished[: len(finished) - keep]}
        machine.executions[:] = [e for e in machine.executions if id(e) not in gone]
        dropped += len(gone)
    return dropped


__all__ = ["EXECUTIONS_KEPT", "forget_finished_threads", "make_moto_lean", "retain_executions"]
