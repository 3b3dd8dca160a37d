"""Reading ARB feedback workbooks safely: guard, readers, parse rules, and a generator."""
