"""Bounds on the YAML nntrain reads -- config files, ``--set`` and ``--grid`` values, a run's
config.yaml -- checked before anything is built from it, so that a hostile or mistaken document is
refused within a moment instead of exhausting the recursion limit or the memory.

``yaml_problem`` walks PyYAML's event stream, which it produces one event at a time without
recursion, keeping the nesting depth and the number of values the document holds once its aliases
are expanded (an alias counts as every value of its anchor): a "billion laughs" of 650 bytes is
caught by arithmetic, without expanding anything. On the way it sees a key given twice in one
mapping, which YAML forbids and PyYAML lets pass (the last one winning, silently).
"""

import yaml

MAX_BYTES = 10_000_000  # a config, even with hand-set weights, is kilobytes
MAX_DEPTH = 64  # mappings and sequences inside each other; a config has about 6
MAX_VALUES = 2_000_000  # scalars, mappings and sequences, aliases expanded


def yaml_problem(text):
    """What makes YAML ``text`` exceed the bounds, or a key twice in a mapping, or None: "nested
    deeper than 64 levels (line 3)", "its aliases expand to more than 2,000,000 values (line 9)",
    "12,000,000 characters; at most ...", "line 9: the key 'loss' again (first on line 5); a key
    appears once in a mapping".

    A document that is not valid YAML is left to the parser that reads it (its error names the line).
    """
    if len(text) > MAX_BYTES:
        return f"{len(text):,} characters; at most {MAX_BYTES:,}"
    depth, total = 0, 0
    open_counts = []  # per open collection: the total when it opened, and its anchor
    anchors = {}  # anchor -> values it holds
    mappings = []  # per open collection: None for a sequence; for a mapping [a key is next, {key: line}]
    try:
        for event in yaml.parse(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            problem = _key_again(mappings, event)
            if problem:
                return problem
            if isinstance(event, yaml.AliasEvent):
                total += anchors.get(event.anchor, 1)
            elif isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)):
                total += 1
                if isinstance(event, yaml.ScalarEvent):
                    if event.anchor:
                        anchors[event.anchor] = 1
                else:
                    depth += 1
                    if depth > MAX_DEPTH:
                        return f"nested deeper than {MAX_DEPTH} levels (line {event.start_mark.line + 1})"
                    open_counts.append((total - 1, event.anchor))
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
                start, anchor = open_counts.pop()
                if anchor:
                    anchors[anchor] = total - start
            if total > MAX_VALUES:
                return f"its aliases expand to more than {MAX_VALUES:,} values (line {event.start_mark.line + 1})"
    except yaml.YAMLError:
        return None
    return None


def _key_again(mappings, event):
    """The problem of a key given a second time in the innermost open mapping, of which ``event`` is
    the next node, or None (a new key is recorded). ``mappings``: per open collection, None for a
    sequence, [a key is next, {key: its line}] for a mapping; kept up to date here."""
    mapping = mappings[-1] if mappings else None
    problem = None
    if mapping is not None and isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent, yaml.CollectionStartEvent)):
        is_key, mapping[0] = mapping[0], not mapping[0]
        if is_key and isinstance(event, yaml.ScalarEvent) and event.value != "<<":
            line = event.start_mark.line + 1
            if event.value in mapping[1]:
                problem = f"line {line}: the key {event.value!r} again (first on line {mapping[1][event.value]}); a key appears once in a mapping"
            mapping[1].setdefault(event.value, line)
    if isinstance(event, yaml.CollectionStartEvent):
        mappings.append([True, {}] if isinstance(event, yaml.MappingStartEvent) else None)
    elif isinstance(event, yaml.CollectionEndEvent):
        mappings.pop()
    return problem
