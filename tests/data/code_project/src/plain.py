"""No references at all: no items."""


def add(a: int, b: int) -> int:
    return a + b
