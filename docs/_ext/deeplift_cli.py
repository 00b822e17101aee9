"""``.. deeplift-cli::``: the command line reference, built from the
argument parsers of :func:`deeplift.cli.build_parser` (nothing retyped).

For the top-level parser and each subcommand: a section with the
description, the usage line and every argument (option strings, metavar,
choices, default, help text with ``%(default)s`` expanded).
"""
import argparse

from docutils import nodes
from docutils.parsers.rst import Directive


def _subparsers(parser):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return None


def _invocation(action, formatter):
    if not action.option_strings:
        return formatter._metavar_formatter(action, action.dest)(1)[0]
    if action.nargs == 0:
        return ", ".join(action.option_strings)
    metavar = formatter._format_args(
        action, formatter._get_default_metavar_for_optional(action))
    return ", ".join("%s %s" % (o, metavar) for o in action.option_strings)


def _arguments(parser):
    formatter = parser._get_formatter()
    items = nodes.definition_list()
    groups = {id(a): True for g in parser._mutually_exclusive_groups
              for a in g._group_actions}
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction,
                               argparse._SubParsersAction)):
            continue
        if action.help == argparse.SUPPRESS:
            continue
        term = nodes.term()
        term += nodes.literal(text=_invocation(action, formatter))
        body = nodes.definition()
        text = formatter._expand_help(action) if action.help else ""
        notes = []
        if action.required:
            notes.append("required")
        if id(action) in groups:
            notes.append("one of a mutually exclusive group")
        if action.choices is not None and not isinstance(
                action, argparse._SubParsersAction):
            notes.append("choices: " + ", ".join(map(str, action.choices)))
        if notes:
            text = (text + " " if text else "") + "(" + "; ".join(notes) + ")"
        body += nodes.paragraph(text=text)
        item = nodes.definition_list_item()
        item += term
        item += body
        items += item
    return items


class DeepliftCLI(Directive):
    has_content = False

    def _section(self, title, parser, level_id):
        document = self.state.document
        section = nodes.section(ids=[nodes.make_id(level_id)],
                                names=[nodes.fully_normalize_name(level_id)])
        section += nodes.title(text=title)
        if parser.description:
            section += nodes.paragraph(text=parser.description)
        section += nodes.literal_block(text=parser.format_usage().strip())
        section += _arguments(parser)
        document.note_implicit_target(section)
        return section

    def run(self):
        import os
        from deeplift.cli import build_parser
        os.environ["COLUMNS"] = "80"     # usage lines wrap the same everywhere
        parser = build_parser()
        top = self._section("deeplift", parser, "cli-deeplift")
        sub = _subparsers(parser)
        helps = {a.dest: a.help for a in sub._choices_actions}
        listing = nodes.definition_list()
        for name in sub.choices:
            item = nodes.definition_list_item()
            term = nodes.term()
            term += nodes.literal(text="deeplift " + name)
            item += term
            body = nodes.definition()
            body += nodes.paragraph(text=helps.get(name) or "")
            item += body
            listing += item
        top += listing
        sections = [top]
        for name, subparser in sub.choices.items():
            sections.append(self._section("deeplift " + name, subparser,
                                          "cli-deeplift-" + name))
        return sections


class DeepliftMethods(Directive):
    """A table of the method registry (:mod:`deeplift.methods`)."""
    has_content = False

    def run(self):
        from deeplift import methods
        header = ("method", "aliases", "family", "rule (NonlinearMxtsMode)",
                  "default IG steps", "what it computes")
        rows = [(m.name, ", ".join(m.aliases), m.family,
                 m.nonlinear_mxts_mode, "" if m.ig_steps is None
                 else str(m.ig_steps), m.help)
                for m in methods.METHODS.values()]
        table = nodes.table()
        group = nodes.tgroup(cols=len(header))
        table += group
        for _ in header:
            group += nodes.colspec(colwidth=1)

        def row(cells, literal_first):
            line = nodes.row()
            for i, text in enumerate(cells):
                entry = nodes.entry()
                para = nodes.paragraph()
                if literal_first and i == 0:
                    para += nodes.literal(text=text)
                else:
                    para += nodes.Text(text)
                entry += para
                line += entry
            return line

        head = nodes.thead()
        head += row(header, False)
        group += head
        body = nodes.tbody()
        for cells in rows:
            body += row(cells, True)
        group += body
        return [table]


def setup(app):
    app.add_directive("deeplift-cli", DeepliftCLI)
    app.add_directive("deeplift-methods", DeepliftMethods)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
