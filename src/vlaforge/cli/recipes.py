"""`vlaforge recipes`: the named training recipes, one line each."""

from __future__ import annotations


def main(argv: list[str]) -> int:
    from vlaforge.train.recipes import list_recipes

    if argv and argv[0] in ("-h", "--help"):
        print("usage: vlaforge recipes\n\nList named recipes; train one with `vlaforge train --recipe NAME`.")
        return 0
    recipes = list_recipes()
    width = max((len(r.name) for r in recipes), default=0)
    for r in recipes:
        print(f"  {r.name:<{width}}  {r.description}")
    print("\ntrain one with: vlaforge train --recipe NAME [--FIELD VALUE ...]  (--help lists fields)")
    return 0
